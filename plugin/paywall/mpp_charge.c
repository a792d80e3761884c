#include "paywall/mpp_charge.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lightningd/datastore.h"
#include "encoding.h"
#include "http/http.h"
#include "json_out.h"
#include "store/label.h"
#include "core/log.h"
#include "core/loop.h"
#include "paywall/mpp_session.h"
#include "store/secret.h"

#define DS_GROUP "charge"
#define RPC_TIMEOUT_MS 30000
#define PRUNE_EVERY_MS (3600 * 1000)
/* Charges being checked at once; more wait for a 503 and a retry. */
#define MAX_IN_FLIGHT 4096

uint64_t mpp_charge_sats(uint64_t price_msat)
{
	return (price_msat + 999) / 1000;
}

/* The binding key: from the L402 secret, so it follows its rotation. */
bool mpp_binding_key(uint8_t key[MPP_KEY_LEN])
{
	static const char label[] = "cln-l402 Payment challenge binding v1";
	uint8_t secret[32];
	if (!secret_get(secret))
		return false;
	crypto_auth_hmacsha256(key, (const uint8_t *)label, sizeof(label) - 1, secret);
	sodium_memzero(secret, sizeof(secret));
	return true;
}

/* The realm: the public URL's authority, else the first listener's. */
void mpp_realm(char *out, size_t len)
{
	const char *u = l402.cfg.public_url;
	if (u) {
		const char *h = strstr(u, "://");
		h = h ? h + 3 : u;
		snprintf(out, len, "%.*s", (int)strcspn(h, "/"), h);
	} else if (l402.nlisteners) {
		snprintf(out, len, "%s", l402.listeners[0].addr);
	} else {
		snprintf(out, len, "%s", DEFAULT_BIND);
	}
}

/* What the invoice's prefix says, in the drafts' words; "" for networks
 * they do not name (testnet). */
const char *mpp_network_of(const char *bolt11)
{
	if (strncmp(bolt11, "lnbcrt", 6) == 0)
		return "regtest";
	if (strncmp(bolt11, "lntbs", 5) == 0)
		return "signet";
	if (strncmp(bolt11, "lnbc", 4) == 0)
		return "mainnet";
	return "";
}

bool mpp_charge_offer(const struct req *r, const char *bolt11, const uint8_t hash[32],
		      uint64_t expires_at, struct strbuf *out)
{
	static __thread struct mpp_challenge c;
	static __thread struct mpp_charge_request q;
	memset(&c, 0, sizeof(c));
	memset(&q, 0, sizeof(q));
	q.amount_sat = mpp_charge_sats(r->route.spec.price_msat);
	snprintf(q.description, sizeof(q.description), "%s", r->route.spec.desc);
	snprintf(q.invoice, sizeof(q.invoice), "%s", bolt11);
	memcpy(q.payment_hash, hash, 32);
	snprintf(q.network, sizeof(q.network), "%s", mpp_network_of(bolt11));
	return mpp_charge_request_encode(c.request, sizeof(c.request), &q)
	       && mpp_offer(r, &c, "charge", expires_at, out);
}

bool mpp_offer(const struct req *r, struct mpp_challenge *c, const char *intent,
	       uint64_t expires_at, struct strbuf *out)
{
	uint8_t key[MPP_KEY_LEN];
	mpp_realm(c->realm, sizeof(c->realm));
	strcpy(c->method, "lightning");
	snprintf(c->intent, sizeof(c->intent), "%s", intent);
	mpp_time_format((int64_t)expires_at, c->expires);
	if (!mpp_opaque_encode(c->opaque, sizeof(c->opaque), r->route.tag) || !mpp_binding_key(key))
		return false;
	mpp_challenge_id(key, c, c->id);
	sodium_memzero(key, sizeof(key));
	return mpp_write_challenge(out, c);
}

/* A charge's checks, the credential parsed. */
static enum mpp_err charge_check(struct req *r, const struct mpp_credential *cred, char *why,
				 size_t whylen)
{
	static __thread struct mpp_charge_request q;
	uint8_t key[MPP_KEY_LEN], hash[32];
	char tag[16];
	int64_t expires;
	enum mpp_err e;

	if (!mpp_binding_key(key)) {
		snprintf(why, whylen, "starting up");
		return MPP_INVALID_CHALLENGE;
	}
	bool bound = mpp_challenge_bound(key, &cred->ch);
	sodium_memzero(key, sizeof(key));
	e = MPP_INVALID_CHALLENGE;
	if (!bound)
		snprintf(why, whylen, "this challenge was not issued here, or was changed");
	else if (!mpp_opaque_route(cred->ch.opaque, tag, sizeof(tag)) || strcmp(tag, r->route.tag) != 0)
		snprintf(why, whylen, "this challenge was issued for another route");
	else if (!mpp_charge_request_decode(cred->ch.request, &q))
		snprintf(why, whylen, "the challenge's request cannot be read");
	else if (!cred->ch.expires[0] || !mpp_time_parse(cred->ch.expires, &expires)) {
		snprintf(why, whylen, "the challenge has no readable expiry");
	} else if (expires <= (int64_t)time(NULL)) {
		e = MPP_EXPIRED;
		snprintf(why, whylen, "the challenge expired at %s", cred->ch.expires);
	} else if (q.amount_sat * 1000 < r->route.spec.price_msat) {
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
			memcpy(r->mpp.hash, hash, 32);
			memcpy(r->mpp.challenge_id, cred->ch.id, sizeof(r->mpp.challenge_id));
			r->mpp.amount_sat = q.amount_sat;
			r->mpp.expires = expires;
		}
	}
	return e;
}

enum mpp_err mpp_check(struct req *r, const char *authorization, char *why, size_t whylen)
{
	/* 10 KiB: one per thread, not on the stack. */
	static __thread struct mpp_credential cred;
	enum mpp_err e;

	r->mpp.used = true;
	e = mpp_parse_credential(authorization, strlen(authorization), &cred, why, whylen);
	if (e == MPP_OK) {
		r->mpp.action = cred.action;
		e = cred.action == MPP_CHARGE ? charge_check(r, &cred, why, whylen)
					      : mpp_session_check(r, &cred, why, whylen);
	}
	sodium_memzero(cred.preimage, sizeof(cred.preimage));
	r->mpp.err = e;
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

struct consume {
	struct req *r;
	void (*done)(struct req *r, enum mpp_err e, const char *why);
	char name[65];
};

static void finish(struct consume *c, enum mpp_err e, const char *why)
{
	in_flight_del(c->r->mpp.hash);
	c->r->mpp.err = e;
	if (e == MPP_OK) {
		struct strbuf sb;
		strbuf_init(&sb, sizeof(c->r->mpp.receipt) - 1);
		if (mpp_receipt(&sb, c->r->mpp.challenge_id, c->r->mpp.hash, (int64_t)time(NULL)))
			snprintf(c->r->mpp.receipt, sizeof(c->r->mpp.receipt), "%s", sb.data);
		strbuf_free(&sb);
	}
	c->done(c->r, e, why);
	free(c);
}

static void recorded(void *arg, const struct rpc_result *res)
{
	struct consume *c = arg;
	if (res->status == RPC_OK)
		finish(c, MPP_OK, NULL);
	else if (res->status == RPC_ERROR && res->code == DATASTORE_UPDATE_ALREADY_EXISTS)
		finish(c, MPP_INVALID_CHALLENGE, "this challenge was used already");
	else
		finish(c, MPP_MALFORMED, NULL); /* NULL why: lightningd trouble, a 503 */
}

static void looked_up(void *arg, const struct rpc_result *res)
{
	struct consume *c = arg;
	const struct json_doc *d = res->doc;
	char label[LABEL_MAX], value[24];
	struct invoice_label l;
	uint64_t msat = 0;
	int inv = res->status == RPC_OK ? json_at(d, json_get(d, res->result, "invoices"), 0) : -1;
	if (res->status != RPC_OK) {
		finish(c, MPP_MALFORMED, NULL);
		return;
	}
	if (inv < 0 || !json_get_string(d, json_get(d, inv, "label"), label, sizeof(label), NULL)
	    || !label_parse(label, &l) || !l.charge || strcmp(l.tag, c->r->route.tag) != 0) {
		finish(c, MPP_INVALID_CHALLENGE, "this node has no charge invoice for this route "
						 "with that payment hash");
		return;
	}
	if (!json_streq(d, json_get(d, inv, "status"), "paid")) {
		finish(c, MPP_VERIFICATION_FAILED, "the invoice is not paid");
		return;
	}
	if (!json_get_u64(d, json_get(d, inv, "amount_msat"), &msat)
	    || msat != c->r->mpp.amount_sat * 1000) {
		finish(c, MPP_VERIFICATION_FAILED, "the amount echoed is not the amount invoiced");
		return;
	}
	snprintf(value, sizeof(value), "%lld", (long long)c->r->mpp.expires);
	ds_write(DS_GROUP, c->name, value, DS_MUST_CREATE, NULL, recorded, c);
}

enum mpp_consume mpp_charge_consume(struct req *r, void (*done)(struct req *r, enum mpp_err e,
								  const char *why))
{
	char params[128];
	struct consume *c;
	for (size_t i = 0; i < n_in_flight; i++)
		if (memcmp(in_flight[i], r->mpp.hash, 32) == 0)
			return MPP_CONSUME_IN_USE;
	if (!(c = calloc(1, sizeof(*c))))
		return MPP_CONSUME_FAILED;
	if (!in_flight_add(r->mpp.hash)) {
		free(c);
		return MPP_CONSUME_FAILED;
	}
	c->r = r;
	c->done = done;
	hex_encode(r->mpp.hash, 32, c->name, sizeof(c->name));
	snprintf(params, sizeof(params), "{\"payment_hash\":\"%s\"}", c->name);
	if (!rpc_call("listinvoices", params, NULL, RPC_TIMEOUT_MS, looked_up, c)) {
		in_flight_del(r->mpp.hash);
		free(c);
		return MPP_CONSUME_FAILED;
	}
	return MPP_CONSUME_PENDING;
}

/* ---- pruning ---- */

static uint64_t prune_timer;
static bool pruning;

static void prune_entry(void *arg, const struct ds_entry *e)
{
	char *end;
	long long expires = strtoll(e->value, &end, 10);
	if (end != e->value && expires < (long long)time(NULL))
		ds_put(DS_GROUP, e->name, NULL, NULL, NULL, NULL);
}

static void prune(void *arg);

static void pruned(void *arg, const struct rpc_result *r)
{
	pruning = false;
	if (r->status != RPC_OK)
		plugin_log(LOG_UNUSUAL, "listing spent charges failed: %s", r->message);
}

static void prune(void *arg)
{
	prune_timer = loop_add_timer(PRUNE_EVERY_MS, prune, NULL);
	if (pruning || !rpc_connected())
		return;
	pruning = true;
	ds_list(DS_GROUP, prune_entry, pruned, NULL, NULL);
}

void mpp_charge_start(void)
{
	if (!prune_timer)
		prune_timer = loop_add_timer(2000, prune, NULL);
}

void mpp_charge_free(void)
{
	if (prune_timer)
		loop_cancel_timer(prune_timer);
	prune_timer = 0;
	pruning = false;
	n_in_flight = 0;
}
