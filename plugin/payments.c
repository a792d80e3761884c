#include "paid.h"

#include <openssl/crypto.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "encoding.h"
#include "datastore.h"
#include "json_out.h"
#include "label.h"
#include "unpaid.h"
#include "log.h"
#include "loop.h"
#include "routes.h"
#include "rpc.h"

#define RPC_TIMEOUT_MS 30000

struct entry {
	uint8_t hash[32];
	uint64_t msat;
	bool used;
};

/* Open addressing keyed by the payment hash (already uniformly random). */
static struct entry *table;
static size_t cap, count;
static bool loaded, syncing, polling;
static uint64_t pay_index;
static uint64_t retry_timer;

bool paid_loaded(void)
{
	return loaded;
}

void paid_status(struct paid_status *st)
{
	st->loaded = loaded;
	st->count = count;
	st->pay_index = pay_index;
}

static size_t slot_of(const uint8_t hash[32], size_t c)
{
	uint64_t h;
	memcpy(&h, hash, sizeof(h));
	return (size_t)h & (c - 1);
}

static bool insert(const uint8_t hash[32], uint64_t msat)
{
	if (count + 1 > cap * 7 / 10) {
		size_t ncap = cap ? cap * 2 : 1024;
		struct entry *n = calloc(ncap, sizeof(*n));
		if (!n)
			return false;
		for (size_t i = 0; i < cap; i++) {
			if (!table[i].used)
				continue;
			size_t s = slot_of(table[i].hash, ncap);
			while (n[s].used)
				s = (s + 1) & (ncap - 1);
			n[s] = table[i];
		}
		free(table);
		table = n;
		cap = ncap;
	}
	size_t s = slot_of(hash, cap);
	while (table[s].used) {
		if (memcmp(table[s].hash, hash, 32) == 0)
			return false; /* already known */
		s = (s + 1) & (cap - 1);
	}
	memcpy(table[s].hash, hash, 32);
	table[s].msat = msat;
	table[s].used = true;
	count++;
	return true;
}

bool paid_lookup(const uint8_t hash[32], uint64_t *msat)
{
	if (!cap)
		return false;
	size_t s = slot_of(hash, cap);
	while (table[s].used) {
		if (CRYPTO_memcmp(table[s].hash, hash, 32) == 0) {
			if (msat)
				*msat = table[s].msat;
			return true;
		}
		s = (s + 1) & (cap - 1);
	}
	return false;
}

static void stored(void *arg, const struct rpc_result *r)
{
	if (r->status != RPC_OK)
		plugin_log(LOG_UNUSUAL, "persisting paid state failed: %s (kept in memory; "
			   "the next catch-up restores it)", r->message);
}

static void persist(const uint8_t hash[32], uint64_t msat)
{
	char hex[65], val[256];
	hex_encode(hash, 32, hex, sizeof(hex));
	snprintf(val, sizeof(val), "{\"msat\":%llu,\"at\":%lld}", (unsigned long long)msat,
		 (long long)time(NULL));
	ds_put("paid", hex, val, stored, NULL, NULL);
}

static void persist_pay_index(void)
{
	char v[32];
	snprintf(v, sizeof(v), "%llu", (unsigned long long)pay_index);
	ds_put("pay-index", NULL, v, stored, NULL, NULL);
}

void paid_add_minted(const uint8_t hash[32])
{
	if (insert(hash, 0))
		persist(hash, 0);
}

/* Record a payment; persists it if it is new. */
static void record(const char *label, const uint8_t hash[32], uint64_t msat)
{
	if (!label_is_ours(label))
		return;
	if (insert(hash, msat)) {
		struct invoice_label l;
		persist(hash, msat);
		unpaid_paid(hash);
		if (label_parse(label, &l))
			routes_count_payment(l.tag, msat);
		plugin_log(LOG_DEBUG, "invoice %s paid (%llu msat)", label,
			   (unsigned long long)msat);
	}
}

void paid_on_notification(const char *label, const char *preimage_hex, uint64_t msat)
{
	uint8_t pre[32], hash[32];
	size_t n;
	if (!hex_decode(preimage_hex, strlen(preimage_hex), pre, sizeof(pre), &n) || n != 32) {
		plugin_log(LOG_UNUSUAL, "invoice_payment notification with a bad preimage");
		return;
	}
	crypto_hash_sha256(hash, pre, sizeof(pre));
	record(label, hash, msat);
}

static void poll_next(void);

static void schedule_retry(void (*fn)(void *), int ms)
{
	if (!retry_timer)
		retry_timer = loop_add_timer(ms, fn, NULL);
}

static void retry_sync(void *arg)
{
	retry_timer = 0;
	syncing = false;
	polling = false;
	paid_sync();
}

/* One waitanyinvoice result: record it and move the pay index on. */
static bool take_invoice(const struct rpc_result *r)
{
	char label[256];
	uint8_t hash[32];
	uint64_t idx = 0, msat = 0;
	const struct json_doc *d = r->doc;
	int res = r->result;
	if (!json_get_u64(d, json_get(d, res, "pay_index"), &idx)
	    || !json_get_hex(d, json_get(d, res, "payment_hash"), hash, 32))
		return false;
	json_get_u64(d, json_get(d, res, "amount_received_msat"), &msat);
	if (json_get_string(d, json_get(d, res, "label"), label, sizeof(label), NULL))
		record(label, hash, msat);
	if (idx > pay_index)
		pay_index = idx;
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
		return; /* the reconnection runs paid_sync again */
	plugin_log(LOG_UNUSUAL, "waitanyinvoice failed: %s; retrying", r->message);
	schedule_retry(retry_sync, 2000);
}

/* A long poll for the next payment: a second source besides the
 * notification, which a plugin restart or a dropped socket can miss. */
static void poll_next(void)
{
	char params[96];
	if (polling)
		return;
	polling = true;
	snprintf(params, sizeof(params), "{\"lastpay_index\":%llu}",
		 (unsigned long long)pay_index);
	rpc_call("waitanyinvoice", params, NULL, 0, polled, NULL);
}

static void caught_up_step(void *arg, const struct rpc_result *r);

static void catch_up(void)
{
	char params[96];
	snprintf(params, sizeof(params), "{\"lastpay_index\":%llu,\"timeout\":0}",
		 (unsigned long long)pay_index);
	rpc_call("waitanyinvoice", params, NULL, RPC_TIMEOUT_MS, caught_up_step, NULL);
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
		loaded = true;
		syncing = false;
		plugin_log(LOG_INFO, "paid state loaded: %llu paid invoices, pay index %llu",
			   (unsigned long long)count, (unsigned long long)pay_index);
		poll_next();
		return;
	}
	syncing = false;
	if (r->status != RPC_DISCONNECTED) {
		plugin_log(LOG_UNUSUAL, "catching up on payments failed: %s; retrying", r->message);
		schedule_retry(retry_sync, 1000);
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
		schedule_retry(retry_sync, 1000);
}

static void got_paid(void *arg, const struct ds_entry *e)
{
	uint8_t hash[32];
	size_t n;
	uint64_t msat = 0;
	const char *m = strstr(e->value, "\"msat\":");
	if (strlen(e->name) != 64 || !hex_decode(e->name, 64, hash, 32, &n))
		return;
	if (m)
		msat = strtoull(m + 7, NULL, 10);
	insert(hash, msat);
}

static void paid_set_loaded(void *arg, const struct rpc_result *r)
{
	if (r->status != RPC_OK) {
		syncing = false;
		if (r->status != RPC_DISCONNECTED) {
			plugin_log(LOG_UNUSUAL, "loading paid state failed: %s; retrying", r->message);
			schedule_retry(retry_sync, 1000);
		}
		return;
	}
	ds_list("pay-index", got_pay_index, pay_index_loaded, NULL, NULL);
}

void paid_sync(void)
{
	if (syncing)
		return;
	syncing = true;
	ds_list("paid", got_paid, paid_set_loaded, NULL, NULL);
}

void paid_free(void)
{
	free(table);
	table = NULL;
	cap = count = 0;
}
