/* The L402 secret: derived with lightningd's makesecret from a string
 * that names a rotation generation kept in the datastore. Nothing secret
 * is stored, and restoring the node from its seed restores every token.
 * The generation key is created with must-create, so two plugin starts
 * racing each other both end up reading the same generation. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "state.h"
#include "log.h"
#include "loop.h"
#include "rpc.h"

#define GEN_KEY "[\"l402\",\"secret-generation\"]"
#define RPC_TIMEOUT_MS 30000

static uint8_t *secret;	/* sodium_malloc'd: guarded, locked, wiped */
static bool ready, busy;
static uint64_t generation;
static uint64_t retry_timer;

bool secret_ready(void)
{
	return ready;
}

uint64_t secret_generation(void)
{
	return generation;
}

bool secret_get(uint8_t out[32])
{
	if (!ready)
		return false;
	memcpy(out, secret, 32);
	return true;
}

void secret_wipe(void)
{
	if (secret)
		sodium_free(secret);
	secret = NULL;
	ready = false;
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

static void got_secret(void *arg, const struct rpc_result *r)
{
	size_t n;
	size_t len;
	const char *hex;
	if (r->status != RPC_OK) {
		failed("makesecret", r);
		return;
	}
	int t = json_get(r->doc, r->result, "secret");
	hex = json_raw(r->doc, t, &len);
	if (!secret)
		secret = sodium_malloc(32);
	if (!json_is_string(r->doc, t) || !secret
	    || !hex_decode(hex, len, secret, 32, &n) || n != 32) {
		struct rpc_result bad = *r;
		snprintf(bad.message, sizeof(bad.message), "no 32-byte secret in the reply");
		failed("makesecret", &bad);
		return;
	}
	ready = true;
	busy = false;
	plugin_log(LOG_INFO, "L402 secret ready (generation %llu)",
		   (unsigned long long)generation);
}

static void derive(void)
{
	char params[128];
	snprintf(params, sizeof(params),
		 "{\"string\":\"cln-l402 token secret generation %llu\"}",
		 (unsigned long long)generation);
	rpc_call("makesecret", params, NULL, RPC_TIMEOUT_MS, got_secret, NULL);
}

static void got_generation(void *arg, const struct rpc_result *r)
{
	char s[32];
	if (r->status != RPC_OK) {
		failed("listdatastore", r);
		return;
	}
	int ds = json_get(r->doc, r->result, "datastore");
	int e = json_at(r->doc, ds, 0);
	char *end;
	if (!json_get_string(r->doc, json_get(r->doc, e, "string"), s, sizeof(s), NULL)
	    || (generation = strtoull(s, &end, 10), *end || !*s)) {
		struct rpc_result bad = *r;
		snprintf(bad.message, sizeof(bad.message), "stored generation is not a number");
		failed("listdatastore", &bad);
		return;
	}
	derive();
}

static void created_generation(void *arg, const struct rpc_result *r)
{
	if (r->status == RPC_OK) {
		generation = 0;
		derive();
	} else if (r->status == RPC_ERROR && r->code == 1202) {
		/* Already there: an earlier start, or a restore. Read it. */
		rpc_call("listdatastore", "{\"key\":" GEN_KEY "}", NULL, RPC_TIMEOUT_MS,
			 got_generation, NULL);
	} else {
		failed("datastore", r);
	}
}

/* ---- rotation: bump the generation (compare-and-swap on the datastore
 * entry's own generation), then derive the new secret. ---- */

struct rotation {
	void (*done)(void *arg, const char *err);
	void *arg;
	uint64_t next;
	uint64_t ds_generation;
};

static void rotated_secret(void *arg, const struct rpc_result *r)
{
	struct rotation *rot = arg;
	size_t len, n;
	const char *hex;
	uint8_t fresh[32];
	if (r->status != RPC_OK) {
		rot->done(rot->arg, r->message);
		free(rot);
		return;
	}
	int t = json_get(r->doc, r->result, "secret");
	hex = json_raw(r->doc, t, &len);
	if (!json_is_string(r->doc, t) || !hex_decode(hex, len, fresh, 32, &n) || n != 32) {
		rot->done(rot->arg, "makesecret gave no 32-byte secret");
		free(rot);
		return;
	}
	if (!secret)
		secret = sodium_malloc(32);
	memcpy(secret, fresh, 32);
	sodium_memzero(fresh, sizeof(fresh));
	generation = rot->next;
	ready = true;
	plugin_log(LOG_INFO, "L402 secret rotated to generation %llu: earlier tokens are void",
		   (unsigned long long)generation);
	rot->done(rot->arg, NULL);
	free(rot);
}

static void bumped(void *arg, const struct rpc_result *r)
{
	struct rotation *rot = arg;
	char params[128];
	if (r->status != RPC_OK) {
		rot->done(rot->arg, r->code == 1204 ? "the generation changed meanwhile; try again"
						    : r->message);
		free(rot);
		return;
	}
	snprintf(params, sizeof(params),
		 "{\"string\":\"cln-l402 token secret generation %llu\"}",
		 (unsigned long long)rot->next);
	rpc_call("makesecret", params, NULL, RPC_TIMEOUT_MS, rotated_secret, rot);
}

static void read_for_rotation(void *arg, const struct rpc_result *r)
{
	struct rotation *rot = arg;
	char s[32], params[256];
	uint64_t cur;
	if (r->status != RPC_OK) {
		rot->done(rot->arg, r->message);
		free(rot);
		return;
	}
	int e = json_at(r->doc, json_get(r->doc, r->result, "datastore"), 0);
	if (!json_get_string(r->doc, json_get(r->doc, e, "string"), s, sizeof(s), NULL)
	    || !json_get_u64(r->doc, json_get(r->doc, e, "generation"), &rot->ds_generation)) {
		rot->done(rot->arg, "no secret generation stored yet");
		free(rot);
		return;
	}
	cur = strtoull(s, NULL, 10);
	rot->next = cur + 1;
	snprintf(params, sizeof(params),
		 "{\"key\":" GEN_KEY ",\"string\":\"%llu\",\"mode\":\"must-replace\",\"generation\":%llu}",
		 (unsigned long long)rot->next, (unsigned long long)rot->ds_generation);
	rpc_call("datastore", params, NULL, RPC_TIMEOUT_MS, bumped, rot);
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
	rpc_call("listdatastore", "{\"key\":" GEN_KEY "}", NULL, RPC_TIMEOUT_MS,
		 read_for_rotation, rot);
}

void secret_start(void)
{
	if (ready || busy)
		return;
	busy = true;
	rpc_call("datastore", "{\"key\":" GEN_KEY ",\"string\":\"0\",\"mode\":\"must-create\"}",
		 NULL, RPC_TIMEOUT_MS, created_generation, NULL);
}
