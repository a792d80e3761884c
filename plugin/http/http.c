/* libmicrohttpd's side of the plugin: its daemons and their threads, the
 * request and completion callbacks, request bodies, and answers. */
#include "http/http.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "http/client_addr.h"
#include "http/conn_guard.h"
#include "http/cors.h"
#include "publish/metrics.h"
#include "publish/discovery.h"
#include "paywall/forward_auth.h"
#include "json_out.h"
#include "core/loop.h"
#include "paywall/paywall.h"
#include "http/tls.h"
#include "store/verdict_cache.h"

/* libmicrohttpd runs its own threads (a pool per listener, one per core
 * by default): parsing, sending and the kernel's share of each request
 * use every core. Our callbacks take the loop's lock, so the plugin's
 * state still has one owner at a time. */
static struct MHD_Daemon *daemons[MAX_BINDS];
static size_t ndaemons;
/* Shutting down: nothing new may wait on lightningd or a backend, since
 * the daemons must not be stopped with a connection suspended. */
static atomic_bool closing;

void http_refuse_new(void)
{
	atomic_store(&closing, true);
}

/* ---- answers ---- */

void http_finish(struct req *r, unsigned status, struct MHD_Response *resp)
{
	if (!resp) {
		status = 500;
		resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
	}
	if (r->deny_status && (status < 200 || status > 299))
		status = r->deny_status;
	if (r->mpp.receipt[0] && status >= 200 && status <= 299)
		MHD_add_response_header(resp, "Payment-Receipt", r->mpp.receipt);
	if (r->balance_left >= 0 && status >= 200 && status <= 299 && !r->forward_auth) {
		char left[24];
		snprintf(left, sizeof(left), "%lld", (long long)r->balance_left);
		MHD_add_response_header(resp, "X-L402-Balance-Msat", left);
	}
	cors_add(resp, r->public_doc);
	r->status = status;
	r->response = resp;
	if (r->suspended) {
		r->suspended = false;
		MHD_resume_connection(r->conn);
	}
}

static struct MHD_Response *json_response(const char *json, size_t len)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, (void *)json, MHD_RESPMEM_MUST_COPY);
	if (resp)
		MHD_add_response_header(resp, "Content-Type", "application/json");
	return resp;
}

void http_finish_json(struct req *r, unsigned status, const char *json, size_t len)
{
	http_finish(r, status, json_response(json, len));
}

/* {"error": code, "message": ..., "retry_after": seconds}, with
 * Retry-After, when seconds is not 0. */
static void finish_error(struct req *r, unsigned status, const char *code, const char *message,
			 unsigned seconds)
{
	struct strbuf sb;
	struct json_out j;
	char ra[16];
	json_out_object(&j, &sb, 0);
	json_add_string(&j, "error", code);
	json_add_string(&j, "message", message);
	if (seconds)
		json_add_u64(&j, "retry_after", seconds);
	json_object_end(&j);
	struct MHD_Response *resp = json_response(sb.data, sb.len);
	strbuf_free(&sb);
	if (resp && seconds) {
		snprintf(ra, sizeof(ra), "%u", seconds);
		MHD_add_response_header(resp, "Retry-After", ra);
	}
	http_finish(r, status, resp);
}

void http_error(struct req *r, unsigned status, const char *code, const char *message)
{
	finish_error(r, status, code, message, 0);
}

void http_retry_later(struct req *r, unsigned status, const char *code, const char *why,
		      unsigned seconds)
{
	finish_error(r, status, code, why, seconds ? seconds : 1);
}

void http_unavailable(struct req *r, const char *why)
{
	http_retry_later(r, 503, "unavailable", why, 5);
}

void http_wait(struct req *r)
{
	if (!r->suspended && !r->response) {
		r->suspended = true;
		MHD_suspend_connection(r->conn);
	}
}

bool req_subpath_plain(const struct req *r)
{
	const char *p = req_subpath(r);
	if (strchr(p, '\\'))
		return false;
	while (*p) {
		while (*p == '/')
			p++;
		size_t n = strcspn(p, "/");
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += n;
	}
	return true;
}

const char *req_subpath(const struct req *r)
{
	size_t n = strlen(r->route.spec.path);
	if (!r->route.spec.prefix)
		return "";
	if (strlen(r->path) < n)
		return "";
	return r->path + n;
}

enum http_outcome http_locked(void (*step)(struct req *r), struct req *r)
{
	loop_lock();
	step(r);
	/* Decided under the lock: once it is released, a request that waits
	 * is the loop's, and nothing of it may be read here. */
	enum http_outcome o = r->response		       ? HTTP_ANSWERED
			      : r->suspended || r->serve_after_body ? HTTP_PENDING
			      : r->serve_unlocked		       ? HTTP_SERVE_UNLOCKED
								       : HTTP_CONTINUE;
	loop_unlock();
	return o;
}

static void documents(struct req *r)
{
	discovery_serve(r);
}

/* What every request goes through, without the loop's lock. */
static enum http_outcome handle(struct req *r)
{
	if (atomic_load(&closing)) {
		http_unavailable(r, "shutting down");
		return HTTP_ANSWERED;
	}
	if (r->nul_in_target) {
		http_error(r, 400, "bad_request", "NUL in the request target");
		return HTTP_ANSWERED;
	}
	if (forward_auth_take(r, l402.cfg.auth_path)) {
		/* The route table alone decides for a front proxy. */
		return r->response ? HTTP_ANSWERED : paywall_handle(r);
	}
	if (strcmp(r->method, "OPTIONS") == 0 && cors_is_preflight(r->conn)) {
		http_finish(r, 204, cors_preflight(r->conn));
		return HTTP_ANSWERED;
	}
	enum http_outcome o = http_locked(documents, r);
	return o == HTTP_CONTINUE ? paywall_handle(r) : o;
}

static enum MHD_Result queue(struct req *r)
{
	enum MHD_Result ret = MHD_queue_response(r->conn, r->status, r->response);
	MHD_destroy_response(r->response);
	r->response = NULL;
	return ret;
}

/* Bytes of request bodies buffered, across every connection. */
static atomic_size_t body_bytes;

void http_serve(struct req *r)
{
	if (r->forward_auth) {
		/* The front proxy serves it; a body it sent us is passed over. */
		r->served = true;
		forward_auth_allow(r);
		return;
	}
	if (!r->body_expected) {
		r->served = true;
		r->route.backend->serve(r);
		return;
	}
	const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
	if (r->route.backend->reads_body && cl && strtoull(cl, NULL, 10) > HTTP_MAX_BODY) {
		http_error(r, 413, "too_large", "request body too large");
		return;
	}
	/* Now the body is worth reading (Expect: 100-continue gets its 100):
	 * kept for a backend that takes it, passed over for one that does
	 * not, so that the connection stays open for the next request. */
	r->serve_after_body = true;
	r->keep_body = r->route.backend->reads_body;
	strbuf_init(&r->body, HTTP_MAX_BODY);
	if (r->suspended) {
		r->suspended = false;
		MHD_resume_connection(r->conn);
	}
}

static void take_body(struct req *r, const char *data, size_t n)
{
	if (!r->serve_after_body)
		return; /* a body nobody reads: the connection closes after the answer */
	if (!r->keep_body || r->body_refused)
		return; /* read, and passed over */
	if (atomic_fetch_add(&body_bytes, n) + n > HTTP_BODY_BUDGET
	    || !strbuf_append(&r->body, data, n)) {
		atomic_fetch_sub(&body_bytes, n);
		r->body_refused = true;
		return;
	}
	r->body_counted += n;
}

/* A request whose body is in: its backend, or why not. */
static void serve_body(struct req *r)
{
	r->served = true;
	if (r->body_refused)
		http_retry_later(r, 413, "too_large", "request body too large, or the node is "
				 "busy with others; retry shortly", 5);
	else
		r->route.backend->serve(r);
}

/* Before anything else, with the request line as sent: refuse a NUL,
 * which percent-decoding would hide by cutting the path short. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct req *r = calloc(1, sizeof(*r));
	const char *q = strchr(uri, '?');
	if (r) {
		r->nul_in_target = strstr(uri, "%00") != NULL;
		/* For a pricer; the path itself comes decoded from libmicrohttpd. */
		if (q && strlen(q + 1) <= 4096)
			r->query = strdup(q + 1);
	}
	return r;
}

static void start_request(struct req *r, struct MHD_Connection *c, const char *url,
			  const char *method)
{
	r->conn = c;
	r->started_ns = loop_now_ns();
	/* No printf here: this runs for every request. */
	size_t ml = strnlen(method, sizeof(r->method) - 1);
	memcpy(r->method, method, ml);
	r->path = strdup(url);
	r->uses_left = -1;
	r->balance_left = -1;
	client_addr_of(c, l402.cfg.trust_proxy, l402.cfg.trusted, l402.cfg.ntrusted, &r->client);
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
	r->body_expected = (cl && strtoull(cl, NULL, 10) > 0)
			   || MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding");
}

/* libmicrohttpd calls this from its threads: once the headers are in
 * (the decision is made then, before any body is read), with each piece
 * of a body, and once more at the end or after a resume. A request
 * belongs to its connection's thread except while it is suspended, when
 * only the loop (holding the lock) may finish it, and the resume hands it
 * back: the loop's lock is taken only where plugin state is read. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload, size_t *upload_size, void **ctx)
{
	struct req *r = *ctx;
	bool decide = false;
	if (!r)
		return MHD_NO;
	if (r->response)
		return queue(r);
	if (*upload_size) {
		take_body(r, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	if (!r->conn) {
		start_request(r, c, url, method);
		conn_guard_request_started(c);
		/* An answer queued in this first call closes the connection:
		 * right for a body we will not read, wasteful otherwise, so a
		 * request without a body is decided in the next call. */
		if (!r->body_expected)
			return MHD_YES;
		decide = true;
	} else if (!r->decided) {
		decide = true;
	} else if (!r->serve_after_body || r->served) {
		return MHD_YES; /* waiting on the loop, or done */
	}
	enum http_outcome o;
	if (!r->path) {
		http_error(r, 500, "internal", "out of memory");
		o = HTTP_ANSWERED;
	} else {
		r->decided |= decide;
		o = decide ? handle(r) : http_locked(serve_body, r);
	}
	if (o == HTTP_CONTINUE) {
		/* Every step answers or hands r on: this is a bug, not a hang. */
		http_error(r, 500, "internal", "the request was not answered");
		o = HTTP_ANSWERED;
	}
	/* Answered now, or waiting: then the loop answers it later, and r
	 * is not ours to look at. */
	return o == HTTP_ANSWERED ? queue(r) : MHD_YES;
}

/* Not under the loop's lock: a finished request is its thread's alone. */
static void on_completed(void *cls, struct MHD_Connection *c, void **ctx,
			 enum MHD_RequestTerminationCode toe)
{
	struct req *r = *ctx;
	conn_guard_request_done(c);
	if (!r)
		return;
	if (r->status)
		metrics_request_done(r, r->status, loop_now_ns() - r->started_ns);
	if (r->response)
		MHD_destroy_response(r->response);
	atomic_fetch_sub(&body_bytes, r->body_counted);
	free(r->path);
	free(r->query);
	free(r->mpp.return_invoice);
	strbuf_free(&r->body);
	free(r);
	*ctx = NULL;
}

bool http_start(struct listener *l, size_t n, unsigned threads, char *why, size_t whylen)
{
	if (!backends_start(why, whylen))
		return false;
	verdict_cache_start();
	conn_guard_start(l402.cfg.max_conns_per_client, l402.cfg.header_timeout);
	static const struct MHD_OptionItem plain[] = { { MHD_OPTION_END, 0, NULL } };
	for (size_t i = 0; i < n; i++) {
		struct MHD_Daemon *d = MHD_start_daemon(
			MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME
				| MHD_USE_ERROR_LOG | (l[i].tls ? MHD_USE_TLS : 0),
			0, conn_guard_accept, NULL, on_request, NULL, MHD_OPTION_LISTEN_SOCKET, l[i].fd,
			MHD_OPTION_THREAD_POOL_SIZE, threads,
			MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
			MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
			MHD_OPTION_NOTIFY_CONNECTION, conn_guard_notify, NULL,
			MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
			MHD_OPTION_CONNECTION_LIMIT, (unsigned int)4000,
			/* libmicrohttpd zeroes this pool between requests: keep it small
			 * (16 KiB still holds about 14 KiB of request headers). */
			MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(16 * 1024),
			MHD_OPTION_ARRAY, l[i].tls ? tls_daemon_options() : plain,
			MHD_OPTION_END);
		if (!d) {
			snprintf(why, whylen, "cannot start the HTTP server on %s", l[i].addr);
			return false;
		}
		l[i].fd = -1; /* MHD owns it now */
		daemons[ndaemons++] = d;
	}
	return true;
}

void http_stop(void)
{
	backends_stop();
	/* Stopping joins libmicrohttpd's threads, which may be waiting for
	 * the lock in a callback; the loop does nothing meanwhile. */
	loop_unlock();
	for (size_t i = 0; i < ndaemons; i++)
		MHD_stop_daemon(daemons[i]);
	loop_lock();
	ndaemons = 0;
	atomic_store(&closing, false);
	verdict_cache_stop();
	conn_guard_stop();
}
