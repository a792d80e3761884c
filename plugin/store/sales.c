/* Sales over a range, from lightningd's paid invoices (sales.h). */
#include "store/sales.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lightningd/rpc.h"
#include "store/label.h"
#include "store/routes.h"

/* One paid invoice of ours in the range. */
struct sale_rec {
	char tag[9];
	int64_t paid_at;
	uint64_t msat;
};

struct sales_query {
	char tag[9];		/* a route's, or "" for every one */
	int64_t since, until;
	uint64_t scan_from, scanned;
	char *parent_id;
	sales_done done;
	void *arg;
	struct sale_rec *recs;
	size_t n, cap;
};

static void query_free(struct sales_query *q)
{
	free(q->recs);
	free(q->parent_id);
	free(q);
}

static void fail(struct sales_query *q, const char *why)
{
	q->done(q->arg, NULL, why);
	query_free(q);
}

static int64_t day_of(const struct sale_rec *r)
{
	return r->paid_at / SALES_DAY_S;
}

static int rec_cmp(const void *a, const void *b)
{
	const struct sale_rec *x = a, *y = b;
	if (day_of(x) != day_of(y))
		return day_of(x) < day_of(y) ? -1 : 1;
	return strcmp(x->tag, y->tag);
}

static int row_by_day(const void *a, const void *b)
{
	const struct sales_row *x = a, *y = b;
	if (x->day != y->day)
		return x->day < y->day ? -1 : 1;
	return strcmp(x->route, y->route);
}

static int row_by_route(const void *a, const void *b)
{
	const struct sales_row *x = a, *y = b;
	int c = strcmp(x->route, y->route);
	return c ? c : (x->day < y->day ? -1 : x->day > y->day);
}

static const char *tag_route(const char *tag)
{
	const struct route *rt = routes_by_tag(tag);
	return rt ? rt->key : tag;
}

/* The SALES_RECENT latest of the records, newest first (recs in any
 * order; their tags must outlive the answer). */
static size_t latest(const struct sales_query *q, struct sales_sale *out)
{
	size_t n = 0;
	for (size_t i = 0; i < q->n; i++) {
		const struct sale_rec *r = &q->recs[i];
		if (n == SALES_RECENT && r->paid_at <= out[n - 1].paid_at)
			continue;
		size_t k = n < SALES_RECENT ? n++ : n - 1;
		while (k > 0 && out[k - 1].paid_at < r->paid_at) {
			out[k] = out[k - 1];
			k--;
		}
		out[k] = (struct sales_sale){ r->paid_at, tag_route(r->tag), r->msat };
	}
	return n;
}

static void report(struct sales_query *q, bool more)
{
	struct sales_report rep = { .since = q->since, .until = q->until,
				    .invoices_read = q->scanned, .more = more,
				    .next_start = more ? q->scan_from : 0 };
	struct sales_sale recent[SALES_RECENT];
	size_t nrows = 0;
	/* Sales to rows (a day and a route each), then rows in order. */
	if (q->n)
		qsort(q->recs, q->n, sizeof(q->recs[0]), rec_cmp);
	struct sales_row *rows = calloc(q->n ? q->n : 1, sizeof(*rows));
	struct sales_row *routes = calloc(q->n ? q->n : 1, sizeof(*routes));
	if (!rows || !routes) {
		free(rows);
		free(routes);
		fail(q, "out of memory");
		return;
	}
	for (size_t i = 0; i < q->n; i++) {
		if (!i || day_of(&q->recs[i]) != day_of(&q->recs[i - 1])
		    || strcmp(q->recs[i].tag, q->recs[i - 1].tag) != 0)
			rows[nrows++] = (struct sales_row){ day_of(&q->recs[i]),
							    tag_route(q->recs[i].tag), 0, 0 };
		rows[nrows - 1].paid++;
		rows[nrows - 1].msat += q->recs[i].msat;
		rep.paid++;
		rep.msat += q->recs[i].msat;
	}
	qsort(rows, nrows, sizeof(rows[0]), row_by_day);
	/* By route: the same rows in route order, each route's days added up. */
	memcpy(routes, rows, nrows * sizeof(rows[0]));
	qsort(routes, nrows, sizeof(routes[0]), row_by_route);
	size_t nroutes = 0;
	for (size_t i = 0; i < nrows;) {
		struct sales_row sum = { 0, routes[i].route, 0, 0 };
		size_t k = i;
		for (; k < nrows && strcmp(routes[k].route, routes[i].route) == 0; k++) {
			sum.paid += routes[k].paid;
			sum.msat += routes[k].msat;
		}
		routes[nroutes++] = sum;
		i = k;
	}
	rep.by_day = rows;
	rep.nby_day = nrows;
	rep.by_route = routes;
	rep.nby_route = nroutes;
	rep.recent = recent;
	rep.nrecent = latest(q, recent);
	q->done(q->arg, &rep, NULL);
	free(rows);
	free(routes);
	query_free(q);
}

static bool fetch(struct sales_query *q);

static bool str_at(const struct json_doc *d, int tok, char *out, size_t len)
{
	return tok >= 0 && json_get_string(d, tok, out, len, NULL);
}

static void got(void *arg, const struct rpc_result *res)
{
	struct sales_query *q = arg;
	const struct json_doc *d = res->doc;
	int i, e;
	uint64_t seen = 0;
	if (res->status != RPC_OK) {
		char why[320];
		snprintf(why, sizeof(why), "reading invoices failed: %s", res->message);
		fail(q, why);
		return;
	}
	json_for_each_arr(d, json_get(d, res->result, "invoices"), i, e) {
		char label[256], st[16];
		struct invoice_label l;
		uint64_t created = 0, paid_at = 0, msat = 0;
		seen++;
		if (json_get_u64(d, json_get(d, e, "created_index"), &created)
		    && created >= q->scan_from)
			q->scan_from = created + 1;
		if (!str_at(d, json_get(d, e, "status"), st, sizeof(st)) || strcmp(st, "paid") != 0
		    || !str_at(d, json_get(d, e, "label"), label, sizeof(label))
		    || !label_parse(label, &l) || (q->tag[0] && strcmp(q->tag, l.tag) != 0)
		    || !json_get_u64(d, json_get(d, e, "paid_at"), &paid_at)
		    || (int64_t)paid_at < q->since || (int64_t)paid_at >= q->until)
			continue;
		json_get_u64(d, json_get(d, e, "amount_received_msat"), &msat);
		if (q->n == q->cap) {
			size_t nc = q->cap ? q->cap * 2 : 256;
			struct sale_rec *nr = realloc(q->recs, nc * sizeof(*nr));
			if (!nr)
				continue;
			q->recs = nr;
			q->cap = nc;
		}
		struct sale_rec *rec = &q->recs[q->n++];
		snprintf(rec->tag, sizeof(rec->tag), "%s", l.tag);
		rec->paid_at = (int64_t)paid_at;
		rec->msat = msat;
	}
	q->scanned += seen;
	if (seen < SALES_BATCH)
		report(q, false);
	else if (q->scanned >= SALES_SCAN_MAX)
		report(q, true);
	else if (!fetch(q))
		fail(q, "cannot ask lightningd now");
}

static bool fetch(struct sales_query *q)
{
	char p[128];
	snprintf(p, sizeof(p), "{\"index\":\"created\",\"start\":%llu,\"limit\":%d}",
		 (unsigned long long)q->scan_from, SALES_BATCH);
	return rpc_call("listinvoices", p, q->parent_id, 60000, got, q);
}

bool sales_query(const char *tag, int64_t since, int64_t until, uint64_t start,
		 const char *parent_id, sales_done done, void *arg)
{
	struct sales_query *q = calloc(1, sizeof(*q));
	if (!q)
		return false;
	snprintf(q->tag, sizeof(q->tag), "%s", tag ? tag : "");
	q->since = since;
	q->until = until;
	q->scan_from = start;
	q->done = done;
	q->arg = arg;
	if (parent_id && !(q->parent_id = strdup(parent_id))) {
		free(q);
		return false;
	}
	if (!fetch(q)) {
		query_free(q);
		return false;
	}
	return true;
}

bool sales_parse_day(const char *s, bool end, int64_t *out)
{
	int y, m, dd;
	char tail;
	if (sscanf(s, "%4d-%2d-%2d%c", &y, &m, &dd, &tail) != 3 || y < 1970 || m < 1 || m > 12
	    || dd < 1 || dd > 31)
		return false;
	struct tm tm = { .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = dd };
	time_t t = timegm(&tm);
	if (tm.tm_mday != dd)
		return false; /* 2026-02-31 */
	*out = (int64_t)t + (end ? SALES_DAY_S : 0);
	return true;
}

bool sales_range_ok(int64_t since, int64_t until)
{
	return until > since && until - since <= (int64_t)SALES_MAX_DAYS * SALES_DAY_S;
}

void sales_day_name(int64_t day, char out[16])
{
	time_t t = (time_t)(day * SALES_DAY_S);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 16, "%Y-%m-%d", &tm);
}
