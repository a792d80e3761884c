#include "store/tokens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lightningd/datastore.h"
#include "encoding.h"
#include "core/log.h"
#include "core/loop.h"
#include "lightningd/rpc.h"

#define MAX_WAITERS 32
#define NBUCKETS 65536
/* Entries kept in memory; past it, idle ones are dropped (and read again
 * from the datastore when next needed). Revoked ones always stay. */
#ifndef MAX_ENTRIES
#define MAX_ENTRIES (1u << 20)
#endif

struct waiter {
	void (*done)(void *arg, enum use_result);
	void *arg;
	uint64_t limit;		/* 0: a lookup, not a use */
	uint64_t amount;	/* what the use spends: 1 for a use, msat of a balance */
	uint64_t block;		/* the reservation to write ahead */
};

struct waiters {
	unsigned n;
	struct waiter w[MAX_WAITERS];
};

struct tok {
	struct tok *next;
	uint8_t id[32];
	uint64_t used, reserved;	/* reserved: persisted, acknowledged */
	uint64_t writing_to;
	unsigned holds;		/* metered requests that hold part of it, unsettled */
	struct waiters *waiting;	/* NULL when nobody waits */
	bool revoked;
	bool known;		/* used/reserved read from the datastore */
	bool reading, writing;
};

static struct tok *buckets[NBUCKETS];
static size_t nentries, evict_cursor;
/* Stopping cleanly: every reservation ahead of its uses is given back. */
static bool flushing;
static uint64_t nrevoked;
static struct ds_load load = { tokens_sync, false, false, 0 };

static bool idle(const struct tok *t)
{
	return !t->revoked && !t->waiting && !t->reading && !t->writing && !t->holds;
}

/* Drop idle entries, a bucket at a time, until under the cap. */
static void evict(void)
{
	for (size_t scanned = 0; nentries >= MAX_ENTRIES && scanned < NBUCKETS; scanned++) {
		struct tok **pp = &buckets[evict_cursor];
		evict_cursor = (evict_cursor + 1) % NBUCKETS;
		while (*pp) {
			struct tok *t = *pp;
			if (idle(t)) {
				*pp = t->next;
				free(t);
				nentries--;
			} else {
				pp = &t->next;
			}
		}
	}
}

static struct tok *find(const uint8_t id[32], bool create)
{
	uint32_t h;
	memcpy(&h, id, sizeof(h));
	struct tok **b = &buckets[h % NBUCKETS];
	for (struct tok *t = *b; t; t = t->next)
		if (memcmp(t->id, id, 32) == 0)
			return t;
	if (!create)
		return NULL;
	if (nentries >= MAX_ENTRIES)
		evict();
	struct tok *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	memcpy(t->id, id, 32);
	t->next = *b;
	*b = t;
	nentries++;
	return t;
}

bool token_revoked(const uint8_t id[32])
{
	struct tok *t = find(id, false);
	return t && t->revoked;
}

uint64_t tokens_revoked_count(void)
{
	return nrevoked;
}

size_t tokens_in_memory(void)
{
	return nentries;
}

uint64_t token_use_block(uint64_t limit)
{
	uint64_t b = limit / 10;
	return b < 1 ? 1 : b > USE_BLOCK_MAX ? USE_BLOCK_MAX : b;
}

uint64_t token_balance_block(uint64_t balance, uint64_t amount)
{
	uint64_t b = balance / 10;
	return b < amount ? amount : b;
}

static void stored(void *arg, const struct rpc_result *r)
{
	if (r->status != RPC_OK)
		plugin_log(LOG_UNUSUAL, "saving token state failed: %s", r->message);
}

static void hex_id(const uint8_t id[32], char hex[65])
{
	hex_encode(id, 32, hex, 65);
}

bool token_revoke(const uint8_t id[32])
{
	struct tok *t = find(id, true);
	char when[32], hex[65];
	if (!t || t->revoked)
		return false;
	t->revoked = true;
	nrevoked++;
	snprintf(when, sizeof(when), "%lld", (long long)time(NULL));
	hex_id(id, hex);
	ds_put("revoked", hex, when, stored, NULL, NULL);
	return true;
}

static bool add_waiter(struct tok *t, const struct waiter *w)
{
	if (!t->waiting && !(t->waiting = calloc(1, sizeof(*t->waiting))))
		return false;
	if (t->waiting->n == MAX_WAITERS)
		return false;
	t->waiting->w[t->waiting->n++] = *w;
	return true;
}

static void reserve(struct tok *t, const struct waiter *w);
static void reserve_to(struct tok *t, uint64_t to);
static void read_uses(struct tok *t);

/* Serve the waiters, in order, after a read or a reservation landed (ok)
 * or failed. Those a full block leaves waiting wait for the next one. */
static void wake(struct tok *t, bool ok)
{
	struct waiters *ws = t->waiting;
	if (!ws)
		return;
	struct waiters now = *ws;
	ws->n = 0;
	for (unsigned i = 0; i < now.n; i++) {
		struct waiter *w = &now.w[i];
		enum use_result r;
		if (!ok)
			r = USE_FAIL;
		else if (w->limit == 0)
			r = USE_OK;	/* a lookup: the count is known now */
		else if (w->amount > w->limit - (t->used < w->limit ? t->used : w->limit))
			r = USE_EXHAUSTED;
		else if (t->used + w->amount <= t->reserved) {
			t->used += w->amount;
			r = USE_OK;
		} else {
			ws->w[ws->n++] = *w;
			continue;
		}
		w->done(w->arg, r);
	}
	if (ws->n && !t->writing)
		reserve(t, &ws->w[0]);
	if (!ws->n) {
		free(ws);
		t->waiting = NULL;
	}
}

static void reserved_cb(void *arg, const struct rpc_result *r)
{
	struct tok *t = arg;
	t->writing = false;
	if (r->status == RPC_OK)
		t->reserved = t->writing_to;
	else
		plugin_log(LOG_UNUSUAL, "reserving token uses failed: %s", r->message);
	wake(t, r->status == RPC_OK);
	if (flushing && r->status == RPC_OK && t->reserved > t->used && !t->writing && !t->waiting)
		reserve_to(t, t->used);
}

/* The next reservation for a waiter: a block ahead, never past its limit. */
static void reserve(struct tok *t, const struct waiter *w)
{
	uint64_t to = t->used + (w->block > w->amount ? w->block : w->amount);
	reserve_to(t, to > w->limit ? w->limit : to);
}

static void reserve_to(struct tok *t, uint64_t to)
{
	char v[32], hex[65];
	t->writing = true;
	t->writing_to = to;
	snprintf(v, sizeof(v), "%llu", (unsigned long long)to);
	hex_id(t->id, hex);
	ds_put("uses", hex, v, reserved_cb, t, NULL);
}

static void got_uses(void *arg, const struct ds_entry *e)
{
	struct tok *t = arg;
	uint64_t v = strtoull(e->value, NULL, 10);
	/* What was reserved may have been used: count it so. */
	if (v > t->reserved)
		t->reserved = v;
	if (v > t->used)
		t->used = v;
}

static void uses_read(void *arg, const struct rpc_result *r)
{
	struct tok *t = arg;
	t->reading = false;
	if (r->status == RPC_OK)
		t->known = true;
	else
		plugin_log(LOG_UNUSUAL, "reading token uses failed: %s", r->message);
	wake(t, t->known);
}

static void read_uses(struct tok *t)
{
	char hex[65];
	t->reading = true;
	hex_id(t->id, hex);
	ds_get("uses", hex, got_uses, uses_read, t);
}

/* Wait for t's count to be read, or for a reservation to cover a use. */
static enum use_result wait_for(struct tok *t, const struct waiter *w)
{
	if (!rpc_connected() || !add_waiter(t, w))
		return USE_FAIL;
	if (!t->known && !t->reading)
		read_uses(t);
	else if (t->known && !t->writing && w->limit)
		reserve(t, w);
	return USE_WAIT;
}

enum use_result token_spend(const uint8_t id[32], uint64_t limit, uint64_t amount, uint64_t block,
			    void (*done)(void *arg, enum use_result), void *arg)
{
	struct tok *t = find(id, true);
	struct waiter w = { done, arg, limit, amount, block };
	if (!t)
		return USE_FAIL;
	if (amount == 0 || (t->known && (t->used >= limit || amount > limit - t->used)))
		return amount == 0 ? USE_OK : USE_EXHAUSTED;
	if (t->known && t->used + amount <= t->reserved && !t->writing && !t->waiting) {
		t->used += amount;
		return USE_OK;
	}
	return wait_for(t, &w);
}

enum use_result token_use(const uint8_t id[32], uint64_t limit,
			  void (*done)(void *arg, enum use_result), void *arg)
{
	return token_spend(id, limit, 1, token_use_block(limit), done, arg);
}

void token_hold(const uint8_t id[32])
{
	struct tok *t = find(id, true);
	if (t)
		t->holds++;
}

unsigned token_pending(const uint8_t id[32])
{
	struct tok *t = find(id, false);
	unsigned n = t ? t->holds : 0;
	if (t && t->waiting)
		for (unsigned i = 0; i < t->waiting->n; i++)
			n += t->waiting->w[i].limit != 0; /* a spend, not a lookup */
	return n;
}

void token_settle(const uint8_t id[32], uint64_t limit, uint64_t held, uint64_t cost)
{
	struct tok *t = find(id, false);
	if (t && t->holds)
		t->holds--;
	if (!t || !t->known)
		return; /* not read: the hold stays spent, in the node's favour */
	if (cost <= held) {
		uint64_t back = held - cost;
		t->used -= back < t->used ? back : t->used;
		return;
	}
	uint64_t extra = cost - held, room = t->used < limit ? limit - t->used : 0;
	t->used += extra < room ? extra : room;
	/* Served already: persist what it cost, without making anyone wait. */
	if (t->used > t->reserved && !t->writing)
		reserve_to(t, t->used);
}

void tokens_flush(void)
{
	flushing = true;
	for (size_t i = 0; i < NBUCKETS; i++)
		for (struct tok *t = buckets[i]; t; t = t->next)
			if (t->known && t->reserved > t->used && !t->writing && !t->waiting)
				reserve_to(t, t->used);
}

enum use_result token_used(const uint8_t id[32], uint64_t *used,
			   void (*done)(void *arg, enum use_result), void *arg)
{
	struct tok *t = find(id, true);
	if (!t)
		return USE_FAIL;
	if (t->known) {
		*used = t->used;
		return USE_OK;
	}
	struct waiter w = { done, arg, 0, 0, 0 };
	return done ? wait_for(t, &w) : USE_FAIL;
}

bool token_spent(const uint8_t id[32], uint64_t *used)
{
	const struct tok *t = find(id, false);
	if (!t || !t->known)
		return false;
	*used = t->used;
	return true;
}

static void got_revoked(void *arg, const struct ds_entry *e)
{
	uint8_t id[32];
	size_t n;
	struct tok *t;
	if (strlen(e->name) != 64 || !hex_decode(e->name, 64, id, 32, &n) || !(t = find(id, true)))
		return;
	if (!t->revoked)
		nrevoked++;
	t->revoked = true;
}

static void revoked_loaded(void *arg, const struct rpc_result *r)
{
	if (!ds_load_failed(&load, r))
		ds_load_finish(&load);
}

void tokens_sync(void)
{
	if (ds_load_begin(&load))
		ds_list("revoked", got_revoked, revoked_loaded, NULL, NULL);
}

bool tokens_synced(void)
{
	return load.done;
}

void tokens_free(void)
{
	for (size_t i = 0; i < NBUCKETS; i++) {
		while (buckets[i]) {
			struct tok *t = buckets[i];
			buckets[i] = t->next;
			free(t->waiting);
			free(t);
		}
	}
	nentries = 0;
	nrevoked = 0;
	flushing = false;
	load.done = load.running = false;
}
