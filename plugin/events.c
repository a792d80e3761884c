#include "events.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/loop.h"
#include "json_out.h"
#include "lightningd/protocol.h"
#include "store/routes.h"

/* The topics, as the manifest declares them (an undeclared topic is
 * dropped by lightningd). */
const char *const events_topics[] = { "l402_sale", "l402_session_close", "l402_refund" };
const size_t nevents_topics = sizeof(events_topics) / sizeof(events_topics[0]);

/* Sales in the log at INFO: the first SALES_LOGGED of a minute each on a
 * line of its own, the rest of that minute in one summary line at its
 * end, so that a busy shop cannot flood lightningd's log. */
#define SALES_LOGGED 10
#define SALES_WINDOW_MS 60000

static unsigned window_logged;
static uint64_t window_timer, more_sales, more_msat;

static void window_end(void *arg)
{
	window_timer = 0;
	window_logged = 0;
	if (more_sales)
		plugin_log(LOG_INFO, "sales: %llu more in the last minute, %llu msat "
			   "(only %d a minute are logged one by one)",
			   (unsigned long long)more_sales, (unsigned long long)more_msat, SALES_LOGGED);
	more_sales = more_msat = 0;
}

static const char *route_name(const char *tag)
{
	const struct route *rt = routes_by_tag(tag);
	return rt ? rt->key : tag;
}

static const char *sale_kind(const struct sale *s)
{
	return s->charge ? "charge" : s->session ? "session" : "l402";
}

void events_sale(const struct sale *s)
{
	struct strbuf sb;
	struct json_out j;
	const char *route = route_name(s->tag);

	json_out_object(&j, &sb, 0);
	json_add_string(&j, "route", route);
	json_add_u64(&j, "amount_msat", s->msat);
	json_add_hex(&j, "token_id", s->token_id, 32);
	json_add_string(&j, "kind", sale_kind(s));
	json_add_hex(&j, "payment_hash", s->payment_hash, 32);
	json_add_u64(&j, "paid_at", s->paid_at);
	json_add_u64(&j, "pay_index", s->pay_index);
	json_object_end(&j);
	protocol_notify("l402_sale", sb.data, sb.len);
	strbuf_free(&sb);

	if (!window_timer)
		window_timer = loop_add_timer(SALES_WINDOW_MS, window_end, NULL);
	if (window_logged < SALES_LOGGED) {
		char id[9];
		window_logged++;
		for (int i = 0; i < 4; i++)
			snprintf(id + 2 * i, 3, "%02x", s->token_id[i]);
		plugin_log(LOG_INFO, "sale: %s, %llu msat (%s, token %s...)", route,
			   (unsigned long long)s->msat, sale_kind(s), id);
	} else {
		more_sales++;
		more_msat += s->msat;
	}
}

void events_session(const struct session_event *e)
{
	struct strbuf sb;
	struct json_out j;
	const char *route = route_name(e->tag);

	json_out_object(&j, &sb, 0);
	json_add_string(&j, "route", route);
	json_add_hex(&j, "session_id", e->session_id, 32);
	if (e->refund) {
		json_add_u64(&j, "amount_msat", e->refund_msat);
		json_add_string(&j, "status", e->refund_status);
		json_add_s64(&j, "refunded_at", e->at);
	} else {
		json_add_u64(&j, "deposit_msat", e->deposit_msat);
		json_add_u64(&j, "spent_msat", e->spent_msat);
		json_add_u64(&j, "refund_msat", e->refund_msat);
		json_add_string(&j, "refund_status", e->refund_status);
		json_add_string(&j, "closed_by", e->idle ? "idle" : "client");
		json_add_s64(&j, "closed_at", e->at);
	}
	json_object_end(&j);
	protocol_notify(e->refund ? "l402_refund" : "l402_session_close", sb.data, sb.len);
	strbuf_free(&sb);
	if (!e->refund)
		plugin_log(LOG_INFO, "session closed (%s): %s, deposit %llu msat, spent %llu, "
			   "refund %llu (%s)", e->idle ? "idle" : "by its client", route,
			   (unsigned long long)e->deposit_msat, (unsigned long long)e->spent_msat,
			   (unsigned long long)e->refund_msat, e->refund_status);
}
