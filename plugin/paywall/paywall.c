/* The paywall's request flow:
 *   match a route; free routes serve at once;
 *   no or bad credentials: a 402 with fresh invoices (challenge.c);
 *   credentials: L402's macaroon and preimage, or a Payment credential,
 *   verified without the lock; then the node's local state (paid,
 *   revoked, uses, balances, rates; no RPC) under it; then the backend,
 *   or, for a front proxy's question, a 200 that says "serve".
 * Every failure of the credentials is a 402 with a fresh challenge and the
 * reason, because clients re-pay only on 402. */
#include "paywall/paywall.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "backends/backend.h"
#include "cookie.h"
#include "core/log.h"
#include "encoding.h"
#include "l402.h"
#include "mpp.h"
#include "paywall/challenge.h"
#include "paywall/meter.h"
#include "paywall/mpp_charge.h"
#include "paywall/mpp_session.h"
#include "paywall/pricer.h"
#include "paywall/request.h"
#include "store/rate.h"
#include "store/routes.h"
#include "store/secret.h"
#include "store/tokens.h"
#include "store/verdict_cache.h"

/* ---- serving ---- */

static const char *or_empty(const char *v)
{
	return *v ? v : " ";
}

/* The client's cookies without the checkout's (a credential, like
 * Authorization), for a front proxy to hand its upstream instead of the
 * client's Cookie header: "" when none is left, or when they do not fit. */
static const char *upstream_cookie(struct req *r, char *out, size_t len)
{
	const char *c = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Cookie");
	if (!c || !cookie_strip(c, L402_COOKIE, out, len))
		return "";
	return out;
}

/* A front proxy's question passed: 200 with what the upstream may want
 * to know; the proxy serves the request itself. */
static struct http_step *allow_forward(struct req *r)
{
	const struct paid *p = paid_of(r);
	char id[65] = "", uses[24] = "", until[24] = "", price[24], balance[24] = "";
	static __thread char cookie[8192];
	const struct route_spec *s = &p->route.spec;
	bool paid = s->price_msat > 0;
	struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
	if (paid)
		hex_encode(p->verdict.id.token_id, sizeof(p->verdict.id.token_id), id, sizeof(id));
	if (p->uses_left >= 0)
		snprintf(uses, sizeof(uses), "%" PRId64, p->uses_left);
	if (p->balance_left >= 0)
		snprintf(balance, sizeof(balance), "%" PRId64, p->balance_left);
	if (paid && p->verdict.grant.valid_until > 0)
		snprintf(until, sizeof(until), "%" PRId64, (int64_t)p->verdict.grant.valid_until);
	snprintf(price, sizeof(price), "%" PRIu64, s->price_msat);
	/* Every header, empty when it does not apply: a proxy that copies
	 * them to the upstream then overwrites the client's own, and Caddy
	 * (2.6) would pass its placeholder's name for a missing one.
	 * libmicrohttpd refuses an empty value; one space is read as empty
	 * by every HTTP parser (whitespace around a value is not part of it). */
	if (resp) {
		MHD_add_response_header(resp, "X-L402-Token-Id", or_empty(id));
		MHD_add_response_header(resp, "X-L402-Service", or_empty(paid ? s->service : ""));
		MHD_add_response_header(resp, "X-L402-Uses-Left", or_empty(uses));
		MHD_add_response_header(resp, "X-L402-Balance-Msat", or_empty(balance));
		MHD_add_response_header(resp, "X-L402-Valid-Until", or_empty(until));
		MHD_add_response_header(resp, "X-L402-Price-Msat", price);
		MHD_add_response_header(resp, "X-L402-Route-Tag", p->route.tag);
		MHD_add_response_header(resp, "X-L402-Cookie", or_empty(upstream_cookie(r, cookie,
											 sizeof(cookie))));
		MHD_add_response_header(resp, "Cache-Control", "no-store");
		/* The one answer that means "serve": a proxy that says so
		 * (X-L402-Final) passes every other answer, 2xx too, to the
		 * client. */
		MHD_add_response_header(resp, "X-L402-Serve", "1");
	}
	return http_finish(r, 200, resp);
}

/* The part of the request path under a prefix route ("" for exact). */
static const char *subpath(const struct req *r, const struct paid *p)
{
	size_t n = strlen(p->route.spec.path);
	if (!p->route.spec.prefix || strlen(r->path) < n)
		return "";
	return r->path + n;
}

/* The route's backend, with its body when it takes one. */
static struct http_step *to_backend(struct req *r)
{
	struct paid *p = paid_of(r);
	const struct backend *b = p->route.backend;
	struct backend_call c = { r, &p->route.spec, subpath(r, p), { NULL, { 0 }, 0, false, 0, 0, 0 }, { NULL, { 0 }, 0 } };
	if (b->meters)
		c.meter = paid_meter(p);
	/* Only an open asks, and an open is served holding the lock. */
	if (p->keep_answer)
		c.keep = mpp_session_keeper(p->mpp.session_id);
	return b->serve(&c);
}

/* r passed (or is free): its backend, or the front proxy's 200. Holding
 * the loop's lock, or in r's own thread for lockless backends. */
static struct http_step *serve(struct req *r)
{
	struct paid *p = paid_of(r);
	if (p->forward_auth) /* the front proxy serves it; a body it sent is passed over */
		return allow_forward(r);
	const struct backend *b = p->route.backend;
	return http_read_body(r, BACKEND_MAX_BODY, b->reads_body, to_backend);
}

static struct http_step *serve_counted(struct req *r)
{
	routes_count_request(paid_of(r)->route.id);
	return serve(r);
}

/* ---- credentials ---- */

/* Where a request's credential came from, so that its verdict is cached
 * under exactly those bytes. */
struct found_cred {
	const char *header, *value;
	unsigned index;		/* of the request's tokens */
};

/* Every Authorization header a request carries (aperture's client sends
 * LSAT and L402; a client may add a Payment credential beside a token):
 * the L402/LSAT ones are each tried, the Payment one after them. */
#define MAX_AUTH_HEADERS 8

struct auth_values {
	const char *token[MAX_AUTH_HEADERS]; /* not Payment */
	bool cookie[MAX_AUTH_HEADERS];	/* read from the checkout's cookie */
	unsigned ntoken, npayment, ncookie;
	const char *payment;
};

static enum MHD_Result collect_auth(void *cls, enum MHD_ValueKind kind, const char *key,
				    const char *value)
{
	struct auth_values *a = cls;
	if (strcasecmp(key, "Authorization") != 0 || !value)
		return MHD_YES;
	if (mpp_is_payment(value)) {
		a->npayment++;
		a->payment = value;
	} else if (a->ntoken < MAX_AUTH_HEADERS) {
		a->token[a->ntoken++] = value;
	}
	return MHD_YES;
}

/* The checkout page's cookies (checkout.h), each read as the
 * Authorization "L402 MACAROON:PREIMAGE" it stands for, after the
 * request's own Authorization headers. A browser sends the cookie of the
 * most specific path first; each is tried, like several Authorization
 * headers. */
#define MAX_AUTH_COOKIES 4

static __thread char cookie_auth[MAX_AUTH_COOKIES][L402_MAX_AUTH_LEN + 8];

static enum MHD_Result collect_cookies(void *cls, enum MHD_ValueKind kind, const char *key,
				       const char *value)
{
	struct auth_values *a = cls;
	const char *vals[MAX_AUTH_COOKIES];
	size_t lens[MAX_AUTH_COOKIES];
	if (strcasecmp(key, "Cookie") != 0 || !value)
		return MHD_YES;
	size_t n = cookie_values(value, L402_COOKIE, vals, lens, MAX_AUTH_COOKIES);
	for (size_t i = 0; i < n && a->ntoken < MAX_AUTH_HEADERS && a->ncookie < MAX_AUTH_COOKIES;
	     i++) {
		if (lens[i] > L402_MAX_AUTH_LEN)
			continue;
		char *buf = cookie_auth[a->ncookie++];
		snprintf(buf, L402_MAX_AUTH_LEN + 8, "L402 %.*s", (int)lens[i], vals[i]);
		a->cookie[a->ntoken] = true;
		a->token[a->ntoken++] = buf;
	}
	return MHD_YES;
}

/* The most telling of two failures: any over "no credentials" or "not
 * our scheme". */
static bool more_telling(enum l402_err e, enum l402_err best)
{
	return e != L402_OK
	       && (best == L402_ERR_NO_CREDENTIALS || best == L402_ERR_BAD_SCHEME);
}

/* The L402 credentials of r from the first not yet found unusable, each
 * parsed and verified until one holds: L402_OK with *found, or the most
 * telling failure (its detail in v). */
static enum l402_err verify_tokens(struct req *r, const struct auth_values *a,
				   struct l402_credential *cred, const uint8_t *secret,
				   int64_t now, struct l402_verdict *v, struct found_cred *found)
{
	static const char *const alt[] = { "Grpc-Metadata-Token", "Token",
					   "Grpc-Metadata-Macaroon", "Macaroon" };
	struct paid *p = paid_of(r);
	struct l402_verify_req vr = { p->route.spec.service, NULL, now };
	enum l402_err best = L402_ERR_NO_CREDENTIALS;
	char best_detail[sizeof(v->detail)] = "";
	for (unsigned i = p->cred_from; i < a->ntoken; i++) {
		const char *t = a->token[i];
		enum l402_err e = l402_parse_authorization(t, strlen(t), cred);
		if (e == L402_OK) {
			v->detail[0] = '\0';
			e = l402_verify(cred, secret, &vr, v);
			if (e == L402_OK) {
				found->header = a->cookie[i] ? "Cookie" : "Authorization";
				found->value = t;
				found->index = i;
				return L402_OK;
			}
		}
		if (more_telling(e, best)) {
			best = e;
			snprintf(best_detail, sizeof(best_detail), "%s", e == L402_OK ? "" : v->detail);
		}
	}
	/* aperture's headers, when no Authorization header was L402's. */
	if ((best == L402_ERR_NO_CREDENTIALS || best == L402_ERR_BAD_SCHEME) && !p->cred_from) {
		for (size_t i = 0; i < sizeof(alt) / sizeof(alt[0]); i++) {
			const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, alt[i]);
			if (!h)
				continue;
			v->detail[0] = '\0';
			enum l402_err e = l402_parse_macaroon_header(h, strlen(h), cred);
			if (e == L402_OK)
				e = l402_verify(cred, secret, &vr, v);
			if (e == L402_OK) {
				found->header = alt[i];
				found->value = h;
				found->index = a->ntoken;
			}
			return e;
		}
	}
	snprintf(v->detail, sizeof(v->detail), "%s", best_detail);
	return best;
}

/* A Payment scheme credential: what can be checked without the lock
 * (the binding, the route, the expiry, the preimage), by its intent. An
 * intent or method not offered here is a 400, as the draft says. */
static bool verify_payment(struct req *r, const char *auth, struct http_step **answer)
{
	/* 10 KiB: one per thread, not on the stack. */
	static __thread struct mpp_credential cred;
	struct paid *p = paid_of(r);
	char why[sizeof(p->detail)];
	p->mpp.used = true;
	enum mpp_err e = mpp_parse_credential(auth, strlen(auth), &cred, why, sizeof(why));
	if (e == MPP_OK) {
		p->mpp.action = cred.action;
		if (cred.action == MPP_CHARGE && !cred.ch.digest[0] && r->body_read
		    && !r->body.failed) {
			/* A client that does not echo digest (Alby's fetchWithMpp):
			 * the body it sends now supplies it; a challenge that had
			 * none binds without. */
			mpp_body_digest(r->body.data ? r->body.data : "", r->body.len, cred.ch.digest);
			e = mpp_charge_check(p, &cred, why, sizeof(why));
			if (e == MPP_INVALID_CHALLENGE) {
				cred.ch.digest[0] = '\0';
				e = mpp_charge_check(p, &cred, why, sizeof(why));
			}
		} else {
			e = cred.action == MPP_CHARGE ? mpp_charge_check(p, &cred, why, sizeof(why))
						      : mpp_session_check(p, &cred, why, sizeof(why));
		}
	}
	sodium_memzero(cred.preimage, sizeof(cred.preimage));
	p->mpp.err = e;
	if (e == MPP_OK)
		return true;
	if (e == MPP_UNSUPPORTED) {
		*answer = http_error(r, 400, "method_unsupported", why);
		return false;
	}
	p->reason = reason_of_mpp(e);
	snprintf(p->detail, sizeof(p->detail), "%s", why);
	return false;
}

/* The cryptographic part, without the loop's lock: from the verdict
 * cache when these exact bytes verified before, else parsed and verified
 * in full. False with the reason and detail set when it does not verify,
 * or with *answer when r was answered (the secret is not there yet, a
 * Payment method not offered). */
static bool verify(struct req *r, struct l402_verdict *v, struct http_step **answer)
{
	/* 17 KiB: one per thread, not on the stack. */
	static __thread struct l402_credential cred;
	struct paid *p = paid_of(r);
	struct found_cred found = { NULL, NULL, 0 };
	struct auth_values a = { .ntoken = 0 };
	struct verdict_key key;
	uint8_t secret[L402_SECRET_LEN];
	uint64_t generation;
	int64_t now = (int64_t)time(NULL);

	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, collect_auth, &a);
	p->cred_payment = a.npayment == 1;
	if (!a.npayment)
		MHD_get_connection_values(r->conn, MHD_HEADER_KIND, collect_cookies, &a);
	if (a.npayment > 1) {
		/* The draft: one Payment credential per request. */
		*answer = http_error(r, 400, "malformed_credential",
				     "more than one Payment credential in one request");
		return false;
	}
	if (a.npayment && !a.ntoken)
		return verify_payment(r, a.payment, answer);
	/* A cached verdict needs the generation only: the secret is copied
	 * (under its lock) for a credential verified in full. */
	if (secret_ready_generation(&generation))
		for (unsigned i = p->cred_from; i < a.ntoken; i++) {
			const char *t = a.token[i];
			if (strlen(t) <= L402_MAX_AUTH_LEN
			    && verdict_key(p->route.spec.service,
					   a.cookie[i] ? "Cookie" : "Authorization", t, &key)
			    && verdict_cache_find(&key, generation, now, v)) {
				p->cred_at = (uint8_t)i;
				p->cred_more = i + 1 < a.ntoken;
				return true;
			}
		}
	if (!secret_get_generation(secret, &generation)) {
		*answer = http_unavailable(r, "starting up; retry shortly");
		return false;
	}
	enum l402_err e = verify_tokens(r, &a, &cred, secret, now, v, &found);
	sodium_memzero(secret, sizeof(secret));
	if (e != L402_OK && a.npayment)
		return verify_payment(r, a.payment, answer); /* no token held: the Payment one */
	if (e != L402_OK) {
		p->reason = reason_of_l402(e);
		if (e != L402_ERR_NO_CREDENTIALS)
			snprintf(p->detail, sizeof(p->detail), "%s%s%s", l402_strerror(e),
				 v->detail[0] ? ": " : "", v->detail);
		return false;
	}
	p->cred_at = (uint8_t)found.index;
	p->cred_more = found.index + 1 < a.ntoken;
	if (strlen(found.value) <= L402_MAX_AUTH_LEN
	    && verdict_key(p->route.spec.service, found.header, found.value, &key))
		verdict_cache_put(&key, generation, v);
	return true;
}

/* ---- the node's own checks, under the loop's lock ---- */

/* A request without valid payment: free allowance, rate limit, or a
 * fresh challenge. */
static struct http_step *unpaid_request(struct req *r, enum reason why, const char *detail)
{
	struct paid *p = paid_of(r);
	const struct route_spec *s = &p->route.spec;
	unsigned wait;
	if (s->free_n && why == REASON_NO_CREDENTIALS
	    && paid_take_for_client(r, 'f', p->route.id, s->free_n, s->free_per, s->free_n) == 0)
		return serve_counted(r);
	if (p->deny_status) {
		/* nginx asks again for the full answer: no invoice, nothing
		 * counted, until then. */
		return http_error(r, p->deny_status, "payment_required", reason_name(why));
	}
	if (s->rate_n && (wait = paid_take_for_client(r, 'i', p->route.id, s->rate_n, s->rate_per,
						      s->burst)))
		return paid_too_many(r, wait, "rate limit of this route reached for this address");
	return challenge(r, why, detail);
}

/* What a paid request spends from its token, by the token's caveats: a
 * use of a use count, or from a balance its price (the pricer's, when the
 * route has one), or what the route holds while a metered request runs. */
struct spend {
	uint64_t limit, amount, block;
	bool balance;
};

static bool token_spends(const struct paid *p, struct spend *s)
{
	const struct l402_grant *g = &p->verdict.grant;
	if (g->balance_msat) {
		s->balance = true;
		s->limit = g->balance_msat;
		s->amount = p->route.spec.hold_msat ? p->route.spec.hold_msat : p->route.spec.price_msat;
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
static void note_left(struct paid *p, const struct spend *s)
{
	uint64_t used;
	if (token_used(p->verdict.id.token_id, &used, NULL, NULL) != USE_OK)
		return;
	int64_t left = used >= s->limit ? 0 : (int64_t)(s->limit - used);
	if (s->balance) {
		p->balance_left = left;
		p->held_msat = s->amount;
	} else {
		p->uses_left = left;
	}
}

static struct http_step *paid_checks(struct req *r);
static struct http_step *payment_checks(struct req *r);

/* r's token verified but is unusable (revoked, spent): the next of its
 * credentials that verifies is tried, else the client is told why the
 * first failed. A client that holds an old token and a new one may send
 * both, in any order (and a browser sends every cookie it has). Under the
 * loop's lock: verifying again is rare (several tokens, one spent). */
static struct http_step *another_token(struct req *r, enum reason why, const char *detail)
{
	struct paid *p = paid_of(r);
	struct http_step *answer = NULL;
	char first[sizeof(p->detail)];
	snprintf(first, sizeof(first), "%s", detail);
	if ((p->cred_more || p->cred_payment) && !p->mpp.used) {
		p->cred_from = (uint8_t)(p->cred_at + 1);
		memset(&p->verdict, 0, sizeof(p->verdict));
		if (verify(r, &p->verdict, &answer))
			return p->mpp.used ? payment_checks(r) : paid_checks(r);
		if (answer)
			return answer;
	}
	return unpaid_request(r, why, first);
}

static struct http_step *spent_out(struct req *r, const struct spend *s)
{
	struct paid *p = paid_of(r);
	if (p->mpp.used)
		p->mpp.err = MPP_INSUFFICIENT; /* a session: top it up */
	if (s->balance)
		return another_token(r, REASON_BALANCE_EXHAUSTED,
				     "this token's balance does not cover this request");
	return another_token(r, REASON_USED_UP, "this token has no uses left");
}

static struct http_step *after_spend(struct req *r, enum use_result res)
{
	struct spend s = { 0, 0, 0, false };
	token_spends(paid_of(r), &s);
	if (res == USE_OK) {
		note_left(paid_of(r), &s);
		return serve_counted(r);
	}
	if (res == USE_EXHAUSTED)
		return spent_out(r, &s);
	return http_unavailable(r, "cannot count this use now; retry shortly");
}

static void on_use(void *arg, enum use_result res)
{
	struct req *r = http_deref(http_arg_ref(arg));
	if (r)
		http_step_end(after_spend(r, res));
}

/* Holding the loop's lock: what is left once a credential verified (its
 * invoice is paid: lightningd reveals a preimage only when the payment
 * settles) is ours to know: revocations, rates, uses. Then serve, or
 * leave serving to the caller (serve_unlocked) for backends that need no
 * lock. */
static struct http_step *paid_checks(struct req *r)
{
	struct paid *p = paid_of(r);
	const struct l402_verdict *v = &p->verdict;
	if (l402.cfg.log_requests)
		plugin_log(LOG_DEBUG, "%s %s from %s", r->method, r->path, r->client.text);
	if (!tokens_synced()) /* not "not revoked" yet: the revocations are not read */
		return http_unavailable(r, "starting up; retry shortly");
	if (token_revoked(v->id.token_id))
		return another_token(r, REASON_REVOKED, "this token was revoked by the node");
	/* A balance pays each request's live price, and a token bought at a
	 * live price pays for requests priced at most that: ask before
	 * anything is counted (this step runs again with the answer). */
	if ((v->grant.balance_msat || v->grant.max_price_msat) && p->route.spec.pricer[0]
	    && !p->priced)
		return pricer_ask(r, paid_checks);
	/* Whatever else the token carries: a balance its holder added to a
	 * token bought at a live price does not lift the price it paid. */
	if (v->grant.max_price_msat && p->route.spec.price_msat > v->grant.max_price_msat) {
		char why[sizeof(p->detail)];
		snprintf(why, sizeof(why), "this request is priced at %llu msat; the token was "
			 "bought for requests priced at most %llu msat",
			 (unsigned long long)p->route.spec.price_msat,
			 (unsigned long long)v->grant.max_price_msat);
		return another_token(r, REASON_PRICE_ABOVE_TOKEN, why);
	}
	if (p->route.spec.rate_n) {
		unsigned wait;
		if ((wait = rate_take('t', p->route.id, v->id.token_id, sizeof(v->id.token_id),
				      p->route.spec.rate_n, p->route.spec.rate_per,
				      p->route.spec.burst)))
			return paid_too_many(r, wait, "rate limit of this route reached for this token");
	}
	struct spend sp;
	if (token_spends(p, &sp)) {
		enum use_result res = token_spend(v->id.token_id, sp.limit, sp.amount, sp.block,
						  on_use, http_ref_arg(http_ref(r)));
		if (res == USE_WAIT)
			return http_wait(r);
		if (res != USE_OK)
			return after_spend(r, res);
		note_left(p, &sp);
	}
	/* Decided in the request's own thread: serve there, off the lock.
	 * After a wait (a pricer), the loop serves it. */
	if ((p->route.backend->lockless || p->forward_auth) && !r->suspended) {
		routes_count_request(p->route.id);
		p->serve_unlocked = true;
		return http_continue(r);
	}
	return serve_counted(r);
}

static struct http_step *charge_done(struct req *r, enum mpp_err e, const char *why)
{
	if (e == MPP_OK)
		return serve_counted(r);
	if (!why)
		return http_unavailable(r, "cannot check this payment with lightningd now; "
				       "retry shortly");
	return unpaid_request(r, reason_of_mpp(e), why);
}

/* A session's open or bearer request may draw on it: the paid path, as
 * for a balance token named by the session. */
static struct http_step *session_serve(struct req *r)
{
	paid_of(r)->priced = true; /* a session's unit is its challenge's amount */
	return paid_checks(r);
}

static struct http_step *charge_body_checked(struct req *r)
{
	struct paid *p = paid_of(r);
	char got[MPP_DIGEST_LEN];
	if (r->body.failed)
		return http_error(r, 413, "too_large", "request body too large");
	mpp_body_digest(r->body.data ? r->body.data : "", r->body.len, got);
	if (strcmp(got, p->mpp.digest) != 0) {
		p->mpp.err = MPP_VERIFICATION_FAILED;
		p->mpp.ln = MPP_LN_CORE;
		return unpaid_request(r, REASON_MPP_VERIFICATION_FAILED,
				      "the request body is not the one this challenge was issued "
				      "for (its digest differs); nothing was spent");
	}
	return mpp_charge_consume(r, charge_done);
}

/* Holding the loop's lock: a charge that verified is checked against
 * lightningd and consumed, then served: one request per charge; a
 * session's action is carried out. */
static struct http_step *payment_checks(struct req *r)
{
	struct paid *p = paid_of(r);
	bool answered_here = p->mpp.action == MPP_TOPUP || p->mpp.action == MPP_CLOSE;
	if (answered_here && p->forward_auth && !p->answer_goes_to_client) {
		/* A topUp or close is answered by the paywall itself, with a 200
		 * a front proxy would take for "serve": nothing is done here. nginx
		 * (a deny status) asks again for the answer that goes to the
		 * client, Caddy's recipe passes only answers marked X-L402-Serve
		 * (both say X-L402-Final); a proxy that cannot is told where to
		 * send it. */
		if (p->deny_status)
			return http_error(r, p->deny_status, "payment_required",
					  "a session action: ask again for its answer");
		return http_error(r, 409, "session_action_through_proxy",
				  "this proxy would serve a session's topUp or close as a paid "
				  "request: send it to the node's own listener (nothing was done)");
	}
	if (p->mpp.action != MPP_CHARGE)
		return mpp_session_act(r, session_serve, unpaid_request);
	if (l402.cfg.log_requests)
		plugin_log(LOG_DEBUG, "%s %s from %s (Payment charge)", r->method, r->path,
			   r->client.text);
	/* A charge bound to a body buys the request with that body only:
	 * read (kept for the backend) and checked before it is consumed. */
	if (p->mpp.digest[0])
		return http_read_body(r, BACKEND_MAX_BODY, true, charge_body_checked);
	return mpp_charge_consume(r, charge_done);
}

static struct http_step *failed_credentials(struct req *r)
{
	struct paid *p = paid_of(r);
	char detail[sizeof(p->detail)];
	if (l402.cfg.log_requests)
		plugin_log(LOG_DEBUG, "%s %s from %s", r->method, r->path, r->client.text);
	/* A copy: the challenge writes the detail from it. */
	memcpy(detail, p->detail, sizeof(detail));
	return unpaid_request(r, p->reason, detail[0] ? detail : NULL);
}

static struct http_step *free_route(struct req *r)
{
	struct paid *p = paid_of(r);
	unsigned wait;
	if (l402.cfg.log_requests)
		plugin_log(LOG_DEBUG, "%s %s from %s", r->method, r->path, r->client.text);
	if (p->route.spec.rate_n
	    && (wait = paid_take_for_client(r, 'i', p->route.id, p->route.spec.rate_n,
					    p->route.spec.rate_per, p->route.spec.burst)))
		return paid_too_many(r, wait, "rate limit of this route reached for this address");
	return serve_counted(r);
}

static struct http_step *no_route(struct req *r)
{
	if (!routes_synced())
		return http_unavailable(r, "starting up; retry shortly");
	if (paid_of(r)->path_known)
		return http_error(r, 405, "method_not_allowed", "no route for this method");
	return http_error(r, 404, "not_found", "no route for this path");
}

/* ---- the flow ---- */

static struct http_step *not_front(struct req *r)
{
	return http_error(r, 404, "not_found", "this path is served by the node's front proxy");
}

/* A Payment credential on a request with a small body: the body is read
 * first, so that a charge bound to it (its challenge's digest) verifies
 * for a client that does not echo the digest. Kept for the backend. */
static bool body_first(struct req *r)
{
	const struct paid *p = paid_of(r);
	if (!r->body_expected || r->body_read || p->forward_auth || p->route.backend->front_only
	    || !mpp_is_payment(MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
							   "Authorization")))
		return false;
	const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
	return cl && strtoull(cl, NULL, 10) <= MPP_DIGEST_MAX_BODY;
}

/* paywall_decide's rest, with the body in, holding the loop's lock. */
static struct http_step *decide_with_body(struct req *r)
{
	struct paid *p = paid_of(r);
	struct http_step *answer = NULL;
	if (!verify(r, &p->verdict, &answer))
		return answer ? answer : failed_credentials(r);
	struct http_step *s = p->mpp.used ? payment_checks(r) : paid_checks(r);
	if (!http_continues(s) || !p->serve_unlocked)
		return s;
	return serve(r);
}

static struct http_step *read_body_first(struct req *r)
{
	return http_read_body(r, MPP_DIGEST_MAX_BODY, true, decide_with_body);
}

struct http_step *paywall_decide(struct req *r)
{
	struct paid *p = paid_of(r);
	bool known;
	if (!routes_lookup(r->method, r->path, &p->route, &known)) {
		p->path_known = known;
		return http_locked(no_route, r);
	}
	/* A front proxy's route, asked directly: nothing is served or sold
	 * here (no invoice is made), but a Payment session's topUp or close,
	 * which a proxy cannot pass on, is carried out. */
	bool direct_front = p->route.backend->front_only && !p->forward_auth;
	if (direct_front && !mpp_is_payment(MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
									   "Authorization")))
		return not_front(r);
	if (p->route.spec.price_msat == 0)
		return http_locked(free_route, r);
	if (body_first(r))
		return http_locked(read_body_first, r);
	struct http_step *answer = NULL;
	if (!verify(r, &p->verdict, &answer))
		return answer ? answer : direct_front ? not_front(r) : http_locked(failed_credentials, r);
	if (direct_front && p->mpp.action != MPP_TOPUP && p->mpp.action != MPP_CLOSE)
		return not_front(r);
	struct http_step *s = http_locked(p->mpp.used ? payment_checks : paid_checks, r);
	if (!http_continues(s) || !p->serve_unlocked)
		return s;
	return serve(r);
}

struct http_step *paywall_handle(struct req *r)
{
	paid_start(r);
	return paywall_decide(r);
}

/* A paid answer is the buyer's alone: Cache-Control: private, so that no
 * shared cache keeps it for the next visitor (a cookie credential is no
 * Authorization header to a cache), as the draft also asks of an answer
 * with a receipt. An upstream's own Cache-Control is replaced: "public"
 * or a shared max-age would contradict it; its no-store is kept. */
static void answer_private(struct MHD_Response *resp)
{
	const char *cc;
	char old[256];
	bool no_store = false;
	for (int i = 0; i < 8 && (cc = MHD_get_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL));
	     i++) {
		snprintf(old, sizeof(old), "%s", cc);
		if (strcmp(old, "private") == 0 || strcmp(old, "private, no-store") == 0)
			return;
		no_store |= strstr(old, "no-store") != NULL;
		if (MHD_del_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, old) != MHD_YES)
			break;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				no_store ? "private, no-store" : "private");
}

/* An answer a payment bought, served here (not a front proxy's pass). */
static bool paid_answer(const struct paid *p)
{
	return !p->forward_auth && p->route.spec.price_msat > 0;
}

/* What paywall_decorate below would do to r's answer: add a header or
 * change the status. Keep the two in step. */
bool paywall_adds_headers(const struct req *r, unsigned status)
{
	const struct paid *p = paid_of_const(r);
	if (!p->started)
		return false;
	if (p->deny_status)
		return true;
	bool ok = status >= 200 && status <= 299;
	return ok && (paid_answer(p) || p->mpp.receipt[0]
		      || (p->balance_left >= 0 && !p->forward_auth));
}

void paywall_decorate(struct req *r, unsigned *status, struct MHD_Response *resp)
{
	const struct paid *p = paid_of(r);
	if (!p->started)
		return;
	if (p->deny_status && (*status < 200 || *status > 299))
		*status = p->deny_status;
	bool ok = *status >= 200 && *status <= 299;
	if (p->mpp.receipt[0] && ok)
		MHD_add_response_header(resp, "Payment-Receipt", p->mpp.receipt);
	if (ok && (p->mpp.receipt[0] || paid_answer(p)))
		answer_private(resp);
	if (p->balance_left >= 0 && ok && !p->forward_auth) {
		char left[24];
		snprintf(left, sizeof(left), "%lld", (long long)p->balance_left);
		MHD_add_response_header(resp, "X-L402-Balance-Msat", left);
	}
}
