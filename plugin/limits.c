#include "limits.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json_out.h"
#include "log.h"
#include "loop.h"
#include "paid.h"
#include "rpc.h"
#include "state.h"

/* Buckets: a fixed, set-associative table; a new key replaces the least
 * recently used entry of its set, so memory never grows. */
#define SETS 16384
#define WAYS 4
#define SWEEP_MS 10000
#define DELETES_PER_SWEEP 200
#define MAX_TRACKED (1u << 20)

struct bucket {
	uint64_t key;
	double tokens;
	int64_t last_ms;
};

static struct bucket table[SETS][WAYS];

static int64_t now_ms(void)
{
	return loop_now_ms();
}

unsigned limits_take(char kind, uint64_t route_id, const char *subject,
		     uint32_t n, uint32_t per, uint32_t burst)
{
	uint8_t h[32];
	crypto_hash_sha256_state st;
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)&kind, 1);
	crypto_hash_sha256_update(&st, (const uint8_t *)&route_id, sizeof(route_id));
	crypto_hash_sha256_update(&st, (const uint8_t *)subject, strlen(subject));
	crypto_hash_sha256_final(&st, h);
	uint64_t key;
	memcpy(&key, h, sizeof(key));
	key |= 1; /* 0 marks an empty slot */
	struct bucket *set = table[(key >> 1) % SETS], *b = NULL, *oldest = &set[0];
	int64_t t = now_ms();
	for (int i = 0; i < WAYS; i++) {
		if (set[i].key == key) {
			b = &set[i];
			break;
		}
		if (set[i].last_ms < oldest->last_ms)
			oldest = &set[i];
	}
	double rate = (double)n / (double)per / 1000.0; /* per ms */
	if (!b) {
		b = oldest;
		b->key = key;
		b->tokens = burst;
	} else {
		b->tokens += (double)(t - b->last_ms) * rate;
		if (b->tokens > burst)
			b->tokens = burst;
	}
	b->last_ms = t;
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
		return 0;
	}
	double wait_ms = (1.0 - b->tokens) / rate;
	unsigned s = (unsigned)(wait_ms / 1000.0) + 1;
	return s;
}

bool limits_parse_rate(const char *s, uint32_t *n, uint32_t *per)
{
	char *end;
	unsigned long a = strtoul(s, &end, 10);
	if (end == s || *end != '/' || a == 0 || a > 1000000)
		return false;
	const char *p = end + 1;
	unsigned long b = strtoul(p, &end, 10);
	if (end == p || *end || b == 0 || b > 86400 * 366)
		return false;
	*n = (uint32_t)a;
	*per = (uint32_t)b;
	return true;
}

/* ---- unpaid invoices ---- */

struct unpaid {
	uint8_t hash[32];
	char label[128];
	uint64_t expires_at;
	bool paid;
};

static struct unpaid *tracked;
static size_t ntracked, cap_tracked;
static unsigned live;	/* tracked, unpaid and not yet swept */
static uint64_t deleted;
static uint64_t sweep_timer;
static bool startup_swept;

bool limits_unpaid_room(void)
{
	return live < (unsigned)l402.cfg.max_unpaid;
}

unsigned limits_unpaid_count(void)
{
	return live;
}

uint64_t limits_deleted_count(void)
{
	return deleted;
}

void limits_unpaid_add(const char *label, uint64_t expires_at, const uint8_t hash[32])
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

void limits_unpaid_paid(const uint8_t hash[32])
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
	/* 905: already gone; 906: paid at the last moment. Both are fine. */
	if (r->status == RPC_OK)
		deleted++;
	else if (!(r->status == RPC_ERROR && (r->code == 905 || r->code == 906)))
		plugin_log(LOG_DEBUG, "delinvoice failed: %s", r->message);
}

static void delete_invoice(const char *label)
{
	struct strbuf sb;
	struct json_out j;
	strbuf_init(&sb, 0);
	json_out_init(&j, &sb);
	json_object_start(&j, NULL);
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
	for (int i = 0; json_is_array(r->doc, invs) && i < r->doc->toks[invs].size; i++) {
		int e = json_at(r->doc, invs, i);
		char label[128], status[16];
		uint8_t hash[32];
		uint64_t exp = 0;
		if (!json_get_string(r->doc, json_get(r->doc, e, "label"), label, sizeof(label), NULL)
		    || strncmp(label, L402_LABEL_PREFIX, strlen(L402_LABEL_PREFIX)) != 0
		    || !json_get_string(r->doc, json_get(r->doc, e, "status"), status, sizeof(status), NULL)
		    || !json_get_hex(r->doc, json_get(r->doc, e, "payment_hash"), hash, 32))
			continue;
		json_get_u64(r->doc, json_get(r->doc, e, "expires_at"), &exp);
		if (strcmp(status, "expired") == 0)
			delete_invoice(label);
		else if (strcmp(status, "unpaid") == 0 && exp > now)
			limits_unpaid_add(label, exp, hash);
	}
}

void limits_start(void)
{
	if (!sweep_timer)
		sweep_timer = loop_add_timer(SWEEP_MS, sweep, NULL);
	if (!startup_swept) {
		startup_swept = true;
		rpc_call("listinvoices", "{}", NULL, 60000, got_invoices, NULL);
	}
}

void limits_free(void)
{
	free(tracked);
	tracked = NULL;
	ntracked = cap_tracked = 0;
	if (sweep_timer)
		loop_cancel_timer(sweep_timer);
	sweep_timer = 0;
}
