#include "store/payments.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lightningd/datastore.h"
#include "encoding.h"
#include "store/label.h"
#include "store/preimages.h"
#include "core/log.h"
#include "core/loop.h"
#include "store/routes.h"
#include "lightningd/rpc.h"
#include "store/unpaid.h"

#define RPC_TIMEOUT_MS 30000

static bool caught_up, syncing, polling;
static uint64_t pay_index, counted;
static uint64_t retry_timer;
static void (*observer)(const struct sale *s);

void payments_set_observer(void (*sold)(const struct sale *s))
{
	observer = sold;
}

void payments_status(struct payments_status *st)
{
	st->caught_up = caught_up;
	st->counted = counted;
	st->pay_index = pay_index;
}

/* An L402 token's preimage, for the checkout page (preimages.h); a
 * Payment charge's or session's is never handed to a browser. */
static void note_token_preimage(const char *label, const uint8_t hash[32], const uint8_t pre[32])
{
	struct invoice_label l;
	if (label_parse(label, &l) && !l.charge && !l.session)
		preimages_note(hash, pre);
}

void payments_on_notification(const char *label, const char *preimage_hex)
{
	uint8_t pre[32], hash[32];
	size_t n;
	if (!label_is_ours(label))
		return;
	if (!hex_decode(preimage_hex, strlen(preimage_hex), pre, sizeof(pre), &n) || n != 32) {
		plugin_log(LOG_UNUSUAL, "invoice_payment notification with a bad preimage");
		return;
	}
	/* Counted when waitanyinvoice hands it over in pay-index order; the
	 * notification only frees its place under l402-max-unpaid sooner. */
	crypto_hash_sha256(hash, pre, sizeof(pre));
	unpaid_paid(hash);
	note_token_preimage(label, hash, pre);
}

static void stored(void *arg, const struct rpc_result *r)
{
	if (r->status != RPC_OK)
		plugin_log(LOG_UNUSUAL, "saving the pay index failed: %s (payments since "
			   "will be counted again after a restart)", r->message);
}

static void persist_pay_index(void)
{
	char v[32];
	snprintf(v, sizeof(v), "%llu", (unsigned long long)pay_index);
	ds_put("pay-index", NULL, v, stored, NULL, NULL);
}

static void poll_next(void);
static void sync_again(void *arg);

static void retry_later(int ms)
{
	if (!retry_timer)
		retry_timer = loop_add_timer(ms, sync_again, NULL);
}

/* One waitanyinvoice result: count it if it is ours, move the index on. */
static bool take_invoice(const struct rpc_result *r)
{
	char label[256];
	uint8_t hash[32], pre[32];
	uint64_t idx = 0, msat = 0, paid_at = 0;
	struct invoice_label l;
	const struct json_doc *d = r->doc;
	int res = r->result;
	if (!json_get_u64(d, json_get(d, res, "pay_index"), &idx)
	    || !json_get_hex(d, json_get(d, res, "payment_hash"), hash, 32))
		return false;
	if (idx <= pay_index)
		return true; /* seen already */
	pay_index = idx;
	json_get_u64(d, json_get(d, res, "amount_received_msat"), &msat);
	if (json_get_string(d, json_get(d, res, "label"), label, sizeof(label), NULL)
	    && label_parse(label, &l)) {
		counted++;
		unpaid_paid(hash);
		if (json_get_hex(d, json_get(d, res, "payment_preimage"), pre, 32))
			note_token_preimage(label, hash, pre);
		routes_count_payment(l.tag, msat);
		plugin_log(LOG_DEBUG, "invoice %s paid (%llu msat)", label,
			   (unsigned long long)msat);
		json_get_u64(d, json_get(d, res, "paid_at"), &paid_at);
		if (observer) {
			struct sale s = { l.tag, l.token_id, hash, msat, paid_at, idx,
					  l.charge, l.session };
			observer(&s);
		}
	}
	return true;
}

static void polled(void *arg, const struct rpc_result *r)
{
	polling = false;
	if (r->status == RPC_OK && take_invoice(r)) {
		persist_pay_index();
		poll_next();
		return;
	}
	if (r->status == RPC_DISCONNECTED)
		return; /* the reconnection runs payments_sync again */
	plugin_log(LOG_UNUSUAL, "waitanyinvoice failed: %s; retrying", r->message);
	retry_later(2000);
}

/* A long poll for the next payment. */
static void poll_next(void)
{
	char params[96];
	if (polling)
		return;
	polling = true;
	snprintf(params, sizeof(params), "{\"lastpay_index\":%llu}",
		 (unsigned long long)pay_index);
	if (!rpc_call("waitanyinvoice", params, NULL, 0, polled, NULL)) {
		polling = false;
		retry_later(2000);
	}
}

static void caught_up_step(void *arg, const struct rpc_result *r);

static void catch_up(void)
{
	char params[96];
	snprintf(params, sizeof(params), "{\"lastpay_index\":%llu,\"timeout\":0}",
		 (unsigned long long)pay_index);
	if (!rpc_call("waitanyinvoice", params, NULL, RPC_TIMEOUT_MS, caught_up_step, NULL)) {
		syncing = false;
		retry_later(1000);
	}
}

static void caught_up_step(void *arg, const struct rpc_result *r)
{
	if (r->status == RPC_OK && take_invoice(r)) {
		catch_up();
		return;
	}
	if (r->status == RPC_ERROR && r->code == INVOICE_WAIT_TIMED_OUT) {
		/* Nothing newer: we are up to date. */
		persist_pay_index();
		caught_up = true;
		syncing = false;
		plugin_log(LOG_INFO, "payments caught up: pay index %llu",
			   (unsigned long long)pay_index);
		poll_next();
		return;
	}
	syncing = false;
	if (r->status != RPC_DISCONNECTED) {
		plugin_log(LOG_UNUSUAL, "catching up on payments failed: %s; retrying", r->message);
		retry_later(1000);
	}
}

static void got_pay_index(void *arg, const struct ds_entry *e)
{
	uint64_t v = strtoull(e->value, NULL, 10);
	if (v > pay_index)
		pay_index = v;
}

static void pay_index_loaded(void *arg, const struct rpc_result *r)
{
	if (r->status == RPC_OK) {
		catch_up();
		return;
	}
	syncing = false;
	if (r->status != RPC_DISCONNECTED)
		retry_later(1000);
}

void payments_sync(void)
{
	if (syncing)
		return;
	syncing = true;
	ds_list("pay-index", got_pay_index, pay_index_loaded, NULL, NULL);
}

static void sync_again(void *arg)
{
	retry_timer = 0;
	syncing = false;
	polling = false;
	payments_sync();
}
