/* The L402 request flow:
 *   match a route; free routes serve at once;
 *   no or bad credentials: a fresh invoice from lightningd and a token
 *   committing to its payment hash, answered as 402 with both challenges;
 *   credentials: macaroon, preimage, paid state (local, no RPC), caveats,
 *   then the backend.
 * Every failure of the credentials is a 402 with a fresh challenge and the
 * reason, because clients re-pay only on 402. */
#include "paywall.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "backend.h"
#include "encoding.h"
#include "http.h"
#include "json_out.h"
#include "l402.h"
#include "label.h"
#include "log.h"
#include "paid.h"
#include "rate.h"
#include "routes.h"
#include "rpc.h"
#include "secret.h"
#include "tokens.h"
#include "unpaid.h"
#include "verdict_cache.h"

#define INVOICE_TIMEOUT_MS 5000
/* BOLT11 descriptions hold at most 639 bytes. */
#define MAX_INVOICE_DESC 600

static void too_many(struct req *r, unsigned wait, const char *why)
{
	http_retry_later(r, 429, "rate_limited", why, wait);
}

static void serve(struct req *r)
{
	routes_count_request(r->route_id);
	r->backend->serve(r);
}

/* ---- the challenge ---- */

static void add_challenge_body(struct json_out *j, const struct req *r, const char *bolt11,
			       const char *tok, const uint8_t hash[32], uint64_t expires_at,
			       const struct l402_grant *g)
{
	char sat[32];
	format_sat(sat, sizeof(sat), r->spec.price_msat);
	json_object_start(j, NULL);
	json_add_string(j, "error", "payment_required");
	json_add_string(j, "reason", r->reason);
	if (r->detail[0])
		json_add_string(j, "detail", r->detail);
	json_add_u64(j, "price_msat", r->spec.price_msat);
	json_add_raw(j, "price_sat", sat, strlen(sat));
	json_add_string(j, "invoice", bolt11);
	json_add_string(j, "macaroon", tok);
	json_add_string(j, "token", tok);
	json_add_hex(j, "payment_hash", hash, 32);
	json_add_u64(j, "expires_at", expires_at);
	if (r->spec.valid > 0) {
		json_add_s64(j, "valid_seconds", r->spec.valid);
		json_add_s64(j, "valid_until", g->valid_until);
	}
	if (g->uses > 0)
		json_add_u64(j, "uses", g->uses);
	json_add_string(j, "hint", "Pay the invoice, then repeat the request with the header "
				   "'Authorization: L402 <macaroon>:<preimage hex>'");
	json_object_end(j);
}

static void on_invoice(void *arg, const struct rpc_result *res)
{
	struct req *r = arg;
	char bolt11[2048], tok[4096];
	struct l402_identifier id = { 0 };
	struct invoice_label l;
	uint64_t expires_at = 0;
	uint8_t secret[L402_SECRET_LEN];

	if (res->status != RPC_OK) {
		plugin_log(LOG_UNUSUAL, "invoice for a challenge failed: %s", res->message);
		http_unavailable(r, "lightningd is unavailable; retry shortly");
		return;
	}
	const struct json_doc *d = res->doc;
	/* The label we made carries the token id and what the token buys. */
	if (!label_parse(r->label, &l)
	    || !json_get_hex(d, json_get(d, res->result, "payment_hash"), id.payment_hash, 32)
	    || !json_get_string(d, json_get(d, res->result, "bolt11"), bolt11, sizeof(bolt11), NULL)
	    || !secret_get(secret)) {
		http_unavailable(r, "lightningd gave an unusable invoice");
		return;
	}
	memcpy(id.token_id, l.token_id, sizeof(id.token_id));
	json_get_u64(d, json_get(d, res->result, "expires_at"), &expires_at);

	struct l402_mint_params mp = { .service = r->spec.service,
				       .grant = { l.valid_until, l.uses } };
	bool ok = l402_mint(secret, &id, &mp, tok, sizeof(tok));
	sodium_memzero(secret, sizeof(secret));
	if (!ok) {
		http_error(r, 500, "mint_failed", "could not mint a token");
		return;
	}

	struct strbuf hdr, body;
	struct json_out j;
	strbuf_init(&hdr, 0);
	strbuf_init(&body, 0);
	json_out_init(&j, &body);
	add_challenge_body(&j, r, bolt11, tok, id.payment_hash, expires_at, &mp.grant);
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(body.len, body.data, MHD_RESPMEM_MUST_COPY);
	if (resp) {
		l402_challenge(&hdr, tok, bolt11);
		MHD_add_response_header(resp, "WWW-Authenticate", hdr.data);
		strbuf_reset(&hdr);
		lsat_challenge(&hdr, tok, bolt11);
		MHD_add_response_header(resp, "WWW-Authenticate", hdr.data);
		MHD_add_response_header(resp, "Link",
					"</.well-known/l402.json>; rel=\"l402-manifest\"");
		MHD_add_response_header(resp, "Content-Type", "application/json");
		MHD_add_response_header(resp, "Cache-Control", "no-store");
	}
	strbuf_free(&hdr);
	strbuf_free(&body);
	routes_count_challenge(r->route_id);
	unpaid_add(r->label, expires_at, id.payment_hash);
	http_finish(r, 402, resp);
}

/* The route's description, or one made from it, cut on a character
 * boundary to fit a BOLT11 invoice. */
static void invoice_description(const struct route_spec *s, char *out, size_t len)
{
	if (s->desc[0])
		snprintf(out, len, "%s", s->desc);
	else
		snprintf(out, len, "L402: %s %s%s", s->method, s->path, s->prefix ? "*" : "");
	size_t n = strlen(out);
	if (n > MAX_INVOICE_DESC) {
		n = MAX_INVOICE_DESC;
		while (n > 0 && ((unsigned char)out[n] & 0xC0) == 0x80)
			n--;
		out[n] = '\0';
	}
}

static void challenge(struct req *r, const char *reason, const char *detail)
{
	struct strbuf sb;
	struct json_out j;
	char desc[sizeof(r->spec.desc) + ROUTE_KEY_LEN];
	unsigned wait;

	r->reason = reason;
	snprintf(r->detail, sizeof(r->detail), "%s", detail ? detail : "");
	if (!secret_ready() || !rpc_connected()) {
		http_unavailable(r, "lightningd is unavailable; retry shortly");
		return;
	}
	/* Strangers must not make the node create invoices without bound. */
	if ((wait = rate_take('c', 0, r->client_ip, l402.cfg.challenge_n,
			      l402.cfg.challenge_per, l402.cfg.challenge_n))) {
		too_many(r, wait, "too many new challenges from this address");
		return;
	}
	if (!unpaid_room()) {
		http_unavailable(r, "too many unpaid invoices outstanding; retry shortly");
		return;
	}
	struct invoice_label l = {
		.valid_until = r->spec.valid > 0 ? (int64_t)time(NULL) + r->spec.valid : 0,
		.uses = r->spec.uses,
	};
	memcpy(l.tag, r->route_tag, sizeof(l.tag));
	randombytes_buf(l.token_id, sizeof(l.token_id));
	label_make(r->label, sizeof(r->label), &l);
	invoice_description(&r->spec, desc, sizeof(desc));

	json_out_object(&j, &sb, 0);
	json_add_u64(&j, "amount_msat", r->spec.price_msat);
	json_add_string(&j, "label", r->label);
	json_add_string(&j, "description", desc);
	json_add_s64(&j, "expiry", l402.cfg.invoice_expiry);
	json_object_end(&j);
	http_wait(r);
	rpc_call("invoice", sb.data, NULL, INVOICE_TIMEOUT_MS, on_invoice, r);
	strbuf_free(&sb);
}

/* ---- credentials ---- */

/* Where a request's credential came from, so that its verdict is cached
 * under exactly those bytes. */
struct found_cred {
	const char *header, *value;
};

struct auth_scan {
	struct l402_credential *cred;
	enum l402_err best;
	struct found_cred *found;
};

/* Several Authorization headers may come (aperture's client sends LSAT
 * and L402): the first that parses wins; otherwise keep the most telling
 * error. */
static enum MHD_Result scan_auth(void *cls, enum MHD_ValueKind kind, const char *key,
				 const char *value)
{
	struct auth_scan *s = cls;
	if (s->found->value || strcasecmp(key, "Authorization") != 0 || !value)
		return MHD_YES;
	enum l402_err e = l402_parse_authorization(value, strlen(value), s->cred);
	if (e == L402_OK) {
		s->found->header = "Authorization";
		s->found->value = value;
	} else if (s->best == L402_ERR_NO_CREDENTIALS || s->best == L402_ERR_BAD_SCHEME) {
		s->best = e;
	}
	return MHD_YES;
}

static enum l402_err read_credentials(struct req *r, struct l402_credential *cred,
				      struct found_cred *found)
{
	static const char *const alt[] = { "Grpc-Metadata-Token", "Token",
					   "Grpc-Metadata-Macaroon", "Macaroon" };
	struct auth_scan s = { cred, L402_ERR_NO_CREDENTIALS, found };
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, scan_auth, &s);
	if (found->value)
		return L402_OK;
	if (s.best != L402_ERR_NO_CREDENTIALS && s.best != L402_ERR_BAD_SCHEME)
		return s.best;
	for (size_t i = 0; i < sizeof(alt) / sizeof(alt[0]); i++) {
		const char *v = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, alt[i]);
		if (v) {
			found->header = alt[i];
			found->value = v;
			return l402_parse_macaroon_header(v, strlen(v), cred);
		}
	}
	return s.best;
}

/* A request without valid payment: free allowance, rate limit, or a
 * fresh challenge. */
static void unpaid_request(struct req *r, const char *reason, const char *detail)
{
	unsigned wait;
	if (r->spec.free_n && strcmp(reason, "no_credentials") == 0
	    && rate_take('f', r->route_id, r->client_ip, r->spec.free_n, r->spec.free_per,
			 r->spec.free_n) == 0) {
		serve(r);
		return;
	}
	if (r->spec.rate_n && (wait = rate_take('i', r->route_id, r->client_ip, r->spec.rate_n,
						r->spec.rate_per, r->spec.burst))) {
		too_many(r, wait, "rate limit of this route reached for this address");
		return;
	}
	challenge(r, reason, detail);
}

static void on_use(void *arg, enum use_result res)
{
	struct req *r = arg;
	if (res == USE_OK)
		serve(r);
	else if (res == USE_EXHAUSTED)
		unpaid_request(r, "used_up", "this token has no uses left");
	else
		http_unavailable(r, "cannot count this use now; retry shortly");
}

/* The cryptographic part: from the verdict cache when these exact bytes
 * verified before, else parsed and verified in full. False when it
 * answered r. */
static bool verify(struct req *r, struct l402_verdict *v)
{
	/* One buffer serves every request: we hold the loop's lock and the
	 * credentials are done with before anything waits. */
	static struct l402_credential cred;
	struct found_cred found = { NULL, NULL };
	struct verdict_key key;
	uint8_t secret[L402_SECRET_LEN];
	int64_t now = (int64_t)time(NULL);
	const char *auth = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");

	if (auth && strlen(auth) <= L402_MAX_AUTH_LEN && secret_ready()
	    && verdict_key(r->spec.service, "Authorization", auth, &key)
	    && verdict_cache_find(&key, secret_generation(), now, v))
		return true;
	enum l402_err e = read_credentials(r, &cred, &found);
	if (e != L402_OK) {
		unpaid_request(r, l402_err_code(e),
			       e == L402_ERR_NO_CREDENTIALS ? NULL : l402_strerror(e));
		return false;
	}
	if (!secret_get(secret)) {
		http_unavailable(r, "starting up; retry shortly");
		return false;
	}
	struct l402_verify_req vr = { r->spec.service, NULL, now };
	e = l402_verify(&cred, secret, &vr, v);
	sodium_memzero(secret, sizeof(secret));
	if (e != L402_OK) {
		char detail[256];
		snprintf(detail, sizeof(detail), "%s%s%s", l402_strerror(e), v->detail[0] ? ": " : "",
			 v->detail);
		unpaid_request(r, l402_err_code(e), detail);
		return false;
	}
	/* Only paid tokens are worth remembering: an unpaid one is answered
	 * with a new challenge anyway. */
	if (strlen(found.value) <= L402_MAX_AUTH_LEN && paid_lookup(v->id.payment_hash, NULL)
	    && verdict_key(r->spec.service, found.header, found.value, &key))
		verdict_cache_put(&key, secret_generation(), v);
	return true;
}

static void handle_paid_route(struct req *r)
{
	struct l402_verdict v;
	if (!verify(r, &v))
		return;
	if (!paid_loaded() || !tokens_synced()) {
		/* Not "unpaid" yet: we have not finished loading. */
		http_unavailable(r, "starting up; retry shortly");
		return;
	}
	if (!paid_lookup(v.id.payment_hash, NULL)) {
		unpaid_request(r, "unpaid", "the invoice of this token is not paid");
		return;
	}
	if (token_revoked(v.id.token_id)) {
		unpaid_request(r, "revoked", "this token was revoked by the node");
		return;
	}
	if (r->spec.rate_n) {
		char hex[65];
		unsigned wait;
		hex_encode(v.id.token_id, 32, hex, sizeof(hex));
		if ((wait = rate_take('t', r->route_id, hex, r->spec.rate_n, r->spec.rate_per,
				      r->spec.burst))) {
			too_many(r, wait, "rate limit of this route reached for this token");
			return;
		}
	}
	if (v.grant.uses > 0) {
		switch (token_use(v.id.token_id, v.grant.uses, on_use, r)) {
		case USE_OK:
			break;
		case USE_EXHAUSTED:
			unpaid_request(r, "used_up", "this token has no uses left");
			return;
		case USE_WAIT:
			http_wait(r);
			return;
		case USE_FAIL:
			http_unavailable(r, "cannot count this use now; retry shortly");
			return;
		}
	}
	serve(r);
}

void paywall_handle(struct req *r)
{
	bool known;
	struct route *rt = routes_match(r->method, r->path, &known);
	if (!rt && !routes_synced()) {
		http_unavailable(r, "starting up; retry shortly");
		return;
	}
	if (!rt) {
		if (known)
			http_error(r, 405, "method_not_allowed", "no route for this method");
		else
			http_error(r, 404, "not_found", "no route for this path");
		return;
	}
	r->spec = rt->spec;
	r->backend = rt->backend;
	r->route_id = rt->id;
	memcpy(r->route_tag, rt->tag, sizeof(r->route_tag));
	if (l402.cfg.log_requests)
		plugin_log(LOG_DEBUG, "%s %s from %s", r->method, r->path, r->client_ip);
	if (r->spec.price_msat > 0) {
		handle_paid_route(r);
		return;
	}
	unsigned wait;
	if (r->spec.rate_n && (wait = rate_take('i', r->route_id, r->client_ip, r->spec.rate_n,
						r->spec.rate_per, r->spec.burst))) {
		too_many(r, wait, "rate limit of this route reached for this address");
		return;
	}
	serve(r);
}
