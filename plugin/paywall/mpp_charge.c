#include "paywall/mpp_charge.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lightningd/rpc.h"
#include "store/ledger.h"
#include "encoding.h"
#include "json_out.h"
#include "store/label.h"
#include "core/log.h"

#define RPC_TIMEOUT_MS 30000
/* Charges being checked at once; more wait for a 503 and a retry. */
#define MAX_IN_FLIGHT 4096

static bool encode_request(char *out, size_t outcap, const void *q)
{
	return mpp_charge_request_encode(out, outcap, q);
}

bool mpp_charge_offer(const struct paid *p, const char *bolt11, const uint8_t hash[32],
		      uint64_t expires_at, struct strbuf *out)
{
	static __thread struct mpp_charge_request q;
	memset(&q, 0, sizeof(q));
	q.amount_sat = mpp_sats(p->route.spec.price_msat);
	snprintf(q.description, sizeof(q.description), "%s", p->route.spec.desc);
	snprintf(q.invoice, sizeof(q.invoice), "%s", bolt11);
	memcpy(q.payment_hash, hash, 32);
	snprintf(q.network, sizeof(q.network), "%s", mpp_network_of(bolt11));
	/* Bound to the request's body when it had one (the core draft's
	 * digest): the credential then buys that body's request only. */
	return mpp_offer(p->route.tag, "charge", encode_request, &q, expires_at,
			 p->body_digest[0] ? p->body_digest : NULL, out);
}

enum mpp_err mpp_charge_check(struct paid *p, struct mpp_credential *cred, char *why,
			      size_t whylen)
{
	static __thread struct mpp_charge_request q;
	uint8_t hash[32];
	int64_t expires;
	enum mpp_err e = mpp_challenge_ours(&cred->ch, p->route.tag, why, whylen);

	if (e != MPP_OK)
		return e;
	e = MPP_INVALID_CHALLENGE;
	if (!mpp_charge_request_decode(cred->ch.request, &q))
		snprintf(why, whylen, "the challenge's request cannot be read");
	else if (!cred->ch.expires[0] || !mpp_time_parse(cred->ch.expires, &expires)) {
		snprintf(why, whylen, "the challenge has no readable expiry");
	} else if (expires <= (int64_t)time(NULL)) {
		e = MPP_EXPIRED;
		snprintf(why, whylen, "the challenge expired at %s", cred->ch.expires);
	} else if (q.amount_sat * 1000 < p->route.spec.price_msat) {
		e = MPP_INSUFFICIENT;
		snprintf(why, whylen, "this challenge offered %llu sat; the route now costs more",
			 (unsigned long long)q.amount_sat);
	} else {
		crypto_hash_sha256(hash, cred->preimage, 32);
		if (sodium_memcmp(hash, q.payment_hash, 32) != 0) {
			e = MPP_VERIFICATION_FAILED;
			snprintf(why, whylen, "the preimage does not hash to the payment hash");
		} else {
			e = MPP_OK;
			memcpy(p->mpp.hash, hash, 32);
			memcpy(p->mpp.challenge_id, cred->ch.id, sizeof(p->mpp.challenge_id));
			/* Ours (the binding holds), so no longer than we write. */
			snprintf(p->mpp.digest, sizeof(p->mpp.digest), "%s", cred->ch.digest);
			p->mpp.amount_sat = q.amount_sat;
			p->mpp.expires = expires;
		}
	}
	return e;
}

/* ---- consuming, under the loop's lock ---- */

static uint8_t in_flight[MAX_IN_FLIGHT][32];
static size_t n_in_flight;

static bool in_flight_add(const uint8_t h[32])
{
	for (size_t i = 0; i < n_in_flight; i++)
		if (memcmp(in_flight[i], h, 32) == 0)
			return false;
	if (n_in_flight == MAX_IN_FLIGHT)
		return false;
	memcpy(in_flight[n_in_flight++], h, 32);
	return true;
}

static void in_flight_del(const uint8_t h[32])
{
	for (size_t i = 0; i < n_in_flight; i++)
		if (memcmp(in_flight[i], h, 32) == 0) {
			memcpy(in_flight[i], in_flight[--n_in_flight], 32);
			return;
		}
}

/* A charge being consumed: what it names, copied, and who waits. */
struct consume {
	struct req_ref ref;
	mpp_charge_done done;
	uint8_t hash[32];
	char tag[9];
	uint64_t amount_sat;
	int64_t expires;
	char name[65];
};

static void finish(struct consume *c, enum mpp_err e, const char *why)
{
	struct req *r = http_deref(c->ref);
	in_flight_del(c->hash);
	if (r) {
		struct paid *p = paid_of(r);
		p->mpp.err = e;
		if (e == MPP_OK) {
			struct strbuf sb;
			strbuf_init(&sb, sizeof(p->mpp.receipt) - 1);
			if (mpp_receipt(&sb, p->mpp.challenge_id, p->mpp.hash, (int64_t)time(NULL)))
				snprintf(p->mpp.receipt, sizeof(p->mpp.receipt), "%s", sb.data);
			strbuf_free(&sb);
		}
		http_step_end(c->done(r, e, why));
	}
	free(c);
}

static void credited(void *arg, enum credit_result res, const struct credit *prior)
{
	struct consume *c = arg;
	if (res == CREDIT_OK)
		finish(c, MPP_OK, NULL);
	else if (res == CREDIT_TAKEN)
		finish(c, MPP_INVALID_CHALLENGE, "this challenge was used already");
	else
		finish(c, MPP_MALFORMED, NULL); /* NULL why: lightningd trouble, a 503 */
}

static void looked_up(void *arg, const struct rpc_result *res)
{
	struct consume *c = arg;
	const struct json_doc *d = res->doc;
	char label[LABEL_MAX];
	struct invoice_label l;
	uint64_t msat = 0;
	int inv = res->status == RPC_OK ? json_at(d, json_get(d, res->result, "invoices"), 0) : -1;
	if (res->status != RPC_OK) {
		finish(c, MPP_MALFORMED, NULL);
		return;
	}
	if (inv < 0 || !json_get_string(d, json_get(d, inv, "label"), label, sizeof(label), NULL)
	    || !label_parse(label, &l) || !l.charge || strcmp(l.tag, c->tag) != 0) {
		finish(c, MPP_INVALID_CHALLENGE, "this node has no charge invoice for this route "
						 "with that payment hash");
		return;
	}
	if (!json_streq(d, json_get(d, inv, "status"), "paid")) {
		finish(c, MPP_VERIFICATION_FAILED, "the invoice is not paid");
		return;
	}
	if (!json_get_u64(d, json_get(d, inv, "amount_msat"), &msat)
	    || msat != c->amount_sat * 1000) {
		finish(c, MPP_VERIFICATION_FAILED, "the amount echoed is not the amount invoiced");
		return;
	}
	struct credit credit = { .purpose = CREDIT_CHARGE, .expires = c->expires };
	if (!ledger_credit(c->hash, &credit, credited, c))
		finish(c, MPP_MALFORMED, NULL);
}

struct http_step *mpp_charge_consume(struct req *r, mpp_charge_done done)
{
	const struct paid *p = paid_of(r);
	char params[128];
	struct consume *c;
	for (size_t i = 0; i < n_in_flight; i++)
		if (memcmp(in_flight[i], p->mpp.hash, 32) == 0) {
			paid_of(r)->mpp.err = MPP_INVALID_CHALLENGE;
			return done(r, MPP_INVALID_CHALLENGE,
				    "this challenge is being used by another request");
		}
	if (!(c = calloc(1, sizeof(*c))))
		return http_unavailable(r, "cannot check this payment now; retry shortly");
	if (!in_flight_add(p->mpp.hash)) {
		free(c);
		return http_unavailable(r, "cannot check this payment now; retry shortly");
	}
	struct http_step *waiting = http_wait(r);
	c->ref = http_ref(r);
	c->done = done;
	memcpy(c->hash, p->mpp.hash, 32);
	memcpy(c->tag, p->route.tag, sizeof(c->tag));
	c->amount_sat = p->mpp.amount_sat;
	c->expires = p->mpp.expires;
	hex_encode(c->hash, 32, c->name, sizeof(c->name));
	snprintf(params, sizeof(params), "{\"payment_hash\":\"%s\"}", c->name);
	if (!rpc_call("listinvoices", params, NULL, RPC_TIMEOUT_MS, looked_up, c)) {
		in_flight_del(c->hash);
		free(c);
		return http_unavailable(r, "cannot check this payment now; retry shortly");
	}
	return waiting;
}
