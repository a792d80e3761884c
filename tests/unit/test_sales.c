/* Sales over a range (store/sales.c): which invoices count, grouping by
 * day and route, the latest sales, reading in batches up to the bound,
 * and the days and ranges it takes. */
#include "../../plugin/store/label.c"
#include "../../plugin/store/sales.c"

#include "fakes.h"
#include "strbuf.h"
#include "test.h"

/* Two routes the table knows; any other tag is a route forgotten since. */
static struct route route_a = { .key = "GET /a", .tag = "aaaaaaaa" };
static struct route route_b = { .key = "GET /b", .tag = "bbbbbbbb" };

struct route *routes_by_tag(const char *tag)
{
	return strcmp(tag, route_a.tag) == 0 ? &route_a
	       : strcmp(tag, route_b.tag) == 0 ? &route_b : NULL;
}

/* What done was told, copied (the report lives as long as the call). */
static int told;
static bool got_report;
static char why[400];
static struct sales_report rep;
static struct sales_row by_day[64], by_route[16];
static struct sales_sale recent[SALES_RECENT];
static char names[128][16];
static size_t nnames;

static const char *keep(const char *s)
{
	snprintf(names[nnames], sizeof(names[0]), "%s", s);
	return names[nnames++];
}

static void done(void *arg, const struct sales_report *r, const char *w)
{
	told++;
	got_report = r != NULL;
	why[0] = '\0';
	nnames = 0;
	if (!r) {
		snprintf(why, sizeof(why), "%s", w);
		return;
	}
	rep = *r;
	for (size_t i = 0; i < r->nby_day && i < 64; i++) {
		by_day[i] = r->by_day[i];
		by_day[i].route = keep(r->by_day[i].route);
	}
	for (size_t i = 0; i < r->nby_route && i < 16; i++) {
		by_route[i] = r->by_route[i];
		by_route[i].route = keep(r->by_route[i].route);
	}
	for (size_t i = 0; i < r->nrecent; i++) {
		recent[i] = r->recent[i];
		recent[i].route = keep(r->recent[i].route);
	}
}

/* A batch of listinvoices, built and answered (bigger than fake_answer
 * takes). */
struct batch {
	struct strbuf sb;
	size_t n;
};

static void batch_start(struct batch *b)
{
	strbuf_init(&b->sb, 64u * 1024 * 1024);
	strbuf_puts(&b->sb, "{\"result\":{\"invoices\":[");
	b->n = 0;
}

static void batch_add(struct batch *b, uint64_t created, const char *tag, const char *status,
		      int64_t paid_at, uint64_t msat)
{
	strbuf_printf(&b->sb, "%s{\"label\":\"l402-%s-0-0-%064llu\",\"status\":\"%s\","
		      "\"created_index\":%llu", b->n++ ? "," : "", tag, (unsigned long long)created,
		      status, (unsigned long long)created);
	if (paid_at)
		strbuf_printf(&b->sb, ",\"paid_at\":%lld,\"amount_received_msat\":%llu",
			      (long long)paid_at, (unsigned long long)msat);
	strbuf_puts(&b->sb, "}");
}

static void batch_answer(struct batch *b, struct fake_call *c)
{
	struct json_doc d;
	size_t ntoks = 64 + b->n * 16;
	jsmntok_t *toks = calloc(ntoks, sizeof(*toks));
	strbuf_puts(&b->sb, "]}}");
	if (!toks || !json_parse(&d, b->sb.data, b->sb.len, toks, (unsigned)ntoks))
		abort();
	struct rpc_result r = { RPC_OK, &d, json_get(&d, 0, "result"), 0, "" };
	c->answered = true;
	c->cb(c->arg, &r);
	free(toks);
	strbuf_free(&b->sb);
}

#define DAY SALES_DAY_S
/* 2026-03-01T00:00:00Z */
#define MAR1 1772323200LL

static void reset(void)
{
	told = 0;
	fake_ncalls = 0;
}

static void test_grouping(void)
{
	struct batch b;
	struct fake_call *c;
	reset();
	CHECK(sales_query("", MAR1, MAR1 + 3 * DAY, 0, "cli:stats#1", done, NULL));
	CHECK(told == 0);	/* never from inside the call */
	c = fake_pending();
	CHECK(c && strcmp(c->method, "listinvoices") == 0);
	CHECK(c && strstr(c->params, "\"start\":0") && strstr(c->params, "\"limit\":1000"));
	batch_start(&b);
	batch_add(&b, 1, "bbbbbbbb", "paid", MAR1 + 2 * DAY + 5, 2000);
	batch_add(&b, 2, "aaaaaaaa", "paid", MAR1 + 10, 1000);
	batch_add(&b, 3, "aaaaaaaa", "paid", MAR1 + 20, 1500);
	batch_add(&b, 4, "aaaaaaaa", "unpaid", 0, 0);			/* not a sale */
	batch_add(&b, 5, "aaaaaaaa", "paid", MAR1 - 1, 7000);		/* before */
	batch_add(&b, 6, "aaaaaaaa", "paid", MAR1 + 3 * DAY, 7000);	/* until is out */
	batch_add(&b, 7, "cccccccc", "paid", MAR1 + DAY, 300);		/* a route forgotten */
	batch_add(&b, 8, "aaaaaaaa", "paid", MAR1 + 2 * DAY, 4000);
	strbuf_puts(&b.sb, ",{\"label\":\"someone-elses\",\"status\":\"paid\",\"created_index\":9,"
			   "\"paid_at\":1772323300,\"amount_received_msat\":99}");
	b.n++;
	batch_answer(&b, c);
	CHECK_EQ_INT(told, 1);
	CHECK(got_report);
	CHECK_EQ_INT(rep.since, MAR1);
	CHECK_EQ_INT(rep.until, MAR1 + 3 * DAY);
	CHECK_EQ_INT(rep.invoices_read, 9);
	CHECK(!rep.more);
	CHECK_EQ_INT(rep.paid, 5);
	CHECK_EQ_INT(rep.msat, 1000 + 1500 + 300 + 2000 + 4000);
	/* By day, then route. */
	CHECK_EQ_INT(rep.nby_day, 4);
	CHECK_EQ_INT(by_day[0].day, MAR1 / DAY);
	CHECK_STREQ(by_day[0].route, "GET /a");
	CHECK_EQ_INT(by_day[0].paid, 2);
	CHECK_EQ_INT(by_day[0].msat, 2500);
	CHECK_STREQ(by_day[1].route, "cccccccc");
	CHECK_EQ_INT(by_day[1].day, MAR1 / DAY + 1);
	CHECK_STREQ(by_day[2].route, "GET /a");
	CHECK_EQ_INT(by_day[2].day, MAR1 / DAY + 2);
	CHECK_STREQ(by_day[3].route, "GET /b");
	/* By route, days added up, in route order. */
	CHECK_EQ_INT(rep.nby_route, 3);
	CHECK_STREQ(by_route[0].route, "GET /a");
	CHECK_EQ_INT(by_route[0].paid, 3);
	CHECK_EQ_INT(by_route[0].msat, 6500);
	CHECK_EQ_INT(by_route[0].day, 0);
	CHECK_STREQ(by_route[1].route, "GET /b");
	CHECK_STREQ(by_route[2].route, "cccccccc");
	/* The latest, newest first. */
	CHECK_EQ_INT(rep.nrecent, 5);
	CHECK_EQ_INT(recent[0].paid_at, MAR1 + 2 * DAY + 5);
	CHECK_STREQ(recent[0].route, "GET /b");
	CHECK_EQ_INT(recent[1].paid_at, MAR1 + 2 * DAY);
	CHECK_EQ_INT(recent[4].paid_at, MAR1 + 10);
	CHECK_EQ_INT(recent[4].msat, 1000);
}

static void test_one_route_and_nothing_sold(void)
{
	struct batch b;
	reset();
	CHECK(sales_query("bbbbbbbb", MAR1, MAR1 + DAY, 0, NULL, done, NULL));
	batch_start(&b);
	batch_add(&b, 1, "aaaaaaaa", "paid", MAR1 + 1, 1000);
	batch_add(&b, 2, "bbbbbbbb", "paid", MAR1 + 2, 2000);
	batch_answer(&b, fake_pending());
	CHECK_EQ_INT(rep.paid, 1);
	CHECK_EQ_INT(rep.msat, 2000);
	CHECK_EQ_INT(rep.nby_route, 1);
	reset();
	CHECK(sales_query("", MAR1, MAR1 + DAY, 0, NULL, done, NULL));
	batch_start(&b);
	batch_answer(&b, fake_pending());
	CHECK(got_report);
	CHECK_EQ_INT(rep.paid, 0);
	CHECK_EQ_INT(rep.nby_day + rep.nby_route + rep.nrecent, 0);
	CHECK_EQ_INT(rep.invoices_read, 0);
}

/* Full batches are followed by the next from the index after the last,
 * until a short one, or the bound: then the report says where to go on. */
static void test_batches_and_the_bound(void)
{
	struct batch b;
	struct fake_call *c;
	char want[64];
	reset();
	CHECK(sales_query("", MAR1, MAR1 + 30 * DAY, 500, NULL, done, NULL));
	uint64_t next = 500;
	for (int k = 0; k < SALES_SCAN_MAX / SALES_BATCH; k++) {
		c = fake_pending();
		if (!c)
			break;
		snprintf(want, sizeof(want), "\"start\":%llu,", (unsigned long long)next);
		CHECK(strstr(c->params, want) != NULL);
		batch_start(&b);
		for (int i = 0; i < SALES_BATCH; i++, next++)
			batch_add(&b, next, "aaaaaaaa", i % 4 ? "unpaid" : "paid",
				  MAR1 + (int64_t)((next / 4) % 30) * DAY + i, 1000);
		batch_answer(&b, c);
		if (fake_ncalls == sizeof(fake_calls) / sizeof(fake_calls[0]))
			fake_ncalls = 0;
	}
	CHECK_EQ_INT(told, 1);
	CHECK(rep.more);
	CHECK_EQ_INT(rep.invoices_read, SALES_SCAN_MAX);
	CHECK_EQ_INT(rep.next_start, 500 + SALES_SCAN_MAX);
	CHECK_EQ_INT(rep.paid, SALES_SCAN_MAX / 4);
	CHECK_EQ_INT(rep.nby_day, 30);
	CHECK_EQ_INT(rep.nrecent, SALES_RECENT);
	for (size_t i = 1; i < rep.nrecent; i++)
		CHECK(recent[i - 1].paid_at >= recent[i].paid_at);
	/* Two full batches, then a short one: done, nothing more to read. */
	reset();
	CHECK(sales_query("", MAR1, MAR1 + DAY, 0, NULL, done, NULL));
	for (int k = 0; k < 3; k++) {
		batch_start(&b);
		for (int i = 0; i < (k < 2 ? SALES_BATCH : 7); i++)
			batch_add(&b, (uint64_t)(k * SALES_BATCH + i + 1), "aaaaaaaa", "paid",
				  MAR1 + 1, 1);
		batch_answer(&b, fake_pending());
	}
	CHECK_EQ_INT(told, 1);
	CHECK(!rep.more);
	CHECK_EQ_INT(rep.invoices_read, 2 * SALES_BATCH + 7);
	CHECK_EQ_INT(rep.paid, 2 * SALES_BATCH + 7);
	CHECK(fake_pending() == NULL);
}

static void test_failures(void)
{
	reset();
	CHECK(sales_query("", MAR1, MAR1 + DAY, 0, NULL, done, NULL));
	fake_answer(fake_pending(), NULL, -1);
	CHECK_EQ_INT(told, 1);
	CHECK(!got_report);
	CHECK_STREQ(why, "reading invoices failed: fake");
	reset();
	CHECK(sales_query("", MAR1, MAR1 + DAY, 0, NULL, done, NULL));
	fake_disconnect(fake_pending());
	CHECK(!got_report);
	CHECK_STREQ(why, "reading invoices failed: lost");
}

static void test_days_and_ranges(void)
{
	int64_t t = 0;
	CHECK(sales_parse_day("2026-03-01", false, &t));
	CHECK_EQ_INT(t, MAR1);
	CHECK(sales_parse_day("2026-03-01", true, &t));
	CHECK_EQ_INT(t, MAR1 + DAY);
	CHECK(sales_parse_day("2024-02-29", false, &t));
	CHECK(sales_parse_day("1970-01-01", false, &t));
	CHECK_EQ_INT(t, 0);
	static const char *const bad[] = { "2026-02-29", "2026-02-31", "2026-13-01", "2026-00-10",
					   "1969-12-31", "2026-03-01x", "yesterday", "", "2026-3",
					   "20260301" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(!sales_parse_day(bad[i], false, &t));
	CHECK(sales_range_ok(MAR1, MAR1 + 1));
	CHECK(sales_range_ok(MAR1, MAR1 + SALES_MAX_DAYS * DAY));
	CHECK(!sales_range_ok(MAR1, MAR1 + SALES_MAX_DAYS * DAY + 1));
	CHECK(!sales_range_ok(MAR1, MAR1));
	CHECK(!sales_range_ok(MAR1, MAR1 - DAY));
	char d[16];
	sales_day_name(MAR1 / DAY, d);
	CHECK_STREQ(d, "2026-03-01");
}

int main(void)
{
	test_grouping();
	test_one_route_and_nothing_sold();
	test_batches_and_the_bound();
	test_failures();
	test_days_and_ranges();
	return test_done("test_sales");
}
