#include "tokens.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "datastore.h"
#include "encoding.h"
#include "log.h"
#include "loop.h"
#include "rpc.h"

#define MAX_WAITERS 32

struct waiter {
	void (*done)(void *arg, enum use_result);
	void *arg;
	uint64_t limit;
};

struct tok {
	struct tok *next;
	uint8_t id[32];
	bool revoked;
	uint64_t used, reserved;
	bool writing;
	uint64_t writing_to;
	struct waiter waiters[MAX_WAITERS];
	unsigned nwaiters;
};

#define NBUCKETS 4096
static struct tok *buckets[NBUCKETS];
static uint64_t nrevoked;
static struct ds_load load = { tokens_sync, false, false, 0 };

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
	struct tok *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	memcpy(t->id, id, 32);
	t->next = *b;
	*b = t;
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

uint64_t token_used(const uint8_t id[32])
{
	struct tok *t = find(id, false);
	return t ? t->used : 0;
}

static void stored(void *arg, const struct rpc_result *r)
{
	if (r->status != RPC_OK)
		plugin_log(LOG_UNUSUAL, "saving token state failed: %s", r->message);
}

static void put(const char *kind, const uint8_t id[32], const char *value,
		rpc_cb cb, void *arg)
{
	char hex[65];
	hex_encode(id, 32, hex, sizeof(hex));
	ds_put(kind, hex, value, cb, arg, NULL);
}

bool token_revoke(const uint8_t id[32])
{
	struct tok *t = find(id, true);
	char when[32];
	if (!t || t->revoked)
		return false;
	t->revoked = true;
	nrevoked++;
	snprintf(when, sizeof(when), "%lld", (long long)time(NULL));
	put("revoked", id, when, stored, NULL);
	return true;
}

static void reserve(struct tok *t, uint64_t limit);

/* Waiters are served in order once a reservation lands (or fails). */
static void wake(struct tok *t, bool ok)
{
	struct waiter w[MAX_WAITERS];
	unsigned n = t->nwaiters;
	memcpy(w, t->waiters, sizeof(w[0]) * n);
	t->nwaiters = 0;
	for (unsigned i = 0; i < n; i++) {
		enum use_result r;
		if (!ok)
			r = USE_FAIL;
		else if (t->used >= w[i].limit)
			r = USE_EXHAUSTED;
		else if (t->used < t->reserved) {
			t->used++;
			r = USE_OK;
		} else {
			/* This block is used up too: queue again for the next. */
			t->waiters[t->nwaiters++] = w[i];
			continue;
		}
		w[i].done(w[i].arg, r);
	}
	if (t->nwaiters && !t->writing)
		reserve(t, t->waiters[0].limit);
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
}

static void reserve(struct tok *t, uint64_t limit)
{
	char v[32];
	uint64_t to = t->used + USE_BLOCK;
	if (to > limit)
		to = limit;
	t->writing = true;
	t->writing_to = to;
	snprintf(v, sizeof(v), "%llu", (unsigned long long)to);
	put("uses", t->id, v, reserved_cb, t);
}

enum use_result token_use(const uint8_t id[32], uint64_t limit,
			  void (*done)(void *arg, enum use_result), void *arg)
{
	struct tok *t = find(id, true);
	if (!t)
		return USE_FAIL;
	if (t->used >= limit)
		return USE_EXHAUSTED;
	if (t->used < t->reserved && !t->writing) {
		t->used++;
		return USE_OK;
	}
	if (t->nwaiters == MAX_WAITERS || !rpc_connected())
		return USE_FAIL;
	t->waiters[t->nwaiters++] = (struct waiter){ done, arg, limit };
	if (!t->writing)
		reserve(t, limit);
	return USE_WAIT;
}

/* The token a record of ours is about, by its hex id. */
static struct tok *entry_token(const struct ds_entry *e)
{
	uint8_t id[32];
	size_t n;
	if (strlen(e->name) != 64 || !hex_decode(e->name, 64, id, 32, &n))
		return NULL;
	return find(id, true);
}

static void got_revoked(void *arg, const struct ds_entry *e)
{
	struct tok *t = entry_token(e);
	if (!t)
		return;
	if (!t->revoked)
		nrevoked++;
	t->revoked = true;
}

static void got_uses(void *arg, const struct ds_entry *e)
{
	struct tok *t = entry_token(e);
	if (!t)
		return;
	uint64_t v = strtoull(e->value, NULL, 10);
	/* What was reserved may have been used: count it so. */
	if (v > t->reserved)
		t->reserved = v;
	if (v > t->used)
		t->used = v;
}

/* Revocations, then uses; a failure of either starts both again. */
static void uses_loaded(void *arg, const struct rpc_result *r)
{
	if (!ds_load_failed(&load, r))
		ds_load_finish(&load);
}

static void revoked_loaded(void *arg, const struct rpc_result *r)
{
	if (!ds_load_failed(&load, r))
		ds_list("uses", got_uses, uses_loaded, NULL, NULL);
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
			free(t);
		}
	}
	nrevoked = 0;
	load.done = load.running = false;
}
