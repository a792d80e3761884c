/* proxy: forwards the request to an upstream HTTP service with libcurl.
 * Each request runs on a worker thread (curl's easy interface blocks);
 * the worker hands the finished job back to the event loop through a
 * pipe, so all MHD and plugin state stays on the loop thread. Hop-by-hop
 * headers and the client's credentials are dropped, X-Forwarded-For is
 * added, and upstream failures map to 502 (unreachable) and 504 (slow). */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "loop.h"

#define MAX_JOBS 64
#define MAX_RESPONSE (64u * 1024 * 1024)

struct job {
	struct req *r;
	char *url;
	char method[16];
	struct curl_slist *headers;
	const char *body;
	size_t body_len;
	long timeout;
	long status;
	CURLcode code;
	struct strbuf resp_body;
	struct strbuf resp_headers; /* "Name: value\n" lines we keep */
};

static int pipefd[2] = { -1, -1 };
static atomic_int active;
static atomic_bool aborting;

static bool hop_by_hop(const char *name, size_t n)
{
	static const char *const drop[] = {
		"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
		"te", "trailer", "trailers", "transfer-encoding", "upgrade", "content-length",
		"host", "authorization", "macaroon", "grpc-metadata-macaroon", "token",
		"grpc-metadata-token", "expect",
	};
	for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
		if (strlen(drop[i]) == n && strncasecmp(name, drop[i], n) == 0)
			return true;
	return false;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct job *j = arg;
	return strbuf_append(&j->resp_body, p, size * n) ? size * n : 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct job *j = arg;
	size_t len = size * n;
	const char *colon = memchr(p, ':', len);
	/* A new status line (after 100 Continue or a redirect) resets. */
	if (len > 5 && strncmp(p, "HTTP/", 5) == 0)
		strbuf_reset(&j->resp_headers);
	if (!colon)
		return len;
	size_t nl = (size_t)(colon - p);
	if (hop_by_hop(p, nl) || (nl > 12 && strncasecmp(p, "access-control", 14) == 0))
		return len;
	strbuf_append(&j->resp_headers, p, len);
	return len;
}

static int on_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	return atomic_load(&aborting) ? 1 : 0;
}

static void *worker(void *arg)
{
	struct job *j = arg;
	CURL *c = curl_easy_init();
	if (!c) {
		j->code = CURLE_FAILED_INIT;
	} else {
		curl_easy_setopt(c, CURLOPT_URL, j->url);
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, j->method);
		if (strcmp(j->method, "HEAD") == 0)
			curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
		if (j->body_len || strcmp(j->method, "POST") == 0 || strcmp(j->method, "PUT") == 0
		    || strcmp(j->method, "PATCH") == 0) {
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, j->body ? j->body : "");
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->body_len);
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, j->method);
		}
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, j->headers);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, j);
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, j);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
		curl_easy_setopt(c, CURLOPT_TIMEOUT, j->timeout);
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, NULL);
		j->code = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &j->status);
		curl_easy_cleanup(c);
	}
	while (write(pipefd[1], &j, sizeof(j)) < 0 && errno == EINTR)
		;
	return NULL;
}

static void finish_job(struct job *j)
{
	struct req *r = j->r;
	atomic_fetch_sub(&active, 1);
	if (j->code == CURLE_OPERATION_TIMEDOUT) {
		http_error(r, 504, "upstream_timeout", "the upstream service did not answer in time");
	} else if (j->code == CURLE_WRITE_ERROR && j->resp_body.failed) {
		http_error(r, 502, "upstream_too_large", "the upstream response is too large");
	} else if (j->code != CURLE_OK || j->status < 100) {
		http_error(r, 502, "upstream_unreachable", curl_easy_strerror(j->code));
	} else {
		struct MHD_Response *resp = MHD_create_response_from_buffer(
			j->resp_body.len, j->resp_body.data ? j->resp_body.data : "",
			MHD_RESPMEM_MUST_COPY);
		char *line = j->resp_headers.data;
		while (resp && line && *line) {
			char *nl = strchr(line, '\n');
			if (nl)
				*nl = '\0';
			char *colon = strchr(line, ':');
			if (colon) {
				*colon = '\0';
				char *v = colon + 1;
				while (*v == ' ' || *v == '\t')
					v++;
				v[strcspn(v, "\r")] = '\0';
				MHD_add_response_header(resp, line, v);
			}
			line = nl ? nl + 1 : NULL;
		}
		http_finish(r, (unsigned)j->status, resp);
	}
	curl_slist_free_all(j->headers);
	strbuf_free(&j->resp_body);
	strbuf_free(&j->resp_headers);
	free(j->url);
	free(j);
	r->backend = NULL;
}

static void on_pipe(void *arg, short revents)
{
	struct job *j;
	while (read(pipefd[0], &j, sizeof(j)) == (ssize_t)sizeof(j))
		finish_job(j);
}

struct hdr_ctx {
	struct job *j;
	const char *xff;
};

static enum MHD_Result copy_header(void *cls, enum MHD_ValueKind kind, const char *key,
				   const char *value)
{
	struct hdr_ctx *h = cls;
	char line[8192];
	if (hop_by_hop(key, strlen(key)) || strcasecmp(key, "X-Forwarded-For") == 0)
		return MHD_YES;
	snprintf(line, sizeof(line), "%s: %s", key, value ? value : "");
	h->j->headers = curl_slist_append(h->j->headers, line);
	return MHD_YES;
}

static enum MHD_Result add_query(void *cls, enum MHD_ValueKind kind, const char *key,
				 const char *value)
{
	struct strbuf *url = cls;
	char *k = curl_easy_escape(NULL, key, 0);
	char *v = value ? curl_easy_escape(NULL, value, 0) : NULL;
	strbuf_printf(url, "%c%s%s%s", strchr(url->data, '?') ? '&' : '?', k ? k : "",
		      v ? "=" : "", v ? v : "");
	curl_free(k);
	curl_free(v);
	return MHD_YES;
}

void backend_proxy_serve(struct req *r)
{
	struct strbuf url;
	char line[512];
	if (atomic_load(&active) >= MAX_JOBS) {
		http_error(r, 503, "busy", "too many upstream requests in flight");
		return;
	}
	struct job *j = calloc(1, sizeof(*j));
	if (!j) {
		http_error(r, 503, "busy", "out of memory");
		return;
	}
	j->r = r;
	j->timeout = (long)r->spec.timeout;
	snprintf(j->method, sizeof(j->method), "%s", r->method);
	strbuf_init(&url, 16384);
	/* The part under the route's prefix is appended to the upstream URL. */
	const char *sub = req_subpath(r);
	size_t tl = strlen(r->spec.target);
	strbuf_puts(&url, r->spec.target);
	if (*sub) {
		if (tl && r->spec.target[tl - 1] == '/' && sub[0] == '/')
			sub++;
		else if (tl && r->spec.target[tl - 1] != '/' && sub[0] != '/')
			strbuf_putc(&url, '/');
		/* Re-escape: libmicrohttpd gave us the decoded path. */
		for (const char *p = sub; *p; p++) {
			unsigned char ch = (unsigned char)*p;
			if (ch <= 0x20 || ch >= 0x7f || ch == '%' || ch == '?' || ch == '#')
				strbuf_printf(&url, "%%%02X", ch);
			else
				strbuf_putc(&url, (char)ch);
		}
	}
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, add_query, &url);
	if (url.failed) {
		strbuf_free(&url);
		free(j);
		http_error(r, 414, "uri_too_long", "request URI too long");
		return;
	}
	j->url = strbuf_steal(&url);
	struct hdr_ctx h = { j, NULL };
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, copy_header, &h);
	const char *xff = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Forwarded-For");
	if (xff)
		snprintf(line, sizeof(line), "X-Forwarded-For: %.400s, %s", xff, r->client_ip);
	else
		snprintf(line, sizeof(line), "X-Forwarded-For: %s", r->client_ip);
	j->headers = curl_slist_append(j->headers, line);
	j->headers = curl_slist_append(j->headers, "X-Forwarded-Proto: http");
	/* curl adds these unless told not to. */
	j->headers = curl_slist_append(j->headers, "Expect:");
	j->body = r->body.data;
	j->body_len = r->body.len;
	strbuf_init(&j->resp_body, MAX_RESPONSE);
	strbuf_init(&j->resp_headers, 256 * 1024);
	r->backend = NULL;

	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	http_wait(r);
	atomic_fetch_add(&active, 1);
	if (pthread_create(&t, &attr, worker, j) != 0) {
		atomic_fetch_sub(&active, 1);
		curl_slist_free_all(j->headers);
		strbuf_free(&j->resp_body);
		strbuf_free(&j->resp_headers);
		free(j->url);
		free(j);
		http_error(r, 503, "busy", "cannot start an upstream request");
	}
	pthread_attr_destroy(&attr);
}

bool backend_proxy_init(void)
{
	if (pipefd[0] >= 0)
		return true;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return false;
	if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) != 0)
		return false;
	return loop_add_fd(pipefd[0], POLLIN, on_pipe, NULL);
}

/* Abort transfers in flight and wait for their workers, so that every
 * suspended connection is resumed before the HTTP daemons stop. */
void backend_proxy_shutdown(void)
{
	if (pipefd[0] < 0)
		return;
	atomic_store(&aborting, true);
	for (int i = 0; i < 500 && atomic_load(&active) > 0; i++) {
		struct pollfd p = { pipefd[0], POLLIN, 0 };
		poll(&p, 1, 10);
		on_pipe(NULL, POLLIN);
	}
	loop_del_fd(pipefd[0]);
	close(pipefd[0]);
	close(pipefd[1]);
	pipefd[0] = pipefd[1] = -1;
	curl_global_cleanup();
}
