#include "macaroon.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "encoding.h"
#include "json_in.h"

/* v2 binary field types (go-macaroon's fieldLocation etc.). */
enum {
	FIELD_EOS = 0,
	FIELD_LOCATION = 1,
	FIELD_IDENTIFIER = 2,
	FIELD_VID = 4,
	FIELD_SIGNATURE = 6,
};

static const char KEY_GENERATOR[] = "macaroons-key-generator";

const char *macaroon_strerror(enum macaroon_err err)
{
	switch (err) {
	case MACAROON_OK: return "ok";
	case MACAROON_ERR_TRUNCATED: return "macaroon truncated";
	case MACAROON_ERR_FORMAT: return "malformed macaroon";
	case MACAROON_ERR_TOO_MANY_CAVEATS: return "too many caveats";
	case MACAROON_ERR_TOO_LARGE: return "macaroon too large";
	case MACAROON_ERR_SIGNATURE: return "signature invalid";
	case MACAROON_ERR_CAVEAT: return "caveat not satisfied";
	case MACAROON_ERR_DISCHARGE_MISSING: return "discharge macaroon missing";
	case MACAROON_ERR_DISCHARGE_UNUSED: return "discharge macaroon not used";
	case MACAROON_ERR_DECRYPT: return "third-party caveat key cannot be decrypted";
	}
	return "unknown macaroon error";
}

static void hmac(const uint8_t *key, size_t keylen, const uint8_t *msg,
		 size_t msglen, uint8_t out[MACAROON_SIG_LEN])
{
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, key, keylen);
	crypto_auth_hmacsha256_update(&st, msg, msglen);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

/* The signature key is derived from the variable-length root key, as in
 * go-macaroon's makeKey. */
static void derive_key(const uint8_t *root_key, size_t keylen,
		       uint8_t out[MACAROON_SIG_LEN])
{
	hmac((const uint8_t *)KEY_GENERATOR, sizeof(KEY_GENERATOR) - 1,
	     root_key, keylen, out);
}

/* H(k, H(k, a) || H(k, b)): go-macaroon's keyedHash2. */
static void hmac2(const uint8_t key[MACAROON_SIG_LEN], struct mslice a,
		  struct mslice b, uint8_t out[MACAROON_SIG_LEN])
{
	uint8_t both[2 * MACAROON_SIG_LEN];
	hmac(key, MACAROON_SIG_LEN, a.p, a.len, both);
	hmac(key, MACAROON_SIG_LEN, b.p, b.len, both + MACAROON_SIG_LEN);
	hmac(key, MACAROON_SIG_LEN, both, sizeof(both), out);
}

static void bind_sig(const uint8_t root_sig[MACAROON_SIG_LEN],
		     const uint8_t dis_sig[MACAROON_SIG_LEN],
		     uint8_t out[MACAROON_SIG_LEN])
{
	static const uint8_t zero[MACAROON_SIG_LEN];
	if (memcmp(root_sig, dis_sig, MACAROON_SIG_LEN) == 0) {
		memcpy(out, dis_sig, MACAROON_SIG_LEN);
		return;
	}
	struct mslice a = { root_sig, MACAROON_SIG_LEN };
	struct mslice b = { dis_sig, MACAROON_SIG_LEN };
	hmac2(zero, a, b, out);
}

void macaroon_init(struct macaroon *m, const uint8_t *root_key, size_t keylen,
		   struct mslice identifier, struct mslice location)
{
	uint8_t key[MACAROON_SIG_LEN];
	memset(m, 0, sizeof(*m));
	m->identifier = identifier;
	m->location = location;
	derive_key(root_key, keylen, key);
	hmac(key, sizeof(key), identifier.p, identifier.len, m->sig);
	sodium_memzero(key, sizeof(key));
}

enum macaroon_err macaroon_add_first_party(struct macaroon *m,
					   struct mslice caveat)
{
	if (m->ncaveats >= MACAROON_MAX_CAVEATS)
		return MACAROON_ERR_TOO_MANY_CAVEATS;
	m->caveats[m->ncaveats++] = (struct macaroon_caveat){ caveat, { 0 }, { 0 } };
	hmac(m->sig, MACAROON_SIG_LEN, caveat.p, caveat.len, m->sig);
	return MACAROON_OK;
}

enum macaroon_err macaroon_add_third_party(struct macaroon *m,
					   const uint8_t *caveat_key,
					   size_t keylen, struct mslice cid,
					   struct mslice location,
					   uint8_t vid_buf[MACAROON_VID_LEN])
{
	uint8_t derived[MACAROON_SIG_LEN];
	if (m->ncaveats >= MACAROON_MAX_CAVEATS)
		return MACAROON_ERR_TOO_MANY_CAVEATS;
	derive_key(caveat_key, keylen, derived);
	randombytes_buf(vid_buf, MACAROON_NONCE_LEN);
	crypto_secretbox_easy(vid_buf + MACAROON_NONCE_LEN, derived,
			      sizeof(derived), vid_buf, m->sig);
	sodium_memzero(derived, sizeof(derived));
	struct mslice vid = { vid_buf, MACAROON_VID_LEN };
	m->caveats[m->ncaveats++] = (struct macaroon_caveat){ cid, vid, location };
	hmac2(m->sig, vid, cid, m->sig);
	return MACAROON_OK;
}

void macaroon_bind_discharge(const struct macaroon *root,
			     struct macaroon *discharge)
{
	bind_sig(root->sig, discharge->sig, discharge->sig);
}

/* ---- v2 binary ---- */

static size_t uvarint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static size_t put_uvarint(uint8_t *out, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		out[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	out[n++] = (uint8_t)v;
	return n;
}

static size_t field_len(struct mslice s)
{
	return 1 + uvarint_len(s.len) + s.len;
}

size_t macaroon_encoded_len_v2(const struct macaroon *m)
{
	size_t n = 1 + field_len(m->identifier) + 1;
	if (m->location.len)
		n += field_len(m->location);
	for (size_t i = 0; i < m->ncaveats; i++) {
		const struct macaroon_caveat *c = &m->caveats[i];
		if (c->location.len)
			n += field_len(c->location);
		n += field_len(c->id) + 1;
		if (c->vid.len)
			n += field_len(c->vid);
	}
	return n + 1 + 2 + MACAROON_SIG_LEN;
}

static size_t put_field(uint8_t *out, int type, struct mslice s)
{
	size_t n = 0;
	out[n++] = (uint8_t)type;
	n += put_uvarint(out + n, s.len);
	if (s.len)
		memcpy(out + n, s.p, s.len);
	return n + s.len;
}

size_t macaroon_encode_v2(const struct macaroon *m, uint8_t *out, size_t cap)
{
	size_t need = macaroon_encoded_len_v2(m), n = 0;
	if (need > cap || m->ncaveats > MACAROON_MAX_CAVEATS)
		return 0;
	out[n++] = 2;
	if (m->location.len)
		n += put_field(out + n, FIELD_LOCATION, m->location);
	n += put_field(out + n, FIELD_IDENTIFIER, m->identifier);
	out[n++] = FIELD_EOS;
	for (size_t i = 0; i < m->ncaveats; i++) {
		const struct macaroon_caveat *c = &m->caveats[i];
		if (c->location.len)
			n += put_field(out + n, FIELD_LOCATION, c->location);
		n += put_field(out + n, FIELD_IDENTIFIER, c->id);
		if (c->vid.len)
			n += put_field(out + n, FIELD_VID, c->vid);
		out[n++] = FIELD_EOS;
	}
	out[n++] = FIELD_EOS;
	struct mslice sig = { m->sig, MACAROON_SIG_LEN };
	n += put_field(out + n, FIELD_SIGNATURE, sig);
	return n;
}

struct reader {
	const uint8_t *p;
	size_t len, pos;
};

static bool read_uvarint(struct reader *r, uint64_t *v)
{
	uint64_t x = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (r->pos >= r->len)
			return false;
		uint8_t b = r->p[r->pos++];
		/* The tenth byte may only carry the top bit of a uint64. */
		if (shift == 63 && b > 1)
			return false;
		x |= (uint64_t)(b & 0x7F) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return true;
		}
	}
	return false;
}

/* One field: type, then (unless EOS) length and data. */
static enum macaroon_err read_field(struct reader *r, uint64_t *type,
				    struct mslice *data)
{
	uint64_t len;
	if (!read_uvarint(r, type))
		return MACAROON_ERR_TRUNCATED;
	data->p = NULL;
	data->len = 0;
	if (*type == FIELD_EOS)
		return MACAROON_OK;
	if (!read_uvarint(r, &len))
		return MACAROON_ERR_TRUNCATED;
	if (len > r->len - r->pos)
		return MACAROON_ERR_TRUNCATED;
	data->p = r->p + r->pos;
	data->len = (size_t)len;
	r->pos += (size_t)len;
	return MACAROON_OK;
}

/* A section: optional location, required identifier, optional vid (caveats
 * only), then EOS, each type strictly increasing as go-macaroon demands. */
static enum macaroon_err read_section(struct reader *r, bool is_caveat,
				      struct mslice *loc, struct mslice *id,
				      struct mslice *vid)
{
	uint64_t type, last = 0;
	struct mslice data;
	bool have_id = false;
	enum macaroon_err err;

	for (;;) {
		if ((err = read_field(r, &type, &data)) != MACAROON_OK)
			return err;
		if (type == FIELD_EOS)
			break;
		if (type <= last)
			return MACAROON_ERR_FORMAT;
		last = type;
		switch (type) {
		case FIELD_LOCATION:
			*loc = data;
			break;
		case FIELD_IDENTIFIER:
			*id = data;
			have_id = true;
			break;
		case FIELD_VID:
			if (!is_caveat)
				return MACAROON_ERR_FORMAT;
			*vid = data;
			break;
		default:
			return MACAROON_ERR_FORMAT;
		}
	}
	return have_id ? MACAROON_OK : MACAROON_ERR_FORMAT;
}

enum macaroon_err macaroon_decode_v2(const uint8_t *in, size_t len,
				     struct macaroon *m)
{
	struct reader r = { in, len, 0 };
	struct mslice dummy = { 0 }, sig;
	uint64_t type;
	enum macaroon_err err;

	memset(m, 0, sizeof(*m));
	if (len > MACAROON_MAX_SIZE)
		return MACAROON_ERR_TOO_LARGE;
	if (len < 1)
		return MACAROON_ERR_TRUNCATED;
	if (in[0] != 2)
		return MACAROON_ERR_FORMAT;
	r.pos = 1;
	err = read_section(&r, false, &m->location, &m->identifier, &dummy);
	if (err != MACAROON_OK)
		return err;
	for (;;) {
		/* An empty section ends the caveats. */
		if (r.pos >= r.len)
			return MACAROON_ERR_TRUNCATED;
		if (r.p[r.pos] == FIELD_EOS) {
			r.pos++;
			break;
		}
		if (m->ncaveats >= MACAROON_MAX_CAVEATS)
			return MACAROON_ERR_TOO_MANY_CAVEATS;
		struct macaroon_caveat *c = &m->caveats[m->ncaveats++];
		err = read_section(&r, true, &c->location, &c->id, &c->vid);
		if (err != MACAROON_OK)
			return err;
	}
	if ((err = read_field(&r, &type, &sig)) != MACAROON_OK)
		return err;
	if (type != FIELD_SIGNATURE || sig.len != MACAROON_SIG_LEN)
		return MACAROON_ERR_FORMAT;
	if (r.pos != r.len)
		return MACAROON_ERR_FORMAT;
	memcpy(m->sig, sig.p, MACAROON_SIG_LEN);
	return MACAROON_OK;
}

/* ---- v1 binary: "NNNNkey value\n" packets, NNNN the packet's hex length ---- */

static bool read_packet(struct reader *r, struct mslice *key,
			struct mslice *val)
{
	size_t size = 0, start = r->pos;
	if (r->len - r->pos < 4)
		return false;
	for (int i = 0; i < 4; i++) {
		char c = (char)r->p[r->pos + i];
		int d = (c >= '0' && c <= '9') ? c - '0'
			: (c >= 'a' && c <= 'f') ? c - 'a' + 10
			: (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
		if (d < 0)
			return false;
		size = size * 16 + (size_t)d;
	}
	if (size < 4 + 2 || size > r->len - start)
		return false;
	if (r->p[start + size - 1] != '\n')
		return false;
	const uint8_t *body = r->p + start + 4;
	size_t blen = size - 5;
	const uint8_t *sp = memchr(body, ' ', blen);
	if (!sp)
		return false;
	key->p = body;
	key->len = (size_t)(sp - body);
	val->p = sp + 1;
	val->len = blen - key->len - 1;
	r->pos = start + size;
	return true;
}

static bool slice_eq(struct mslice s, const char *lit)
{
	size_t n = strlen(lit);
	return s.len == n && memcmp(s.p, lit, n) == 0;
}

enum macaroon_err macaroon_decode_v1(const uint8_t *in, size_t len,
				     struct macaroon *m)
{
	struct reader r = { in, len, 0 };
	struct mslice key, val;

	memset(m, 0, sizeof(*m));
	if (len > MACAROON_MAX_SIZE)
		return MACAROON_ERR_TOO_LARGE;
	if (!read_packet(&r, &key, &val))
		return MACAROON_ERR_TRUNCATED;
	if (!slice_eq(key, "location"))
		return MACAROON_ERR_FORMAT;
	m->location = val;
	if (!read_packet(&r, &key, &val))
		return MACAROON_ERR_TRUNCATED;
	if (!slice_eq(key, "identifier"))
		return MACAROON_ERR_FORMAT;
	m->identifier = val;
	for (;;) {
		if (!read_packet(&r, &key, &val))
			return MACAROON_ERR_TRUNCATED;
		if (slice_eq(key, "signature")) {
			if (val.len != MACAROON_SIG_LEN || r.pos != r.len)
				return MACAROON_ERR_FORMAT;
			memcpy(m->sig, val.p, MACAROON_SIG_LEN);
			return MACAROON_OK;
		}
		if (slice_eq(key, "cid")) {
			if (m->ncaveats >= MACAROON_MAX_CAVEATS)
				return MACAROON_ERR_TOO_MANY_CAVEATS;
			m->caveats[m->ncaveats++].id = val;
		} else if (slice_eq(key, "vid") && m->ncaveats) {
			m->caveats[m->ncaveats - 1].vid = val;
		} else if (slice_eq(key, "cl") && m->ncaveats) {
			m->caveats[m->ncaveats - 1].location = val;
		} else {
			return MACAROON_ERR_FORMAT;
		}
	}
}

/* ---- v2 JSON (go-macaroon's macaroonJSONV2) ---- */

struct scratch {
	uint8_t *p;
	size_t cap, used;
};

/* Field NAME holds the raw bytes as a JSON string; NAME64 holds base64. */
static enum macaroon_err json_bytes(const struct json_doc *doc, int obj,
				    const char *name, struct scratch *s,
				    struct mslice *out, bool required)
{
	char name64[8];
	int t = json_get(doc, obj, name);
	size_t n;

	snprintf(name64, sizeof(name64), "%s64", name);
	int t64 = json_get(doc, obj, name64);
	out->p = NULL;
	out->len = 0;
	if (t >= 0 && t64 >= 0)
		return MACAROON_ERR_FORMAT;
	if (t < 0 && t64 < 0)
		return required ? MACAROON_ERR_FORMAT : MACAROON_OK;
	uint8_t *dst = s->p + s->used;
	size_t room = s->cap - s->used;
	if (t >= 0) {
		if (!json_get_string(doc, t, (char *)dst, room, &n))
			return MACAROON_ERR_FORMAT;
		n++; /* keep the NUL inside what we used */
		out->len = n - 1;
	} else {
		const char *raw;
		size_t rawlen;
		if (!json_is_string(doc, t64))
			return MACAROON_ERR_FORMAT;
		raw = json_raw(doc, t64, &rawlen);
		if (!b64_decode_any(raw, rawlen, dst, room, &n))
			return MACAROON_ERR_FORMAT;
		out->len = n;
	}
	out->p = dst;
	s->used += n;
	return MACAROON_OK;
}

enum macaroon_err macaroon_decode_json(const char *in, size_t len,
				       uint8_t *scratch, size_t scratchcap,
				       struct macaroon *m)
{
	enum { MAXTOKS = 16 + MACAROON_MAX_CAVEATS * 16 };
	jsmntok_t toks[MAXTOKS];
	struct json_doc doc;
	struct scratch s = { scratch, scratchcap, 0 };
	struct mslice sig;
	uint64_t version;
	enum macaroon_err err;

	memset(m, 0, sizeof(*m));
	if (len > MACAROON_MAX_SIZE)
		return MACAROON_ERR_TOO_LARGE;
	if (!json_parse(&doc, in, len, toks, MAXTOKS) || !json_is_object(&doc, 0))
		return MACAROON_ERR_FORMAT;
	if (!json_get_u64(&doc, json_get(&doc, 0, "v"), &version) || version != 2)
		return MACAROON_ERR_FORMAT;
	if ((err = json_bytes(&doc, 0, "i", &s, &m->identifier, true)))
		return err;
	if ((err = json_bytes(&doc, 0, "l", &s, &m->location, false)))
		return err;
	if ((err = json_bytes(&doc, 0, "s", &s, &sig, true)))
		return err;
	if (sig.len != MACAROON_SIG_LEN)
		return MACAROON_ERR_FORMAT;
	memcpy(m->sig, sig.p, MACAROON_SIG_LEN);

	int c = json_get(&doc, 0, "c");
	if (c < 0 || json_is_null(&doc, c))
		return MACAROON_OK;
	if (!json_is_array(&doc, c))
		return MACAROON_ERR_FORMAT;
	if (doc.toks[c].size > MACAROON_MAX_CAVEATS)
		return MACAROON_ERR_TOO_MANY_CAVEATS;
	for (int k = 0; k < doc.toks[c].size; k++) {
		int o = json_at(&doc, c, k);
		struct macaroon_caveat *cav = &m->caveats[m->ncaveats++];
		if (!json_is_object(&doc, o))
			return MACAROON_ERR_FORMAT;
		if ((err = json_bytes(&doc, o, "i", &s, &cav->id, true))
		    || (err = json_bytes(&doc, o, "v", &s, &cav->vid, false))
		    || (err = json_bytes(&doc, o, "l", &s, &cav->location, false)))
			return err;
	}
	return MACAROON_OK;
}

enum macaroon_err macaroon_decode(const uint8_t *in, size_t len,
				  uint8_t *scratch, size_t scratchcap,
				  struct macaroon *m, enum macaroon_format *fmt)
{
	size_t n;
	enum macaroon_format f;
	enum macaroon_err err;

	memset(m, 0, sizeof(*m));
	if (len == 0)
		return MACAROON_ERR_TRUNCATED;
	if (len > MACAROON_MAX_SIZE)
		return MACAROON_ERR_TOO_LARGE;
	if (in[0] == 2) {
		f = MACAROON_FMT_V2;
		err = macaroon_decode_v2(in, len, m);
	} else if (in[0] == '{') {
		f = MACAROON_FMT_V2J;
		err = macaroon_decode_json((const char *)in, len, scratch,
					   scratchcap, m);
	} else {
		f = MACAROON_FMT_V1;
		if (!b64_decode_any((const char *)in, len, scratch, scratchcap, &n))
			return MACAROON_ERR_FORMAT;
		err = macaroon_decode_v1(scratch, n, m);
	}
	if (fmt)
		*fmt = f;
	return err;
}

/* ---- verification ---- */

struct verify_ctx {
	const struct macaroon *root;
	const struct macaroon *discharges;
	size_t ndischarges;
	bool used[MACAROON_MAX_DISCHARGES];
	macaroon_checker check;
	void *ctx;
};

static enum macaroon_err verify_one(struct verify_ctx *v,
				    const struct macaroon *m,
				    const uint8_t key[MACAROON_SIG_LEN])
{
	uint8_t sig[MACAROON_SIG_LEN], expect[MACAROON_SIG_LEN];
	enum macaroon_err err;

	hmac(key, MACAROON_SIG_LEN, m->identifier.p, m->identifier.len, sig);
	for (size_t i = 0; i < m->ncaveats; i++) {
		const struct macaroon_caveat *c = &m->caveats[i];
		if (c->vid.len == 0) {
			if (!v->check(v->ctx, c->id.p, c->id.len))
				return MACAROON_ERR_CAVEAT;
			hmac(sig, sizeof(sig), c->id.p, c->id.len, sig);
			continue;
		}
		uint8_t cav_key[MACAROON_SIG_LEN];
		if (c->vid.len != MACAROON_VID_LEN
		    || crypto_secretbox_open_easy(cav_key,
						  c->vid.p + MACAROON_NONCE_LEN,
						  c->vid.len - MACAROON_NONCE_LEN,
						  c->vid.p, sig) != 0)
			return MACAROON_ERR_DECRYPT;
		size_t d;
		for (d = 0; d < v->ndischarges; d++) {
			const struct mslice *id = &v->discharges[d].identifier;
			if (!v->used[d] && id->len == c->id.len
			    && memcmp(id->p, c->id.p, id->len) == 0)
				break;
		}
		if (d == v->ndischarges)
			return MACAROON_ERR_DISCHARGE_MISSING;
		v->used[d] = true;
		err = verify_one(v, &v->discharges[d], cav_key);
		sodium_memzero(cav_key, sizeof(cav_key));
		if (err != MACAROON_OK)
			return err;
		hmac2(sig, c->vid, c->id, sig);
	}
	if (m == v->root)
		memcpy(expect, sig, sizeof(sig));
	else
		bind_sig(v->root->sig, sig, expect);
	if (sodium_memcmp(expect, m->sig, MACAROON_SIG_LEN) != 0)
		return MACAROON_ERR_SIGNATURE;
	return MACAROON_OK;
}

enum macaroon_err macaroon_verify(const struct macaroon *m,
				  const uint8_t *root_key, size_t keylen,
				  const struct macaroon *discharges,
				  size_t ndischarges, macaroon_checker check,
				  void *ctx)
{
	struct verify_ctx v = { m, discharges, ndischarges, { false }, check, ctx };
	uint8_t key[MACAROON_SIG_LEN];
	enum macaroon_err err;

	if (ndischarges > MACAROON_MAX_DISCHARGES)
		return MACAROON_ERR_TOO_MANY_CAVEATS;
	derive_key(root_key, keylen, key);
	err = verify_one(&v, m, key);
	sodium_memzero(key, sizeof(key));
	if (err != MACAROON_OK)
		return err;
	for (size_t d = 0; d < ndischarges; d++)
		if (!v.used[d])
			return MACAROON_ERR_DISCHARGE_UNUSED;
	return MACAROON_OK;
}
