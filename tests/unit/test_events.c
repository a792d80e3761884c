/* What the shop tells others: a notification per sale with what a
 * subscriber needs, and sales in the log without flooding it. */
#include "../../plugin/events.c"

#include "fakes.h"
#include "test.h"

static char notified[16][512];
static int nnotified;

void protocol_notify(const char *topic, const char *params, size_t len)
{
	if (nnotified < 16)
		snprintf(notified[nnotified++], sizeof(notified[0]), "%s %.*s", topic, (int)len, params);
}

struct route *routes_by_tag(const char *tag)
{
	return NULL; /* a route gone: named by its tag */
}

static void sell(int n)
{
	uint8_t id[32] = { 0xab, 0xcd }, hash[32] = { 1 };
	struct sale s = { "cafe0001", id, hash, 1000, 1796300000, 7, false, false };
	for (int i = 0; i < n; i++)
		events_sale(&s);
}

static void test_sale_notification(void)
{
	sell(1);
	CHECK_EQ_INT(nnotified, 1);
	CHECK(strncmp(notified[0], "l402_sale {\"route\":\"cafe0001\",\"amount_msat\":1000,"
		      "\"token_id\":\"abcd", 60) == 0);
	CHECK(strstr(notified[0], "\"kind\":\"l402\"") && strstr(notified[0], "\"paid_at\":1796300000")
	      && strstr(notified[0], "\"pay_index\":7"));
	CHECK_EQ_INT(fake_logs[LOG_INFO], 1);
}

static void test_sales_log_is_bounded(void)
{
	/* Every sale is notified; the log has SALES_LOGGED lines a minute,
	 * then one summary at the minute's end. */
	sell(SALES_LOGGED + 30);
	CHECK_EQ_INT(fake_logs[LOG_INFO], SALES_LOGGED);
	CHECK(more_sales == 31 && more_msat == 31000);
	fake_advance(SALES_WINDOW_MS);
	CHECK_EQ_INT(fake_logs[LOG_INFO], SALES_LOGGED + 1);
	CHECK(more_sales == 0 && window_timer == 0);
	/* A new minute logs sales one by one again. */
	sell(1);
	CHECK_EQ_INT(fake_logs[LOG_INFO], SALES_LOGGED + 2);
	fake_advance(SALES_WINDOW_MS);
	CHECK_EQ_INT(fake_logs[LOG_INFO], SALES_LOGGED + 2); /* no summary: nothing more */
}

static void test_session_events(void)
{
	uint8_t sid[32] = { 0x11 };
	struct session_event e = { false, sid, "cafe0002", 10000, 2000, 8000, "succeeded", true, 5 };
	nnotified = 0;
	events_session(&e);
	CHECK(strstr(notified[0], "l402_session_close {\"route\":\"cafe0002\",\"session_id\":\"11")
	      && strstr(notified[0], "\"refund_msat\":8000") && strstr(notified[0], "\"closed_by\":\"idle\""));
	e.refund = true;
	events_session(&e);
	CHECK(strstr(notified[1], "l402_refund {") && strstr(notified[1], "\"status\":\"succeeded\"")
	      && strstr(notified[1], "\"amount_msat\":8000"));
}

int main(void)
{
	test_sale_notification();
	test_sales_log_is_bounded();
	test_session_events();
	return test_done("test_events");
}
