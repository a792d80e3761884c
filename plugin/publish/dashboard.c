/* The operator's dashboard (dashboard.h): the request's way through
 * libmicrohttpd (checked inputs, a wait on lightningd while the sales are
 * read), then the page, built on the loop holding its lock. */
#include "publish/dashboard.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/loop.h"
#include "core/state.h"
#include "encoding.h"
#include "lightningd/rpc.h"
#include "paywall/mpp_session.h"
#include "store/routes.h"
#include "store/sales.h"
#include "strbuf.h"

#define DEFAULT_DAYS 30
/* Requests waiting on lightningd at once; more are told to come back. */
#define MAX_WAITING 8
#define MAX_SESSIONS_SHOWN 50
#define MAX_PAGE (2u * 1024 * 1024)

/* A request of /dashboard. While it waits (suspended), only the loop,
 * holding its lock, touches it, and answering it resumes it. */
struct dash_req {
	struct MHD_Connection *conn;
	struct MHD_Response *resp;	/* the answer, once there is one */
	unsigned status;
	bool waiting;
	struct dash_query *q;		/* while it waits */
	struct dash_req *next;		/* in the list of waiting requests */
};

/* The read of the sales for a request; it outlives the request when the
 * listener stops first (req NULL). */
struct dash_query {
	struct dash_req *req;
	int64_t since, until;
	uint64_t start;
};

/* Under the loop's lock. */
static struct dash_req *waiting;
static unsigned nwaiting;
static bool closing;

/* ---- answers ---- */

static struct MHD_Response *text_response(const char *msg)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(msg), (void *)msg,
								    MHD_RESPMEM_MUST_COPY);
	if (resp)
		MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
	return resp;
}

static void answer_text(struct dash_req *r, unsigned status, const char *msg)
{
	r->resp = text_response(msg);
	r->status = status;
	if (r->resp && status == 503)
		MHD_add_response_header(r->resp, "Retry-After", "5");
}

static enum MHD_Result queue(struct dash_req *r)
{
	if (!r->resp)
		return MHD_NO;
	MHD_add_response_header(r->resp, "Cache-Control", "no-store");
	MHD_add_response_header(r->resp, "X-Content-Type-Options", "nosniff");
	enum MHD_Result ret = MHD_queue_response(r->conn, r->status, r->resp);
	MHD_destroy_response(r->resp);
	r->resp = NULL;
	return ret;
}

/* Holding the loop's lock: the answer is in, r goes back to its thread. */
static void resume(struct dash_req *r)
{
	for (struct dash_req **p = &waiting; *p; p = &(*p)->next)
		if (*p == r) {
			*p = r->next;
			break;
		}
	nwaiting--;
	r->waiting = false;
	r->q = NULL;
	MHD_resume_connection(r->conn);
}

/* ---- the page ---- */

static void put_sat(struct strbuf *sb, uint64_t msat)
{
	uint64_t sat = msat / 1000, frac = msat % 1000;
	char digits[32], grouped[48];
	size_t n = (size_t)snprintf(digits, sizeof(digits), "%" PRIu64, sat), k = 0;
	for (size_t i = 0; i < n; i++) {
		if (i && (n - i) % 3 == 0)
			grouped[k++] = ',';
		grouped[k++] = digits[i];
	}
	grouped[k] = '\0';
	strbuf_puts(sb, grouped);
	if (frac) {
		char f[8];
		snprintf(f, sizeof(f), ".%03" PRIu64, frac);
		for (size_t e = strlen(f); f[e - 1] == '0'; e--)
			f[e - 1] = '\0';
		strbuf_puts(sb, f);
	}
	strbuf_puts(sb, " sat");
}

static void put_day(struct strbuf *sb, int64_t day)
{
	char d[16];
	sales_day_name(day, d);
	strbuf_puts(sb, d);
}

static void put_time(struct strbuf *sb, int64_t t)
{
	char s[32];
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(s, sizeof(s), "%Y-%m-%d %H:%M:%S", &tm);
	strbuf_puts(sb, s);
}

static void put_percent(struct strbuf *sb, uint64_t part, uint64_t whole)
{
	if (!whole)
		strbuf_puts(sb, "–");
	else
		strbuf_printf(sb, "%.1f%%", 100.0 * (double)part / (double)whole);
}

static void put_duration(struct strbuf *sb, int64_t s)
{
	if (s < 0)
		s = 0;
	if (s < 120)
		strbuf_printf(sb, "%" PRId64 " s", s);
	else if (s < 7200)
		strbuf_printf(sb, "%" PRId64 " min", s / 60);
	else
		strbuf_printf(sb, "%" PRId64 " h", s / 3600);
}

static const char *route_of_tag(const char *tag)
{
	const struct route *rt = routes_by_tag(tag);
	return rt ? rt->key : tag;
}

static void card_open(struct strbuf *sb, const char *id)
{
	strbuf_printf(sb, "<div class=\"card\" id=\"%s\"><b>", id);
}

static void card_close(struct strbuf *sb, const char *label)
{
	strbuf_printf(sb, "</b><span>%s</span></div>", label);
}

static const char CSS[] =
	":root{--fg:#1d1d1f;--muted:#5f6368;--bg:#fafafa;--card:#fff;--accent:#f7931a;--line:#e5e5e5}"
	"*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,"
	"sans-serif;color:var(--fg);background:var(--bg)}main{max-width:960px;margin:0 auto;"
	"padding:16px 12px}h1{margin:0 0 2px;font-size:1.4rem}h2{font-size:1.05rem;margin:22px 0 8px}"
	".muted{color:var(--muted)}.small{font-size:.8rem}form{display:flex;flex-wrap:wrap;gap:8px;"
	"align-items:flex-end;margin:12px 0 6px}label{display:flex;flex-direction:column;font-size:.8rem;"
	"color:var(--muted)}input,button{font:inherit;font-size:.9rem;padding:4px 8px;border:1px solid "
	"var(--line);border-radius:6px;background:#fff}button{cursor:pointer}.quick{font-size:.85rem;"
	"margin:0 0 12px}.quick a{margin-right:12px}a{color:#0b57d0}.cards{display:grid;"
	"grid-template-columns:repeat(auto-fit,minmax(140px,1fr));gap:8px}.card{background:var(--card);"
	"border:1px solid var(--line);border-radius:10px;padding:10px 12px}.card b{display:block;"
	"font-size:1.25rem;white-space:nowrap}.card span{color:var(--muted);font-size:.8rem}"
	".chart{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:8px}"
	".chart svg{display:block;width:100%;height:140px}.axis{display:flex;justify-content:space-between;"
	"color:var(--muted);font-size:.75rem}.axis span:nth-child(2){text-align:center}"
	".scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}table{width:100%;border-collapse:collapse;"
	"background:var(--card);font-size:.88rem}th,td{text-align:left;padding:6px 8px;border-bottom:1px "
	"solid var(--line);white-space:nowrap}th{font-weight:600;color:var(--muted);font-size:.78rem}"
	".n{text-align:right;font-variant-numeric:tabular-nums}td.share{width:30%;min-width:70px}"
	".bar{height:8px;background:var(--accent);border-radius:4px}code{font:.82rem ui-monospace,monospace}"
	"footer{color:var(--muted);font-size:.8rem;margin-top:24px}.notice{background:#fff4e5;"
	"border:1px solid #f7c98b;border-radius:8px;padding:8px 10px;font-size:.85rem}";

/* Revenue by day over the whole range: one bar a day, in an inline SVG. */
static void chart(struct strbuf *sb, const struct sales_report *rep)
{
	int64_t first = rep->since / SALES_DAY_S;
	size_t ndays = (size_t)((rep->until - rep->since) / SALES_DAY_S);
	uint64_t day_msat[SALES_MAX_DAYS] = { 0 }, max = 0;
	for (size_t i = 0; i < rep->nby_day; i++) {
		int64_t k = rep->by_day[i].day - first;
		if (k >= 0 && (size_t)k < ndays)
			day_msat[k] += rep->by_day[i].msat;
	}
	for (size_t k = 0; k < ndays; k++)
		max = day_msat[k] > max ? day_msat[k] : max;
	strbuf_printf(sb, "<div class=\"chart\"><svg id=\"by-day-chart\" viewBox=\"0 0 %zu 100\" "
		      "preserveAspectRatio=\"none\" role=\"img\" aria-label=\"Revenue by day\">"
		      "<line x1=\"0\" y1=\"99.5\" x2=\"%zu\" y2=\"99.5\" stroke=\"#ccc\" "
		      "stroke-width=\"1\" vector-effect=\"non-scaling-stroke\"/>", ndays * 10, ndays * 10);
	for (size_t k = 0; k < ndays && max; k++) {
		if (!day_msat[k])
			continue;
		double h = 96.0 * (double)day_msat[k] / (double)max;
		if (h < 1)
			h = 1;
		strbuf_printf(sb, "<rect x=\"%zu\" y=\"%.2f\" width=\"8\" height=\"%.2f\" fill=\"#f7931a\">"
			      "<title>", k * 10 + 1, 100 - h, h);
		put_day(sb, first + (int64_t)k);
		strbuf_puts(sb, ": ");
		put_sat(sb, day_msat[k]);
		strbuf_puts(sb, "</title></rect>");
	}
	strbuf_puts(sb, "</svg><div class=\"axis\"><span>");
	put_day(sb, first);
	strbuf_puts(sb, "</span><span>best day: ");
	put_sat(sb, max);
	strbuf_puts(sb, "</span><span>");
	put_day(sb, first + (int64_t)ndays - 1);
	strbuf_puts(sb, "</span></div></div>");
}

static void by_day_table(struct strbuf *sb, const struct sales_report *rep)
{
	strbuf_puts(sb, "<div class=\"scroll\"><table id=\"by-day\"><tr><th>day (UTC)</th>"
			"<th class=\"n\">sales</th><th class=\"n\">revenue</th></tr>");
	/* by_day runs by day, then route: newest day first, routes added up. */
	for (size_t end = rep->nby_day; end > 0;) {
		size_t i = end;
		uint64_t paid = 0, msat = 0;
		while (i > 0 && rep->by_day[i - 1].day == rep->by_day[end - 1].day) {
			i--;
			paid += rep->by_day[i].paid;
			msat += rep->by_day[i].msat;
		}
		strbuf_puts(sb, "<tr><td>");
		put_day(sb, rep->by_day[end - 1].day);
		strbuf_printf(sb, "</td><td class=\"n\">%" PRIu64 "</td><td class=\"n\">", paid);
		put_sat(sb, msat);
		strbuf_puts(sb, "</td></tr>");
		end = i;
	}
	if (!rep->nby_day)
		strbuf_puts(sb, "<tr><td colspan=\"3\" class=\"muted\">no sale in this range</td></tr>");
	strbuf_puts(sb, "</table></div>");
}

static void by_route_table(struct strbuf *sb, const struct sales_report *rep)
{
	strbuf_puts(sb, "<div class=\"scroll\"><table id=\"by-route\"><tr><th>route</th>"
			"<th class=\"n\">sales</th><th class=\"n\">revenue</th><th>share</th></tr>");
	for (size_t i = 0; i < rep->nby_route; i++) {
		const struct sales_row *row = &rep->by_route[i];
		strbuf_puts(sb, "<tr><td><code>");
		strbuf_puts_html(sb, row->route);
		strbuf_printf(sb, "</code></td><td class=\"n\">%" PRIu64 "</td><td class=\"n\">", row->paid);
		put_sat(sb, row->msat);
		strbuf_printf(sb, "</td><td class=\"share\"><div class=\"bar\" style=\"width:%.1f%%\"></div>"
			      "</td></tr>", rep->msat ? 100.0 * (double)row->msat / (double)rep->msat : 0.0);
	}
	if (!rep->nby_route)
		strbuf_puts(sb, "<tr><td colspan=\"4\" class=\"muted\">no sale in this range</td></tr>");
	strbuf_puts(sb, "</table></div>");
}

static void recent_table(struct strbuf *sb, const struct sales_report *rep)
{
	strbuf_puts(sb, "<div class=\"scroll\"><table id=\"recent\"><tr><th>paid at (UTC)</th>"
			"<th>route</th><th class=\"n\">amount</th></tr>");
	for (size_t i = 0; i < rep->nrecent; i++) {
		strbuf_puts(sb, "<tr><td>");
		put_time(sb, rep->recent[i].paid_at);
		strbuf_puts(sb, "</td><td><code>");
		strbuf_puts_html(sb, rep->recent[i].route);
		strbuf_puts(sb, "</code></td><td class=\"n\">");
		put_sat(sb, rep->recent[i].msat);
		strbuf_puts(sb, "</td></tr>");
	}
	if (!rep->nrecent)
		strbuf_puts(sb, "<tr><td colspan=\"3\" class=\"muted\">no sale in this range</td></tr>");
	strbuf_puts(sb, "</table></div>");
}

/* The open sessions, and what they hold in all. */
static void sessions_table(struct strbuf *sb, const struct session_view *v, size_t shown,
			   size_t open, int64_t now)
{
	strbuf_puts(sb, "<div class=\"scroll\"><table id=\"sessions\"><tr><th>session</th><th>route</th>"
			"<th class=\"n\">balance</th><th class=\"n\">spent</th><th class=\"n\">deposits</th>"
			"<th class=\"n\">idle</th></tr>");
	for (size_t i = 0; i < shown; i++) {
		char hex[13];
		hex_encode(v[i].id, 6, hex, sizeof(hex));
		strbuf_printf(sb, "<tr><td><code>%s…</code></td><td><code>", hex);
		strbuf_puts_html(sb, route_of_tag(v[i].tag));
		strbuf_puts(sb, "</code></td><td class=\"n\">");
		if (v[i].spent_known) {
			put_sat(sb, v[i].spent_msat < v[i].deposit_msat
					    ? v[i].deposit_msat - v[i].spent_msat : 0);
			strbuf_puts(sb, "</td><td class=\"n\">");
			put_sat(sb, v[i].spent_msat);
		} else {
			strbuf_puts(sb, "–</td><td class=\"n\">–");
		}
		strbuf_puts(sb, "</td><td class=\"n\">");
		put_sat(sb, v[i].deposit_msat);
		strbuf_puts(sb, "</td><td class=\"n\">");
		put_duration(sb, now - v[i].last_active);
		strbuf_puts(sb, "</td></tr>");
	}
	if (!open)
		strbuf_puts(sb, "<tr><td colspan=\"6\" class=\"muted\">no session open</td></tr>");
	else if (open > shown)
		strbuf_printf(sb, "<tr><td colspan=\"6\" class=\"muted\">and %zu more</td></tr>",
			      open - shown);
	strbuf_puts(sb, "</table></div>");
}

/* Challenges against sales, per route, from the route counters. */
static void conversion_table(struct strbuf *sb)
{
	struct route_stats all = { 0 };
	strbuf_puts(sb, "<div class=\"scroll\"><table id=\"conversion\"><tr><th>route</th>"
			"<th class=\"n\">challenges</th><th class=\"n\">sales</th><th class=\"n\">conversion</th>"
			"<th class=\"n\">requests served</th></tr>");
	for (size_t i = 0; i < routes_total(); i++) {
		const struct route *rt = routes_at(i);
		const struct route_stats *s = &rt->all_time;
		strbuf_puts(sb, "<tr><td><code>");
		strbuf_puts_html(sb, rt->key);
		strbuf_printf(sb, "</code>%s</td><td class=\"n\">%" PRIu64 "</td><td class=\"n\">%" PRIu64
			      "</td><td class=\"n\">", rt->active ? "" : " <span class=\"muted\">(removed)</span>",
			      s->challenges, s->paid);
		put_percent(sb, s->paid, s->challenges);
		strbuf_printf(sb, "</td><td class=\"n\">%" PRIu64 "</td></tr>", s->requests);
		all.challenges += s->challenges;
		all.paid += s->paid;
		all.requests += s->requests;
	}
	strbuf_printf(sb, "<tr><th>all routes</th><th class=\"n\">%" PRIu64 "</th><th class=\"n\">%"
		      PRIu64 "</th><th class=\"n\">", all.challenges, all.paid);
	put_percent(sb, all.paid, all.challenges);
	strbuf_printf(sb, "</th><th class=\"n\">%" PRIu64 "</th></tr></table></div>", all.requests);
}

/* A link to the dashboard over the last `days` days. */
static void quick_link(struct strbuf *sb, int64_t today, int days, const char *label)
{
	char a[16], b[16];
	sales_day_name(today - days + 1, a);
	sales_day_name(today, b);
	strbuf_printf(sb, "<a href=\"/dashboard?since=%s&amp;until=%s\">%s</a>", a, b, label);
}

static void build_page(struct strbuf *sb, const struct sales_report *rep)
{
	struct session_view views[MAX_SESSIONS_SHOWN];
	int64_t now = (int64_t)time(NULL), today = now / SALES_DAY_S;
	int64_t first = rep->since / SALES_DAY_S, last = rep->until / SALES_DAY_S - 1;
	size_t open = mpp_session_list_open(views, MAX_SESSIONS_SHOWN);
	size_t shown = open < MAX_SESSIONS_SHOWN ? open : MAX_SESSIONS_SHOWN;
	uint64_t held = 0;
	for (size_t i = 0; i < shown; i++)
		if (views[i].spent_known && views[i].spent_msat < views[i].deposit_msat)
			held += views[i].deposit_msat - views[i].spent_msat;
	struct route_stats all = { 0 };
	for (size_t i = 0; i < routes_total(); i++) {
		all.challenges += routes_at(i)->all_time.challenges;
		all.paid += routes_at(i)->all_time.paid;
	}
	const char *name = l402.cfg.service_name ? l402.cfg.service_name : "cln-l402";

	strbuf_puts(sb, "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
			"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
			"<meta name=\"robots\" content=\"noindex\"><title>Dashboard · ");
	strbuf_puts_html(sb, name);
	strbuf_puts(sb, "</title><style>");
	strbuf_puts(sb, CSS);
	strbuf_puts(sb, "</style></head><body><main><h1>");
	strbuf_puts_html(sb, name);
	strbuf_puts(sb, "</h1><p class=\"muted small\" id=\"range\">Sales from ");
	put_day(sb, first);
	strbuf_puts(sb, " to ");
	put_day(sb, last);
	strbuf_printf(sb, " (UTC, %" PRId64 " days), as of ", last - first + 1);
	put_time(sb, now);
	strbuf_puts(sb, " UTC</p><form method=\"get\" action=\"/dashboard\"><label>from<input type=\"date\" "
			"name=\"since\" value=\"");
	put_day(sb, first);
	strbuf_puts(sb, "\" required></label><label>to<input type=\"date\" name=\"until\" value=\"");
	put_day(sb, last);
	strbuf_puts(sb, "\" required></label><button type=\"submit\">Show</button></form><p class=\"quick\">");
	quick_link(sb, today, 7, "7 days");
	quick_link(sb, today, 30, "30 days");
	quick_link(sb, today, 90, "90 days");
	quick_link(sb, today, SALES_MAX_DAYS, "a year");
	strbuf_puts(sb, "</p>");
	if (rep->more)
		strbuf_printf(sb, "<p class=\"notice\">Only %" PRIu64 " of lightningd's invoices were "
			      "read: the figures below leave out sales in the ones after (the link at "
			      "the bottom reads on).</p>", rep->invoices_read);

	strbuf_puts(sb, "<section class=\"cards\">");
	card_open(sb, "revenue");
	put_sat(sb, rep->msat);
	card_close(sb, "revenue in range");
	card_open(sb, "sales");
	strbuf_printf(sb, "%" PRIu64, rep->paid);
	card_close(sb, "sales in range");
	card_open(sb, "open-sessions");
	strbuf_printf(sb, "%zu", open);
	card_close(sb, "sessions open");
	card_open(sb, "held");
	put_sat(sb, held);
	card_close(sb, "left in sessions");
	card_open(sb, "conversion-all");
	put_percent(sb, all.paid, all.challenges);
	card_close(sb, "challenges paid (all time)");
	strbuf_puts(sb, "</section>");

	strbuf_puts(sb, "<h2>Revenue by day</h2>");
	chart(sb, rep);
	strbuf_puts(sb, "<h2>Revenue by route</h2>");
	by_route_table(sb, rep);
	strbuf_puts(sb, "<h2>Open sessions and their balances</h2>");
	sessions_table(sb, views, shown, open, now);
	strbuf_puts(sb, "<h2>Challenges and sales</h2><p class=\"muted small\">All time, from the route "
			"counters: a challenge is a 402 with a fresh invoice; a sale, an invoice paid.</p>");
	conversion_table(sb);
	strbuf_puts(sb, "<h2>Latest sales</h2>");
	recent_table(sb, rep);
	strbuf_puts(sb, "<h2>Days with sales</h2>");
	by_day_table(sb, rep);

	strbuf_printf(sb, "<footer><p id=\"read\">Read from lightningd's invoices: %" PRIu64 " read",
		      rep->invoices_read);
	if (rep->more) {
		strbuf_printf(sb, "; more follow, not counted above: <a id=\"more\" href=\"/dashboard?since=");
		put_day(sb, first);
		strbuf_puts(sb, "&amp;until=");
		put_day(sb, last);
		strbuf_printf(sb, "&amp;start=%" PRIu64 "\">the next %u</a>", rep->next_start,
			      SALES_SCAN_MAX);
	}
	strbuf_puts(sb, ". The same figures: <code>lightning-cli l402-stats since=… until=…</code>; "
			"live counters at <a href=\"/metrics\">/metrics</a>.</p></footer></main></body></html>\n");
}

/* The sales are read (the loop, holding its lock): the page, or why not. */
static void got_sales(void *arg, const struct sales_report *rep, const char *why)
{
	struct dash_query *q = arg;
	struct dash_req *r = q->req;
	free(q);
	if (!r)
		return; /* answered already: the listener is stopping */
	if (!rep) {
		char msg[400];
		snprintf(msg, sizeof(msg), "unavailable: %s\n", why);
		answer_text(r, 503, msg);
	} else {
		struct strbuf sb;
		strbuf_init(&sb, MAX_PAGE);
		build_page(&sb, rep);
		if (sb.failed || !sb.data) {
			answer_text(r, 500, "the page is too large\n");
		} else {
			r->resp = MHD_create_response_from_buffer(sb.len, sb.data, MHD_RESPMEM_MUST_COPY);
			r->status = 200;
			if (r->resp) {
				MHD_add_response_header(r->resp, "Content-Type", "text/html; charset=utf-8");
				/* Nothing is fetched from elsewhere, and no script runs. */
				MHD_add_response_header(r->resp, "Content-Security-Policy",
							"default-src 'none'; style-src 'unsafe-inline'; "
							"form-action 'self'; frame-ancestors 'none'");
				MHD_add_response_header(r->resp, "Referrer-Policy", "no-referrer");
			}
		}
		strbuf_free(&sb);
	}
	resume(r);
}

/* ---- the request's inputs ---- */

struct inputs {
	const char *since, *until, *start;
	const char *error;
};

/* Each parameter as libmicrohttpd decoded it, with its length: a %00 in
 * a value would otherwise end it early, unseen. */
static enum MHD_Result take_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				size_t key_size, const char *value, size_t value_size)
{
	struct inputs *in = cls;
	if (strlen(key) != key_size || (value && strlen(value) != value_size)) {
		in->error = "a parameter holds a NUL byte\n";
		return MHD_NO;
	}
	const char **slot = strcmp(key, "since") == 0 ? &in->since
			    : strcmp(key, "until") == 0 ? &in->until
			    : strcmp(key, "start") == 0 ? &in->start : NULL;
	if (!slot) {
		in->error = "unknown parameter: the dashboard takes since, until (days, YYYY-MM-DD) "
			    "and start\n";
		return MHD_NO;
	}
	if (*slot) {
		in->error = "a parameter given twice\n";
		return MHD_NO;
	}
	*slot = value ? value : "";
	return MHD_YES;
}

/* Whether the request names this listener by an address (an IP literal,
 * or localhost), not by some other name: a page elsewhere whose name is
 * made to resolve here (DNS rebinding) must not read the shop. */
static bool host_ok(struct MHD_Connection *c)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
	char name[256];
	if (!h)
		return true; /* HTTP/1.0 without Host: no browser sends that */
	size_t n = strlen(h);
	if (n == 0 || n >= sizeof(name))
		return false;
	memcpy(name, h, n + 1);
	if (name[0] == '[') /* an IPv6 literal */
		return strchr(name, ']') != NULL;
	char *colon = strrchr(name, ':');
	if (colon)
		*colon = '\0';
	if (strcasecmp(name, "localhost") == 0)
		return true;
	struct in_addr a;
	return inet_pton(AF_INET, name, &a) == 1;
}

static bool is_day(const char *s, bool end, int64_t *out)
{
	return strlen(s) == 10 && sales_parse_day(s, end, out);
}

/* The range asked for, checked; NULL, or what is wrong with it (in msg,
 * or a constant). */
static const char *read_inputs(struct MHD_Connection *c, struct dash_query *q, char *msg,
			       size_t msglen)
{
	struct inputs in = { 0 };
	int64_t today = (int64_t)time(NULL) / SALES_DAY_S * SALES_DAY_S;
	MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, take_arg, &in);
	if (in.error)
		return in.error;
	q->until = today + SALES_DAY_S;
	if (in.until && !is_day(in.until, true, &q->until))
		return "until must be a day, YYYY-MM-DD (UTC; it is included)\n";
	q->since = q->until - (int64_t)DEFAULT_DAYS * SALES_DAY_S;
	if (in.since && !is_day(in.since, false, &q->since))
		return "since must be a day, YYYY-MM-DD (UTC)\n";
	if (!sales_range_ok(q->since, q->until)) {
		snprintf(msg, msglen, "the range must end on or after the day it starts and span "
			 "at most %d days\n", SALES_MAX_DAYS);
		return msg;
	}
	if (in.start) {
		char *end;
		size_t n = strlen(in.start);
		q->start = strtoull(in.start, &end, 10);
		if (!n || n > 15 || *end || in.start[0] < '0' || in.start[0] > '9')
			return "start must be a number: the next invoice to read, as the page gave it\n";
	}
	return NULL;
}

/* ---- libmicrohttpd's calls ---- */

enum MHD_Result dashboard_serve(struct MHD_Connection *c, const char *method, void **state)
{
	struct dash_req *r = *state;
	if (!r) {
		/* The headers are in: answer in the next call. */
		if (!(r = calloc(1, sizeof(*r))))
			return MHD_NO;
		r->conn = c;
		*state = r;
		if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
			/* At once, before any body is read (the connection closes). */
			answer_text(r, 405, "the dashboard is read with GET\n");
			if (r->resp)
				MHD_add_response_header(r->resp, "Allow", "GET, HEAD");
			return queue(r);
		}
		return MHD_YES;
	}
	if (r->resp)
		return queue(r);
	if (r->waiting)
		return MHD_YES;
	if (r->status)
		return MHD_NO;	/* answered, but its response could not be made */
	struct dash_query *q = calloc(1, sizeof(*q));
	if (!q) {
		answer_text(r, 500, "out of memory\n");
		return queue(r);
	}
	char msg[160];
	const char *bad = host_ok(c) ? read_inputs(c, q, msg, sizeof(msg))
				     : "the dashboard answers to an address of its own (a name "
				       "other than localhost is refused: DNS rebinding)\n";
	if (bad) {
		free(q);
		answer_text(r, 400, bad);
		return queue(r);
	}
	loop_lock();
	if (closing) {
		answer_text(r, 503, "unavailable: shutting down\n");
	} else if (!rpc_connected()) {
		answer_text(r, 503, "unavailable: lightningd is not reachable now\n");
	} else if (nwaiting >= MAX_WAITING) {
		answer_text(r, 503, "unavailable: other dashboard requests are being read; retry shortly\n");
	} else if (!sales_query("", q->since, q->until, q->start, "dashboard", got_sales, q)) {
		answer_text(r, 503, "unavailable: cannot ask lightningd now\n");
	} else {
		q->req = r;
		r->q = q;
		r->waiting = true;
		r->next = waiting;
		waiting = r;
		nwaiting++;
		MHD_suspend_connection(c);
		q = NULL;
	}
	loop_unlock();
	if (q) {
		free(q);
		return queue(r);
	}
	return MHD_YES;
}

void dashboard_done(void *state)
{
	struct dash_req *r = state;
	if (!r)
		return;
	if (r->resp)
		MHD_destroy_response(r->resp);
	free(r);
}

void dashboard_stop(void)
{
	closing = true;
	while (waiting) {
		struct dash_req *r = waiting;
		r->q->req = NULL;
		answer_text(r, 503, "unavailable: shutting down\n");
		resume(r);
	}
}
