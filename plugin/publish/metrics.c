#include "publish/metrics.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "http/conn_guard.h"
#include "publish/dashboard.h"
#include "paywall/mpp_session.h"
#include "http/listen.h"
#include "core/loop.h"
#include "store/routes.h"
#include "lightningd/rpc.h"
#include "strbuf.h"
#include "store/tokens.h"
#include "store/unpaid.h"

/* Per route (id 0: requests no route matched). Past MAX_ROUTE_SLOTS
 * routes ever seen, the rest count under id 0. */
#define MAX_ROUTE_SLOTS 2048
#define MAX_METRICS_TEXT (4u * 1024 * 1024)

enum outcome { SERVED, CHALLENGED, RATE_LIMITED, REFUSED, UNAVAILABLE, ERROR_5XX, NOUTCOMES };
static const char *const outcome_names[NOUTCOMES] = {
	"served", "challenged", "rate_limited", "refused", "unavailable", "error",
};


static const double buckets[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
				   0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

struct histogram {
	uint64_t counts[NBUCKETS + 1];	/* the last: above every bucket */
	double sum;
	uint64_t n;
};

struct route_counts {
	uint64_t id;
	bool used;
	uint64_t outcomes[NOUTCOMES];
	uint64_t reasons[NREASONS];
};

enum rpc_outcome { RPC_OUT_OK, RPC_OUT_ERROR, RPC_OUT_TIMEOUT, RPC_OUT_DISCONNECTED, NRPC };
static const char *const rpc_names[NRPC] = { "ok", "error", "timeout", "disconnected" };

/* The counters' lock: guards routes_seen[], the histograms and rpc_calls[],
 * written by requests finishing on any thread and by the loop, read by the
 * metrics listener's thread. A leaf. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct route_counts routes_seen[MAX_ROUTE_SLOTS];
static struct histogram http_hist, rpc_hist;
static uint64_t rpc_calls[NRPC];

static struct MHD_Daemon *daemon_;
static char addr[80];

static void observe(struct histogram *h, double seconds)
{
	size_t i = 0;
	while (i < NBUCKETS && seconds > buckets[i])
		i++;
	h->counts[i]++;
	h->sum += seconds;
	h->n++;
}

static struct route_counts *slot(uint64_t id)
{
	for (size_t i = 0, s = id % MAX_ROUTE_SLOTS; i < MAX_ROUTE_SLOTS;
	     i++, s = (s + 1) % MAX_ROUTE_SLOTS) {
		if (routes_seen[s].used && routes_seen[s].id == id)
			return &routes_seen[s];
		if (!routes_seen[s].used) {
			routes_seen[s].used = true;
			routes_seen[s].id = id;
			return &routes_seen[s];
		}
	}
	return id ? slot(0) : &routes_seen[0];
}

void metrics_request_done(uint64_t route_id, enum reason why, unsigned status,
			  int64_t duration_ns)
{
	enum outcome o = status == 402 ? CHALLENGED : status == 429 ? RATE_LIMITED
			 : status == 503 ? UNAVAILABLE : status >= 500 ? ERROR_5XX
			 : status >= 400 ? REFUSED : SERVED;
	if (!daemon_)
		return;
	pthread_mutex_lock(&mu);
	struct route_counts *c = slot(route_id);
	c->outcomes[o]++;
	if (o == CHALLENGED)
		c->reasons[(unsigned)why < NREASONS ? why : REASON_NO_CREDENTIALS]++;
	observe(&http_hist, (double)duration_ns / 1e9);
	pthread_mutex_unlock(&mu);
}

void metrics_rpc_done(enum rpc_status status, int64_t duration_ns)
{
	if (!daemon_)
		return;
	pthread_mutex_lock(&mu);
	rpc_calls[(unsigned)status < NRPC ? (unsigned)status : RPC_OUT_ERROR]++;
	observe(&rpc_hist, (double)duration_ns / 1e9);
	pthread_mutex_unlock(&mu);
}

/* ---- the text format ---- */

static void header(struct strbuf *sb, const char *name, const char *type, const char *help)
{
	strbuf_printf(sb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: backslash, quote and newline escaped. */
static void label_value(struct strbuf *sb, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			strbuf_putc(sb, '\\');
		if (*v == '\n')
			strbuf_puts(sb, "\\n");
		else
			strbuf_putc(sb, *v);
	}
}

static void route_label(struct strbuf *sb, uint64_t id)
{
	const struct route *rt = id ? routes_by_id(id) : NULL;
	strbuf_puts(sb, "route=\"");
	label_value(sb, rt ? rt->key : "none");
	strbuf_putc(sb, '"');
}

static void histogram(struct strbuf *sb, const char *name, const char *help,
		      const struct histogram *h)
{
	uint64_t cum = 0;
	header(sb, name, "histogram", help);
	for (size_t i = 0; i < NBUCKETS; i++) {
		cum += h->counts[i];
		strbuf_printf(sb, "%s_bucket{le=\"%g\"} %llu\n", name, buckets[i],
			      (unsigned long long)cum);
	}
	strbuf_printf(sb, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9f\n%s_count %llu\n", name,
		      (unsigned long long)h->n, name, h->sum, name, (unsigned long long)h->n);
}

static void gauge(struct strbuf *sb, const char *name, const char *help, uint64_t v)
{
	header(sb, name, "gauge", help);
	strbuf_printf(sb, "%s %llu\n", name, (unsigned long long)v);
}

/* A counter of every route's since-start stats, the field at `field`. */
static void route_counter(struct strbuf *sb, const char *name, const char *help, size_t field)
{
	header(sb, name, "counter", help);
	for (size_t i = 0; i < routes_total(); i++) {
		const struct route *rt = routes_at(i);
		uint64_t v;
		memcpy(&v, (const char *)&rt->since_start + field, sizeof(v));
		strbuf_printf(sb, "%s{", name);
		route_label(sb, rt->id);
		strbuf_printf(sb, "} %llu\n", (unsigned long long)v);
	}
}

/* Holding the loop's lock (routes, unpaid, tokens) and then ours. */
static void build(struct strbuf *sb)
{
	header(sb, "l402_http_requests_total", "counter",
	       "HTTP requests answered, by route and outcome");
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < MAX_ROUTE_SLOTS; i++) {
		const struct route_counts *c = &routes_seen[i];
		for (size_t o = 0; c->used && o < NOUTCOMES; o++) {
			strbuf_puts(sb, "l402_http_requests_total{");
			route_label(sb, c->id);
			strbuf_printf(sb, ",outcome=\"%s\"} %llu\n", outcome_names[o],
				      (unsigned long long)c->outcomes[o]);
		}
	}
	header(sb, "l402_challenges_total", "counter",
	       "402 answers (fresh challenges), by route and reason");
	for (size_t i = 0; i < MAX_ROUTE_SLOTS; i++) {
		const struct route_counts *c = &routes_seen[i];
		for (size_t k = 0; c->used && k < NREASONS; k++) {
			if (!c->reasons[k])
				continue;
			strbuf_puts(sb, "l402_challenges_total{");
			route_label(sb, c->id);
			strbuf_printf(sb, ",reason=\"%s\"} %llu\n", reason_name(k),
				      (unsigned long long)c->reasons[k]);
		}
	}
	histogram(sb, "l402_http_request_duration_seconds",
		  "Time from a request's headers to its answer being done", &http_hist);
	header(sb, "l402_rpc_calls_total", "counter",
	       "Calls to lightningd's RPC, by outcome (long polls left out)");
	for (size_t i = 0; i < NRPC; i++)
		strbuf_printf(sb, "l402_rpc_calls_total{outcome=\"%s\"} %llu\n", rpc_names[i],
			      (unsigned long long)rpc_calls[i]);
	histogram(sb, "l402_rpc_duration_seconds", "Time lightningd took to answer a call",
		  &rpc_hist);
	pthread_mutex_unlock(&mu);

	route_counter(sb, "l402_payments_total", "Payments to the paywall's invoices, by route",
		      offsetof(struct route_stats, paid));
	route_counter(sb, "l402_revenue_msat_total",
		      "Millisatoshis received for the paywall's invoices, by route",
		      offsetof(struct route_stats, revenue_msat));
	gauge(sb, "l402_unpaid_invoices", "Unpaid invoices outstanding (l402-max-unpaid caps it)",
	      unpaid_count());
	gauge(sb, "l402_tokens_in_memory", "Tokens kept in memory (revoked, or uses counted)",
	      tokens_in_memory());
	gauge(sb, "l402_revoked_tokens", "Tokens revoked", tokens_revoked_count());
	gauge(sb, "l402_http_connections", "HTTP connections open", conn_guard_open());
	gauge(sb, "l402_routes", "Routes active", routes_count());
	gauge(sb, "l402_rpc_connected", "1 when connected to lightningd's RPC", rpc_connected());
	gauge(sb, "l402_payment_sessions_open", "Payment scheme sessions open", mpp_sessions_open());
}

/* What a scrape's request keeps between libmicrohttpd's calls (a
 * dashboard's request keeps its own). */
static char scrape_ctx;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **ctx)
{
	struct MHD_Response *resp;
	unsigned status = 200;
	if (*upload_size) {
		/* Nothing here takes a body: it is read and passed over. */
		*upload_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/dashboard") == 0)
		return dashboard_serve(c, method, ctx);
	if (!*ctx) {
		*ctx = &scrape_ctx;	/* the headers are in: answer on the next call */
		return MHD_YES;
	}
	if (strcmp(url, "/metrics") != 0 || (strcmp(method, "GET") && strcmp(method, "HEAD"))) {
		static const char nf[] = "not found: the metrics are at /metrics, the dashboard at "
					 "/dashboard\n";
		resp = MHD_create_response_from_buffer(sizeof(nf) - 1, (void *)nf,
						       MHD_RESPMEM_PERSISTENT);
		status = 404;
	} else {
		struct strbuf sb;
		strbuf_init(&sb, MAX_METRICS_TEXT);
		loop_lock();
		build(&sb);
		loop_unlock();
		resp = MHD_create_response_from_buffer(sb.len, sb.data ? sb.data : "",
						       MHD_RESPMEM_MUST_COPY);
		strbuf_free(&sb);
	}
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	enum MHD_Result ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **ctx,
			 enum MHD_RequestTerminationCode toe)
{
	if (*ctx && *ctx != &scrape_ctx)
		dashboard_done(*ctx);
	*ctx = NULL;
}

bool metrics_start(const char *bind, char *why, size_t whylen)
{
	struct listener l;
	if (!bind)
		return true;
	if (!listener_open("l402-metrics-bind", bind, &l, why, whylen))
		return false;
	daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME
				   | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, NULL,
				   MHD_OPTION_LISTEN_SOCKET, l.fd,
				   MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
				   MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
				   MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64, MHD_OPTION_END);
	if (!daemon_) {
		listeners_close(&l, 1);
		snprintf(why, whylen, "cannot start the metrics server on %s", l.addr);
		return false;
	}
	snprintf(addr, sizeof(addr), "%s", l.addr);
	return true;
}

/* Holding the loop's lock, which a scrape takes: let it go meanwhile,
 * once no dashboard request waits (libmicrohttpd must not be stopped with
 * a connection suspended). */
void metrics_stop(void)
{
	if (!daemon_)
		return;
	dashboard_stop();
	loop_unlock();
	MHD_stop_daemon(daemon_);
	loop_lock();
	daemon_ = NULL;
	addr[0] = '\0';
}

const char *metrics_addr(void)
{
	return addr;
}
