#include "store/unpaid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json_out.h"
#include "store/label.h"
#include "core/log.h"
#include "core/loop.h"
#include "lightningd/rpc.h"
#include "core/state.h"

#define SWEEP_MS 10000
#define DELETES_PER_SWEEP 200
#define MAX_TRACKED (1u << 20)
#define PAGE 1000
#define RPC_TIMEOUT_MS 60000

struct unpaid {
	uint8_t hash[32];
	char label[LABEL_MAX];
	uint64_t expires_at;
	bool paid;
	bool counted;	/* in `live`: found unexpired (not a leftover to delete) */
};

static struct unpaid *tracked;
static size_t ntracked, cap_tracked;
static unsigned live;		/* tracked, counted, unpaid and not yet swept */
static unsigned asking;		/* places taken for invoices being asked for */
static uint64_t deleted;
static uint64_t sweep_timer;
static bool startup_swept;

bool unpaid_reserve(void)
{
	if (live + asking >= (unsigned)l402.cfg.max_unpaid)
		return false;
	asking++;
	return true;
}

void unpaid_release(void)
{
	if (asking)
		asking--;
}

unsigned unpaid_count(void)
{
	return live + asking;
}

uint64_t unpaid_deleted_count(void)
{
	return deleted;
}

static void track(const char *label, uint64_t expires_at, const uint8_t hash[32], bool counted)
{
	if (ntracked == cap_tracked) {
		size_t nc = cap_tracked ? cap_tracked * 2 : 1024;
		struct unpaid *n = cap_tracked >= MAX_TRACKED ? NULL
			: realloc(tracked, nc * sizeof(*n));
		if (!n) {
			/* Not tracked: the next start's sweep deletes it. */
			plugin_log(LOG_UNUSUAL, "too many unpaid invoices to track; %s left", label);
			return;
		}
		tracked = n;
		cap_tracked = nc;
	}
	struct unpaid *u = &tracked[ntracked++];
	memcpy(u->hash, hash, 32);
	snprintf(u->label, sizeof(u->label), "%s", label);
	u->expires_at = expires_at;
	u->paid = false;
	u->counted = counted;
	live += counted;
}

void unpaid_add(const char *label, uint64_t expires_at, const uint8_t hash[32])
{
	unpaid_release();
	track(label, expires_at, hash, true);
}

void unpaid_paid(const uint8_t hash[32])
{
	for (size_t i = ntracked; i > 0; i--)
		if (!tracked[i - 1].paid && memcmp(tracked[i - 1].hash, hash, 32) == 0) {
			tracked[i - 1].paid = true;
			live -= tracked[i - 1].counted;
			return;
		}
}

bool unpaid_pending(const uint8_t hash[32])
{
	for (size_t i = ntracked; i > 0; i--)
		if (memcmp(tracked[i - 1].hash, hash, 32) == 0)
			return !tracked[i - 1].paid;
	return false;
}

static void deleted_cb(void *arg, const struct rpc_result *r)
{
	/* Not found: already gone; unexpected status: paid at the last moment. Both are fine. */
	if (r->status == RPC_OK)
		deleted++;
	else if (!(r->status == RPC_ERROR && (r->code == INVOICE_NOT_FOUND || r->code == INVOICE_STATUS_UNEXPECTED)))
		plugin_log(LOG_DEBUG, "delinvoice failed: %s", r->message);
}

static void delete_invoice(const char *label)
{
	struct strbuf sb;
	struct json_out j;
	json_out_object(&j, &sb, 0);
	json_add_string(&j, "label", label);
	json_add_string(&j, "status", "expired");
	json_object_end(&j);
	if (!rpc_call("delinvoice", sb.data, NULL, 10000, deleted_cb, NULL))
		plugin_log(LOG_BROKEN, "delinvoice of %s could not be sent", label);
	strbuf_free(&sb);
}

static void sweep(void *arg)
{
	uint64_t now = (uint64_t)time(NULL);
	unsigned budget = DELETES_PER_SWEEP;
	size_t o = 0;
	sweep_timer = loop_add_timer(SWEEP_MS, sweep, NULL);
	for (size_t i = 0; i < ntracked; i++) {
		struct unpaid *u = &tracked[i];
		if (u->paid)
			continue;
		/* A second of grace: lightningd expires at expires_at. */
		if (u->expires_at + 1 < now && budget && rpc_connected()) {
			budget--;
			live -= u->counted;
			delete_invoice(u->label);
			continue;
		}
		tracked[o++] = *u;
	}
	ntracked = o;
}

static void list_page(uint64_t start);

/* A page of lightningd's invoices: ours that are unpaid count against the
 * cap until they expire; those expired already are deleted by the
 * sweeper, a budget at a time. */
static void got_invoices(void *arg, const struct rpc_result *r)
{
	if (r->status != RPC_OK) {
		startup_swept = false;
		return;
	}
	const struct json_doc *d = r->doc;
	uint64_t now = (uint64_t)time(NULL), next = 0;
	int i, e, seen = 0;
	json_for_each_arr(d, json_get(d, r->result, "invoices"), i, e) {
		char label[LABEL_MAX], status[16];
		uint8_t hash[32];
		uint64_t exp = 0, created = 0;
		seen++;
		if (json_get_u64(d, json_get(d, e, "created_index"), &created) && created >= next)
			next = created + 1;
		if (!json_get_string(d, json_get(d, e, "label"), label, sizeof(label), NULL)
		    || !label_is_ours(label)
		    || !json_get_string(d, json_get(d, e, "status"), status, sizeof(status), NULL)
		    || !json_get_hex(d, json_get(d, e, "payment_hash"), hash, 32))
			continue;
		json_get_u64(d, json_get(d, e, "expires_at"), &exp);
		if (strcmp(status, "expired") == 0)
			track(label, exp, hash, false);
		else if (strcmp(status, "unpaid") == 0 && exp > now)
			track(label, exp, hash, true);
	}
	if (seen == PAGE && next)
		list_page(next);
}

static void list_page(uint64_t start)
{
	char params[96];
	snprintf(params, sizeof(params), "{\"index\":\"created\",\"start\":%llu,\"limit\":%d}",
		 (unsigned long long)start, PAGE);
	if (!rpc_call("listinvoices", params, NULL, RPC_TIMEOUT_MS, got_invoices, NULL))
		startup_swept = false;
}

void unpaid_start(void)
{
	if (!sweep_timer)
		sweep_timer = loop_add_timer(SWEEP_MS, sweep, NULL);
	if (!startup_swept) {
		startup_swept = true;
		list_page(0);
	}
}

void unpaid_free(void)
{
	free(tracked);
	tracked = NULL;
	ntracked = cap_tracked = 0;
	live = asking = 0;
	if (sweep_timer)
		loop_cancel_timer(sweep_timer);
	sweep_timer = 0;
}
