/* The L402 request flow:
 *   match a route; free routes serve at once;
 *   no or bad credentials: a fresh invoice from lightningd and a token
 *   committing to its payment hash, answered as 402 with both challenges;
 *   credentials: macaroon, preimage, paid state (local, no RPC), caveats,
 *   then the backend.
 * Every failure of the credentials is a 402 with a fresh challenge and the
 * reason, because clients re-pay only on 402. */
#include "paywall/paywall.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "backends/backend.h"
#include "encoding.h"
#include "http/http.h"
#include "json_out.h"
#include "l402.h"
#include "store/label.h"
#include "core/log.h"
#include "mpp.h"
#include "paywall/mpp_charge.h"
#include "paywall/mpp_session.h"
#include "paywall/pricer.h"
#include "core/loop.h"
#include "store/rate.h"
#include "store/routes.h"
#include "lightningd/rpc.h"
#include "store/secret.h"
#include "store/tokens.h"
#include "store/unpaid.h"
#include "store/verdict_cache.h"

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

/* The problem type (draft-httpauth-payment's, RFC 9457) a 402 stands for. */
static enum mpp_err problem_of(const struct req *r)
{
	if (r->mpp.used)
		return r->mpp.err;
	if (strcmp(r->reason, "no_credentials") == 0)
		return MPP_OK; /* payment-required */
	if (strcmp(r->reason, "expired") == 0)
		return MPP_EXPIRED;
	return MPP_VERIFICATION_FAILED;
}

/* One body for every client: L402's fields, which clients in the wild
 * read, and a problem details object (type, title, status, detail) as
 * the Payment scheme asks for; extension members are allowed there. */
static void add_challenge_body(struct json_out *j, const struct req *r, const char *bolt11,
			       const char *tok, const uint8_t hash[32], uint64_t expires_at,
			       const struct l402_grant *g)
{
	char type[96];
	enum mpp_err p = problem_of(r);
	json_object_start(j, NULL);
	snprintf(type, sizeof(type), "https://paymentauth.org/problems/%s", mpp_problem_type(p));
	json_add_string(j, "type", type);
	json_add_string(j, "title", mpp_problem_title(p));
	json_add_u64(j, "status", 402);
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
	if (g->balance_msat > 0)
		json_add_u64(j, "balance_msat", g->balance_msat);
	json_add_string(j, "hint", "Pay the invoice, then repeat the request with the header "
				   "'Authorization: L402 <macaroon>:<preimage hex>'");
	json_object_end(j);
}

/* An invoice asked for a challenge, and what lightningd made of it. */
struct invoice_made {
	char label[LABEL_MAX];
	bool made;
	uint8_t hash[32];
	char bolt11[2048];
	uint64_t expires_at;
};

/* A challenge's invoices being made: the L402 token's, and the Payment
 * charge's unless the client's Accept-Payment refuses it. The client
 * waits at most INVOICE_TIMEOUT_MS and then gets a 503; lightningd may
 * still make the invoices later, and then they are tracked (and deleted
 * when they expire) like any other: the invoice calls outlive the request
 * they were made for. */
struct challenge {
	struct req *r;		/* NULL once the client was answered */
	uint64_t timer;
	unsigned pending;	/* invoice calls not answered yet */
	struct invoice_made token, charge, session;
};

static void challenge_timed_out(void *arg)
{
	struct challenge *ch = arg;
	ch->timer = 0;
	http_unavailable(ch->r, "lightningd is slow to make an invoice; retry shortly");
	ch->r = NULL;
}

/* The 402 for r: a token committing to the invoice's hash, the L402 and
 * LSAT challenges (first, for lnget), the Payment charge's when there is
 * one, and the JSON body. */
static void send_challenge(struct req *r, const struct invoice_label *l,
			   const struct invoice_made *tokinv, const struct invoice_made *charge,
			   const struct invoice_made *session)
{
	char tok[4096];
	uint8_t secret[L402_SECRET_LEN];
	struct l402_identifier id = { .version = 0 };
	memcpy(id.payment_hash, tokinv->hash, 32);
	memcpy(id.token_id, l->token_id, sizeof(id.token_id));
	struct l402_mint_params mp = { .service = r->route.spec.service,
				       .grant = { l->valid_until, l->uses, l->balance_msat } };
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
	add_challenge_body(&j, r, tokinv->bolt11, tok, tokinv->hash, tokinv->expires_at,
			   &mp.grant);
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(body.len, body.data, MHD_RESPMEM_MUST_COPY);
	if (resp) {
		l402_challenge(&hdr, tok, tokinv->bolt11);
		MHD_add_response_header(resp, "WWW-Authenticate", hdr.data);
		strbuf_reset(&hdr);
		lsat_challenge(&hdr, tok, tokinv->bolt11);
		MHD_add_response_header(resp, "WWW-Authenticate", hdr.data);
		strbuf_reset(&hdr);
		if (charge->made
		    && mpp_charge_offer(r, charge->bolt11, charge->hash, charge->expires_at, &hdr))
			MHD_add_response_header(resp, "WWW-Authenticate", hdr.data);
		strbuf_reset(&hdr);
		if (session->made
		    && mpp_session_offer(r, session->bolt11, session->hash, session->expires_at, &hdr))
			MHD_add_response_header(resp, "WWW-Authenticate", hdr.data);
		MHD_add_response_header(resp, "Link",
					"</.well-known/l402.json>; rel=\"l402-manifest\"");
		MHD_add_response_header(resp, "Content-Type", r->mpp.used ? "application/problem+json"
									  : "application/json");
		MHD_add_response_header(resp, "Cache-Control", "no-store");
	}
	strbuf_free(&hdr);
	strbuf_free(&body);
	routes_count_challenge(r->route.id);
	http_finish(r, 402, resp);
}

/* Both invoices are in (or failed): answer, unless the client was
 * answered already. */
static void challenge_complete(struct challenge *ch)
{
	struct req *r = ch->r;
	struct invoice_label l;
	if (ch->timer)
		loop_cancel_timer(ch->timer);
	if (!r)
		; /* its client was answered already: the invoices are just owned */
	else if (!ch->token.made)
		http_unavailable(r, "lightningd is unavailable; retry shortly");
	else if (!label_parse(ch->token.label, &l))
		http_error(r, 500, "internal", "bad invoice label");
	else
		send_challenge(r, &l, &ch->token, &ch->charge, &ch->session);
	free(ch);
}

static void got_invoice(struct challenge *ch, struct invoice_made *m, const struct rpc_result *res)
{
	const struct json_doc *d = res->doc;
	m->made = res->status == RPC_OK
		  && json_get_hex(d, json_get(d, res->result, "payment_hash"), m->hash, 32)
		  && json_get_string(d, json_get(d, res->result, "bolt11"), m->bolt11,
				     sizeof(m->bolt11), NULL)
		  && json_get_u64(d, json_get(d, res->result, "expires_at"), &m->expires_at);
	if (m->made)
		unpaid_add(m->label, m->expires_at, m->hash);
	else
		unpaid_release();
	if (res->status != RPC_OK)
		plugin_log(LOG_UNUSUAL, "invoice for a challenge failed: %s", res->message);
	if (--ch->pending == 0)
		challenge_complete(ch);
}

static void on_token_invoice(void *arg, const struct rpc_result *res)
{
	struct challenge *ch = arg;
	got_invoice(ch, &ch->token, res);
}

static void on_charge_invoice(void *arg, const struct rpc_result *res)
{
	struct challenge *ch = arg;
	got_invoice(ch, &ch->charge, res);
}

static void on_session_invoice(void *arg, const struct rpc_result *res)
{
	struct challenge *ch = arg;
	got_invoice(ch, &ch->session, res);
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

/* What a token costs: its balance when it buys one, else the price. */
static uint64_t token_price(const struct route_spec *s)
{
	return s->balance_msat ? s->balance_msat : s->price_msat;
}

/* Ask lightningd for an invoice labelled m->label; false when the call
 * cannot be made (its place under l402-max-unpaid is given back). */
static bool ask_invoice(struct challenge *ch, struct invoice_made *m, uint64_t msat,
			const char *desc, rpc_cb cb)
{
	struct strbuf sb;
	struct json_out j;
	json_out_object(&j, &sb, 0);
	json_add_u64(&j, "amount_msat", msat);
	json_add_string(&j, "label", m->label);
	json_add_string(&j, "description", desc);
	json_add_s64(&j, "expiry", l402.cfg.invoice_expiry);
	json_object_end(&j);
	bool asked = rpc_call("invoice", sb.data, NULL, INVOICE_RPC_TIMEOUT_MS, cb, ch);
	strbuf_free(&sb);
	if (asked)
		ch->pending++;
	else
		unpaid_release();
	return asked;
}

/* Whether to offer a Payment intent beside L402: unless the client's
 * Accept-Payment gives lightning/INTENT no weight. */
static bool intent_wanted(const struct req *r, const char *intent)
{
	const char *ap = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Accept-Payment");
	return mpp_accept_weight(ap, "lightning", intent) != 0;
}

static void challenge(struct req *r, const char *reason, const char *detail);

/* A challenge once the pricer answered: r->reason and r->detail were set. */
static void challenge_priced(struct req *r)
{
	char detail[sizeof(r->detail)];
	memcpy(detail, r->detail, sizeof(detail));
	challenge(r, r->reason, detail[0] ? detail : NULL);
}

static void challenge(struct req *r, const char *reason, const char *detail)
{
	char desc[sizeof(r->route.spec.desc) + ROUTE_KEY_LEN];
	unsigned wait;

	r->reason = reason;
	snprintf(r->detail, sizeof(r->detail), "%s", detail ? detail : "");
	if (!secret_ready() || !rpc_connected()) {
		http_unavailable(r, "lightningd is unavailable; retry shortly");
		return;
	}
	/* Strangers must not make the node create invoices (or ask its
	 * pricer) without bound; counted once, before a pricer is asked. */
	if (!r->priced && (wait = take_for_client(r, 'c', 0, l402.cfg.challenge_n,
						  l402.cfg.challenge_per, l402.cfg.challenge_n))) {
		too_many(r, wait, "too many new challenges from this address");
		return;
	}
	/* A live price first (this runs again with it). */
	if (r->route.spec.pricer[0] && !r->priced) {
		pricer_ask(r, challenge_priced);
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
		.balance_msat = r->route.spec.balance_msat,
	};
	memcpy(l.tag, r->route.tag, sizeof(l.tag));
	randombytes_buf(l.token_id, sizeof(l.token_id));
	label_make(ch->token.label, sizeof(ch->token.label), &l);
	invoice_description(&r->route.spec, desc, sizeof(desc));

	ch->r = r;
	/* The timer first: an invoice call never answers from inside. */
	if (!(ch->timer = loop_add_timer(INVOICE_TIMEOUT_MS, challenge_timed_out, ch))
	    || !ask_invoice(ch, &ch->token, token_price(&r->route.spec), desc, on_token_invoice)) {
		if (ch->timer)
			loop_cancel_timer(ch->timer);
		else
			unpaid_release();
		free(ch);
		http_unavailable(r, "cannot ask lightningd for an invoice now");
		return;
	}
	/* The charge's own invoice, in whole sats, when there is room for it:
	 * without one, the 402 offers L402 alone. */
	if (intent_wanted(r, "charge") && unpaid_reserve()) {
		struct invoice_label c = { .uses = 1, .charge = true };
		memcpy(c.tag, r->route.tag, sizeof(c.tag));
		randombytes_buf(c.token_id, sizeof(c.token_id));
		label_make(ch->charge.label, sizeof(ch->charge.label), &c);
		(void)ask_invoice(ch, &ch->charge, mpp_charge_sats(r->route.spec.price_msat) * 1000,
				  desc, on_charge_invoice);
	}
	/* A session's deposit, on routes that sell a balance. */
	if (mpp_session_offered(&r->route.spec) && intent_wanted(r, "session") && unpaid_reserve()) {
		struct invoice_label d = { .session = true };
		memcpy(d.tag, r->route.tag, sizeof(d.tag));
		randombytes_buf(d.token_id, sizeof(d.token_id));
		label_make(ch->session.label, sizeof(ch->session.label), &d);
		(void)ask_invoice(ch, &ch->session, mpp_session_deposit_msat(&r->route.spec), desc,
				  on_session_invoice);
	}
	http_wait(r);
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

/* What a paid request spends from its token, by the token's caveats: a
 * use of a use count, or from a balance its price (the pricer's, when the
 * route has one), or what the route holds while a metered request runs. */
struct spend {
	uint64_t limit, amount, block;
	bool balance;
};

static bool token_spends(const struct req *r, struct spend *s)
{
	const struct l402_grant *g = &r->verdict.grant;
	if (g->balance_msat) {
		s->balance = true;
		s->limit = g->balance_msat;
		s->amount = r->route.spec.hold_msat ? r->route.spec.hold_msat : r->route.spec.price_msat;
		s->block = token_balance_block(s->limit, s->amount);
		return true;
	}
	if (g->uses) {
		s->balance = false;
		s->limit = g->uses;
		s->amount = 1;
		s->block = token_use_block(g->uses);
		return true;
	}
	return false;
}

/* After a spend: what is left, for the answer's headers. */
static void note_left(struct req *r, const struct spend *s)
{
	uint64_t used;
	if (token_used(r->verdict.id.token_id, &used, NULL, NULL) != USE_OK)
		return;
	int64_t left = used >= s->limit ? 0 : (int64_t)(s->limit - used);
	if (s->balance) {
		r->balance_left = left;
		r->held_msat = s->amount;
	} else {
		r->uses_left = left;
	}
}

static void spent_out(struct req *r, const struct spend *s)
{
	if (r->mpp.used)
		r->mpp.err = MPP_INSUFFICIENT; /* a session: top it up */
	if (s->balance)
		unpaid_request(r, "balance_exhausted", "this token's balance does not cover "
							"this request");
	else
		unpaid_request(r, "used_up", "this token has no uses left");
}

static void on_use(void *arg, enum use_result res)
{
	struct req *r = arg;
	struct spend s = { 0, 0, 0, false };
	token_spends(r, &s);
	if (res == USE_OK) {
		note_left(r, &s);
		serve(r);
	} else if (res == USE_EXHAUSTED) {
		spent_out(r, &s);
	} else {
		http_unavailable(r, "cannot count this use now; retry shortly");
	}
}

/* A Payment scheme credential: what can be checked without the lock.
 * An intent or method not offered here is a 400, as the draft says. */
static bool verify_charge(struct req *r, const char *auth)
{
	char why[sizeof(r->detail)];
	enum mpp_err e = mpp_check(r, auth, why, sizeof(why));
	if (e == MPP_OK)
		return true;
	if (e == MPP_UNSUPPORTED) {
		http_error(r, 400, "method_unsupported", why);
		return false;
	}
	r->reason = mpp_problem_type(e);
	snprintf(r->detail, sizeof(r->detail), "%s", why);
	return false;
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

	if (mpp_is_payment(auth))
		return verify_charge(r, auth);
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
	/* A balance pays each request's live price: ask before anything is
	 * counted (this step runs again with the answer). */
	if (v->grant.balance_msat && r->route.spec.pricer[0] && !r->priced) {
		pricer_ask(r, paid_checks);
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
	struct spend sp;
	if (token_spends(r, &sp)) {
		switch (token_spend(v->id.token_id, sp.limit, sp.amount, sp.block, on_use, r)) {
		case USE_OK:
			note_left(r, &sp);
			break;
		case USE_EXHAUSTED:
			spent_out(r, &sp);
			return;
		case USE_WAIT:
			http_wait(r);
			return;
		case USE_FAIL:
			http_unavailable(r, "cannot count this use now; retry shortly");
			return;
		}
	}
	/* Decided in the request's own thread: serve there, off the lock.
	 * After a wait (a pricer), the loop serves it. */
	if (r->route.backend->lockless && !r->suspended) {
		routes_count_request(r->route.id);
		r->serve_unlocked = true;
		return;
	}
	serve(r);
}

static void charge_done(struct req *r, enum mpp_err e, const char *why)
{
	if (e == MPP_OK)
		serve(r);
	else if (!why)
		http_unavailable(r, "cannot check this payment with lightningd now; retry shortly");
	else
		unpaid_request(r, mpp_problem_type(e), why);
}

static void paid_checks(struct req *r);

/* A session's open or bearer request may draw on it: the paid path, as
 * for a balance token named by the session. */
static void session_serve(struct req *r)
{
	r->priced = true; /* a session's unit is its challenge's amount */
	paid_checks(r);
}

/* Holding the loop's lock: a charge that verified is checked against
 * lightningd and consumed, then served: one request per charge; a
 * session's action is carried out. */
static void charge_checks(struct req *r)
{
	if (r->mpp.action != MPP_CHARGE) {
		mpp_session_act(r, session_serve, unpaid_request);
		return;
	}
	if (l402.cfg.log_requests)
		plugin_log(LOG_DEBUG, "%s %s from %s (Payment charge)", r->method, r->path,
			   r->client.text);
	switch (mpp_charge_consume(r, charge_done)) {
	case MPP_CONSUME_PENDING:
		http_wait(r);
		break;
	case MPP_CONSUME_IN_USE:
		r->mpp.err = MPP_INVALID_CHALLENGE;
		unpaid_request(r, mpp_problem_type(r->mpp.err),
			       "this challenge is being used by another request");
		break;
	case MPP_CONSUME_FAILED:
		http_unavailable(r, "cannot check this payment now; retry shortly");
		break;
	}
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
	enum http_outcome o = http_locked(r->mpp.used ? charge_checks : paid_checks, r);
	if (o != HTTP_SERVE_UNLOCKED)
		return o;
	http_serve(r);
	return r->response ? HTTP_ANSWERED : HTTP_PENDING;
}
