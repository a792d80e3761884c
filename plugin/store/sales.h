/* Sales over a range of time, from the node's own records: lightningd's
 * paid invoices of the paywall (their labels name the route), read in
 * created order in batches, at most SALES_SCAN_MAX invoices a query (the
 * report says where the next query goes on). Grouped by day (UTC) and
 * route, by route, and the latest sales. l402-stats and the dashboard
 * both read them here. */
#ifndef L402_SALES_H
#define L402_SALES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SALES_BATCH 1000
#define SALES_SCAN_MAX 100000
#define SALES_MAX_DAYS 366
#define SALES_DAY_S 86400
/* The latest sales a report lists. */
#define SALES_RECENT 20

/* A route's sales on a day (by_day), or over the whole range (by_route,
 * day 0). */
struct sales_row {
	int64_t day;		/* UNIX seconds / SALES_DAY_S */
	const char *route;	/* its key, or the tag of a route forgotten since */
	uint64_t paid, msat;
};

struct sales_sale {
	int64_t paid_at;	/* UNIX seconds */
	const char *route;
	uint64_t msat;
};

/* What a query found; its pointers live as long as the callback runs. */
struct sales_report {
	int64_t since, until;			/* [since, until), UNIX seconds */
	const struct sales_row *by_day;		/* by day, then route */
	size_t nby_day;
	const struct sales_row *by_route;	/* by route */
	size_t nby_route;
	const struct sales_sale *recent;	/* the latest, newest first */
	size_t nrecent;
	uint64_t paid, msat;			/* the range's total */
	uint64_t invoices_read;
	bool more;		/* invoices left to read: start the next query at next_start */
	uint64_t next_start;
};

/* done runs exactly once, never from inside sales_query: with the report,
 * or with NULL and why it failed. */
typedef void (*sales_done)(void *arg, const struct sales_report *rep, const char *why);

/* Holding the loop's lock: the sales of the route whose tag is tag ("":
 * every route) paid in [since, until), reading invoices from created
 * index start on. false when it cannot ask lightningd now (done never
 * runs). */
bool sales_query(const char *tag, int64_t since, int64_t until, uint64_t start,
		 const char *parent_id, sales_done done, void *arg)
	__attribute__((warn_unused_result));

/* A day, YYYY-MM-DD (UTC), as its first second, or with end the first
 * second of the next day; false for anything else (2026-02-31 too). */
bool sales_parse_day(const char *s, bool end, int64_t *out);
/* Whether [since, until) is a range a query takes: it ends after it
 * starts and spans at most SALES_MAX_DAYS days. */
bool sales_range_ok(int64_t since, int64_t until);
/* A day (UNIX seconds / SALES_DAY_S) as YYYY-MM-DD. */
void sales_day_name(int64_t day, char out[16]);

#endif
