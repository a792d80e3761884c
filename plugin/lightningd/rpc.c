#include "lightningd/rpc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"
#include "json_out.h"
#include "strbuf.h"

/* A response bigger than this (say a listinvoices of a huge node) is
 * refused rather than buffered without bound. */
#define RPC_MAX_RESPONSE (64u * 1024 * 1024)
#define RPC_MAX_TOKENS (4u * 1024 * 1024)

struct pending {
	struct pending *next;
	char *id;
	rpc_cb cb;
	void *arg;
	uint64_t timer;
	int64_t sent_ns;	/* 0 for long polls, which metrics leave out */
};

static char sock_path[108];
static int fd = -1;
static bool connecting;
static struct strbuf in, out;
static struct pending *pending;
static uint64_t counter;
static int64_t backoff_ms = 50;
static uint64_t reconnect_timer;
static void (*connect_hook)(void);

static void try_connect(void *arg);

bool rpc_connected(void)
{
	return fd >= 0 && !connecting;
}

unsigned rpc_pending(void)
{
	unsigned n = 0;
	/* Long polls (no deadline) never finish by themselves: not counted. */
	for (struct pending *p = pending; p; p = p->next)
		n += p->timer != 0;
	return n;
}

static struct pending *take(const char *id, size_t len)
{
	for (struct pending **pp = &pending; *pp; pp = &(*pp)->next) {
		if (strlen((*pp)->id) == len && memcmp((*pp)->id, id, len) == 0) {
			struct pending *p = *pp;
			*pp = p->next;
			return p;
		}
	}
	return NULL;
}

/* Told of every completed call that had a deadline (plugin.c sets it). */
static rpc_observer observer;

void rpc_set_observer(rpc_observer done)
{
	observer = done;
}

static void finish(struct pending *p, const struct rpc_result *r)
{
	if (p->sent_ns && observer)
		observer(r->status, loop_now_ns() - p->sent_ns);
	if (p->timer)
		loop_cancel_timer(p->timer);
	p->cb(p->arg, r);
	free(p->id);
	free(p);
}

static void fail_all(enum rpc_status st, const char *why)
{
	struct rpc_result r = { st, NULL, -1, 0, "" };
	snprintf(r.message, sizeof(r.message), "%s", why);
	while (pending) {
		struct pending *p = pending;
		pending = p->next;
		finish(p, &r);
	}
}

static void schedule_reconnect(void)
{
	if (reconnect_timer)
		return;
	reconnect_timer = loop_add_timer(backoff_ms, try_connect, NULL);
	backoff_ms = backoff_ms * 2 > 2000 ? 2000 : backoff_ms * 2;
}

static void drop_connection(const char *why)
{
	if (fd >= 0) {
		loop_del_fd(fd);
		close(fd);
		fd = -1;
		plugin_log(LOG_UNUSUAL, "lightningd RPC connection lost: %s", why);
	}
	connecting = false;
	strbuf_reset(&in);
	strbuf_reset(&out);
	fail_all(RPC_DISCONNECTED, "lightningd RPC connection lost");
	schedule_reconnect();
}

/* False when the reply cannot be read at all: its call cannot be told
 * apart, so the caller drops the connection (which fails every call in
 * flight, each exactly once) rather than leave one waiting forever. */
static bool handle_response(const char *js, size_t len)
{
	struct json_doc doc;
	if (!json_parse_alloc(&doc, js, len, RPC_MAX_TOKENS))
		return false;
	int idt = json_get(&doc, 0, "id");
	size_t idlen;
	const char *id = json_raw(&doc, idt, &idlen);
	struct pending *p = json_is_string(&doc, idt) ? take(id, idlen) : NULL;
	if (!p) {
		plugin_log(LOG_UNUSUAL, "RPC response to an unknown id");
		json_doc_free(&doc);
		return true;
	}
	struct rpc_result r = { RPC_OK, &doc, json_get(&doc, 0, "result"), 0, "" };
	int err = json_get(&doc, 0, "error");
	if (err >= 0 || r.result < 0) {
		r.status = RPC_ERROR;
		if (!json_get_s64(&doc, json_get(&doc, err, "code"), &r.code))
			r.code = -1;
		if (!json_get_string(&doc, json_get(&doc, err, "message"), r.message,
				     sizeof(r.message), NULL))
			snprintf(r.message, sizeof(r.message), "error without a message");
	}
	finish(p, &r);
	json_doc_free(&doc);
	return true;
}

static void on_io(void *arg, short revents)
{
	if (connecting && (revents & (POLLOUT | POLLERR | POLLHUP))) {
		int err = 0;
		socklen_t l = sizeof(err);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err) {
			drop_connection(strerror(err));
			return;
		}
		connecting = false;
		backoff_ms = 50;
		plugin_log(LOG_DEBUG, "connected to lightningd RPC");
		if (connect_hook)
			connect_hook();
	}
	if (revents & POLLIN) {
		char buf[65536];
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			drop_connection(n == 0 ? "closed by lightningd" : strerror(errno));
			return;
		}
		if (n > 0) {
			if (in.len + (size_t)n > RPC_MAX_RESPONSE) {
				drop_connection("response too large");
				return;
			}
			strbuf_append(&in, buf, (size_t)n);
		}
		for (;;) {
			size_t st, en;
			int r = json_find_value(in.data ? in.data : "", in.len, &st, &en);
			if (r == 0)
				break;
			if (r < 0) {
				drop_connection("garbage on the RPC socket");
				return;
			}
			/* Copy out: the callback may issue calls that touch `in`. */
			char *msg = malloc(en - st);
			if (!msg) {
				drop_connection("out of memory");
				return;
			}
			memcpy(msg, in.data + st, en - st);
			strbuf_consume(&in, en);
			bool ok = handle_response(msg, en - st);
			free(msg);
			if (!ok) {
				drop_connection("unreadable reply on the RPC socket");
				return;
			}
			if (fd < 0)
				return;
		}
	} else if (revents & (POLLERR | POLLHUP)) {
		drop_connection("socket error");
		return;
	}
	if (fd >= 0 && !connecting && out.len) {
		ssize_t n = write(fd, out.data, out.len);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			drop_connection(strerror(errno));
			return;
		}
		if (n > 0)
			strbuf_consume(&out, (size_t)n);
	}
	if (fd >= 0)
		loop_set_events(fd, POLLIN | (out.len || connecting ? POLLOUT : 0));
}

static void try_connect(void *arg)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	reconnect_timer = 0;
	if (fd >= 0)
		return;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		schedule_reconnect();
		return;
	}
	memcpy(addr.sun_path, sock_path, sizeof(addr.sun_path));
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0
	    && errno != EINPROGRESS && errno != EAGAIN) {
		close(fd);
		fd = -1;
		schedule_reconnect();
		return;
	}
	connecting = true;
	loop_add_fd(fd, POLLIN | POLLOUT, on_io, NULL);
}

void rpc_init(const char *path, void (*on_connect)(void))
{
	snprintf(sock_path, sizeof(sock_path), "%s", path);
	strbuf_init(&in, RPC_MAX_RESPONSE);
	strbuf_init(&out, 0);
	connect_hook = on_connect;
	try_connect(NULL);
}

static void on_timeout(void *arg)
{
	struct pending *p = arg;
	for (struct pending **pp = &pending; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	p->timer = 0;
	struct rpc_result r = { RPC_TIMEOUT, NULL, -1, 0, "lightningd did not answer in time" };
	finish(p, &r);
}

static void fail_later(void *arg)
{
	struct pending *p = arg;
	struct rpc_result r = { RPC_DISCONNECTED, NULL, -1, 0, "lightningd RPC not connected" };
	finish(p, &r);
}

static void free_pending(struct pending *p)
{
	free(p->id);
	free(p);
}

bool rpc_call(const char *method, const char *params_json, const char *parent_id,
	      int timeout_ms, rpc_cb cb, void *arg)
{
	struct pending *p = calloc(1, sizeof(*p));
	struct strbuf id;
	if (!p)
		return false;
	strbuf_init(&id, 4096);
	if (parent_id && *parent_id)
		strbuf_printf(&id, "%s/", parent_id);
	strbuf_printf(&id, "l402:%s#%llu", method, (unsigned long long)++counter);
	if (id.failed) {
		strbuf_reset(&id);
		strbuf_printf(&id, "l402:%s#%llu", method, (unsigned long long)counter);
	}
	p->id = strbuf_steal(&id);
	p->cb = cb;
	p->arg = arg;
	if (!p->id) {
		free(p);
		return false;
	}
	if (!rpc_connected()) {
		/* Answer on the next loop round, never from inside the call. */
		if (!loop_add_timer(0, fail_later, p)) {
			free_pending(p);
			return false;
		}
		return true;
	}
	if (timeout_ms > 0 && !(p->timer = loop_add_timer(timeout_ms, on_timeout, p))) {
		free_pending(p);
		return false;
	}
	/* Method names and our ids never need escaping; the id may hold
	 * lightningd's, which are plain too, but escape it all the same. A
	 * request that does not fit is taken back whole: half of one would
	 * corrupt the next. */
	size_t before = out.len;
	strbuf_printf(&out, "{\"jsonrpc\":\"2.0\",\"id\":");
	json_escape_string(&out, p->id, strlen(p->id));
	strbuf_printf(&out, ",\"method\":\"%s\",\"params\":%s}\n\n", method, params_json);
	if (out.failed) {
		out.len = before;
		if (out.data)
			out.data[before] = '\0';
		out.failed = false;
		if (p->timer)
			loop_cancel_timer(p->timer);
		free_pending(p);
		return false;
	}
	p->next = pending;
	pending = p;
	if (timeout_ms > 0)
		p->sent_ns = loop_now_ns();
	loop_set_events(fd, POLLIN | POLLOUT);
	return true;
}

void rpc_close(void)
{
	if (fd >= 0) {
		loop_del_fd(fd);
		close(fd);
		fd = -1;
	}
	if (reconnect_timer)
		loop_cancel_timer(reconnect_timer);
	reconnect_timer = 0;
	fail_all(RPC_DISCONNECTED, "shutting down");
}
