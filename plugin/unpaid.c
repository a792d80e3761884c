#include "unpaid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json_out.h"
#include "label.h"
#include "log.h"
#include "loop.h"
#include "rpc.h"
#include "state.h"

#define SWEEP_MS 10000
#define DELETES_PER_SWEEP 200
#define MAX_TRACKED (1u << 20)

struct unpaid {
	uint8_t hash[32];
	char label[LABEL_MAX];
	uint64_t expires_at;
	bool paid;
};

static struct unpaid *tracked;
static size_t ntracked, cap_tracked;
static unsigned live;	/* tracked, unpaid and not yet swept */
static uint64_t deleted;
static uint64_t sweep_timer;
static bool startup_swept;

bool unpaid_room(void)
{
	return live < (unsigned)l402.cfg.max_unpaid;
}

unsigned unpaid_count(void)
{
	return live;
}

uint64_t unpaid_deleted_count(void)
{
	return deleted;
}

void unpaid_add(const char *label, uint64_t expires_at, const uint8_t hash[32])
{
	if (ntracked == cap_tracked) {
		if (cap_tracked >= MAX_TRACKED)
			return;
		size_t nc = cap_tracked ? cap_tracked * 2 : 1024;
		struct unpaid *n = realloc(tracked, nc * sizeof(*n));
		if (!n)
			return;
		tracked = n;
		cap_tracked = nc;
	}
	struct unpaid *u = &tracked[ntracked++];
	memcpy(u->hash, hash, 32);
	snprintf(u->label, sizeof(u->label), "%s", label);
	u->expires_at = expires_at;
	u->paid = false;
	live++;
}

void unpaid_paid(const uint8_t hash[32])
{
	for (size_t i = ntracked; i > 0; i--)
		if (!tracked[i - 1].paid && memcmp(tracked[i - 1].hash, hash, 32) == 0) {
			tracked[i - 1].paid = true;
			live--;
			return;
		}
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
	rpc_call("delinvoice", sb.data, NULL, 10000, deleted_cb, NULL);
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
			live--;
			delete_invoice(u->label);
			continue;
		}
		tracked[o++] = *u;
	}
	ntracked = o;
}

static void got_invoices(void *arg, const struct rpc_result *r)
{
	if (r->status != RPC_OK) {
		startup_swept = false;
		return;
	}
	int invs = json_get(r->doc, r->result, "invoices");
	uint64_t now = (uint64_t)time(NULL);
	int i, e;
	json_for_each_arr(r->doc, invs, i, e) {
		char label[LABEL_MAX], status[16];
		uint8_t hash[32];
		uint64_t exp = 0;
		if (!json_get_string(r->doc, json_get(r->doc, e, "label"), label, sizeof(label), NULL)
		    || !label_is_ours(label)
		    || !json_get_string(r->doc, json_get(r->doc, e, "status"), status, sizeof(status), NULL)
		    || !json_get_hex(r->doc, json_get(r->doc, e, "payment_hash"), hash, 32))
			continue;
		json_get_u64(r->doc, json_get(r->doc, e, "expires_at"), &exp);
		if (strcmp(status, "expired") == 0)
			delete_invoice(label);
		else if (strcmp(status, "unpaid") == 0 && exp > now)
			unpaid_add(label, exp, hash);
	}
}

void unpaid_start(void)
{
	if (!sweep_timer)
		sweep_timer = loop_add_timer(SWEEP_MS, sweep, NULL);
	if (!startup_swept) {
		startup_swept = true;
		rpc_call("listinvoices", "{}", NULL, 60000, got_invoices, NULL);
	}
}

void unpaid_free(void)
{
	free(tracked);
	tracked = NULL;
	ntracked = cap_tracked = 0;
	if (sweep_timer)
		loop_cancel_timer(sweep_timer);
	sweep_timer = 0;
}
