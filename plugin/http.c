/* libmicrohttpd's side of the plugin: its daemons and their threads, the
 * request and completion callbacks, answers with their CORS headers, and
 * the client's address. */
#include "http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "backend.h"
#include "discovery.h"
#include "json_out.h"
#include "loop.h"
#include "paywall.h"
#include "verdict_cache.h"

/* libmicrohttpd runs its own threads (a pool per listener, one per core
 * by default): parsing, sending and the kernel's share of each request
 * use every core. Our callbacks take the loop's lock, so the plugin's
 * state still has one owner at a time. */
static struct MHD_Daemon *daemons[MAX_BINDS];
static size_t ndaemons;
/* Shutting down: nothing new may wait on lightningd or a backend, since
 * the daemons must not be stopped with a connection suspended. */
static bool closing;

void http_refuse_new(void)
{
	closing = true;
}

/* ---- answers ---- */

static void add_cors(struct MHD_Response *resp, bool public_doc)
{
	MHD_add_response_header(resp, "Access-Control-Allow-Origin",
				public_doc ? "*" : l402.cfg.cors_origin);
	MHD_add_response_header(resp, "Access-Control-Expose-Headers",
				"WWW-Authenticate, Link, Retry-After");
	if (!public_doc && strcmp(l402.cfg.cors_origin, "*") != 0)
		MHD_add_response_header(resp, "Vary", "Origin");
}

void http_finish(struct req *r, unsigned status, struct MHD_Response *resp)
{
	if (!resp) {
		status = 500;
		resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
	}
	add_cors(resp, r->public_doc);
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

const char *req_subpath(const struct req *r)
{
	size_t n = strlen(r->spec.path);
	if (!r->spec.prefix)
		return "";
	if (strlen(r->path) < n)
		return "";
	return r->path + n;
}

static void preflight(struct req *r)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
	if (resp) {
		MHD_add_response_header(resp, "Access-Control-Allow-Methods",
					"GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
		MHD_add_response_header(resp, "Access-Control-Allow-Headers",
					"Authorization, Accept-Authenticate, Content-Type");
		MHD_add_response_header(resp, "Access-Control-Max-Age", "86400");
	}
	http_finish(r, 204, resp);
}

/* What every request goes through, holding the loop's lock. */
static void handle(struct req *r)
{
	if (closing) {
		http_unavailable(r, "shutting down");
		return;
	}
	if (strcmp(r->method, "OPTIONS") == 0) {
		preflight(r);
		return;
	}
	if (r->body_too_large) {
		http_error(r, 413, "too_large", "request body too large");
		return;
	}
	if (!discovery_serve(r))
		paywall_handle(r);
}

static void client_ip(struct MHD_Connection *c, char *out, size_t len)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	if (sa && sa->sa_family == AF_INET
	    && inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)len))
		return;
	if (sa && sa->sa_family == AF_INET6
	    && inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)len))
		return;
	snprintf(out, len, "unknown");
}

/* Behind a reverse proxy we run, the client is the last address it
 * appended to X-Forwarded-For. */
static void forwarded_ip(struct MHD_Connection *c, char *out, size_t len)
{
	const char *xff = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For");
	if (!xff)
		return;
	const char *last = strrchr(xff, ',');
	last = last ? last + 1 : xff;
	while (*last == ' ' || *last == '\t')
		last++;
	size_t n = strcspn(last, " \t");
	if (n == 0 || n >= len || n > 45)
		return;
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789abcdefABCDEF.:", last[i]))
			return;
	memcpy(out, last, n);
	out[n] = '\0';
}

static enum MHD_Result queue(struct req *r)
{
	enum MHD_Result ret = MHD_queue_response(r->conn, r->status, r->response);
	MHD_destroy_response(r->response);
	r->response = NULL;
	return ret;
}

/* libmicrohttpd calls this from its threads. A request belongs to its
 * connection's thread except while it is suspended, when only the loop
 * (holding the lock) may finish it, and the resume hands it back: so the
 * loop's lock is needed only to handle the request, where plugin state is
 * read and changed. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload, size_t *upload_size, void **ctx)
{
	struct req *r = *ctx;
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		r->conn = c;
		/* No printf here: this runs for every request. */
		size_t ml = strnlen(method, sizeof(r->method) - 1);
		memcpy(r->method, method, ml);
		r->path = strdup(url);
		strbuf_init(&r->body, HTTP_MAX_BODY);
		client_ip(c, r->client_ip, sizeof(r->client_ip));
		if (l402.cfg.trust_proxy)
			forwarded_ip(c, r->client_ip, sizeof(r->client_ip));
		*ctx = r;
		return MHD_YES;
	}
	if (r->response)
		return queue(r);
	if (*upload_size) {
		if (!strbuf_append(&r->body, upload, *upload_size))
			r->body_too_large = true;
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->started)
		return MHD_YES;
	r->started = true;
	loop_lock();
	if (r->path)
		handle(r);
	else
		http_error(r, 500, "internal", "out of memory");
	/* Answered now, or suspended: then the loop answers it later, and
	 * r is not ours to look at once the lock is released. */
	bool answered = r->response != NULL;
	loop_unlock();
	return answered ? queue(r) : MHD_YES;
}

/* Not under the loop's lock: a finished request is its thread's alone. */
static void on_completed(void *cls, struct MHD_Connection *c, void **ctx,
			 enum MHD_RequestTerminationCode toe)
{
	struct req *r = *ctx;
	if (!r)
		return;
	if (r->response)
		MHD_destroy_response(r->response);
	free(r->path);
	strbuf_free(&r->body);
	free(r);
	*ctx = NULL;
}

bool http_start(struct listener *l, size_t n, unsigned threads, char *why, size_t whylen)
{
	if (!backends_start(why, whylen))
		return false;
	verdict_cache_start();
	for (size_t i = 0; i < n; i++) {
		struct MHD_Daemon *d = MHD_start_daemon(
			MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME
				| MHD_USE_ERROR_LOG,
			0, NULL, NULL, on_request, NULL, MHD_OPTION_LISTEN_SOCKET, l[i].fd,
			MHD_OPTION_THREAD_POOL_SIZE, threads,
			MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
			MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
			MHD_OPTION_CONNECTION_LIMIT, (unsigned int)4000,
			/* libmicrohttpd zeroes this pool between requests: keep it small
			 * (16 KiB still holds about 14 KiB of request headers). */
			MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(16 * 1024),
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
	closing = false;
	verdict_cache_stop();
}
