/* The 402 (challenge.h). The invoices are asked for together; the client
 * waits at most INVOICE_TIMEOUT_MS for them and then gets a 503. */
#include "paywall/challenge.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/loop.h"
#include "json_out.h"
#include "l402.h"
#include "lightningd/rpc.h"
#include "mpp.h"
#include "paywall/checkout.h"
#include "paywall/mpp_charge.h"
#include "paywall/mpp_session.h"
#include "paywall/pricer.h"
#include "paywall/request.h"
#include "store/label.h"
#include "store/routes.h"
#include "store/secret.h"
#include "store/terms.h"
#include "store/unpaid.h"

/* How long a client waits for its challenge's invoice. */
#define INVOICE_TIMEOUT_MS 5000
/* How long the invoice call itself may take before its place under
 * l402-max-unpaid is given back. */
#define INVOICE_RPC_TIMEOUT_MS 120000
/* BOLT11 descriptions hold at most 639 bytes. */
#define MAX_INVOICE_DESC 600

/* The problem type (draft-httpauth-payment's, RFC 9457) a 402 stands for. */
static enum mpp_err problem_of(const struct paid *p)
{
	return p->mpp.used ? p->mpp.err : reason_problem(p->reason);
}

/* One body for every client: L402's fields, which clients in the wild
 * read, and a problem details object (type, title, status, detail) as
 * the Payment scheme asks for; extension members are allowed there. */
static void add_challenge_body(struct json_out *j, const struct paid *pd, const char *bolt11,
			       const char *tok, const uint8_t hash[32], uint64_t expires_at,
			       const struct l402_grant *g)
{
	char type[96];
	enum mpp_err p = problem_of(pd);
	/* A refused credential (all of ours are lightning's): the lightning
	 * draft's own type where one applies; reason keeps the core's. */
	enum mpp_ln_problem ln = MPP_LN_NONE;
	if (pd->mpp.used && p != MPP_OK)
		ln = pd->mpp.ln ? pd->mpp.ln : mpp_ln_problem_of(p, pd->mpp.action != MPP_CHARGE);
	json_object_start(j, NULL);
	const char *ln_type = mpp_ln_problem_type(ln);
	snprintf(type, sizeof(type), "https://paymentauth.org/problems/%s",
		 ln_type ? ln_type : mpp_problem_type(p));
	json_add_string(j, "type", type);
	json_add_string(j, "title", ln_type ? mpp_ln_problem_title(ln) : mpp_problem_title(p));
	json_add_u64(j, "status", 402);
	json_add_string(j, "error", "payment_required");
	json_add_string(j, "reason", reason_name(pd->reason));
	if (pd->detail[0])
		json_add_string(j, "detail", pd->detail);
	json_add_u64(j, "price_msat", pd->route.spec.price_msat);
	/* Always an integer: whole sats, rounded up (what a wallet that pays
	 * in sats pays); price_msat is exact. */
	json_add_u64(j, "price_sat", mpp_sats(pd->route.spec.price_msat));
	/* What the invoice is for (a balance, when it buys one) and buys. */
	struct terms t;
	terms_of(&pd->route.spec, pd->route.backend, &t);
	terms_add_json(j, &t);
	if (g->max_price_msat)
		json_add_u64(j, "max_price_msat", g->max_price_msat);
	json_add_string(j, "invoice", bolt11);
	json_add_string(j, "macaroon", tok);
	json_add_string(j, "token", tok);
	json_add_hex(j, "payment_hash", hash, 32);
	json_add_u64(j, "expires_at", expires_at);
	if (pd->route.spec.valid > 0) {
		json_add_s64(j, "valid_seconds", pd->route.spec.valid);
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
	struct req_ref ref;	/* the client, until it is answered */
	uint64_t timer;
	unsigned pending;	/* invoice calls not answered yet */
	struct invoice_made token, charge, session;
};

static void challenge_timed_out(void *arg)
{
	struct challenge *ch = arg;
	struct req *r = http_deref(ch->ref);
	ch->timer = 0;
	if (r)
		http_step_end(http_unavailable(r, "lightningd is slow to make an invoice; "
					       "retry shortly"));
}

/* The client's weight for lightning/INTENT (1..1000), from its
 * Accept-Payment: 1000 without one, or when it names nothing this route
 * offers with a weight above 0 (the draft lets a server ignore such a
 * header, and a 402 without a Payment challenge must not be sent). */
static int intent_weight(const struct req *r, const char *intent)
{
	const char *ap = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Accept-Payment");
	bool session_offered = mpp_session_offered(&paid_of_const(r)->route.spec);
	int charge = mpp_accept_weight(ap, "lightning", "charge");
	int session = session_offered ? mpp_accept_weight(ap, "lightning", "session") : 0;
	if (charge <= 0 && session <= 0)
		return 1000;
	return mpp_accept_weight(ap, "lightning", intent);
}

static bool intent_wanted(const struct req *r, const char *intent)
{
	return intent_weight(r, intent) > 0;
}

/* Whether the client reads only the first WWW-Authenticate field: Go's
 * net/http keeps the fields apart and Header.Get returns the first, which
 * lnget's L402 transport requires to start with L402 or LSAT. Most others
 * join the fields into one value (fetch, Python's requests), which Alby's
 * fetchWithMpp requires to start with Payment, and parses with later
 * parameters overriding earlier ones (so the charge, the intent it pays,
 * comes last of the Payment challenges). */
static bool reads_first_field(const struct req *r)
{
	static const char *const first_field_readers[] = { "Go-http-client/", "lnget" };
	const char *ua = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "User-Agent");
	for (size_t i = 0; ua && i < sizeof(first_field_readers) / sizeof(first_field_readers[0]);
	     i++)
		if (strncasecmp(ua, first_field_readers[i], strlen(first_field_readers[i])) == 0)
			return true;
	return false;
}

/* The WWW-Authenticate fields of a 402: the Payment challenges in the
 * client's Accept-Payment order (highest q first; ours, session before
 * charge, between equals), and the L402 and LSAT ones after them, or
 * before them for a client that reads the first field only. */
static void add_challenges(struct req *r, struct MHD_Response *resp, const char *tok,
			   const struct invoice_made *tokinv, const struct invoice_made *charge,
			   const struct invoice_made *session)
{
	struct paid *p = paid_of(r);
	struct strbuf l402c, lsatc, pay[2];
	int q[2] = { 0, 0 };
	bool made[2] = { false, false };
	bool token_first = reads_first_field(r);
	strbuf_init(&l402c, 0);
	strbuf_init(&lsatc, 0);
	strbuf_init(&pay[0], 0);
	strbuf_init(&pay[1], 0);
	l402_challenge(&l402c, tok, tokinv->bolt11);
	lsat_challenge(&lsatc, tok, tokinv->bolt11);
	/* [0] session, [1] charge: ours, between equals; first-field
	 * readers take the first Payment challenge, so theirs is the charge. */
	int session_i = token_first ? 1 : 0, charge_i = 1 - session_i;
	made[session_i] = session->made && mpp_session_offer(p, session->bolt11, session->hash,
							      session->expires_at, &pay[session_i]);
	made[charge_i] = charge->made && mpp_charge_offer(p, charge->bolt11, charge->hash,
							   charge->expires_at, &pay[charge_i]);
	q[session_i] = intent_weight(r, "session");
	q[charge_i] = intent_weight(r, "charge");
	int order[2] = { 0, 1 };
	if (q[1] > q[0]) {
		order[0] = 1;
		order[1] = 0;
	}
	if (token_first) {
		MHD_add_response_header(resp, "WWW-Authenticate", l402c.data);
		MHD_add_response_header(resp, "WWW-Authenticate", lsatc.data);
	}
	for (int i = 0; i < 2; i++)
		if (made[order[i]] && !pay[order[i]].failed)
			MHD_add_response_header(resp, "WWW-Authenticate", pay[order[i]].data);
	if (!token_first) {
		MHD_add_response_header(resp, "WWW-Authenticate", l402c.data);
		MHD_add_response_header(resp, "WWW-Authenticate", lsatc.data);
	}
	strbuf_free(&l402c);
	strbuf_free(&lsatc);
	strbuf_free(&pay[0]);
	strbuf_free(&pay[1]);
}

/* The 402 for r: a token committing to the invoice's hash, its L402 and
 * LSAT challenges, the Payment ones that were made, and the JSON body. */
static struct http_step *send_challenge(struct req *r, const struct invoice_label *l,
				       const struct invoice_made *tokinv,
				       const struct invoice_made *charge,
				       const struct invoice_made *session)
{
	struct paid *p = paid_of(r);
	char tok[4096];
	uint8_t secret[L402_SECRET_LEN];
	struct l402_identifier id = { .version = 0 };
	memcpy(id.payment_hash, tokinv->hash, 32);
	memcpy(id.token_id, l->token_id, sizeof(id.token_id));
	/* A live price buys requests priced at most what this one was (a
	 * balance pays each request's own price instead). */
	uint64_t max_price = p->route.spec.pricer[0] && !l->balance_msat ? p->route.spec.price_msat
									   : 0;
	struct l402_mint_params mp = { .service = p->route.spec.service,
				       .grant = { l->valid_until, l->uses, l->balance_msat,
						  max_price } };
	if (!secret_get(secret))
		return http_unavailable(r, "starting up; retry shortly");
	bool ok = l402_mint(secret, &id, &mp, tok, sizeof(tok));
	sodium_memzero(secret, sizeof(secret));
	if (!ok)
		return http_error(r, 500, "mint_failed", "could not mint a token");

	struct strbuf body;
	struct json_out j;
	struct MHD_Response *resp;
	/* A person's browser: the same 402 and headers, a checkout page. */
	bool page = checkout_wanted(r);
	strbuf_init(&body, 0);
	if (page) {
		resp = checkout_page(r, tokinv->bolt11, tok, tokinv->expires_at, &mp.grant);
	} else {
		json_out_init(&j, &body);
		add_challenge_body(&j, p, tokinv->bolt11, tok, tokinv->hash, tokinv->expires_at,
				   &mp.grant);
		resp = MHD_create_response_from_buffer(body.len, body.data, MHD_RESPMEM_MUST_COPY);
	}
	if (resp)
		add_challenges(r, resp, tok, tokinv, charge, session);
	if (resp) {
		MHD_add_response_header(resp, "Link",
					"</.well-known/l402.json>; rel=\"l402-manifest\"");
		if (!page)
			MHD_add_response_header(resp, "Content-Type",
						p->mpp.used ? "application/problem+json"
							    : "application/json");
		MHD_add_response_header(resp, "Cache-Control", "no-store");
		/* The drafts' SHOULD: a client may retry at once, once it paid. */
		MHD_add_response_header(resp, "Retry-After", "0");
	}
	strbuf_free(&body);
	routes_count_challenge(p->route.id);
	return http_finish(r, 402, resp);
}

/* Both invoices are in (or failed): answer, unless the client was
 * answered already. */
static void challenge_complete(struct challenge *ch)
{
	struct req *r = http_deref(ch->ref);
	struct invoice_label l;
	if (ch->timer)
		loop_cancel_timer(ch->timer);
	if (!r)
		; /* its client was answered already: the invoices are just owned */
	else if (!ch->token.made)
		http_step_end(http_unavailable(r, "lightningd is unavailable; retry shortly"));
	else if (!label_parse(ch->token.label, &l))
		http_step_end(http_error(r, 500, "internal", "bad invoice label"));
	else
		http_step_end(send_challenge(r, &l, &ch->token, &ch->charge, &ch->session));
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

/* What a token costs: its invoice's amount, as every document says it. */
static uint64_t token_price(const struct route_view *rv)
{
	struct terms t;
	terms_of(&rv->spec, rv->backend, &t);
	return t.invoice_msat;
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

/* A charge for a request with a body is bound to that body (the core
 * draft's digest, a SHOULD): from the client's own Content-Digest when it
 * sent one (the paid request's body is checked against it all the same),
 * else from the body, read first when small. A larger one, or one whose
 * length is unknown, gets no digest; nor does a front proxy's question,
 * which carries no body. */
static struct http_step *challenge_priced(struct req *r);

static bool body_digest(struct req *r, struct http_step **read)
{
	struct paid *p = paid_of(r);
	*read = NULL;
	if (p->body_digest[0] || !r->body_expected || p->forward_auth || !intent_wanted(r, "charge"))
		return true;
	if (mpp_content_digest(MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
							   "Content-Digest"), p->body_digest))
		return true;
	if (r->body_read) {
		if (!r->body.failed && r->body.len == r->body_size)
			mpp_body_digest(r->body.data ? r->body.data : "", r->body.len, p->body_digest);
		return true;
	}
	const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
	if (!cl || strtoull(cl, NULL, 10) > MPP_DIGEST_MAX_BODY)
		return true;
	*read = http_read_body(r, MPP_DIGEST_MAX_BODY, true, challenge_priced);
	return false;
}

/* A challenge once the pricer answered (or the body was read): the
 * reason and detail were set. */
static struct http_step *challenge_priced(struct req *r)
{
	struct paid *p = paid_of(r);
	char detail[sizeof(p->detail)];
	memcpy(detail, p->detail, sizeof(detail));
	return challenge(r, p->reason, detail[0] ? detail : NULL);
}

struct http_step *challenge(struct req *r, enum reason why, const char *detail)
{
	struct paid *p = paid_of(r);
	char desc[sizeof(p->route.spec.desc) + ROUTE_KEY_LEN];
	unsigned wait;

	p->reason = why;
	snprintf(p->detail, sizeof(p->detail), "%s", detail ? detail : "");
	if (!secret_ready() || !rpc_connected())
		return http_unavailable(r, "lightningd is unavailable; retry shortly");
	/* Strangers must not make the node create invoices (or ask its
	 * pricer) without bound; counted once, before a pricer is asked. */
	if (!p->challenge_counted) {
		p->challenge_counted = true;
		if ((wait = paid_take_for_client(r, 'c', 0, l402.cfg.challenge_n,
						 l402.cfg.challenge_per, l402.cfg.challenge_n)))
			return paid_too_many(r, wait, "too many new challenges from this address");
	}
	/* A live price first, and the body's digest (this runs again with
	 * them). */
	if (p->route.spec.pricer[0] && !p->priced)
		return pricer_ask(r, challenge_priced);
	struct http_step *read;
	if (!body_digest(r, &read))
		return read;
	struct challenge *ch = calloc(1, sizeof(*ch));
	if (!ch)
		return http_unavailable(r, "out of memory");
	if (!unpaid_reserve()) {
		free(ch);
		return http_unavailable(r, "too many unpaid invoices outstanding; retry shortly");
	}
	struct invoice_label l = {
		.valid_until = p->route.spec.valid > 0 ? (int64_t)time(NULL) + p->route.spec.valid : 0,
		.uses = p->route.spec.uses,
		.balance_msat = p->route.spec.balance_msat,
	};
	memcpy(l.tag, p->route.tag, sizeof(l.tag));
	randombytes_buf(l.token_id, sizeof(l.token_id));
	label_make(ch->token.label, sizeof(ch->token.label), &l);
	invoice_description(&p->route.spec, desc, sizeof(desc));

	struct http_step *waiting = http_wait(r);
	ch->ref = http_ref(r);
	/* The timer first: an invoice call never answers from inside. */
	if (!(ch->timer = loop_add_timer(INVOICE_TIMEOUT_MS, challenge_timed_out, ch))
	    || !ask_invoice(ch, &ch->token, token_price(&p->route), desc, on_token_invoice)) {
		if (ch->timer)
			loop_cancel_timer(ch->timer);
		else
			unpaid_release();
		free(ch);
		return http_unavailable(r, "cannot ask lightningd for an invoice now");
	}
	/* The charge's own invoice, in whole sats, when there is room for it:
	 * without one, the 402 offers L402 alone. */
	if (intent_wanted(r, "charge") && unpaid_reserve()) {
		struct invoice_label c = { .uses = 1, .charge = true };
		memcpy(c.tag, p->route.tag, sizeof(c.tag));
		randombytes_buf(c.token_id, sizeof(c.token_id));
		label_make(ch->charge.label, sizeof(ch->charge.label), &c);
		(void)ask_invoice(ch, &ch->charge, mpp_sats(p->route.spec.price_msat) * 1000, desc,
				  on_charge_invoice);
	}
	/* A session's deposit, on routes that sell a balance. */
	if (mpp_session_offered(&p->route.spec) && intent_wanted(r, "session") && unpaid_reserve()) {
		struct invoice_label d = { .session = true };
		memcpy(d.tag, p->route.tag, sizeof(d.tag));
		randombytes_buf(d.token_id, sizeof(d.token_id));
		label_make(ch->session.label, sizeof(ch->session.label), &d);
		(void)ask_invoice(ch, &ch->session, mpp_session_deposit_msat(&p->route.spec), desc,
				  on_session_invoice);
	}
	return waiting;
}
