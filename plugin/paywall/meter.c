#include "paywall/meter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/state.h"
#include "encoding.h"
#include "mpp.h"
#include "paywall/mpp_session.h"
#include "store/tokens.h"

/* The balance a metered request draws on now: a session's grows with its
 * top-ups (and is 0 once it is closing). */
static uint64_t limit_now(const struct meter *m)
{
	return m->session ? mpp_session_limit(m->account) : m->limit;
}

static enum meter_draw from_use(enum use_result r)
{
	switch (r) {
	case USE_OK: return METER_OK;
	case USE_WAIT: return METER_WAIT;
	case USE_EXHAUSTED: return METER_SHORT;
	case USE_FAIL: break;
	}
	return METER_FAIL;
}

struct drawing {
	void (*done)(void *arg, enum meter_draw res);
	void *arg;
};

static void drawn(void *arg, enum use_result r)
{
	struct drawing *d = arg;
	d->done(d->arg, from_use(r));
	free(d);
}

static enum meter_draw draw(struct meter *m, void (*done)(void *arg, enum meter_draw res),
			    void *arg)
{
	uint64_t limit = limit_now(m);
	struct drawing *d = malloc(sizeof(*d));
	if (!d)
		return METER_FAIL;
	*d = (struct drawing){ done, arg };
	enum use_result r = token_spend(m->account, limit, m->unit,
					token_balance_block(limit ? limit : 1, m->unit), drawn, d);
	if (r != USE_WAIT)
		free(d);
	return from_use(r);
}

/* A session's requests settle against its deposit while its close waits
 * for them; once the refund is fixed (past the close's wait), against
 * nothing more. */
static void settle(struct meter *m, uint64_t cost_msat)
{
	uint64_t limit = m->session ? mpp_session_settle_limit(m->account) : m->limit;
	token_settle(m->account, limit, m->held, cost_msat);
}

static void pause_event(const struct meter *m, const char *event, char *out, size_t len)
{
	uint64_t used = 0;
	char id[65];
	token_used(m->account, &used, NULL, NULL);
	hex_encode(m->account, 32, id, sizeof(id));
	snprintf(out, len,
		 "event: %s\ndata: {\"%s\":\"%s\",\"balanceSpent\":%llu,\"balanceRequired\":%llu}\n\n",
		 event, m->session ? "sessionId" : "tokenId", id, (unsigned long long)(used / 1000),
		 (unsigned long long)((m->unit + 999) / 1000));
}

/* The draft's final payment-receipt event of a session's stream: what
 * the stream drew, in the session's whole-sat units. */
static void end_event(const struct meter *m, uint64_t units, char *out, size_t len)
{
	char id[65], ts[24];
	if (!m->session) {
		if (len)
			out[0] = '\0';
		return;
	}
	hex_encode(m->account, 32, id, sizeof(id));
	mpp_time_format((int64_t)time(NULL), ts);
	snprintf(out, len,
		 "event: payment-receipt\ndata: {\"method\":\"lightning\",\"reference\":\"%s\","
		 "\"status\":\"success\",\"timestamp\":\"%s\",\"spent\":%llu,\"units\":%llu}\n\n",
		 id, ts, (unsigned long long)(units * ((m->unit + 999) / 1000)),
		 (unsigned long long)units);
}

static const struct meter_ops ops = { draw, settle, pause_event, end_event };

struct meter paid_meter(const struct paid *p)
{
	struct meter m = { NULL, { 0 }, 0, false, 0, 0, 0 };
	if (!p->held_msat || !p->verdict.grant.balance_msat)
		return m;
	m.ops = &ops;
	memcpy(m.account, p->verdict.id.token_id, sizeof(m.account));
	m.limit = p->verdict.grant.balance_msat;
	m.session = p->mpp.used && p->mpp.action != MPP_CHARGE;
	m.held = p->held_msat;
	m.unit = p->route.spec.price_msat;
	m.pause_s = l402.cfg.session_pause;
	token_hold(m.account);
	return m;
}
