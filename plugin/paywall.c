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
#include "loop.h"
#include "rate.h"
#include "routes.h"
#include "rpc.h"
#include "secret.h"
#include "tokens.h"
#include "unpaid.h"
#include "verdict_cache.h"

/* How long a client waits for its challenge's invoice. */
#define INVOICE_TIMEOUT_MS 5000
/* How long the invoice call itself may take before its place under
 * l402-max-unpaid is given back. */
#define INVOICE_RPC_TIMEOUT_MS 120000
/* BOLT11 descriptions hold at most 639 bytes. */
#define MAX_INVOICE_DESC 600

/* Take one from the client's bucket of this kind (grouped by address:
 * an IPv6 /64 is one client). 0: allowed; else the seconds to wait. */
static unsigned take_for_client(const struct req *r, char kind, uint64_t route_id, uint32_t n,
				uint32_t per, uint32_t burst)
{
	return rate_take(kind, route_id, r->client.group, sizeof(r->client.group), n, per, burst);
}

static void too_many(struct req *r, unsigned wait, const char *why)
{
	http_retry_later(r, 429, "rate_limited", why, wait);
}

static void serve(struct req *r)
{
	routes_count_request(r->route.id);
	http_serve(r);
}

/* ---- the challenge ---- */

static void add_challenge_body(struct json_out *j, const struct req *r, const char *bolt11,
			       const char *tok, const uint8_t hash[32], uint64_t expires_at,
			       const struct l402_grant *g)
{
	json_object_start(j, NULL);
	json_add_string(j, "error", "payment_required");
	json_add_string(j, "reason", r->reason);
	if (r->detail[0])
		json_add_string(j, "detail", r->detail);
	json_add_u64(j, "price_msat", r->route.spec.price_msat);
	/* Always an integer: whole sats, rounded up (what a wallet that pays
	 * in sats pays); price_msat is exact. */
	json_add_u64(j, "price_sat", (r->route.spec.price_msat + 999) / 1000);
	json_add_string(j, "invoice", bolt11);
	json_add_string(j, "macaroon", tok);
	json_add_string(j, "token", tok);
	json_add_hex(j, "payment_hash", hash, 32);
	json_add_u64(j, "expires_at", expires_at);
	if (r->route.spec.valid > 0) {
		json_add_s64(j, "valid_seconds", r->route.spec.valid);
		json_add_s64(j, "valid_until", g->valid_until);
	}
	if (g->uses > 0)
		json_add_u64(j, "uses", g->uses);
	json_add_string(j, "hint", "Pay the invoice, then repeat the request with the header "
				   "'Authorization: L402 <macaroon>:<preimage hex>'");
	json_object_end(j);
}

/* A challenge's invoice being made. The client waits at most
 * INVOICE_TIMEOUT_MS and then gets a 503; lightningd may still make the
 * invoice later, and then it is tracked (and deleted when it expires) like
 * any other: the invoice call outlives the request it was made for. */
struct challenge {
	struct req *r;		/* NULL once the client was answered */
	uint64_t timer;
	char label[LABEL_MAX];
};

static void challenge_timed_out(void *arg)
{
	struct challenge *ch = arg;
	ch->timer = 0;
	http_unavailable(ch->r, "lightningd is slow to make an invoice; retry shortly");
	ch->r = NULL;
}

/* The 402 for r: a token committing to the invoice's hash, both
 * challenge headers and the JSON body. */
static void send_challenge(struct req *r, const struct invoice_label *l, const uint8_t hash[32],
			   const char *bolt11, uint64_t expires_at)
{
	char tok[4096];
	uint8_t secret[L402_SECRET_LEN];
	struct l402_identifier id = { .version = 0 };
	memcpy(id.payment_hash, hash, 32);
	memcpy(id.token_id, l->token_id, sizeof(id.token_id));
	struct l402_mint_params mp = { .service = r->route.spec.service,
				       .grant = { l->valid_until, l->uses } };
	if (!secret_get(secret)) {
		http_unavailable(r, "starting up; retry shortly");
		return;
	}
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
	add_challenge_body(&j, r, bolt11, tok, hash, expires_at, &mp.grant);
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
	routes_count_challenge(r->route.id);
	http_finish(r, 402, resp);
}

static void on_invoice(void *arg, const struct rpc_result *res)
{
	struct challenge *ch = arg;
	struct req *r = ch->r;
	char bolt11[2048];
	uint8_t hash[32];
	uint64_t expires_at = 0;
	struct invoice_label l;
	const struct json_doc *d = res->doc;

	if (ch->timer)
		loop_cancel_timer(ch->timer);
	bool made = res->status == RPC_OK
		    && json_get_hex(d, json_get(d, res->result, "payment_hash"), hash, 32)
		    && json_get_string(d, json_get(d, res->result, "bolt11"), bolt11, sizeof(bolt11),
				       NULL)
		    && json_get_u64(d, json_get(d, res->result, "expires_at"), &expires_at);
	if (made)
		unpaid_add(ch->label, expires_at, hash);
	else
		unpaid_release();
	if (!r) {
		/* Its client was answered already: the invoice is just owned. */
		free(ch);
		return;
	}
	if (!made) {
		if (res->status != RPC_OK)
			plugin_log(LOG_UNUSUAL, "invoice for a challenge failed: %s", res->message);
		http_unavailable(r, res->status == RPC_OK ? "lightningd gave an unusable invoice"
							  : "lightningd is unavailable; retry shortly");
	} else if (!label_parse(ch->label, &l)) {
		http_error(r, 500, "internal", "bad invoice label");
	} else {
		send_challenge(r, &l, hash, bolt11, expires_at);
	}
	free(ch);
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
	char desc[sizeof(r->route.spec.desc) + ROUTE_KEY_LEN];
	unsigned wait;

	r->reason = reason;
	snprintf(r->detail, sizeof(r->detail), "%s", detail ? detail : "");
	if (!secret_ready() || !rpc_connected()) {
		http_unavailable(r, "lightningd is unavailable; retry shortly");
		return;
	}
	/* Strangers must not make the node create invoices without bound. */
	if ((wait = take_for_client(r, 'c', 0, l402.cfg.challenge_n, l402.cfg.challenge_per,
				    l402.cfg.challenge_n))) {
		too_many(r, wait, "too many new challenges from this address");
		return;
	}
	struct challenge *ch = calloc(1, sizeof(*ch));
	if (!ch) {
		http_unavailable(r, "out of memory");
		return;
	}
	if (!unpaid_reserve()) {
		free(ch);
		http_unavailable(r, "too many unpaid invoices outstanding; retry shortly");
		return;
	}
	struct invoice_label l = {
		.valid_until = r->route.spec.valid > 0 ? (int64_t)time(NULL) + r->route.spec.valid : 0,
		.uses = r->route.spec.uses,
	};
	memcpy(l.tag, r->route.tag, sizeof(l.tag));
	randombytes_buf(l.token_id, sizeof(l.token_id));
	label_make(ch->label, sizeof(ch->label), &l);
	invoice_description(&r->route.spec, desc, sizeof(desc));

	json_out_object(&j, &sb, 0);
	json_add_u64(&j, "amount_msat", r->route.spec.price_msat);
	json_add_string(&j, "label", ch->label);
	json_add_string(&j, "description", desc);
	json_add_s64(&j, "expiry", l402.cfg.invoice_expiry);
	json_object_end(&j);
	ch->r = r;
	if (!(ch->timer = loop_add_timer(INVOICE_TIMEOUT_MS, challenge_timed_out, ch))
	    || !rpc_call("invoice", sb.data, NULL, INVOICE_RPC_TIMEOUT_MS, on_invoice, ch)) {
		if (ch->timer)
			loop_cancel_timer(ch->timer);
		unpaid_release();
		free(ch);
		http_unavailable(r, "cannot ask lightningd for an invoice now");
	} else {
		http_wait(r);
	}
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
	if (r->route.spec.free_n && strcmp(reason, "no_credentials") == 0
	    && take_for_client(r, 'f', r->route.id, r->route.spec.free_n, r->route.spec.free_per,
			       r->route.spec.free_n) == 0) {
		serve(r);
		return;
	}
	if (r->deny_status) {
		/* nginx asks again for the full answer: no invoice, nothing
		 * counted, until then. */
		http_error(r, r->deny_status, "payment_required", r->reason);
		return;
	}
	if (r->route.spec.rate_n && (wait = take_for_client(r, 'i', r->route.id, r->route.spec.rate_n,
						      r->route.spec.rate_per, r->route.spec.burst))) {
		too_many(r, wait, "rate limit of this route reached for this address");
		return;
	}
	challenge(r, reason, detail);
}

/* After a counted use: what is left, for the answer's headers. */
static void note_uses_left(struct req *r)
{
	uint64_t used;
	if (token_used(r->verdict.id.token_id, &used, NULL, NULL) == USE_OK)
		r->uses_left = used >= r->verdict.grant.uses ? 0
			       : (int64_t)(r->verdict.grant.uses - used);
}

static void on_use(void *arg, enum use_result res)
{
	struct req *r = arg;
	if (res == USE_OK) {
		note_uses_left(r);
		serve(r);
	}
	else if (res == USE_EXHAUSTED)
		unpaid_request(r, "used_up", "this token has no uses left");
	else
		http_unavailable(r, "cannot count this use now; retry shortly");
}

/* The cryptographic part, without the loop's lock: from the verdict
 * cache when these exact bytes verified before, else parsed and verified
 * in full. False with r->reason and r->detail set when it does not verify
 * (or r answered when the secret is not there yet). */
static bool verify(struct req *r, struct l402_verdict *v)
{
	/* 17 KiB: one per thread, not on the stack. */
	static __thread struct l402_credential cred;
	struct found_cred found = { NULL, NULL };
	struct verdict_key key;
	uint8_t secret[L402_SECRET_LEN];
	uint64_t generation;
	int64_t now = (int64_t)time(NULL);
	const char *auth = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");

	if (!secret_get_generation(secret, &generation)) {
		http_unavailable(r, "starting up; retry shortly");
		return false;
	}
	if (auth && strlen(auth) <= L402_MAX_AUTH_LEN
	    && verdict_key(r->route.spec.service, "Authorization", auth, &key)
	    && verdict_cache_find(&key, generation, now, v)) {
		sodium_memzero(secret, sizeof(secret));
		return true;
	}
	enum l402_err e = read_credentials(r, &cred, &found);
	if (e == L402_OK) {
		struct l402_verify_req vr = { r->route.spec.service, NULL, now };
		e = l402_verify(&cred, secret, &vr, v);
	}
	sodium_memzero(secret, sizeof(secret));
	if (e != L402_OK) {
		r->reason = l402_err_code(e);
		if (e != L402_ERR_NO_CREDENTIALS)
			snprintf(r->detail, sizeof(r->detail), "%s%s%s", l402_strerror(e),
				 v->detail[0] ? ": " : "", v->detail);
		return false;
	}
	if (strlen(found.value) <= L402_MAX_AUTH_LEN
	    && verdict_key(r->route.spec.service, found.header, found.value, &key))
		verdict_cache_put(&key, generation, v);
	return true;
}

/* Holding the loop's lock: what is left once a credential verified (its
 * invoice is paid: lightningd reveals a preimage only when the payment
 * settles) is ours to know: revocations, rates, uses. Then serve, or
 * leave serving to the caller (r->serve_unlocked) for backends that need
 * no lock. */
static void paid_checks(struct req *r)
{
	const struct l402_verdict *v = &r->verdict;
	if (l402.cfg.log_requests)
		plugin_log(LOG_DEBUG, "%s %s from %s", r->method, r->path, r->client.text);
	if (!tokens_synced()) {
		/* Not "not revoked" yet: we have not read the revocations. */
		http_unavailable(r, "starting up; retry shortly");
		return;
	}
	if (token_revoked(v->id.token_id)) {
		unpaid_request(r, "revoked", "this token was revoked by the node");
		return;
	}
	if (r->route.spec.rate_n) {
		unsigned wait;
		if ((wait = rate_take('t', r->route.id, v->id.token_id, sizeof(v->id.token_id),
				      r->route.spec.rate_n, r->route.spec.rate_per,
				      r->route.spec.burst))) {
			too_many(r, wait, "rate limit of this route reached for this token");
			return;
		}
	}
	if (v->grant.uses > 0) {
		switch (token_use(v->id.token_id, v->grant.uses, on_use, r)) {
		case USE_OK:
			note_uses_left(r);
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
	if (r->route.backend->lockless) {
		routes_count_request(r->route.id);
		r->serve_unlocked = true;
		return;
	}
	serve(r);
}

static void failed_credentials(struct req *r)
{
	char detail[sizeof(r->detail)];
	if (l402.cfg.log_requests)
		plugin_log(LOG_DEBUG, "%s %s from %s", r->method, r->path, r->client.text);
	/* A copy: the challenge writes r->detail from it. */
	memcpy(detail, r->detail, sizeof(detail));
	unpaid_request(r, r->reason, detail[0] ? detail : NULL);
}

static void free_route(struct req *r)
{
	unsigned wait;
	if (l402.cfg.log_requests)
		plugin_log(LOG_DEBUG, "%s %s from %s", r->method, r->path, r->client.text);
	if (r->route.spec.rate_n
	    && (wait = take_for_client(r, 'i', r->route.id, r->route.spec.rate_n,
				       r->route.spec.rate_per, r->route.spec.burst))) {
		too_many(r, wait, "rate limit of this route reached for this address");
		return;
	}
	serve(r);
}

static void no_route(struct req *r)
{
	if (!routes_synced())
		http_unavailable(r, "starting up; retry shortly");
	else if (r->path_known)
		http_error(r, 405, "method_not_allowed", "no route for this method");
	else
		http_error(r, 404, "not_found", "no route for this path");
}

enum http_outcome paywall_handle(struct req *r)
{
	bool known;
	if (!routes_lookup(r->method, r->path, &r->route, &known)) {
		r->path_known = known;
		return http_locked(no_route, r);
	}
	if (r->route.backend->front_only && !r->forward_auth) {
		http_error(r, 404, "not_found", "this path is served by the node's front proxy");
		return HTTP_ANSWERED;
	}
	if (r->route.spec.price_msat == 0)
		return http_locked(free_route, r);
	if (!verify(r, &r->verdict))
		return r->response ? HTTP_ANSWERED : http_locked(failed_credentials, r);
	enum http_outcome o = http_locked(paid_checks, r);
	if (o != HTTP_SERVE_UNLOCKED)
		return o;
	http_serve(r);
	return r->response ? HTTP_ANSWERED : HTTP_PENDING;
}
