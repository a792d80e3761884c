#include "l402.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "encoding.h"


#define MAX_COLLECTED (MACAROON_MAX_CAVEATS * (1 + L402_MAX_DISCHARGES))

static const struct {
	const char *code, *text;
} l402_errors[] = {
	[L402_OK] = { "ok", "ok" },
	[L402_ERR_NO_CREDENTIALS] = { "no_credentials", "no L402 credentials" },
	[L402_ERR_BAD_SCHEME] = { "bad_scheme", "authorization scheme is not L402 or LSAT" },
	[L402_ERR_BAD_FORMAT] = { "bad_format", "authorization is not <macaroon>:<preimage>" },
	[L402_ERR_BAD_BASE64] = { "bad_base64", "macaroon is not valid base64" },
	[L402_ERR_BAD_HEX] = { "bad_hex", "macaroon is not valid hex" },
	[L402_ERR_BAD_MACAROON] = { "bad_macaroon", "macaroon cannot be decoded" },
	[L402_ERR_BAD_IDENTIFIER] = { "bad_identifier", "macaroon identifier is not an L402 version 0 identifier" },
	[L402_ERR_PREIMAGE_LENGTH] = { "bad_preimage_length", "preimage must be 64 hex digits" },
	[L402_ERR_PREIMAGE_HEX] = { "bad_preimage", "preimage is not valid hex" },
	[L402_ERR_NO_PREIMAGE] = { "no_preimage", "macaroon has no preimage caveat" },
	[L402_ERR_PREIMAGE_MISMATCH] = { "preimage_mismatch", "preimage does not match the payment hash" },
	[L402_ERR_SIGNATURE] = { "bad_signature", "macaroon signature invalid" },
	[L402_ERR_CAVEAT] = { "caveat_failed", "caveat failed" },
	[L402_ERR_EXPIRED] = { "expired", "token expired" },
	[L402_ERR_TOO_LARGE] = { "too_large", "credentials too large" },
};

const char *l402_err_code(enum l402_err err)
{
	if ((size_t)err >= sizeof(l402_errors) / sizeof(l402_errors[0]))
		return "unknown";
	return l402_errors[err].code;
}

const char *l402_strerror(enum l402_err err)
{
	if ((size_t)err >= sizeof(l402_errors) / sizeof(l402_errors[0]))
		return "unknown error";
	return l402_errors[err].text;
}

void l402_identifier_encode(const struct l402_identifier *id,
			    uint8_t out[L402_ID_LEN])
{
	out[0] = (uint8_t)(id->version >> 8);
	out[1] = (uint8_t)id->version;
	memcpy(out + 2, id->payment_hash, L402_HASH_LEN);
	memcpy(out + 2 + L402_HASH_LEN, id->token_id, L402_TOKEN_ID_LEN);
}

bool l402_identifier_decode(const uint8_t *in, size_t len,
			    struct l402_identifier *id)
{
	if (len < 2)
		return false;
	id->version = (uint16_t)((in[0] << 8) | in[1]);
	/* Version 0 is the only one aperture defines. */
	if (id->version != 0 || len != L402_ID_LEN)
		return false;
	memcpy(id->payment_hash, in + 2, L402_HASH_LEN);
	memcpy(id->token_id, in + 2 + L402_HASH_LEN, L402_TOKEN_ID_LEN);
	return true;
}

void l402_root_key(const uint8_t secret[L402_SECRET_LEN],
		   const uint8_t token_id[L402_TOKEN_ID_LEN],
		   uint8_t out[L402_SECRET_LEN])
{
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, secret, L402_SECRET_LEN);
	crypto_auth_hmacsha256_update(&st, token_id, L402_TOKEN_ID_LEN);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

/* Service names go into caveat conditions: keep them to a safe alphabet. */
static bool valid_service_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		      || (c >= '0' && c <= '9') || c == '-' || c == '_'
		      || c == '.'))
			return false;
	}
	return true;
}

/* ---- parsing what clients send ---- */

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

static void trim(const char **s, size_t *len)
{
	while (*len && is_space(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len && is_space((*s)[*len - 1]))
		(*len)--;
}

/* A decoded token is v2 binary, v2 JSON, or v1 packets. */
static enum l402_err decode_token(struct l402_credential *cred,
				  const uint8_t *bytes, size_t n,
				  struct macaroon *m)
{
	enum macaroon_err err;
	if (n == 0)
		return L402_ERR_BAD_MACAROON;
	if (bytes[0] == 2) {
		err = macaroon_decode_v2(bytes, n, m);
	} else if (bytes[0] == '{') {
		size_t room = sizeof(cred->storage) - cred->used;
		err = macaroon_decode_json((const char *)bytes, n,
					   cred->storage + cred->used, room, m);
		if (err == MACAROON_OK)
			cred->used += n; /* decoded fields never exceed n */
	} else {
		err = macaroon_decode_v1(bytes, n, m);
	}
	return err == MACAROON_OK ? L402_OK : L402_ERR_BAD_MACAROON;
}

static bool scheme_is(const char *s, size_t len, const char *want)
{
	return len == strlen(want) && strncasecmp(s, want, len) == 0;
}

/* What every credential parser does first: an empty credential, a
 * value too large to look at, the surrounding blanks. */
static enum l402_err start_parse(struct l402_credential *cred, const char **value, size_t *len)
{
	cred->ndischarges = 0;
	cred->used = 0;
	if (!*value || *len == 0)
		return L402_ERR_NO_CREDENTIALS;
	if (*len > L402_MAX_AUTH_LEN)
		return L402_ERR_TOO_LARGE;
	trim(value, len);
	return L402_OK;
}

enum l402_err l402_parse_authorization(const char *value, size_t len,
				       struct l402_credential *cred)
{
	size_t slen = 0, n;
	const char *colon = NULL;

	enum l402_err err = start_parse(cred, &value, &len);
	if (err != L402_OK)
		return err;
	while (slen < len && !is_space(value[slen]))
		slen++;
	if (!scheme_is(value, slen, "L402") && !scheme_is(value, slen, "LSAT"))
		return L402_ERR_BAD_SCHEME;
	value += slen;
	len -= slen;
	trim(&value, &len);

	for (size_t i = len; i > 0; i--)
		if (value[i - 1] == ':') {
			colon = value + i - 1;
			break;
		}
	if (!colon || colon == value)
		return L402_ERR_BAD_FORMAT;

	const char *pre = colon + 1;
	size_t prelen = (size_t)(value + len - pre);
	trim(&pre, &prelen);
	if (prelen != 2 * L402_PREIMAGE_LEN)
		return L402_ERR_PREIMAGE_LENGTH;
	if (!hex_decode(pre, prelen, cred->preimage, L402_PREIMAGE_LEN, &n))
		return L402_ERR_PREIMAGE_HEX;

	/* Comma-separated macaroons: the first is the token, the rest are
	 * discharges for its third-party caveats. */
	const char *p = value, *end = colon;
	size_t count = 0;
	while (p <= end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *tok_end = comma ? comma : end;
		const char *tok = p;
		size_t toklen = (size_t)(tok_end - p);
		trim(&tok, &toklen);
		if (toklen == 0)
			return L402_ERR_BAD_FORMAT;
		if (count > L402_MAX_DISCHARGES)
			return L402_ERR_TOO_LARGE;
		uint8_t *dst = cred->storage + cred->used;
		size_t room = sizeof(cred->storage) - cred->used;
		if (!b64_decode_any(tok, toklen, dst, room, &n))
			return L402_ERR_BAD_BASE64;
		cred->used += n;
		struct macaroon *m = count == 0 ? &cred->mac
					       : &cred->discharges[count - 1];
		if ((err = decode_token(cred, dst, n, m)) != L402_OK)
			return err;
		count++;
		if (!comma)
			break;
		p = comma + 1;
	}
	cred->ndischarges = count - 1;
	return L402_OK;
}

bool l402_caveat_value(const struct macaroon *m, const char *condition,
		       const uint8_t **val, size_t *len)
{
	size_t cl = strlen(condition);
	bool found = false;
	for (size_t i = 0; i < m->ncaveats; i++) {
		const struct mslice *id = &m->caveats[i].id;
		if (m->caveats[i].vid.len == 0 && id->len > cl
		    && memcmp(id->p, condition, cl) == 0 && id->p[cl] == '=') {
			*val = id->p + cl + 1;
			*len = id->len - cl - 1;
			found = true;
		}
	}
	return found;
}

enum l402_err l402_parse_macaroon_header(const char *value, size_t len,
					 struct l402_credential *cred)
{
	size_t n;
	const uint8_t *pre;
	size_t prelen;

	enum l402_err err = start_parse(cred, &value, &len);
	if (err != L402_OK)
		return err;
	if (!hex_decode(value, len, cred->storage, sizeof(cred->storage), &n))
		return L402_ERR_BAD_HEX;
	cred->used = n;
	if (macaroon_decode_v2(cred->storage, n, &cred->mac) != MACAROON_OK)
		return L402_ERR_BAD_MACAROON;
	if (!l402_caveat_value(&cred->mac, "preimage", &pre, &prelen))
		return L402_ERR_NO_PREIMAGE;
	if (prelen != 2 * L402_PREIMAGE_LEN)
		return L402_ERR_PREIMAGE_LENGTH;
	if (!hex_decode((const char *)pre, prelen, cred->preimage,
			L402_PREIMAGE_LEN, &n))
		return L402_ERR_PREIMAGE_HEX;
	return L402_OK;
}

/* ---- verification ---- */

struct collected {
	struct mslice cav[MAX_COLLECTED];
	size_t n;
};

static bool collect_caveat(void *ctx, const uint8_t *caveat, size_t len)
{
	struct collected *c = ctx;
	if (c->n >= MAX_COLLECTED)
		return false;
	c->cav[c->n].p = caveat;
	c->cav[c->n].len = len;
	c->n++;
	return true;
}

/* Walking a comma-separated list: each call takes the next item off
 * the walk and says whether there was one. Empty items count, as in
 * aperture ("a,,b" has three). */
struct list_walk {
	const uint8_t *p, *end;
	bool done;
};

static bool list_next(struct list_walk *w, struct mslice *item)
{
	if (w->done)
		return false;
	const uint8_t *comma = memchr(w->p, ',', (size_t)(w->end - w->p));
	const uint8_t *e = comma ? comma : w->end;
	item->p = w->p;
	item->len = (size_t)(e - w->p);
	w->done = !comma;
	w->p = comma ? comma + 1 : w->end;
	return true;
}

/* For services, an item is compared by its name, before ':'. */
static struct mslice list_key(struct mslice item, bool services)
{
	const uint8_t *c = services ? memchr(item.p, ':', item.len) : NULL;
	if (c)
		item.len = (size_t)(c - item.p);
	return item;
}

/* Whether the comma-separated list `list` contains `item`. */
static bool list_has(struct mslice list, const char *item, size_t ilen,
		     bool services)
{
	struct list_walk w = { list.p, list.p + list.len, false };
	struct mslice it;
	while (list_next(&w, &it)) {
		it = list_key(it, services);
		if (it.len == ilen && memcmp(it.p, item, ilen) == 0)
			return true;
	}
	return false;
}

/* Every element of cur is in prev: a repeated caveat only narrows. */
static bool list_subset(struct mslice cur, struct mslice prev, bool services)
{
	struct list_walk w = { cur.p, cur.p + cur.len, false };
	struct mslice it;
	while (list_next(&w, &it)) {
		it = list_key(it, services);
		if (!list_has(prev, (const char *)it.p, it.len, services))
			return false;
	}
	return true;
}

/* "name:tier[,name:tier]" with non-empty names and decimal tiers. */
static bool services_valid(struct mslice v)
{
	struct list_walk w = { v.p, v.p + v.len, false };
	struct mslice it;
	if (v.len == 0)
		return false;
	while (list_next(&w, &it)) {
		const uint8_t *e = it.p + it.len, *c = memchr(it.p, ':', it.len);
		if (!c || c == it.p || c + 1 == e)
			return false;
		for (const uint8_t *d = c + 1; d < e; d++)
			if (*d < '0' || *d > '9')
				return false;
	}
	return true;
}


static bool parse_unix(struct mslice v, int64_t *out)
{
	int64_t x = 0;
	bool neg = false;
	size_t i = 0;
	if (v.len && v.p[0] == '-') {
		neg = true;
		i = 1;
	}
	if (i == v.len || v.len - i > 18)
		return false;
	for (; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return false;
		x = x * 10 + (v.p[i] - '0');
	}
	*out = neg ? -x : x;
	return true;
}

/* ---- the caveats: one entry each, read by minting, verification (and
 * so the verdict cache, which keeps the grant) and the published catalog.
 * As aperture's satisfiers: a repeated condition may only narrow the one
 * before it, and the last one decides. ---- */

static bool positive(struct mslice v)
{
	int64_t x;
	return parse_unix(v, &x) && x > 0;
}

static bool unix_time(struct mslice v)
{
	int64_t x;
	return parse_unix(v, &x);
}

/* Numbers narrow by not growing (both already well-formed). */
static bool no_larger(struct mslice cur, struct mslice prev)
{
	int64_t c = 0, p = 0;
	parse_unix(cur, &c);
	parse_unix(prev, &p);
	return c <= p;
}

static bool services_subset(struct mslice cur, struct mslice prev)
{
	return list_subset(cur, prev, true);
}

static bool capabilities_subset(struct mslice cur, struct mslice prev)
{
	return list_subset(cur, prev, false);
}

/* A number caveat is minted when the grant sets it. */
static bool mint_number(int64_t v, char *out, size_t len)
{
	snprintf(out, len, "%lld", (long long)v);
	return v > 0;
}

static bool mint_services(const struct l402_mint_params *p, char *out, size_t len)
{
	snprintf(out, len, "%s:%u", p->service, p->tier);
	return true;
}

static bool mint_capabilities(const struct l402_mint_params *p, char *out, size_t len)
{
	return p->capabilities && (size_t)snprintf(out, len, "%s", p->capabilities) < len;
}

static bool mint_valid_until(const struct l402_mint_params *p, char *out, size_t len)
{
	return mint_number(p->grant.valid_until, out, len);
}

static bool mint_uses(const struct l402_mint_params *p, char *out, size_t len)
{
	return mint_number((int64_t)p->grant.uses, out, len);
}

static bool mint_balance(const struct l402_mint_params *p, char *out, size_t len)
{
	return mint_number((int64_t)p->grant.balance_msat, out, len);
}

static bool mint_max_price(const struct l402_mint_params *p, char *out, size_t len)
{
	return mint_number((int64_t)p->grant.max_price_msat, out, len);
}

/* uses and balance_msat hold for every request: the grant reports the
 * limit, and counting uses or drawing the balance down is the server's
 * job. positive() has already refused any value that is not a number
 * above 0. */
static uint64_t grant_limit(struct mslice v)
{
	int64_t n = 0;
	parse_unix(v, &n);
	return (uint64_t)n;
}

static enum l402_err holds_balance(struct mslice v, const struct l402_verify_req *req,
				   struct l402_grant *g, const char **why)
{
	g->balance_msat = grant_limit(v);
	return L402_OK;
}

/* Compared with the request's live price by the server, which knows it. */
static enum l402_err holds_max_price(struct mslice v, const struct l402_verify_req *req,
				     struct l402_grant *g, const char **why)
{
	g->max_price_msat = grant_limit(v);
	return L402_OK;
}

static enum l402_err holds_services(struct mslice v, const struct l402_verify_req *req,
				    struct l402_grant *g, const char **why)
{
	*why = "token is not for this service";
	return list_has(v, req->service, strlen(req->service), true) ? L402_OK : L402_ERR_CAVEAT;
}

static enum l402_err holds_capabilities(struct mslice v, const struct l402_verify_req *req,
					struct l402_grant *g, const char **why)
{
	*why = "capability not granted";
	return !req->capability || list_has(v, req->capability, strlen(req->capability), false)
		       ? L402_OK : L402_ERR_CAVEAT;
}

static enum l402_err holds_valid_until(struct mslice v, const struct l402_verify_req *req,
				       struct l402_grant *g, const char **why)
{
	parse_unix(v, &g->valid_until);
	*why = "token expired";
	return req->now < g->valid_until ? L402_OK : L402_ERR_EXPIRED;
}

static enum l402_err holds_uses(struct mslice v, const struct l402_verify_req *req,
				struct l402_grant *g, const char **why)
{
	g->uses = grant_limit(v);
	return L402_OK;
}

static const struct l402_caveat caveats[] = {
	{ "services", false, "NAME:TIER[,NAME:TIER...]", "a later caveat may only drop services",
	  mint_services, services_valid, "malformed services list",
	  services_subset, "widens the caveat before it", holds_services },
	{ "capabilities", true, "CAP[,CAP...]", "a later caveat may only drop capabilities",
	  mint_capabilities, NULL, NULL,
	  capabilities_subset, "widens the caveat before it", holds_capabilities },
	{ "valid_until", true, "unix seconds", "a later caveat may only move it earlier",
	  mint_valid_until, unix_time, "not a unix time",
	  no_larger, "later than the caveat before it", holds_valid_until },
	{ "uses", true, "number of requests", "a later caveat may only lower it",
	  mint_uses, positive, "not a positive number of uses",
	  no_larger, "more uses than the caveat before it", holds_uses },
	{ "balance_msat", true, "millisatoshis", "a later caveat may only lower it",
	  mint_balance, positive, "not a positive balance",
	  no_larger, "a larger balance than the caveat before it", holds_balance },
	{ "max_price_msat", true, "millisatoshis", "a later caveat may only lower it",
	  mint_max_price, positive, "not a positive price",
	  no_larger, "a higher price than the caveat before it", holds_max_price },
};
#define NCAVEATS (sizeof(caveats) / sizeof(caveats[0]))

const struct l402_caveat *l402_caveats(size_t *n)
{
	*n = NCAVEATS;
	return caveats;
}

bool l402_caveat_condition(const struct l402_caveat *c, const char *service, char *out, size_t len)
{
	return (size_t)(c->per_service ? snprintf(out, len, "%s_%s", service, c->name)
				       : snprintf(out, len, "%s", c->name)) < len;
}

bool l402_mint(const uint8_t secret[L402_SECRET_LEN],
	       const struct l402_identifier *id,
	       const struct l402_mint_params *p, char *out, size_t outcap)
{
	uint8_t idbytes[L402_ID_LEN], root[L402_SECRET_LEN];
	char cav[NCAVEATS + 16][256];
	size_t ncav = 0;
	struct macaroon m;
	uint8_t bin[MACAROON_MAX_SIZE];
	size_t n;

	if (!p->service || !valid_service_name(p->service) || p->nextra > 16)
		return false;
	for (size_t k = 0; k < NCAVEATS; k++) {
		char val[256];
		if (!caveats[k].mint(p, val, sizeof(val)))
			continue;
		if (!l402_caveat_condition(&caveats[k], p->service, cav[ncav], sizeof(cav[0]))
		    || strlen(cav[ncav]) + 1 + strlen(val) >= sizeof(cav[0]))
			return false;
		strcat(cav[ncav], "=");
		strcat(cav[ncav], val);
		ncav++;
	}
	for (size_t i = 0; i < p->nextra; i++) {
		if (!p->extra[i] || !strchr(p->extra[i], '=')
		    || strlen(p->extra[i]) >= sizeof(cav[0]))
			return false;
		strcpy(cav[ncav++], p->extra[i]);
	}

	l402_identifier_encode(id, idbytes);
	l402_root_key(secret, id->token_id, root);
	struct mslice ids = { idbytes, sizeof(idbytes) };
	macaroon_init(&m, root, sizeof(root), ids, mslice_str(L402_LOCATION));
	sodium_memzero(root, sizeof(root));
	for (size_t i = 0; i < ncav; i++)
		macaroon_add_first_party(&m, mslice_str(cav[i]));
	n = macaroon_encode_v2(&m, bin, sizeof(bin));
	return n && b64_encode(bin, n, out, outcap) > 0;
}


static enum l402_err caveat_fail(struct l402_verdict *v, enum l402_err err,
				 const char *cond, const char *why)
{
	snprintf(v->detail, sizeof(v->detail), "%s: %s", cond, why);
	return err;
}

static enum l402_err check_caveats(const struct collected *c,
				   const struct l402_verify_req *req,
				   struct l402_verdict *v)
{
	char names[NCAVEATS][L402_MAX_CONDITION];
	struct mslice last[NCAVEATS] = { { 0 } };
	bool seen[NCAVEATS] = { false };
	const char *why;

	for (size_t k = 0; k < NCAVEATS; k++)
		l402_caveat_condition(&caveats[k], req->service, names[k], L402_MAX_CONDITION);

	for (size_t i = 0; i < c->n; i++) {
		const uint8_t *eq = memchr(c->cav[i].p, '=', c->cav[i].len);
		if (!eq)
			continue; /* not condition=value: not ours to judge */
		size_t cl = (size_t)(eq - c->cav[i].p), k;
		struct mslice val = { eq + 1, c->cav[i].len - cl - 1 };
		for (k = 0; k < NCAVEATS; k++)
			if (strlen(names[k]) == cl
			    && memcmp(names[k], c->cav[i].p, cl) == 0)
				break;
		if (k == NCAVEATS)
			continue; /* unknown conditions are skipped, as aperture does */
		if (caveats[k].valid && !caveats[k].valid(val))
			return caveat_fail(v, L402_ERR_CAVEAT, names[k], caveats[k].malformed);
		if (seen[k] && !caveats[k].narrows(val, last[k]))
			return caveat_fail(v, L402_ERR_CAVEAT, names[k], caveats[k].widened);
		last[k] = val;
		seen[k] = true;
	}

	/* The last of each decides, in the table's order. */
	for (size_t k = 0; k < NCAVEATS; k++) {
		enum l402_err err;
		if (!seen[k])
			continue;
		if ((err = caveats[k].holds(last[k], req, &v->grant, &why)) != L402_OK)
			return caveat_fail(v, err, names[k], why);
	}
	/* A condition the token was minted without is the holder's to add, at
	 * any value; one that changes what the token is would widen it. A
	 * token counts requests or draws a balance, never both: a balance
	 * added to a token of uses (whose counter counts requests) would let
	 * it pay on and on. */
	if (v->grant.uses && v->grant.balance_msat)
		return caveat_fail(v, L402_ERR_CAVEAT, "balance_msat",
				   "a token of uses cannot also draw a balance");
	return L402_OK;
}

enum l402_err l402_verify(const struct l402_credential *cred,
			  const uint8_t secret[L402_SECRET_LEN],
			  const struct l402_verify_req *req,
			  struct l402_verdict *v)
{
	uint8_t root[L402_SECRET_LEN], hash[L402_HASH_LEN];
	struct collected c;
	enum macaroon_err merr;

	v->detail[0] = '\0';
	memset(&v->grant, 0, sizeof(v->grant));
	memset(&v->id, 0, sizeof(v->id));
	if (!req->service || strlen(req->service) > 64)
		return caveat_fail(v, L402_ERR_CAVEAT, "services",
				   "no valid service to check against");
	if (!l402_identifier_decode(cred->mac.identifier.p,
				    cred->mac.identifier.len, &v->id))
		return L402_ERR_BAD_IDENTIFIER;

	l402_root_key(secret, v->id.token_id, root);
	c.n = 0;
	merr = macaroon_verify(&cred->mac, root, sizeof(root), cred->discharges,
			       cred->ndischarges, collect_caveat, &c);
	sodium_memzero(root, sizeof(root));
	if (merr != MACAROON_OK) {
		snprintf(v->detail, sizeof(v->detail), "%s",
			 macaroon_strerror(merr));
		return L402_ERR_SIGNATURE;
	}

	crypto_hash_sha256(hash, cred->preimage, L402_PREIMAGE_LEN);
	if (sodium_memcmp(hash, v->id.payment_hash, L402_HASH_LEN) != 0)
		return L402_ERR_PREIMAGE_MISMATCH;

	return check_caveats(&c, req, v);
}

/* ---- headers ---- */

/* Values we put inside quotes must not be able to close them. */
static bool quotable(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20
		    || (unsigned char)*s >= 0x7F)
			return false;
	return true;
}

bool l402_challenge(struct strbuf *sb, const char *mac_b64, const char *invoice)
{
	if (!quotable(mac_b64) || !quotable(invoice))
		return false;
	return strbuf_printf(sb,
			     "L402 macaroon=\"%s\", invoice=\"%s\", version=\"0\", token=\"%s\"",
			     mac_b64, invoice, mac_b64);
}

bool lsat_challenge(struct strbuf *sb, const char *mac_b64, const char *invoice)
{
	if (!quotable(mac_b64) || !quotable(invoice))
		return false;
	return strbuf_printf(sb, "LSAT macaroon=\"%s\", invoice=\"%s\"", mac_b64,
			     invoice);
}

bool l402_authorization(struct strbuf *sb, const char *mac_b64,
			const uint8_t preimage[L402_PREIMAGE_LEN])
{
	char hex[2 * L402_PREIMAGE_LEN + 1];
	if (!quotable(mac_b64))
		return false;
	hex_encode(preimage, L402_PREIMAGE_LEN, hex, sizeof(hex));
	return strbuf_printf(sb, "L402 %s:%s", mac_b64, hex);
}
