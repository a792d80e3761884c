/* Fakes of the plugin's collaborators, for unit tests that include one
 * plugin module's .c file the way Core Lightning's plugins/test/run-*.c
 * do. Include this after the module(s) under test; a test that includes
 * the real module of a group defines its FAKE_NO_* first:
 *   FAKE_NO_LOOP  loop.c: timers and the clock (fake: a settable clock,
 *                 timers that fire when the test says)
 *   FAKE_NO_RPC   rpc.c: calls are recorded; the test answers them
 * plugin_log is always a fake: it counts lines by level. */
#ifndef L402_TEST_FAKES_H
#define L402_TEST_FAKES_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_in.h"
#include "core/log.h"
#include "core/loop.h"
#include "lightningd/rpc.h"

int fake_logs[LOG_BROKEN + 1];

void plugin_log(enum log_level level, const char *fmt, ...)
{
	fake_logs[level]++;
}

#ifndef FAKE_NO_LOOP
int64_t fake_now_ms = 1000000;

struct fake_timer {
	uint64_t id;
	int64_t when;
	loop_timer_cb cb;
	void *arg;
};
struct fake_timer fake_timers[64];
size_t fake_ntimers;
static uint64_t fake_next_timer = 1;

int64_t loop_now_ms(void)
{
	return fake_now_ms;
}

uint64_t loop_add_timer(int64_t delay_ms, loop_timer_cb cb, void *arg)
{
	if (fake_ntimers == sizeof(fake_timers) / sizeof(fake_timers[0]))
		return 0;
	fake_timers[fake_ntimers] = (struct fake_timer){ fake_next_timer, fake_now_ms + delay_ms,
							 cb, arg };
	fake_ntimers++;
	return fake_next_timer++;
}

void loop_cancel_timer(uint64_t id)
{
	for (size_t i = 0; i < fake_ntimers; i++)
		if (fake_timers[i].id == id) {
			fake_timers[i] = fake_timers[--fake_ntimers];
			return;
		}
}

/* Move the clock on by ms and fire what came due, in order of time. */
static inline void fake_advance(int64_t ms)
{
	fake_now_ms += ms;
	for (;;) {
		size_t best = fake_ntimers;
		for (size_t i = 0; i < fake_ntimers; i++)
			if (fake_timers[i].when <= fake_now_ms
			    && (best == fake_ntimers || fake_timers[i].when < fake_timers[best].when))
				best = i;
		if (best == fake_ntimers)
			return;
		struct fake_timer t = fake_timers[best];
		fake_timers[best] = fake_timers[--fake_ntimers];
		t.cb(t.arg);
	}
}
#endif

#ifndef FAKE_NO_RPC
struct fake_call {
	char method[32];
	char params[4096];
	rpc_cb cb;
	void *arg;
	bool answered;
};
struct fake_call fake_calls[256];
size_t fake_ncalls;
bool fake_connected = true;

bool rpc_connected(void)
{
	return fake_connected;
}

bool rpc_call(const char *method, const char *params_json, const char *parent_id,
	      int timeout_ms, rpc_cb cb, void *arg)
{
	if (fake_ncalls == sizeof(fake_calls) / sizeof(fake_calls[0]))
		abort();
	struct fake_call *c = &fake_calls[fake_ncalls++];
	snprintf(c->method, sizeof(c->method), "%s", method);
	snprintf(c->params, sizeof(c->params), "%s", params_json);
	c->cb = cb;
	c->arg = arg;
	c->answered = false;
	return true;
}

/* The oldest call not answered yet, or NULL. */
static inline struct fake_call *fake_pending(void)
{
	for (size_t i = 0; i < fake_ncalls; i++)
		if (!fake_calls[i].answered)
			return &fake_calls[i];
	return NULL;
}

/* Answer c with a result (JSON text) or, with code != 0, an error. */
static inline void fake_answer(struct fake_call *c, const char *result, int64_t code)
{
	char buf[8192];
	struct json_doc d;
	jsmntok_t toks[512];
	struct rpc_result r = { RPC_OK, &d, -1, code, "" };
	if (code)
		snprintf(buf, sizeof(buf), "{\"error\":{\"code\":%lld,\"message\":\"fake\"}}",
			 (long long)code);
	else
		snprintf(buf, sizeof(buf), "{\"result\":%s}", result);
	if (!json_parse(&d, buf, strlen(buf), toks, 512))
		abort();
	if (code) {
		r.status = RPC_ERROR;
		snprintf(r.message, sizeof(r.message), "fake");
	} else {
		r.result = json_get(&d, 0, "result");
	}
	c->answered = true;
	c->cb(c->arg, &r);
}

/* Answer every pending call "{}" and forget them all (tests that make
 * many calls); returns how many were calls to method. */
static inline size_t fake_drain(const char *method)
{
	size_t n = 0;
	struct fake_call *c;
	while ((c = fake_pending())) {
		n += strcmp(c->method, method) == 0;
		fake_answer(c, "{}", 0);
	}
	fake_ncalls = 0;
	return n;
}

/* Fail c as if the connection dropped. */
static inline void fake_disconnect(struct fake_call *c)
{
	struct rpc_result r = { RPC_DISCONNECTED, NULL, -1, 0, "lost" };
	c->answered = true;
	c->cb(c->arg, &r);
}
#endif

#endif
