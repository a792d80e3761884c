/* The L402 secret: derived with lightningd's makesecret from a string
 * that names a rotation generation kept in the datastore. Nothing secret
 * is stored, and restoring the node from its seed restores every token.
 * The generation key is created with must-create, so two plugin starts
 * racing each other both end up reading the same generation. */
#include <pthread.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lightningd/datastore.h"
#include "encoding.h"
#include "store/secret.h"
#include "core/state.h"
#include "core/log.h"
#include "core/loop.h"
#include "lightningd/rpc.h"

/* Stored as ["l402","secret-generation"]. */
#define GEN_GROUP "secret-generation"
#define RPC_TIMEOUT_MS 30000

/* What HTTP threads read without the loop's lock: the secret in use and
 * its generation, under this lock (a leaf), written only by install(). */
static pthread_mutex_t published_mu = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *secret;	/* sodium_malloc'd: guarded, locked, wiped */
static bool ready;
static uint64_t published_generation;
/* ready ? published_generation + 1 : 0, written with them under the lock
 * and read without it: a request whose verdict is cached needs to know
 * the generation, not the secret. */
static _Atomic uint64_t published_state;

/* The loop's own: the generation being derived, and the work under way. */
static bool busy;
static uint64_t generation;
static uint64_t retry_timer;

bool secret_ready(void)
{
	return atomic_load(&published_state) != 0;
}

bool secret_ready_generation(uint64_t *gen)
{
	uint64_t st = atomic_load(&published_state);
	*gen = st ? st - 1 : 0;
	return st != 0;
}

uint64_t secret_generation(void)
{
	pthread_mutex_lock(&published_mu);
	uint64_t g = published_generation;
	pthread_mutex_unlock(&published_mu);
	return g;
}

bool secret_get_generation(uint8_t out[32], uint64_t *gen)
{
	pthread_mutex_lock(&published_mu);
	bool r = ready;
	if (r) {
		memcpy(out, secret, 32);
		if (gen)
			*gen = published_generation;
	}
	pthread_mutex_unlock(&published_mu);
	return r;
}

bool secret_get(uint8_t out[32])
{
	return secret_get_generation(out, NULL);
}

void secret_wipe(void)
{
	pthread_mutex_lock(&published_mu);
	if (secret)
		sodium_free(secret);
	secret = NULL;
	ready = false;
	atomic_store(&published_state, 0);
	pthread_mutex_unlock(&published_mu);
}

static void retry(void *arg)
{
	retry_timer = 0;
	secret_start();
}

static void failed(const char *step, const struct rpc_result *r)
{
	busy = false;
	plugin_log(LOG_UNUSUAL, "deriving the L402 secret: %s failed (%s); retrying",
		   step, r->message);
	if (!retry_timer)
		retry_timer = loop_add_timer(1000, retry, NULL);
}

/* The 32-byte secret of a makesecret reply into out. */
static bool secret_from_reply(const struct rpc_result *r, uint8_t out[32])
{
	size_t len, n;
	int t = json_get(r->doc, r->result, "secret");
	const char *hex = json_raw(r->doc, t, &len);
	return json_is_string(r->doc, t) && hex_decode(hex, len, out, 32, &n) && n == 32;
}

/* Install a freshly derived secret of generation gen. */
static bool install(const uint8_t fresh[32], uint64_t gen)
{
	pthread_mutex_lock(&published_mu);
	if (!secret)
		secret = sodium_malloc(32);
	bool ok = secret != NULL;
	if (ok) {
		memcpy(secret, fresh, 32);
		published_generation = gen;
		ready = true;
		atomic_store(&published_state, gen + 1);
	}
	pthread_mutex_unlock(&published_mu);
	generation = gen;
	return ok;
}

static void got_secret(void *arg, const struct rpc_result *r)
{
	uint8_t fresh[32];
	if (r->status != RPC_OK) {
		failed("makesecret", r);
		return;
	}
	bool ok = secret_from_reply(r, fresh) && install(fresh, generation);
	sodium_memzero(fresh, sizeof(fresh));
	if (!ok) {
		struct rpc_result bad = *r;
		snprintf(bad.message, sizeof(bad.message), "no 32-byte secret in the reply");
		failed("makesecret", &bad);
		return;
	}
	busy = false;
	plugin_log(LOG_INFO, "L402 secret ready (generation %llu)",
		   (unsigned long long)generation);
}

/* The one text the secret of a generation is derived from: if it ever
 * changed, every token sold before would stop verifying. */
static void makesecret(uint64_t gen, rpc_cb cb, void *arg)
{
	char params[128];
	snprintf(params, sizeof(params),
		 "{\"string\":\"cln-l402 token secret generation %llu\"}",
		 (unsigned long long)gen);
	if (!rpc_call("makesecret", params, NULL, RPC_TIMEOUT_MS, cb, arg))
		cb(arg, &(struct rpc_result){ RPC_ERROR, NULL, -1, -1, "cannot ask for makesecret" });
}

/* The stored generation: a decimal string, and the datastore entry's own
 * generation for compare-and-swap. */
struct stored_gen {
	bool found;
	uint64_t value, ds_generation;
};

static void got_generation(void *arg, const struct ds_entry *e)
{
	struct stored_gen *g = arg;
	char *end;
	g->value = strtoull(e->value, &end, 10);
	g->found = *e->value && !*end;
	g->ds_generation = e->generation;
}

static struct stored_gen startup_gen;

static void generation_loaded(void *arg, const struct rpc_result *r)
{
	if (r->status != RPC_OK) {
		failed("listdatastore", r);
		return;
	}
	if (!startup_gen.found) {
		struct rpc_result bad = *r;
		snprintf(bad.message, sizeof(bad.message), "stored generation is not a number");
		failed("listdatastore", &bad);
		return;
	}
	generation = startup_gen.value;
	makesecret(generation, got_secret, NULL);
}

static void created_generation(void *arg, const struct rpc_result *r)
{
	if (r->status == RPC_OK) {
		generation = 0;
		makesecret(generation, got_secret, NULL);
	} else if (r->status == RPC_ERROR && r->code == DATASTORE_UPDATE_ALREADY_EXISTS) {
		/* Already there: an earlier start, or a restore. Read it. */
		startup_gen.found = false;
		ds_list(GEN_GROUP, got_generation, generation_loaded, &startup_gen, NULL);
	} else {
		failed("datastore", r);
	}
}

/* ---- rotation: bump the generation (compare-and-swap on the datastore
 * entry's own generation), then derive the new secret. ---- */

struct rotation {
	void (*done)(void *arg, const char *err);
	void *arg;
	struct stored_gen cur;
};

static void rotation_done(struct rotation *rot, const char *err)
{
	rot->done(rot->arg, err);
	free(rot);
}

/* A step lightningd failed ends the rotation with its reason. */
static bool rotation_failed(struct rotation *rot, const struct rpc_result *r, const char *why)
{
	if (r->status == RPC_OK)
		return false;
	rotation_done(rot, why ? why : r->message);
	return true;
}

static void rotated_secret(void *arg, const struct rpc_result *r)
{
	struct rotation *rot = arg;
	uint8_t fresh[32];
	if (rotation_failed(rot, r, NULL))
		return;
	bool ok = secret_from_reply(r, fresh) && install(fresh, rot->cur.value + 1);
	sodium_memzero(fresh, sizeof(fresh));
	if (!ok) {
		rotation_done(rot, "makesecret gave no 32-byte secret");
		return;
	}
	plugin_log(LOG_INFO, "L402 secret rotated to generation %llu: earlier tokens are void",
		   (unsigned long long)generation);
	rotation_done(rot, NULL);
}

static void bumped(void *arg, const struct rpc_result *r)
{
	struct rotation *rot = arg;
	if (rotation_failed(rot, r, r->code == DATASTORE_UPDATE_WRONG_GENERATION
					    ? "the generation changed meanwhile; try again" : NULL))
		return;
	makesecret(rot->cur.value + 1, rotated_secret, rot);
}

static void got_rotation_generation(void *arg, const struct ds_entry *e)
{
	struct rotation *rot = arg;
	got_generation(&rot->cur, e);
}

static void read_for_rotation(void *arg, const struct rpc_result *r)
{
	struct rotation *rot = arg;
	char next[32];
	if (rotation_failed(rot, r, NULL))
		return;
	if (!rot->cur.found) {
		rotation_done(rot, "no secret generation stored yet");
		return;
	}
	snprintf(next, sizeof(next), "%llu", (unsigned long long)rot->cur.value + 1);
	ds_write(GEN_GROUP, NULL, next, DS_MUST_REPLACE, &rot->cur.ds_generation, bumped, rot);
}

void secret_rotate(void (*done)(void *arg, const char *err), void *arg)
{
	struct rotation *rot = calloc(1, sizeof(*rot));
	if (!rot) {
		done(arg, "out of memory");
		return;
	}
	rot->done = done;
	rot->arg = arg;
	ds_list(GEN_GROUP, got_rotation_generation, read_for_rotation, rot, NULL);
}

void secret_start(void)
{
	if (busy || secret_ready())
		return;
	busy = true;
	ds_write(GEN_GROUP, NULL, "0", DS_MUST_CREATE, NULL, created_generation, NULL);
}
