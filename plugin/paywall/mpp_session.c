#include "paywall/mpp_session.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lightningd/datastore.h"
#include "encoding.h"
#include "json_out.h"
#include "store/label.h"
#include "store/ledger.h"
#include "core/log.h"
#include "core/loop.h"
#include "store/tokens.h"

#define DS_GROUP "session"
#define RPC_TIMEOUT_MS 30000
/* A refund may take its time finding a route. */
#define REFUND_TIMEOUT_MS 90000
#define MAX_SESSIONS 4096
#define IDLE_CHECK_MS 5000
/* Closed sessions are kept (to answer "closed") this long. */
#define KEEP_CLOSED_S 86400
/* A close waits for the requests running on the session to settle: it
 * looks again this often, this long at most. */
#define SETTLE_POLL_MS 100
#define SETTLE_WAIT_S 120

/* An open's answer is kept for the open's retry (the draft's
 * idempotency) when it is whole, 2xx and at most KEEP_MAX bytes, while
 * the session is open, for as long as its challenge lives and at least
 * KEEP_MIN_S; at most KEEP_TOTAL bytes in all. An answer not kept (a
 * stream, a larger one, one when the room is full, one from before a
 * restart, a front proxy's) is served again to the retry as a bearer
 * request, drawing its unit. */
#define KEEP_MAX (64u * 1024)
#define KEEP_TOTAL (8u * 1024 * 1024)
#define KEEP_MIN_S 300

enum session_status { SESSION_OPEN, SESSION_CLOSING, SESSION_CLOSED };

struct kept_answer {
	unsigned status;
	char type[128];
	int64_t until;
	size_t len;
	char body[];
};

struct session {
	uint8_t id[32];
	char tag[9];
	uint64_t deposit_msat;
	char *return_invoice;
	enum session_status status;
	uint64_t refund_sat;
	char refund_status[12];	/* pending, succeeded, failed, skipped */
	int64_t last_active, closed_at;
	/* When the deposit's challenge expires: until then its open
	 * credential verifies, so a closed session's record is kept. */
	int64_t expires;
	/* Who opened it (client_addr's group), for the per-client bound;
	 * not kept across restarts. */
	uint8_t client[16];
	bool client_known;
	/* Closing: what is refunded is computed; nothing more is settled. */
	bool refund_fixed;
	/* The challenge the client's close named ("" for the node's own
	 * close): the same close again gets the same answer (the draft's
	 * idempotency), anything else on a closed session is refused. */
	char close_challenge[48];
	struct kept_answer *kept;	/* its open's, or NULL */
};

static struct session *sessions[MAX_SESSIONS];
static size_t nsessions;
static size_t kept_bytes;
static struct ds_load load = { mpp_session_start, false, false, 0 };
static uint64_t idle_timer;
static void (*observer)(const struct session_event *e);

void mpp_session_set_observer(void (*told)(const struct session_event *e))
{
	observer = told;
}

uint64_t mpp_session_unit_msat(const struct route_spec *s)
{
	return mpp_sats(s->price_msat) * 1000;
}

uint64_t mpp_session_deposit_msat(const struct route_spec *s)
{
	return mpp_sats(s->balance_msat) * 1000;
}

bool mpp_session_offered(const struct route_spec *s)
{
	return s->balance_msat > 0;
}

bool mpp_session_loaded(void)
{
	return load.done;
}

size_t mpp_sessions_open(void)
{
	size_t n = 0;
	for (size_t i = 0; i < nsessions; i++)
		n += sessions[i]->status == SESSION_OPEN;
	return n;
}

size_t mpp_session_list_open(struct session_view *out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < nsessions; i++) {
		const struct session *s = sessions[i];
		if (s->status != SESSION_OPEN)
			continue;
		if (n < max) {
			struct session_view *v = &out[n];
			memcpy(v->id, s->id, 32);
			memcpy(v->tag, s->tag, sizeof(v->tag));
			v->deposit_msat = s->deposit_msat;
			v->spent_known = token_spent(s->id, &v->spent_msat);
			v->last_active = s->last_active;
		}
		n++;
	}
	return n;
}

/* Open sessions this client opened (since the plugin started). */
static size_t open_by(const uint8_t client[16])
{
	size_t n = 0;
	for (size_t i = 0; i < nsessions; i++)
		n += sessions[i]->status == SESSION_OPEN && sessions[i]->client_known
		     && memcmp(sessions[i]->client, client, 16) == 0;
	return n;
}

static struct session *find(const uint8_t id[32])
{
	for (size_t i = 0; i < nsessions; i++)
		if (memcmp(sessions[i]->id, id, 32) == 0)
			return sessions[i];
	return NULL;
}

uint64_t mpp_session_limit(const uint8_t id[32])
{
	struct session *s = find(id);
	return s && s->status == SESSION_OPEN ? s->deposit_msat : 0;
}

uint64_t mpp_session_settle_limit(const uint8_t id[32])
{
	struct session *s = find(id);
	return s && !s->refund_fixed ? s->deposit_msat : 0;
}

static void forget_answer(struct session *s)
{
	if (s->kept) {
		kept_bytes -= s->kept->len;
		free(s->kept);
		s->kept = NULL;
	}
}

static void session_free(struct session *s)
{
	if (s) {
		forget_answer(s);
		free(s->return_invoice);
		free(s);
	}
}

/* Whether a closed session may be forgotten: a day after it closed, and
 * not before its open credential expired (records from before "expires"
 * was kept: the longest a challenge may live past closing). */
static bool forgettable(int64_t closed_at, int64_t expires, int64_t now)
{
	if (!expires)
		expires = closed_at + l402.cfg.invoice_expiry;
	return now - closed_at > KEEP_CLOSED_S && now > expires;
}

/* Room for one more: closed sessions never take an open one's place. The
 * one closed longest goes (from memory: its record stays until it may be
 * forgotten, and its deposit's credit says it is closed). */
static struct session *add(const uint8_t id[32])
{
	int64_t now = (int64_t)time(NULL);
	if (nsessions == MAX_SESSIONS) {
		size_t oldest = nsessions;
		for (size_t i = 0; i < nsessions; i++)
			if (sessions[i]->status == SESSION_CLOSED
			    && (oldest == nsessions || sessions[i]->closed_at < sessions[oldest]->closed_at))
				oldest = i;
		if (oldest < nsessions) {
			session_free(sessions[oldest]);
			sessions[oldest] = sessions[--nsessions];
		}
	}
	if (nsessions == MAX_SESSIONS)
		return NULL;
	struct session *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	memcpy(s->id, id, 32);
	s->last_active = now;
	sessions[nsessions++] = s;
	return s;
}

static const char *status_name(enum session_status st)
{
	return st == SESSION_OPEN ? "open" : st == SESSION_CLOSING ? "closing" : "closed";
}

static void record(const struct session *s, enum ds_mode mode, rpc_cb cb, void *arg)
{
	struct strbuf sb;
	struct json_out j;
	char name[65];
	hex_encode(s->id, 32, name, sizeof(name));
	json_out_object(&j, &sb, 0);
	json_add_string(&j, "tag", s->tag);
	json_add_u64(&j, "deposit_msat", s->deposit_msat);
	json_add_string(&j, "return_invoice", s->return_invoice ? s->return_invoice : "");
	json_add_string(&j, "status", status_name(s->status));
	json_add_u64(&j, "refund_sat", s->refund_sat);
	json_add_string(&j, "refund_status", s->refund_status);
	json_add_s64(&j, "closed_at", s->closed_at);
	json_add_s64(&j, "expires", s->expires);
	if (s->close_challenge[0])
		json_add_string(&j, "close_challenge", s->close_challenge);
	json_object_end(&j);
	ds_write(DS_GROUP, name, sb.data, mode, NULL, cb, arg);
	strbuf_free(&sb);
}

static void logged(void *arg, const struct rpc_result *r)
{
	if (r->status != RPC_OK)
		plugin_log(LOG_UNUSUAL, "saving a session failed: %s", r->message);
}

/* ---- the challenge ---- */

/* What a session's offer is made of. */
struct session_offer {
	const struct paid *p;
	const char *bolt11;
	const uint8_t *hash;
};

/* The session's request: the unit's price and the deposit's invoice. */
static bool session_request(char *out, size_t outcap, const void *offered)
{
	const struct session_offer *o = offered;
	const struct paid *p = o->p;
	static __thread struct mpp_session_request q;
	memset(&q, 0, sizeof(q));
	snprintf(q.unit_type, sizeof(q.unit_type), "request");
	q.idle_timeout = (uint64_t)l402.cfg.session_idle;
	q.deposit_sat = mpp_sats(p->route.spec.balance_msat);
	q.amount_sat = mpp_sats(p->route.spec.price_msat);
	snprintf(q.description, sizeof(q.description), "%s", p->route.spec.desc);
	snprintf(q.deposit_invoice, sizeof(q.deposit_invoice), "%s", o->bolt11);
	memcpy(q.payment_hash, o->hash, 32);
	return mpp_session_request_encode(out, outcap, &q);
}

bool mpp_session_offer(const struct paid *p, const char *bolt11, const uint8_t hash[32],
		       uint64_t expires_at, struct strbuf *out)
{
	struct session_offer o = { p, bolt11, hash };
	return mpp_offer(p->route.tag, "session", session_request, &o, expires_at, NULL, out);
}

/* ---- checks without the lock ---- */

enum mpp_err mpp_session_check(struct paid *p, struct mpp_credential *c, char *why,
			       size_t whylen)
{
	static __thread struct mpp_session_request q;
	uint8_t hash[32];
	int64_t expires = 0;
	bool paying = c->action == MPP_OPEN || c->action == MPP_TOPUP;
	enum mpp_err e = mpp_challenge_ours(&c->ch, p->route.tag, why, whylen);

	if (e != MPP_OK)
		return e;
	if (!mpp_session_request_decode(c->ch.request, &q)) {
		snprintf(why, whylen, "the challenge's request cannot be read");
		return MPP_INVALID_CHALLENGE;
	}
	/* Open and topUp pay this challenge's invoice: it must be current.
	 * Bearer and close only name it; the session proves itself. */
	if (paying && (!mpp_time_parse(c->ch.expires, &expires) || expires <= (int64_t)time(NULL))) {
		snprintf(why, whylen, "the challenge expired at %s", c->ch.expires);
		return MPP_EXPIRED;
	}
	crypto_hash_sha256(hash, c->preimage, 32);
	if (sodium_memcmp(hash, paying ? q.payment_hash : c->session_id, 32) != 0) {
		snprintf(why, whylen, paying ? "the preimage does not hash to the deposit's payment hash"
					     : "the preimage does not open this session");
		return MPP_VERIFICATION_FAILED;
	}
	memcpy(p->mpp.challenge_id, c->ch.id, sizeof(p->mpp.challenge_id));
	memcpy(p->mpp.hash, hash, 32);
	memcpy(p->mpp.session_id, c->action == MPP_OPEN ? hash : c->session_id, 32);
	p->mpp.amount_sat = q.deposit_sat;
	p->mpp.expires = expires;
	if (c->action == MPP_OPEN && !(p->mpp.return_invoice = strdup(c->return_invoice))) {
		snprintf(why, whylen, "out of memory");
		return MPP_MALFORMED;
	}
	return MPP_OK;
}

/* ---- actions, under the loop's lock ---- */

struct act {
	struct req_ref ref;	/* the request, while it waits (none: an idle close) */
	http_step_fn serve;
	mpp_session_unpaid unpaid;
	struct mpp_state mpp;	/* what the request carried, copied */
	char *return_invoice;	/* open: taken from the request */
	char tag[9];		/* its route's */
	uint8_t client[16];	/* whose request it is */
	struct session *s;	/* a session being opened, or closed */
	char currency[8];	/* our invoices' network, as decode names it */
	uint64_t used;
	bool server_close;	/* an idle session, no request */
	enum mpp_ln_problem ln;	/* a refusal's lightning problem, when finer */
	int64_t settling_since;	/* close: when it began to wait for holds */
};

static void act_free(struct act *a)
{
	free(a->return_invoice);
	free(a);
}

/* The observer hears of a close, or of its refund's outcome. */static void tell(const struct act *a, bool refund)
{
	const struct session *s = a->s;
	if (!observer)
		return;
	struct session_event e = { refund, s->id, s->tag, s->deposit_msat, a->used,
				   s->refund_sat * 1000, s->refund_status, a->server_close,
				   refund ? (int64_t)time(NULL) : s->closed_at };
	observer(&e);
}

/* The request a acts for, while it still waits for the answer. */
static struct req *act_req(struct act *a)
{
	return a->server_close ? NULL : http_deref(a->ref);
}

/* Refuse the request r (NULL: gone) that a acts for. */
static struct http_step *refused(struct req *r, struct act *a, enum mpp_err e, const char *why)
{
	struct http_step *s = NULL;
	if (r) {
		paid_of(r)->mpp.err = e;
		paid_of(r)->mpp.ln = a->ln;
		s = a->unpaid(r, reason_of_mpp(e), why);
	}
	act_free(a);
	return s;
}

static void refuse(struct act *a, enum mpp_err e, const char *why)
{
	struct http_step *s = refused(act_req(a), a, e, why);
	if (s)
		http_step_end(s);
}

static void trouble(struct act *a, const char *why)
{
	struct req *r = act_req(a);
	if (r)
		http_step_end(http_unavailable(r, why));
	act_free(a);
}

/* r as a request on session s: its verdict names the session as a
 * balance token, its price is the unit, its receipt the open's. */
static void as_drawer(struct paid *p, const struct session *s)
{
	struct strbuf sb;
	memset(&p->verdict, 0, sizeof(p->verdict));
	memcpy(p->verdict.id.token_id, s->id, 32);
	p->verdict.grant.balance_msat = s->deposit_msat;
	/* A unit is the price in whole sats, as the challenge said. */
	p->route.spec.price_msat = mpp_session_unit_msat(&p->route.spec);
	p->route.spec.hold_msat = 0;
	strbuf_init(&sb, sizeof(p->mpp.receipt) - 1);
	if (mpp_session_receipt(&sb, p->mpp.challenge_id, s->id, (int64_t)time(NULL), 0, NULL))
		snprintf(p->mpp.receipt, sizeof(p->mpp.receipt), "%s", sb.data);
	strbuf_free(&sb);
}

/* The request draws on session s from now on, as on a balance token
 * named by it. */
static struct http_step *drawn(struct req *r, struct act *a, struct session *s)
{
	s->last_active = (int64_t)time(NULL);
	if (!r) {
		act_free(a);
		return NULL;
	}
	as_drawer(paid_of(r), s);
	http_step_fn serve = a->serve;
	act_free(a);
	return serve(r);
}

/* The open's retry: its original answer, nothing drawn. */
static struct http_step *open_replayed(struct req *r, struct act *a, struct session *s)
{
	const struct kept_answer *k = s->kept;
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(k->len, (void *)k->body, MHD_RESPMEM_MUST_COPY);
	act_free(a);
	s->last_active = (int64_t)time(NULL);
	as_drawer(paid_of(r), s);
	if (resp && k->type[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, k->type);
	return http_finish(r, k->status, resp);
}

void mpp_session_kept(const uint8_t id[32], unsigned status, const char *type, const char *body,
		      size_t len)
{
	struct session *s = find(id);
	int64_t now = (int64_t)time(NULL);
	if (!s || s->status != SESSION_OPEN || s->kept || status < 200 || status > 299
	    || len > KEEP_MAX || kept_bytes + len > KEEP_TOTAL)
		return;
	struct kept_answer *k = malloc(sizeof(*k) + len);
	if (!k)
		return;
	k->status = status;
	snprintf(k->type, sizeof(k->type), "%s", type);
	k->until = s->expires > now + KEEP_MIN_S ? s->expires : now + KEEP_MIN_S;
	k->len = len;
	memcpy(k->body, body, len);
	s->kept = k;
	kept_bytes += len;
}

struct keep mpp_session_keeper(const uint8_t id[32])
{
	struct keep k = { mpp_session_kept, { 0 }, KEEP_MAX };
	memcpy(k.key, id, 32);
	return k;
}

static void draw(struct act *a, struct session *s)
{
	struct http_step *step = drawn(act_req(a), a, s);
	if (step)
		http_step_end(step);
}

static void answer(struct act *a, const char *json, struct session *s, const char *refund_status)
{
	struct req *r = act_req(a);
	if (!r)
		return;
	struct paid *p = paid_of(r);
	struct strbuf sb;
	strbuf_init(&sb, sizeof(p->mpp.receipt) - 1);
	if (mpp_session_receipt(&sb, p->mpp.challenge_id, s->id, (int64_t)time(NULL),
				s->refund_sat, refund_status))
		snprintf(p->mpp.receipt, sizeof(p->mpp.receipt), "%s", sb.data);
	strbuf_free(&sb);
	http_step_end(http_finish_json(r, 200, json, strlen(json)));
}

/* An open session of the request's route, or NULL with why not (and
 * the lightning problem it is). */
static struct session *open_session(struct act *a, char *why, size_t whylen)
{
	struct session *s = find(a->mpp.session_id);
	if (!s || strcmp(s->tag, a->tag) != 0) {
		snprintf(why, whylen, "no such session on this route");
		a->ln = MPP_LN_SESSION_NOT_FOUND;
		return NULL;
	}
	if (s->status != SESSION_OPEN) {
		a->ln = MPP_LN_SESSION_CLOSED;
		snprintf(why, whylen, "this session is closed (refund of %llu sat: %s)",
			 (unsigned long long)s->refund_sat, s->refund_status);
		return NULL;
	}
	return s;
}

/* The same, for a step that runs later: NULL when refused (a is freed). */
static struct session *usable(struct act *a)
{
	char why[96];
	struct session *s = open_session(a, why, sizeof(why));
	if (!s)
		refuse(a, MPP_INVALID_CHALLENGE, why);
	return s;
}

/* Whether lightningd's invoice row is a paid session deposit of r's
 * route for the deposit the challenge named. */
static bool paid_deposit(struct act *a, const struct rpc_result *res, uint64_t *msat)
{
	const struct json_doc *d = res->doc;
	char label[LABEL_MAX];
	struct invoice_label l;
	int inv = json_at(d, json_get(d, res->result, "invoices"), 0);
	if (inv < 0 || !json_get_string(d, json_get(d, inv, "label"), label, sizeof(label), NULL)
	    || !label_parse(label, &l) || !l.session || strcmp(l.tag, a->tag) != 0) {
		refuse(a, MPP_INVALID_CHALLENGE, "this node has no deposit invoice for this route "
						 "with that payment hash");
		return false;
	}
	if (!json_streq(d, json_get(d, inv, "status"), "paid")) {
		refuse(a, MPP_VERIFICATION_FAILED, "the deposit invoice is not paid");
		return false;
	}
	if (!json_get_u64(d, json_get(d, inv, "amount_msat"), msat)
	    || *msat != a->mpp.amount_sat * 1000) {
		refuse(a, MPP_VERIFICATION_FAILED, "the deposit echoed is not the amount invoiced");
		return false;
	}
	return true;
}

/* Our network as decode names it (bcrt, bc, tb, tbs), from the prefix of
 * our own invoice in a listinvoices reply. */
static void currency_of(const struct rpc_result *res, char *out, size_t len)
{
	static const char *const hrp[][2] = {
		{ "lnbcrt", "bcrt" }, { "lntbs", "tbs" }, { "lntb", "tb" }, { "lnbc", "bc" },
	};
	char bolt11[16] = "";
	const struct json_doc *d = res->doc;
	int inv = json_at(d, json_get(d, res->result, "invoices"), 0);
	const char *raw = NULL;
	size_t n = 0;
	if (inv >= 0 && (raw = json_raw(d, json_get(d, inv, "bolt11"), &n)))
		snprintf(bolt11, sizeof(bolt11), "%.*s", (int)(n < 15 ? n : 15), raw);
	snprintf(out, len, "?");
	for (size_t i = 0; i < sizeof(hrp) / sizeof(hrp[0]); i++)
		if (strncmp(bolt11, hrp[i][0], strlen(hrp[i][0])) == 0) {
			snprintf(out, len, "%s", hrp[i][1]);
			return;
		}
}

static bool lookup_invoice(const uint8_t hash[32], rpc_cb cb, struct act *a)
{
	char params[128], hex[65];
	hex_encode(hash, 32, hex, sizeof(hex));
	snprintf(params, sizeof(params), "{\"payment_hash\":\"%s\"}", hex);
	return rpc_call("listinvoices", params, NULL, RPC_TIMEOUT_MS, cb, a);
}

/* -- open -- */

static void opened(void *arg, const struct rpc_result *res)
{
	struct act *a = arg;
	struct session *s = a->s;
	if (res->status == RPC_OK) {
		plugin_log(LOG_DEBUG, "session opened: %llu msat",
			   (unsigned long long)s->deposit_msat);
		struct req *r = act_req(a);
		if (r)
			paid_of(r)->keep_answer = true;
		draw(a, s);
		return;
	}
	/* Not recorded: the session is not there. */
	for (size_t i = 0; i < nsessions; i++)
		if (sessions[i] == s) {
			sessions[i] = sessions[--nsessions];
			break;
		}
	session_free(s);
	/* Never a 402 (a client pays again on one): its retry finds the
	 * session, or opens it. */
	trouble(a, "cannot record the session now; retry shortly");
}

static void deposit_credited(void *arg, enum credit_result res, const struct credit *prior)
{
	struct act *a = arg;
	if (res == CREDIT_FAILED) {
		trouble(a, "cannot record the deposit now; retry shortly");
		return;
	}
	/* Credited before: only as this very session's deposit may it open
	 * it (an open that a crash or a full table interrupted); the session's
	 * record, written must-create, says whether it exists already. */
	if (res == CREDIT_TAKEN && (prior->purpose != CREDIT_DEPOSIT || prior->closed
				    || memcmp(prior->session, a->mpp.session_id, 32) != 0)) {
		refuse(a, MPP_INVALID_CHALLENGE, "this deposit was credited already");
		return;
	}
	/* The same open, sent again while the first was carried out (a
	 * client retrying on another connection): the first opened it, this
	 * one draws on it. */
	struct session *s = find(a->mpp.session_id);
	if (s) {
		if (s->status == SESSION_OPEN && strcmp(s->tag, a->tag) == 0)
			draw(a, s);
		else
			refuse(a, MPP_INVALID_CHALLENGE, "this session is closed");
		return;
	}
	s = add(a->mpp.session_id);
	if (!s) {
		trouble(a, "too many sessions open; retry later");
		return;
	}
	snprintf(s->tag, sizeof(s->tag), "%s", a->tag);
	s->deposit_msat = a->mpp.amount_sat * 1000;
	s->return_invoice = strdup(a->return_invoice);
	s->expires = a->mpp.expires;
	memcpy(s->client, a->client, sizeof(s->client));
	s->client_known = true;
	snprintf(s->refund_status, sizeof(s->refund_status), "none");
	a->s = s;
	record(s, DS_MUST_CREATE, opened, a);
}

static void return_decoded(void *arg, const struct rpc_result *res)
{
	struct act *a = arg;
	const struct json_doc *d = res->doc;
	uint64_t amount = 0;
	char currency[8] = "", ours[8] = "";
	if (res->status != RPC_OK) {
		trouble(a, "cannot read the return invoice now; retry shortly");
		return;
	}
	json_get_string(d, json_get(d, res->result, "currency"), currency, sizeof(currency), NULL);
	snprintf(ours, sizeof(ours), "%s", a->currency);
	bool amountless = json_get(d, res->result, "amount_msat") < 0
			  || (json_get_u64(d, json_get(d, res->result, "amount_msat"), &amount)
			      && amount == 0);
	bool valid = false;
	json_get_bool(d, json_get(d, res->result, "valid"), &valid);
	if (!json_streq(d, json_get(d, res->result, "type"), "bolt11 invoice") || !valid
	    || !amountless
	    || strcmp(currency, ours) != 0) {
		a->ln = MPP_LN_INVALID_RETURN_INVOICE;
		refuse(a, MPP_MALFORMED, "payload.returnInvoice must be a valid BOLT11 invoice "
					 "without an amount, on this node's network");
		return;
	}
	/* Credited before the session exists: a crash in between leaves a
	 * credit that a retry of this open completes (below). */
	struct credit c = { .purpose = CREDIT_DEPOSIT, .expires = a->mpp.expires };
	memcpy(c.session, a->mpp.session_id, 32);
	if (!ledger_credit(a->mpp.hash, &c, deposit_credited, a))
		trouble(a, "cannot record the deposit now; retry shortly");
}

static void deposit_paid(void *arg, const struct rpc_result *res)
{
	struct act *a = arg;
	struct strbuf sb;
	struct json_out j;
	uint64_t msat;
	if (res->status != RPC_OK) {
		trouble(a, "cannot check the deposit now; retry shortly");
		return;
	}
	if (!paid_deposit(a, res, &msat))
		return;
	currency_of(res, a->currency, sizeof(a->currency));
	json_out_object(&j, &sb, 0);
	json_add_string(&j, "string", a->return_invoice);
	json_object_end(&j);
	bool asked = rpc_call("decode", sb.data, NULL, RPC_TIMEOUT_MS, return_decoded, a);
	strbuf_free(&sb);
	if (!asked)
		trouble(a, "cannot read the return invoice now; retry shortly");
}

/* -- topUp -- */

static void topped_up(void *arg, const struct rpc_result *res)
{
	struct act *a = arg;
	char json[128];
	if (res->status != RPC_OK)
		plugin_log(LOG_UNUSUAL, "saving a top-up failed: %s", res->message);
	snprintf(json, sizeof(json), "{\"status\":\"ok\"}");
	answer(a, json, a->s, NULL);
	act_free(a);
}

static void top_up_credited(void *arg, enum credit_result res, const struct credit *prior)
{
	struct act *a = arg;
	if (res == CREDIT_TAKEN && prior->purpose == CREDIT_TOPUP && !prior->closed
	    && memcmp(prior->session, a->mpp.session_id, 32) == 0) {
		/* The same top-up again (a retry): its answer again, nothing
		 * credited twice. */
		struct session *s = usable(a);
		if (s)
			answer(a, "{\"status\":\"ok\"}", s, NULL);
		if (s)
			act_free(a);
		return;
	}
	if (res == CREDIT_TAKEN) {
		refuse(a, MPP_INVALID_CHALLENGE, "this payment was credited already");
		return;
	}
	if (res != CREDIT_OK) {
		trouble(a, "cannot record the top-up now; retry shortly");
		return;
	}
	struct session *s = usable(a);
	if (!s)
		return;
	s->deposit_msat += a->mpp.amount_sat * 1000;
	s->last_active = (int64_t)time(NULL);
	a->s = s;
	record(s, DS_CREATE_OR_REPLACE, topped_up, a);
}

static void top_up_paid(void *arg, const struct rpc_result *res)
{
	struct act *a = arg;
	uint64_t msat;
	if (res->status != RPC_OK) {
		trouble(a, "cannot check the top-up now; retry shortly");
		return;
	}
	if (!paid_deposit(a, res, &msat) || !usable(a))
		return;
	/* Credited once, whatever happens next. */
	struct credit c = { .purpose = CREDIT_TOPUP, .expires = a->mpp.expires };
	memcpy(c.session, a->mpp.session_id, 32);
	if (!ledger_credit(a->mpp.hash, &c, top_up_credited, a))
		trouble(a, "cannot record the top-up now; retry shortly");
}

/* -- close -- */

/* The draft's answer to a close, the first time and every time after. */
static void close_body(const struct session *s, char *json, size_t len)
{
	snprintf(json, len, "{\"status\":\"closed\",\"refundSats\":%llu,\"refundStatus\":\"%s\"}",
		 (unsigned long long)s->refund_sat, s->refund_status);
}

static void close_done(struct act *a)
{
	struct session *s = a->s;
	char json[160];
	if (!a->server_close) {
		close_body(s, json, sizeof(json));
		answer(a, json, s, s->refund_status);
	}
	act_free(a);
}

/* The same close again (its challenge, the session closed by it): the
 * original answer, nothing done. */
static struct http_step *close_replayed(struct req *r, struct act *a, const struct session *s)
{
	struct paid *p = paid_of(r);
	char json[160];
	struct strbuf sb;
	close_body(s, json, sizeof(json));
	strbuf_init(&sb, sizeof(p->mpp.receipt) - 1);
	if (mpp_session_receipt(&sb, p->mpp.challenge_id, s->id, s->closed_at, s->refund_sat,
				s->refund_status))
		snprintf(p->mpp.receipt, sizeof(p->mpp.receipt), "%s", sb.data);
	strbuf_free(&sb);
	act_free(a);
	return http_finish_json(r, 200, json, strlen(json));
}

static void refund_recorded(void *arg, const struct rpc_result *res)
{
	struct act *a = arg;
	if (res->status != RPC_OK)
		plugin_log(LOG_UNUSUAL, "saving a refund's outcome failed: %s", res->message);
	tell(a, false);
	close_done(a);
}

static void refunded(void *arg, const struct rpc_result *res)
{
	struct act *a = arg;
	struct session *s = a->s;
	bool ok = res->status == RPC_OK
		  && json_get(res->doc, res->result, "payment_preimage") >= 0;
	snprintf(s->refund_status, sizeof(s->refund_status), ok ? "succeeded" : "failed");
	if (!ok)
		plugin_log(LOG_UNUSUAL, "refund of %llu sat for a closed session failed: %s",
			   (unsigned long long)s->refund_sat, res->message);
	else
		plugin_log(LOG_INFO, "refunded %llu sat for a closed session",
			   (unsigned long long)s->refund_sat);
	tell(a, true);
	s->status = SESSION_CLOSED;
	record(s, DS_CREATE_OR_REPLACE, refund_recorded, a);
}

/* Written closed, refund pending: now, and only now, pay it. */
static void closing_recorded(void *arg, const struct rpc_result *res)
{
	struct act *a = arg;
	struct session *s = a->s;
	if (res->status != RPC_OK) {
		/* Not written: still open, nothing paid. */
		s->status = SESSION_OPEN;
		s->refund_fixed = false;
		if (a->server_close) {
			act_free(a);
			return;
		}
		trouble(a, "cannot close the session now; retry shortly");
		return;
	}
	if (s->refund_sat == 0) {
		/* Nothing to pay back: closed, and written so. */
		s->status = SESSION_CLOSED;
		record(s, DS_CREATE_OR_REPLACE, refund_recorded, a);
		return;
	}
	struct strbuf sb;
	struct json_out j;
	json_out_object(&j, &sb, 0);
	json_add_string(&j, "invstring", s->return_invoice);
	json_add_u64(&j, "amount_msat", s->refund_sat * 1000);
	json_add_u64(&j, "retry_for", 60);
	json_object_end(&j);
	if (!rpc_call("xpay", sb.data, NULL, REFUND_TIMEOUT_MS, refunded, a)) {
		struct rpc_result failed = { .status = RPC_DISCONNECTED, .result = -1 };
		snprintf(failed.message, sizeof(failed.message), "cannot call xpay");
		refunded(a, &failed);
	}
	strbuf_free(&sb);
}

static void close_with(struct act *a)
{
	struct session *s = a->s;
	uint64_t left = s->deposit_msat > a->used ? s->deposit_msat - a->used : 0;
	s->refund_fixed = true;
	s->refund_sat = left / 1000;
	snprintf(s->refund_status, sizeof(s->refund_status), s->refund_sat ? "pending" : "skipped");
	s->status = SESSION_CLOSING;
	s->closed_at = (int64_t)time(NULL);
	forget_answer(s);
	if (!a->server_close)
		snprintf(s->close_challenge, sizeof(s->close_challenge), "%s", a->mpp.challenge_id);
	/* The deposit opens nothing from now on, even if this record were
	 * lost (sessions from before the ledger get their credit now). */
	struct credit c = { .purpose = CREDIT_DEPOSIT,
			    .expires = s->expires ? s->expires
						  : s->closed_at + l402.cfg.invoice_expiry };
	memcpy(c.session, s->id, 32);
	ledger_close(s->id, &c);
	record(s, DS_CREATE_OR_REPLACE, closing_recorded, a);
}

static void count_known(void *arg, enum use_result res)
{
	struct act *a = arg;
	if (res != USE_OK || token_used(a->s->id, &a->used, NULL, NULL) != USE_OK) {
		a->s->status = SESSION_OPEN;
		if (a->server_close)
			act_free(a);
		else
			trouble(a, "cannot read the session's spending now; retry shortly");
		return;
	}
	close_with(a);
}

/* Close a: the spending must be known first (read after a restart). */
static void close_session(struct act *a);

static void close_again(void *arg)
{
	close_session(arg);
}

/* Close a: no draws from now on; the requests still running on it settle
 * first (a stream, refused its next event, ends within
 * l402-session-pause), so the refund is what is left after them. Past
 * SETTLE_WAIT_S, it is what is left with their holds counted as spent;
 * a cost they state later is clamped to nothing more. */
static void close_session(struct act *a)
{
	int64_t now = (int64_t)time(NULL);
	a->s->status = SESSION_CLOSING; /* no draws meanwhile */
	if (token_pending(a->s->id)) {
		if (!a->settling_since)
			a->settling_since = now;
		if (now - a->settling_since < SETTLE_WAIT_S
		    && loop_add_timer(SETTLE_POLL_MS, close_again, a))
			return;
	}
	switch (token_used(a->s->id, &a->used, count_known, a)) {
	case USE_OK:
		close_with(a);
		break;
	case USE_WAIT:
		break;
	default:
		a->s->status = SESSION_OPEN;
		if (a->server_close)
			act_free(a);
		else
			trouble(a, "cannot read the session's spending now; retry shortly");
	}
}

/* r waits while lightningd says whether the invoice a's credential paid
 * is what it should be (cb goes on from there). */
static struct http_step *check_invoice(struct req *r, struct act *a, rpc_cb cb, const char *what)
{
	struct http_step *waiting = http_wait(r);
	char why[96];
	a->ref = http_ref(r);
	if (lookup_invoice(a->mpp.hash, cb, a))
		return waiting;
	act_free(a);
	snprintf(why, sizeof(why), "cannot check the %s now; retry shortly", what);
	return http_unavailable(r, why);
}

struct http_step *mpp_session_act(struct req *r, http_step_fn serve, mpp_session_unpaid unpaid)
{
	struct paid *p = paid_of(r);
	struct act *a = calloc(1, sizeof(*a));
	struct http_step *waiting;
	char why[96];
	if (!a)
		return http_unavailable(r, "out of memory");
	a->serve = serve;
	a->unpaid = unpaid;
	a->mpp = p->mpp;
	a->mpp.return_invoice = NULL;
	a->return_invoice = p->mpp.return_invoice;
	p->mpp.return_invoice = NULL;
	memcpy(a->tag, p->route.tag, sizeof(a->tag));
	memcpy(a->client, r->client.group, sizeof(a->client));
	if (!load.done) {
		act_free(a);
		return http_unavailable(r, "starting up; retry shortly");
	}
	struct session *s;
	switch (a->mpp.action) {
	case MPP_OPEN:
		if ((s = find(a->mpp.session_id)) && s->status == SESSION_OPEN
		    && strcmp(s->tag, a->tag) == 0) {
			/* Opened before: a retry, or a second client. Not to a
			 * front proxy, for which any 2xx but its pass means
			 * "serve the upstream". */
			if (s->kept && s->kept->until > (int64_t)time(NULL) && !paid_of(r)->forward_auth)
				return open_replayed(r, a, s);
			return drawn(r, a, s);
		}
		if (s) {
			a->ln = MPP_LN_SESSION_CLOSED;
			return refused(r, a, MPP_INVALID_CHALLENGE, "this session is closed");
		}
		if (open_by(a->client) >= (size_t)l402.cfg.max_client_sessions) {
			/* Before anything is credited: the deposit stays usable
			 * (for this open, retried) until its challenge expires. */
			act_free(a);
			return http_retry_later(r, 429, "rate_limited", "too many sessions open from "
						"this address; close one, or retry later", 10);
		}
		return check_invoice(r, a, deposit_paid, "deposit");
	case MPP_BEARER:
		if (!(s = open_session(a, why, sizeof(why))))
			return refused(r, a, MPP_INVALID_CHALLENGE, why);
		return drawn(r, a, s);
	case MPP_TOPUP:
		if (!open_session(a, why, sizeof(why)))
			return refused(r, a, MPP_INVALID_CHALLENGE, why);
		return check_invoice(r, a, top_up_paid, "top-up");
	case MPP_CLOSE:
		s = find(a->mpp.session_id);
		if (s && s->status != SESSION_OPEN && strcmp(s->tag, a->tag) == 0
		    && s->close_challenge[0]
		    && strcmp(s->close_challenge, a->mpp.challenge_id) == 0) {
			if (s->status == SESSION_CLOSED)
				return close_replayed(r, a, s);
			act_free(a);
			return http_unavailable(r, "this close is being carried out; retry shortly");
		}
		if (!(s = open_session(a, why, sizeof(why))))
			return refused(r, a, MPP_INVALID_CHALLENGE, why);
		waiting = http_wait(r);
		a->ref = http_ref(r);
		a->s = s;
		close_session(a);
		return waiting;
	default:
		return refused(r, a, MPP_MALFORMED, "not a session action");
	}
}

/* ---- loading, idle closing ---- */

/* A session that drew nothing has no reservation record to delete. */
static void forgotten(void *arg, const struct rpc_result *r)
{
	if (r->status != RPC_OK && !(r->status == RPC_ERROR && r->code == DATASTORE_DEL_DOES_NOT_EXIST))
		plugin_log(LOG_UNUSUAL, "deleting a closed session's draws failed: %s", r->message);
}

static void got_session(void *arg, const struct ds_entry *e)
{
	struct json_doc d;
	uint8_t id[32];
	size_t n;
	char tag[16], status[16], refund[16], ret[2048], close_challenge[48] = "";
	uint64_t deposit = 0, refund_sat = 0;
	int64_t closed_at = 0, expires = 0;
	if (strlen(e->name) != 64 || !hex_decode(e->name, 64, id, 32, &n) || find(id)
	    || !json_parse_alloc(&d, e->value, strlen(e->value), 64))
		return;
	bool ok = json_get_string(&d, json_get(&d, 0, "tag"), tag, sizeof(tag), NULL)
		  && json_get_string(&d, json_get(&d, 0, "status"), status, sizeof(status), NULL)
		  && json_get_string(&d, json_get(&d, 0, "return_invoice"), ret, sizeof(ret), NULL)
		  && json_get_u64(&d, json_get(&d, 0, "deposit_msat"), &deposit);
	json_get_u64(&d, json_get(&d, 0, "refund_sat"), &refund_sat);
	json_get_s64(&d, json_get(&d, 0, "closed_at"), &closed_at);
	json_get_s64(&d, json_get(&d, 0, "expires"), &expires);
	if (!json_get_string(&d, json_get(&d, 0, "close_challenge"), close_challenge,
			     sizeof(close_challenge), NULL))
		close_challenge[0] = '\0';
	if (!json_get_string(&d, json_get(&d, 0, "refund_status"), refund, sizeof(refund), NULL))
		snprintf(refund, sizeof(refund), "none");
	json_doc_free(&d);
	if (!ok)
		return;
	bool open = strcmp(status, "open") == 0;
	if (!open && forgettable(closed_at, expires, (int64_t)time(NULL))) {
		/* Gone for good: the record, and what its draws reserved. */
		ds_put(DS_GROUP, e->name, NULL, NULL, NULL, NULL);
		ds_put("uses", e->name, NULL, forgotten, NULL, NULL);
		return;
	}
	struct session *s = add(id);
	if (!s)
		return;
	snprintf(s->tag, sizeof(s->tag), "%s", tag);
	s->deposit_msat = deposit;
	s->return_invoice = strdup(ret);
	s->status = open ? SESSION_OPEN : SESSION_CLOSED;
	s->refund_fixed = !open;
	s->refund_sat = refund_sat;
	s->closed_at = closed_at;
	s->expires = expires;
	snprintf(s->close_challenge, sizeof(s->close_challenge), "%s", close_challenge);
	/* A refund a crash interrupted may have been paid: never again. */
	snprintf(s->refund_status, sizeof(s->refund_status), "%s",
		 strcmp(status, "closing") == 0 && strcmp(refund, "pending") == 0 ? "unknown" : refund);
	if (strcmp(status, "closing") == 0)
		record(s, DS_CREATE_OR_REPLACE, logged, NULL);
}

static void sessions_loaded(void *arg, const struct rpc_result *r)
{
	if (!ds_load_failed(&load, r)) {
		ds_load_finish(&load);
		plugin_log(LOG_DEBUG, "%zu sessions open", mpp_sessions_open());
	}
}

static void close_idle(void *arg)
{
	int64_t now = (int64_t)time(NULL);
	idle_timer = loop_add_timer(IDLE_CHECK_MS, close_idle, NULL);
	if (!load.done || !rpc_connected())
		return;
	for (size_t i = 0; i < nsessions; i++) {
		struct session *s = sessions[i];
		if (s->kept && s->kept->until <= now)
			forget_answer(s);
		if (s->status != SESSION_OPEN || now - s->last_active < l402.cfg.session_idle)
			continue;
		struct act *a = calloc(1, sizeof(*a));
		if (!a)
			return;
		a->s = s;
		a->server_close = true;
		plugin_log(LOG_INFO, "closing a session idle for %lld s",
			   (long long)(now - s->last_active));
		close_session(a);
	}
}

void mpp_session_start(void)
{
	if (!idle_timer)
		idle_timer = loop_add_timer(IDLE_CHECK_MS, close_idle, NULL);
	if (ds_load_begin(&load))
		ds_list(DS_GROUP, got_session, sessions_loaded, NULL, NULL);
}

void mpp_session_free(void)
{
	for (size_t i = 0; i < nsessions; i++)
		session_free(sessions[i]);
	nsessions = 0;
	if (idle_timer)
		loop_cancel_timer(idle_timer);
	idle_timer = 0;
	load = (struct ds_load){ mpp_session_start, false, false, 0 };
}
