#include "mpp.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "encoding.h"
#include "jcs.h"
#include "json_in.h"

#define MAX_CREDENTIAL_TOKENS 128

const char *mpp_problem_type(enum mpp_err e)
{
	switch (e) {
	case MPP_OK: return "payment-required";
	case MPP_MALFORMED: return "malformed-credential";
	case MPP_INVALID_CHALLENGE: return "invalid-challenge";
	case MPP_EXPIRED: return "payment-expired";
	case MPP_VERIFICATION_FAILED: return "verification-failed";
	case MPP_INSUFFICIENT: return "payment-insufficient";
	case MPP_UNSUPPORTED: return "method-unsupported";
	}
	return "verification-failed";
}

const char *mpp_problem_title(enum mpp_err e)
{
	switch (e) {
	case MPP_OK: return "Payment Required";
	case MPP_MALFORMED: return "Malformed Credential";
	case MPP_INVALID_CHALLENGE: return "Invalid Challenge";
	case MPP_EXPIRED: return "Payment Expired";
	case MPP_VERIFICATION_FAILED: return "Verification Failed";
	case MPP_INSUFFICIENT: return "Payment Insufficient";
	case MPP_UNSUPPORTED: return "Method Unsupported";
	}
	return "Verification Failed";
}

static const struct {
	const char *type, *title;
} ln_problems[] = {
	[MPP_LN_NONE] = { NULL, NULL },
	[MPP_LN_CORE] = { NULL, NULL },
	[MPP_LN_MALFORMED_CREDENTIAL] = { "lightning/malformed-credential", "Malformed Credential" },
	[MPP_LN_UNKNOWN_CHALLENGE] = { "lightning/unknown-challenge", "Unknown Challenge" },
	[MPP_LN_INVALID_PREIMAGE] = { "lightning/invalid-preimage", "Invalid Preimage" },
	[MPP_LN_EXPIRED_INVOICE] = { "lightning/expired-invoice", "Expired Invoice" },
	[MPP_LN_CHALLENGE_EXPIRED] = { "lightning/challenge-expired", "Challenge Expired" },
	[MPP_LN_SESSION_NOT_FOUND] = { "lightning/session-not-found", "Session Not Found" },
	[MPP_LN_SESSION_CLOSED] = { "lightning/session-closed", "Session Closed" },
	[MPP_LN_INSUFFICIENT_BALANCE] = { "lightning/insufficient-balance",
					  "Insufficient Balance" },
	[MPP_LN_INVALID_RETURN_INVOICE] = { "lightning/invalid-return-invoice",
					    "Invalid Return Invoice" },
};

const char *mpp_ln_problem_type(enum mpp_ln_problem p)
{
	return (unsigned)p < sizeof(ln_problems) / sizeof(ln_problems[0]) ? ln_problems[p].type
									  : NULL;
}

const char *mpp_ln_problem_title(enum mpp_ln_problem p)
{
	return (unsigned)p < sizeof(ln_problems) / sizeof(ln_problems[0]) ? ln_problems[p].title
									  : NULL;
}

enum mpp_ln_problem mpp_ln_problem_of(enum mpp_err e, bool session)
{
	switch (e) {
	case MPP_MALFORMED: return MPP_LN_MALFORMED_CREDENTIAL;
	case MPP_INVALID_CHALLENGE: return MPP_LN_UNKNOWN_CHALLENGE;
	case MPP_EXPIRED: return session ? MPP_LN_CHALLENGE_EXPIRED : MPP_LN_EXPIRED_INVOICE;
	case MPP_VERIFICATION_FAILED: return MPP_LN_INVALID_PREIMAGE;
	/* A charge's: another, cheaper offer (the core's type says so). */
	case MPP_INSUFFICIENT: return session ? MPP_LN_INSUFFICIENT_BALANCE : MPP_LN_NONE;
	case MPP_OK:
	case MPP_UNSUPPORTED:
		break;
	}
	return MPP_LN_NONE;
}

void mpp_body_digest(const void *body, size_t len, char out[MPP_DIGEST_LEN])
{
	uint8_t h[32];
	char b64[48];
	crypto_hash_sha256(h, body, len);
	sodium_bin2base64(b64, sizeof(b64), h, sizeof(h), sodium_base64_VARIANT_ORIGINAL);
	snprintf(out, MPP_DIGEST_LEN, "sha-256=:%s:", b64);
}

bool mpp_content_digest(const char *header, char out[MPP_DIGEST_LEN])
{
	uint8_t h[32];
	size_t n;
	const char *p = header ? strstr(header, "sha-256=:") : NULL;
	if (!p || (p != header && p[-1] != ' ' && p[-1] != ','))
		return false;
	p += 9;
	const char *end = strchr(p, ':');
	if (!end || end - p != 44
	    || sodium_base642bin(h, sizeof(h), p, 44, NULL, &n, NULL,
				 sodium_base64_VARIANT_ORIGINAL) != 0 || n != 32)
		return false;
	snprintf(out, MPP_DIGEST_LEN, "sha-256=:%.44s:", p);
	return true;
}

bool mpp_is_payment(const char *a)
{
	return a && strncasecmp(a, "Payment", 7) == 0 && (a[7] == ' ' || a[7] == '\t');
}

/* ---- the credential ---- */

static enum mpp_err bad(char *why, size_t whylen, const char *reason)
{
	snprintf(why, whylen, "%s", reason);
	return MPP_MALFORMED;
}

/* Each member of object obj once: the slot for key, or skipped when
 * unknown. */
struct slot {
	const char *key;
	char *out;
	size_t cap;
	bool required;
	bool seen;
};

static bool read_slots(const struct json_doc *d, int obj, struct slot *s, size_t n, char *why,
		       size_t whylen)
{
	int k = obj + 1;
	for (int i = 0; i < d->toks[obj].size; i++) {
		int v = k + 1;
		if (k >= d->ntoks || v >= d->ntoks || !json_is_string(d, k)) {
			snprintf(why, whylen, "not an object");
			return false;
		}
		for (size_t j = 0; j < n; j++) {
			if (!json_streq(d, k, s[j].key))
				continue;
			if (s[j].seen) {
				snprintf(why, whylen, "'%s' appears twice", s[j].key);
				return false;
			}
			s[j].seen = true;
			if (!json_is_string(d, v)
			    || !json_get_string(d, v, s[j].out, s[j].cap, NULL)) {
				snprintf(why, whylen, "'%s' is not a string of at most %zu bytes",
					 s[j].key, s[j].cap - 1);
				return false;
			}
		}
		k = json_next(d, v);
	}
	for (size_t j = 0; j < n; j++)
		if (s[j].required && (!s[j].seen || !s[j].out[0])) {
			snprintf(why, whylen, "'%s' is missing or empty", s[j].key);
			return false;
		}
	return true;
}

/* The member key of object obj, once; -1 when absent, -2 when twice. */
static int member_once(const struct json_doc *d, int obj, const char *key)
{
	int found = -1, k = obj + 1;
	for (int i = 0; i < d->toks[obj].size && k + 1 < d->ntoks; i++) {
		if (json_streq(d, k, key)) {
			if (found >= 0)
				return -2;
			found = k + 1;
		}
		k = json_next(d, k + 1);
	}
	return found;
}

static bool lower_hex32(const char *s, uint8_t out[32])
{
	size_t n;
	if (strlen(s) != 64)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return hex_decode(s, 64, out, 32, &n) && n == 32;
}

/* What the payload must hold for its intent and action. */
static enum mpp_err payload_fields(struct mpp_credential *out, const char *intent,
				   const char *action, const char *preimage, const char *session,
				   const char *topup, char *why, size_t whylen)
{
	static const struct {
		const char *name;
		enum mpp_action a;
		bool preimage, session, topup, ret;
	} actions[] = {
		{ "open", MPP_OPEN, true, false, false, true },
		{ "bearer", MPP_BEARER, true, true, false, false },
		{ "topUp", MPP_TOPUP, false, true, true, false },
		{ "close", MPP_CLOSE, true, true, false, false },
	};
	if (strcmp(intent, "charge") == 0) {
		out->action = MPP_CHARGE;
		if (!lower_hex32(preimage, out->preimage))
			return bad(why, whylen, "payload.preimage is not 64 lowercase hex digits");
		return MPP_OK;
	}
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		if (strcmp(action, actions[i].name) != 0)
			continue;
		out->action = actions[i].a;
		if (actions[i].preimage && !lower_hex32(preimage, out->preimage))
			return bad(why, whylen, "payload.preimage is not 64 lowercase hex digits");
		if (actions[i].topup && !lower_hex32(topup, out->preimage))
			return bad(why, whylen, "payload.topUpPreimage is not 64 lowercase hex digits");
		if (actions[i].session && !lower_hex32(session, out->session_id))
			return bad(why, whylen, "payload.sessionId is not 64 lowercase hex digits");
		if (actions[i].ret && !out->return_invoice[0])
			return bad(why, whylen, "payload.returnInvoice is missing");
		return MPP_OK;
	}
	return bad(why, whylen, "payload.action must be open, bearer, topUp or close");
}

enum mpp_err mpp_parse_credential(const char *value, size_t len, struct mpp_credential *out,
				  char *why, size_t whylen)
{
	struct json_doc d;
	uint8_t *raw;
	size_t rawlen;
	char preimage[80] = "";
	enum mpp_err e = MPP_MALFORMED;

	memset(out, 0, sizeof(*out));
	if (len >= 8 && mpp_is_payment(value)) {
		value += 7;
		len -= 7;
		while (len && (*value == ' ' || *value == '\t'))
			value++, len--;
	}
	if (len == 0 || len > MPP_MAX_CREDENTIAL)
		return bad(why, whylen, "the credential is empty or too long");
	for (size_t i = 0; i < len; i++)
		if (!(isalnum((unsigned char)value[i]) || value[i] == '-' || value[i] == '_'
		      || (value[i] == '=' && i + 2 >= len)))
			return bad(why, whylen, "the credential is not base64url");
	if (!(raw = malloc(len)))
		return bad(why, whylen, "out of memory");
	if (!b64_decode_any(value, len, raw, len, &rawlen)) {
		free(raw);
		return bad(why, whylen, "the credential is not base64url");
	}
	if (!json_parse_alloc(&d, (const char *)raw, rawlen, MAX_CREDENTIAL_TOKENS)) {
		free(raw);
		return bad(why, whylen, "the credential is not one JSON value");
	}
	int ch = json_is_object(&d, 0) ? member_once(&d, 0, "challenge") : -1;
	int pl = json_is_object(&d, 0) ? member_once(&d, 0, "payload") : -1;
	struct mpp_challenge *c = &out->ch;
	struct slot cs[] = {
		{ "id", c->id, sizeof(c->id), true, false },
		{ "realm", c->realm, sizeof(c->realm), true, false },
		{ "method", c->method, sizeof(c->method), true, false },
		{ "intent", c->intent, sizeof(c->intent), true, false },
		{ "request", c->request, sizeof(c->request), true, false },
		{ "expires", c->expires, sizeof(c->expires), false, false },
		{ "digest", c->digest, sizeof(c->digest), false, false },
		{ "opaque", c->opaque, sizeof(c->opaque), false, false },
		{ "description", c->description, sizeof(c->description), false, false },
	};
	char action[16] = "", session[80] = "", topup[80] = "";
	struct slot ps[] = {
		{ "preimage", preimage, sizeof(preimage), false, false },
		{ "action", action, sizeof(action), false, false },
		{ "sessionId", session, sizeof(session), false, false },
		{ "topUpPreimage", topup, sizeof(topup), false, false },
		{ "returnInvoice", out->return_invoice, sizeof(out->return_invoice), false, false },
	};
	if (!json_is_object(&d, 0))
		bad(why, whylen, "the credential is not a JSON object");
	else if (ch == -2 || pl == -2)
		bad(why, whylen, "'challenge' or 'payload' appears twice");
	else if (ch < 0 || !json_is_object(&d, ch))
		bad(why, whylen, "no 'challenge' object");
	else if (pl < 0 || !json_is_object(&d, pl))
		bad(why, whylen, "no 'payload' object");
	else if (!read_slots(&d, ch, cs, sizeof(cs) / sizeof(cs[0]), why, whylen))
		; /* why is set */
	else if (strcmp(c->method, "lightning") != 0
		 || (strcmp(c->intent, "charge") != 0 && strcmp(c->intent, "session") != 0)) {
		snprintf(why, whylen, "only method lightning with intent charge or session is "
				      "offered here");
		e = MPP_UNSUPPORTED;
	} else if (!read_slots(&d, pl, ps, sizeof(ps) / sizeof(ps[0]), why, whylen))
		; /* why is set */
	else
		e = payload_fields(out, c->intent, action, preimage, session, topup, why, whylen);
	sodium_memzero(preimage, sizeof(preimage));
	sodium_memzero(topup, sizeof(topup));
	sodium_memzero(raw, rawlen);
	json_doc_free(&d);
	free(raw);
	return e;
}

/* ---- binding ---- */

void mpp_challenge_id(const uint8_t key[MPP_KEY_LEN], const struct mpp_challenge *c,
		      char out[48])
{
	crypto_auth_hmacsha256_state st;
	uint8_t mac[crypto_auth_hmacsha256_BYTES];
	const char *slots[7] = { c->realm, c->method, c->intent, c->request,
				 c->expires, c->digest, c->opaque };
	crypto_auth_hmacsha256_init(&st, key, MPP_KEY_LEN);
	for (int i = 0; i < 7; i++) {
		if (i)
			crypto_auth_hmacsha256_update(&st, (const uint8_t *)"|", 1);
		crypto_auth_hmacsha256_update(&st, (const uint8_t *)slots[i], strlen(slots[i]));
	}
	crypto_auth_hmacsha256_final(&st, mac);
	b64url_encode(mac, sizeof(mac), out, 48);
}

bool mpp_challenge_bound(const uint8_t key[MPP_KEY_LEN], const struct mpp_challenge *c)
{
	char want[48];
	mpp_challenge_id(key, c, want);
	size_t n = strlen(want);
	return strlen(c->id) == n && sodium_memcmp(want, c->id, n) == 0;
}

/* ---- writing ---- */

static void quoted(struct strbuf *out, const char *name, const char *v, bool comma)
{
	strbuf_printf(out, "%s%s=\"", comma ? ", " : "", name);
	for (const char *p = v; *p; p++) {
		if (*p == '"' || *p == '\\')
			strbuf_putc(out, '\\');
		strbuf_putc(out, *p);
	}
	strbuf_putc(out, '"');
}

bool mpp_write_challenge(struct strbuf *out, const struct mpp_challenge *c)
{
	strbuf_puts(out, "Payment ");
	quoted(out, "id", c->id, false);
	quoted(out, "realm", c->realm, true);
	quoted(out, "method", c->method, true);
	quoted(out, "intent", c->intent, true);
	quoted(out, "request", c->request, true);
	if (c->description[0])
		quoted(out, "description", c->description, true);
	if (c->digest[0])
		quoted(out, "digest", c->digest, true);
	if (c->expires[0])
		quoted(out, "expires", c->expires, true);
	if (c->opaque[0])
		quoted(out, "opaque", c->opaque, true);
	return !out->failed;
}

static bool b64url_to(char *out, size_t outcap, const struct jcs_object *o)
{
	struct strbuf sb;
	strbuf_init(&sb, outcap);
	bool ok = jcs_b64url(&sb, o) && sb.len < outcap;
	if (ok)
		memcpy(out, sb.data, sb.len + 1);
	strbuf_free(&sb);
	return ok;
}

bool mpp_charge_request_encode(char *out, size_t outcap, const struct mpp_charge_request *r)
{
	struct jcs_object req = { .n = 0 }, details = { .n = 0 };
	char amount[24], hash[65];
	snprintf(amount, sizeof(amount), "%llu", (unsigned long long)r->amount_sat);
	hex_encode(r->payment_hash, 32, hash, sizeof(hash));
	jcs_add(&details, "invoice", r->invoice);
	jcs_add(&details, "paymentHash", hash);
	jcs_add(&details, "network", r->network[0] ? r->network : NULL);
	jcs_add(&req, "amount", amount);
	jcs_add(&req, "currency", "sat");
	jcs_add(&req, "description", r->description[0] ? r->description : NULL);
	jcs_add_object(&req, "methodDetails", &details);
	return b64url_to(out, outcap, &req);
}

/* A base64url JSON object, decoded and parsed into d (free raw and d). */
static bool decode_object(const char *b64, size_t maxlen, uint8_t **raw, struct json_doc *d)
{
	size_t n = strlen(b64), rawlen;
	*raw = NULL;
	if (n == 0 || n > maxlen || !(*raw = malloc(n)))
		return false;
	if (!b64_decode_any(b64, n, *raw, n, &rawlen)
	    || !json_parse_alloc(d, (const char *)*raw, rawlen, 64)) {
		free(*raw);
		*raw = NULL;
		return false;
	}
	if (!json_is_object(d, 0)) {
		json_doc_free(d);
		free(*raw);
		*raw = NULL;
		return false;
	}
	return true;
}

bool mpp_charge_request_decode(const char *b64, struct mpp_charge_request *r)
{
	uint8_t *raw;
	struct json_doc d;
	char amount[24], hash[80];
	char why[64];
	memset(r, 0, sizeof(*r));
	if (!decode_object(b64, MPP_MAX_REQUEST, &raw, &d))
		return false;
	struct slot rs[] = {
		{ "amount", amount, sizeof(amount), true, false },
		{ "currency", r->currency, sizeof(r->currency), true, false },
		{ "description", r->description, sizeof(r->description), false, false },
	};
	struct slot ds[] = {
		{ "invoice", r->invoice, sizeof(r->invoice), true, false },
		{ "paymentHash", hash, sizeof(hash), true, false },
		{ "network", r->network, sizeof(r->network), false, false },
	};
	int md = member_once(&d, 0, "methodDetails");
	char *end;
	bool ok = md >= 0 && json_is_object(&d, md) && read_slots(&d, 0, rs, 3, why, sizeof(why))
		  && read_slots(&d, md, ds, 3, why, sizeof(why)) && lower_hex32(hash, r->payment_hash)
		  && amount[0] >= '1' && amount[0] <= '9' && strspn(amount, "0123456789") == strlen(amount)
		  && strlen(amount) <= 15 && strcmp(r->currency, "sat") == 0;
	if (ok)
		r->amount_sat = strtoull(amount, &end, 10);
	json_doc_free(&d);
	free(raw);
	return ok;
}

bool mpp_session_request_encode(char *out, size_t outcap, const struct mpp_session_request *r)
{
	struct jcs_object req = { .n = 0 };
	char amount[24], deposit[24], idle[24], hash[65];
	snprintf(amount, sizeof(amount), "%llu", (unsigned long long)r->amount_sat);
	snprintf(deposit, sizeof(deposit), "%llu", (unsigned long long)r->deposit_sat);
	snprintf(idle, sizeof(idle), "%llu", (unsigned long long)r->idle_timeout);
	hex_encode(r->payment_hash, 32, hash, sizeof(hash));
	jcs_add(&req, "amount", amount);
	jcs_add(&req, "currency", "sat");
	jcs_add(&req, "description", r->description[0] ? r->description : NULL);
	jcs_add(&req, "unitType", r->unit_type[0] ? r->unit_type : NULL);
	jcs_add(&req, "depositInvoice", r->deposit_invoice);
	jcs_add(&req, "depositAmount", deposit);
	jcs_add(&req, "paymentHash", hash);
	jcs_add(&req, "idleTimeout", r->idle_timeout ? idle : NULL);
	return b64url_to(out, outcap, &req);
}

/* A positive decimal string without leading zeros, at most 15 digits. */
static bool sat_string(const char *s, uint64_t *v)
{
	size_t n = strlen(s);
	if (n == 0 || n > 15 || s[0] < '1' || s[0] > '9' || strspn(s, "0123456789") != n)
		return false;
	*v = strtoull(s, NULL, 10);
	return true;
}

bool mpp_session_request_decode(const char *b64, struct mpp_session_request *r)
{
	uint8_t *raw;
	struct json_doc d;
	char amount[24], deposit[24] = "", idle[24] = "", hash[80], currency[8], why[64];
	memset(r, 0, sizeof(*r));
	if (!decode_object(b64, MPP_MAX_REQUEST, &raw, &d))
		return false;
	struct slot rs[] = {
		{ "amount", amount, sizeof(amount), true, false },
		{ "currency", currency, sizeof(currency), true, false },
		{ "description", r->description, sizeof(r->description), false, false },
		{ "unitType", r->unit_type, sizeof(r->unit_type), false, false },
		{ "depositInvoice", r->deposit_invoice, sizeof(r->deposit_invoice), false, false },
		{ "depositAmount", deposit, sizeof(deposit), false, false },
		{ "paymentHash", hash, sizeof(hash), true, false },
		{ "idleTimeout", idle, sizeof(idle), false, false },
	};
	bool ok = read_slots(&d, 0, rs, sizeof(rs) / sizeof(rs[0]), why, sizeof(why))
		  && strcmp(currency, "sat") == 0 && sat_string(amount, &r->amount_sat)
		  && lower_hex32(hash, r->payment_hash)
		  && (!deposit[0] || sat_string(deposit, &r->deposit_sat))
		  && (!idle[0] || sat_string(idle, &r->idle_timeout));
	json_doc_free(&d);
	free(raw);
	return ok;
}

bool mpp_session_receipt(struct strbuf *out, const char *challenge_id,
			 const uint8_t session_id[32], int64_t at, uint64_t refund_sat,
			 const char *refund_status)
{
	struct jcs_object o = { .n = 0 };
	char hash[65], ts[24], refund[24];
	hex_encode(session_id, 32, hash, sizeof(hash));
	mpp_time_format(at, ts);
	snprintf(refund, sizeof(refund), "%llu", (unsigned long long)refund_sat);
	jcs_add(&o, "challengeId", challenge_id[0] ? challenge_id : NULL);
	jcs_add(&o, "method", "lightning");
	jcs_add(&o, "reference", hash);
	jcs_add(&o, "status", "success");
	jcs_add(&o, "timestamp", ts);
	jcs_add_number(&o, "refundSats", refund_status ? refund : NULL);
	jcs_add(&o, "refundStatus", refund_status);
	return jcs_b64url(out, &o);
}

bool mpp_opaque_encode(char *out, size_t outcap, const char *route_tag)
{
	struct jcs_object o = { .n = 0 };
	jcs_add(&o, "route", route_tag);
	return b64url_to(out, outcap, &o);
}

bool mpp_opaque_route(const char *b64, char *tag, size_t taglen)
{
	uint8_t *raw;
	struct json_doc d;
	char why[64];
	if (!decode_object(b64, 512, &raw, &d))
		return false;
	struct slot s[] = { { "route", tag, taglen, true, false } };
	bool ok = read_slots(&d, 0, s, 1, why, sizeof(why));
	json_doc_free(&d);
	free(raw);
	return ok;
}

bool mpp_receipt(struct strbuf *out, const char *challenge_id, const uint8_t payment_hash[32],
		 int64_t settled_at)
{
	struct jcs_object o = { .n = 0 };
	char hash[65], ts[24];
	hex_encode(payment_hash, 32, hash, sizeof(hash));
	mpp_time_format(settled_at, ts);
	jcs_add(&o, "challengeId", challenge_id);
	jcs_add(&o, "method", "lightning");
	jcs_add(&o, "reference", hash);
	jcs_add(&o, "status", "success");
	jcs_add(&o, "timestamp", ts);
	return jcs_b64url(out, &o);
}

/* ---- time ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void mpp_time_format(int64_t t, char out[24])
{
	int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
	int64_t secs = t - days * 86400;
	/* civil_from_days */
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	unsigned d = doy - (153 * mp + 2) / 5 + 1;
	unsigned m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	snprintf(out, 24, "%04lld-%02u-%02uT%02u:%02u:%02uZ", (long long)y, m, d,
		 (unsigned)(secs / 3600), (unsigned)(secs / 60 % 60), (unsigned)(secs % 60));
}

static bool digits(const char *s, int n, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (unsigned)(s[i] - '0');
	}
	return true;
}

bool mpp_time_parse(const char *s, int64_t *t)
{
	unsigned y, mo, d, h, mi, se, oh = 0, om = 0;
	if (strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo)
	    || s[7] != '-' || !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't')
	    || !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':'
	    || !digits(s + 17, 2, &se))
		return false;
	const char *p = s + 19;
	if (*p == '.') {
		p++;
		size_t nf = strspn(p, "0123456789");
		if (nf == 0 || nf > 9)
			return false;
		p += nf;
	}
	int sign = 0;
	if ((*p == 'Z' || *p == 'z') && !p[1]) {
		sign = 0;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && digits(p + 1, 2, &oh) && p[3] == ':'
		   && digits(p + 4, 2, &om) && oh < 24 && om < 60) {
		sign = *p == '+' ? 1 : -1;
	} else {
		return false;
	}
	static const unsigned mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 60)
		return false;
	*t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se
	     - sign * (int64_t)(oh * 3600 + om * 60);
	return true;
}

/* ---- Accept-Payment ---- */

static const char *skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* A token of method or intent characters, or "*". */
static size_t range_token(const char *p)
{
	if (*p == '*')
		return 1;
	size_t n = 0;
	while ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z')
	       || (p[n] >= '0' && p[n] <= '9') || p[n] == '-' || p[n] == '_' || p[n] == ':')
		n++;
	return n;
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in
 * thousandths. */
static bool qvalue(const char **pp, int *q)
{
	const char *p = *pp;
	if (*p != '0' && *p != '1')
		return false;
	int whole = *p++ - '0', frac = 0, nd = 0;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9' && nd < 3) {
			frac = frac * 10 + (*p++ - '0');
			nd++;
		}
		if (*p >= '0' && *p <= '9')
			return false;
	}
	while (nd++ < 3)
		frac *= 10;
	if (whole == 1 && frac)
		return false;
	*q = whole * 1000 + frac;
	*pp = p;
	return true;
}

int mpp_accept_weight(const char *h, const char *method, const char *intent)
{
	int best_spec = -1, best_q = 0;
	if (!h || strlen(h) > 4096)
		return -1;
	const char *p = skip_ows(h);
	if (!*p)
		return -1;
	for (;;) {
		size_t mn = range_token(p);
		if (!mn || p[mn] != '/')
			return -1;
		const char *m = p;
		p += mn + 1;
		size_t in = range_token(p);
		if (!in)
			return -1;
		const char *i = p;
		p = skip_ows(p + in);
		int q = 1000;
		while (*p == ';') {
			p = skip_ows(p + 1);
			if ((p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
				p += 2;
				if (!qvalue(&p, &q))
					return -1;
			} else {
				/* another parameter: skip its token=value */
				size_t n = strcspn(p, ",;");
				if (!n || !memchr(p, '=', n))
					return -1;
				p += n;
			}
			p = skip_ows(p);
		}
		bool m_any = mn == 1 && *m == '*', i_any = in == 1 && *i == '*';
		bool m_ok = m_any || (strlen(method) == mn && strncasecmp(m, method, mn) == 0);
		bool i_ok = i_any || (strlen(intent) == in && strncasecmp(i, intent, in) == 0);
		int spec = (m_any ? 0 : 2) + (i_any ? 0 : 1);
		if (m_ok && i_ok && spec > best_spec) {
			best_spec = spec;
			best_q = q;
		}
		if (!*p)
			break;
		if (*p != ',')
			return -1;
		p = skip_ows(p + 1);
		while (*p == ',')
			p = skip_ows(p + 1);
		if (!*p)
			break;
	}
	return best_spec < 0 ? 0 : best_q;
}
