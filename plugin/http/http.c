/* libmicrohttpd's side of the plugin: its daemons and their threads, the
 * request and completion callbacks, request bodies, answers, and the
 * table of waiting requests that async work refers to. */
#include "http/http.h"

#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "http/client_addr.h"
#include "http/conn_guard.h"
#include "http/cors.h"
#include "json_out.h"
#include "core/loop.h"
#include "http/tls.h"

/* libmicrohttpd runs its own threads (a pool per listener, one per core
 * by default): parsing, sending and the kernel's share of each request
 * use every core. Our callbacks take the loop's lock, so the plugin's
 * state still has one owner at a time. */
static struct MHD_Daemon *daemons[MAX_BINDS];
static size_t ndaemons;
/* Shutting down: nothing new may wait on lightningd or a backend, since
 * the daemons must not be stopped with a connection suspended. */
static atomic_bool closing;
/* What plugin.c handed us: set at start, then read-only. */
static struct http_app app;

void http_refuse_new(void)
{
	atomic_store(&closing, true);
}

/* ---- what a step returns ---- */

/* Only this file makes results: a step can return nothing else. */
struct http_step {
	enum { STEP_ANSWERED, STEP_PENDING, STEP_CONTINUE, STEP_DECLINED } kind;
};
static struct http_step answered = { STEP_ANSWERED }, pending = { STEP_PENDING },
			going_on = { STEP_CONTINUE }, declined = { STEP_DECLINED };

struct http_step *http_continue(struct req *r)
{
	return &going_on;
}

struct http_step *http_decline(struct req *r)
{
	return &declined;
}

bool http_continues(const struct http_step *s)
{
	return s->kind == STEP_CONTINUE || s->kind == STEP_DECLINED;
}

void http_step_end(struct http_step *s)
{
	/* An asynchronous step answered, handed on or left r waiting: in
	 * each case the request is where it should be, and nothing here has
	 * to look at it again. */
	(void)s;
}

/* ---- waiting requests, by reference ---- */

/* Slot 0 is never used, so a zeroed ref stands for nothing. A slot's
 * generation changes when its request stops waiting, so an old ref finds
 * nothing. Under the loop's lock: only the loop and steps holding the
 * lock wait, answer waiting requests, and dereference. */
#define MAX_REF_SLOTS (1u << 16)
struct ref_slot {
	struct req *r;
	uint32_t gen;
	uint32_t next_free;
};
static struct ref_slot *slots;
static uint32_t nslots, free_slot;

static bool ref_register(struct req *r)
{
	if (r->ref_slot)
		return true;
	if (!free_slot) {
		uint32_t n = nslots ? nslots * 2 : 1024;
		if (n > MAX_REF_SLOTS)
			return false;
		struct ref_slot *s = realloc(slots, n * sizeof(*s));
		if (!s)
			return false;
		slots = s;
		/* Slot 0 stays unused. */
		for (uint32_t i = nslots ? nslots : 1; i < n; i++) {
			slots[i] = (struct ref_slot){ NULL, 1, free_slot };
			free_slot = i;
		}
		nslots = n;
	}
	uint32_t i = free_slot;
	free_slot = slots[i].next_free;
	slots[i].r = r;
	r->ref_slot = i;
	return true;
}

static void ref_unregister(struct req *r)
{
	uint32_t i = r->ref_slot;
	if (!i)
		return;
	slots[i].r = NULL;
	slots[i].gen++;
	slots[i].next_free = free_slot;
	free_slot = i;
	r->ref_slot = 0;
}

struct req_ref http_ref(struct req *r)
{
	if (r->response || !ref_register(r))
		return (struct req_ref){ 0, 0 };
	return (struct req_ref){ r->ref_slot, slots[r->ref_slot].gen };
}

struct req *http_deref(struct req_ref ref)
{
	if (!ref.slot || ref.slot >= nslots || slots[ref.slot].gen != ref.gen)
		return NULL;
	return slots[ref.slot].r;
}

void *http_ref_arg(struct req_ref ref)
{
	return (void *)(uintptr_t)(((uint64_t)ref.gen << 32) | ref.slot);
}

struct req_ref http_arg_ref(void *arg)
{
	uint64_t v = (uint64_t)(uintptr_t)arg;
	return (struct req_ref){ (uint32_t)v, (uint32_t)(v >> 32) };
}

/* ---- answers ---- */

struct http_step *http_finish(struct req *r, unsigned status, struct MHD_Response *resp)
{
	if (r->response) {
		/* Answered already (a wait that could not be): the first answer
		 * stands. */
		if (resp)
			MHD_destroy_response(resp);
		return &answered;
	}
	if (!resp) {
		status = 500;
		resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
	}
	if (app.decorate)
		app.decorate(r, &status, resp);
	cors_add(resp, r->public_answer);
	if (r->answer_len == 0)
		r->answer_len = SIZE_MAX;	/* not known: not held back */
	r->status = status;
	r->response = resp;
	ref_unregister(r);
	if (r->suspended) {
		r->suspended = false;
		MHD_resume_connection(r->conn);
	}
	return &answered;
}

static struct MHD_Response *json_response(const char *json, size_t len)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, (void *)json, MHD_RESPMEM_MUST_COPY);
	if (resp)
		MHD_add_response_header(resp, "Content-Type", "application/json");
	return resp;
}

/* ---- fixed answers ---- */

/* A body made once, shared by every response that sends it; freed by the
 * last one libmicrohttpd lets go of. */
struct fixed_body {
	atomic_uint refs;
	size_t len;
	char data[];
};

static void body_unref(void *cls)
{
	struct fixed_body *b = cls;
	if (atomic_fetch_sub(&b->refs, 1) == 1)
		free(b);
}

/* A response with b as its body (one more reference to it) and the
 * answer's fixed headers; no CORS or per-request headers yet. */
static struct MHD_Response *fixed_response(struct fixed_body *b, const char *content_type)
{
	atomic_fetch_add(&b->refs, 1);
	struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback_cls(
		b->len, b->data, body_unref, b);
	if (!resp) {
		body_unref(b);
		return NULL;
	}
	if (content_type)
		MHD_add_response_header(resp, "Content-Type", content_type);
	return resp;
}

/* Each thread keeps the answers it gave lately, whole (CORS included),
 * and queues the same response again for the next request that gets the
 * same one: no allocation, no lock of ours. Direct-mapped by a hash of
 * the answer; a slot taken by another answer is made again. */
#define FIXED_SLOTS 64
#define FIXED_MAX_BODY 16384

struct fixed_slot {
	struct MHD_Response *resp;	/* holds one reference; NULL: empty */
	struct fixed_body *body;	/* holds one reference */
	const char *content_type;	/* a string constant of the caller's */
	uint64_t cors_gen;
	uint64_t hash;
	unsigned status;
	bool public_answer;
};

/* What each thread keeps for itself: its fixed answers, and the memory
 * of its last finished request for the next one (a request is 6 KB:
 * calloc and free of it on every request showed in profiles). */
struct per_thread {
	struct fixed_slot slot[FIXED_SLOTS];
	struct req *spare;
};

static pthread_key_t per_thread_key;
static bool per_thread_made;

static void fixed_slot_clear(struct fixed_slot *s)
{
	if (s->resp)
		MHD_destroy_response(s->resp);
	if (s->body)
		body_unref(s->body);
	memset(s, 0, sizeof(*s));
}

static void per_thread_free(void *cls)
{
	struct per_thread *c = cls;
	for (size_t i = 0; c && i < FIXED_SLOTS; i++)
		fixed_slot_clear(&c->slot[i]);
	if (c)
		free(c->spare);
	free(c);
}

static struct per_thread *per_thread(void)
{
	struct per_thread *c = pthread_getspecific(per_thread_key);
	if (!c && (c = calloc(1, sizeof(*c))) && pthread_setspecific(per_thread_key, c) != 0) {
		free(c);
		c = NULL;
	}
	return c;
}

static uint64_t fixed_hash(unsigned status, const char *content_type, bool pub, const char *body,
			   size_t len)
{
	/* Picks a slot, nothing more: a hit is checked byte for byte. */
	uint64_t h = 14695981039346656037u ^ status ^ ((uint64_t)pub << 20);
	h ^= (uint64_t)(uintptr_t)content_type;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)body[i]) * 1099511628211u;
	return h;
}

struct http_step *http_finish_fixed(struct req *r, unsigned status, const char *content_type,
				    const char *body, size_t len)
{
	if (r->response)
		return &answered;
	r->answer_len = len + 1;
	/* A waiting request is answered from the loop and queued later on its
	 * own thread: it gets a response of its own, which nothing else frees. */
	bool shared = !r->suspended && len <= FIXED_MAX_BODY && per_thread_made
		      && !(app.adds_headers && app.adds_headers(r, status));
	struct per_thread *c = shared ? per_thread() : NULL;
	if (!c) {
		struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body,
									    MHD_RESPMEM_MUST_COPY);
		if (resp && content_type)
			MHD_add_response_header(resp, "Content-Type", content_type);
		return http_finish(r, status, resp);
	}
	uint64_t h = fixed_hash(status, content_type, r->public_answer, body, len);
	uint64_t gen = cors_generation();
	struct fixed_slot *s = &c->slot[h % FIXED_SLOTS];
	if (!(s->resp && s->hash == h && s->status == status && s->content_type == content_type
	      && s->public_answer == r->public_answer && s->cors_gen == gen && s->body->len == len
	      && memcmp(s->body->data, body, len) == 0)) {
		fixed_slot_clear(s);
		struct fixed_body *b = malloc(sizeof(*b) + len);
		if (!b)
			return http_finish(r, 500, NULL);
		atomic_init(&b->refs, 1);
		b->len = len;
		memcpy(b->data, body, len);
		struct MHD_Response *resp = fixed_response(b, content_type);
		if (!resp) {
			body_unref(b);
			return http_finish(r, 500, NULL);
		}
		cors_add(resp, r->public_answer);
		*s = (struct fixed_slot){ resp, b, content_type, gen, h, status, r->public_answer };
	}
	/* Queued by this thread before it answers anything else, so the
	 * slot cannot let it go first; libmicrohttpd counts the connection's
	 * reference, and ours stays the slot's. */
	r->status = status;
	r->response = s->resp;
	r->response_shared = true;
	ref_unregister(r);
	return &answered;
}

struct http_step *http_finish_json(struct req *r, unsigned status, const char *json, size_t len)
{
	if (!r->response)
		r->answer_len = len + 1;
	return http_finish(r, status, json_response(json, len));
}

/* {"error": code, "message": ..., "retry_after": seconds}, with
 * Retry-After, when seconds is not 0. Without, the same refusal is the
 * same answer every time: a fixed one. */
static struct http_step *finish_error(struct req *r, unsigned status, const char *code,
				      const char *message, unsigned seconds)
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
	if (!seconds) {
		struct http_step *s = http_finish_fixed(r, status, "application/json",
							sb.data ? sb.data : "", sb.len);
		strbuf_free(&sb);
		return s;
	}
	struct MHD_Response *resp = json_response(sb.data, sb.len);
	if (!r->response)
		r->answer_len = sb.len + 1;
	strbuf_free(&sb);
	if (resp) {
		snprintf(ra, sizeof(ra), "%u", seconds);
		MHD_add_response_header(resp, "Retry-After", ra);
	}
	return http_finish(r, status, resp);
}

struct http_step *http_error(struct req *r, unsigned status, const char *code, const char *message)
{
	return finish_error(r, status, code, message, 0);
}

struct http_step *http_retry_later(struct req *r, unsigned status, const char *code,
				   const char *why, unsigned seconds)
{
	return finish_error(r, status, code, why, seconds ? seconds : 1);
}

struct http_step *http_unavailable(struct req *r, const char *why)
{
	return http_retry_later(r, 503, "unavailable", why, 5);
}

struct http_step *http_wait(struct req *r)
{
	if (r->response)
		return &answered;
	if (atomic_load(&closing))
		return http_unavailable(r, "shutting down");
	if (!ref_register(r))
		return http_unavailable(r, "too many requests waiting; retry shortly");
	if (!r->suspended) {
		r->suspended = true;
		MHD_suspend_connection(r->conn);
	}
	return &pending;
}

/* Where a step left r, read holding the lock: once it is released, a
 * request that waits is the loop's, and nothing of it may be read here;
 * one that does not wait is its own thread's again, and no ref finds it. */
static struct http_step *outcome(struct req *r, struct http_step *s)
{
	if (r->response)
		return &answered;
	if (r->suspended || r->body_wanted)
		return &pending;
	ref_unregister(r);
	return s;
}

struct http_step *http_locked(http_step_fn step, struct req *r)
{
	loop_lock();
	struct http_step *s = outcome(r, step(r));
	loop_unlock();
	return s;
}

/* Bytes of request bodies buffered, across every connection. */
static atomic_size_t body_bytes;

struct http_step *http_read_body(struct req *r, size_t max, bool keep, http_step_fn then)
{
	if (!r->body_expected || r->body_read)
		return then(r);
	const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
	if (keep && cl && strtoull(cl, NULL, 10) > max)
		return http_error(r, 413, "too_large", "request body too large");
	/* Now the body is worth reading (Expect: 100-continue gets its 100):
	 * kept for a step that takes it, passed over for one that does not,
	 * so that the connection stays open for the next request. */
	r->body_wanted = true;
	r->body_keep = keep;
	r->body_max = max;
	r->after_body = then;
	strbuf_init(&r->body, max);
	/* The body is read by r's own thread: no waiting work holds it. */
	ref_unregister(r);
	if (r->suspended) {
		/* Suspended in libmicrohttpd's first call (the headers are in,
		 * no byte of the body read): once resumed, it makes that first
		 * call again before it reads the body, and that call is not
		 * the body's end. */
		r->body_resumed = true;
		r->suspended = false;
		MHD_resume_connection(r->conn);
	}
	return &pending;
}

static void take_body(struct req *r, const char *data, size_t n)
{
	if (!r->body_wanted)
		return; /* a body nobody reads: the connection closes after the answer */
	if (!r->body_keep || r->body_refused)
		return; /* read, and passed over */
	if (atomic_fetch_add(&body_bytes, n) + n > HTTP_BODY_BUDGET
	    || !strbuf_append(&r->body, data, n)) {
		atomic_fetch_sub(&body_bytes, n);
		r->body_refused = true;
		return;
	}
	r->body_counted += n;
}

/* A request whose body is in: the step that waited for it, or why not. */
static struct http_step *body_done(struct req *r)
{
	http_step_fn then = r->after_body;
	r->body_wanted = false;
	r->body_read = true;
	r->after_body = NULL;
	if (r->body_keep && !r->body_refused)
		r->body_size = r->body.len;
	if (r->body_refused)
		return http_retry_later(r, 413, "too_large", "request body too large, or the node "
				       "is busy with others; retry shortly", 5);
	return then(r);
}

/* ---- the request path ---- */

struct http_step *http_preflight(struct req *r)
{
	if (strcmp(r->method, "OPTIONS") != 0 || !cors_is_preflight(r->conn))
		return http_decline(r);
	return http_finish(r, 204, cors_preflight(r->conn));
}

static struct http_step *preflight_or_handlers(struct req *r)
{
	if (atomic_load(&closing))
		return http_unavailable(r, "shutting down");
	if (r->path_err != PATH_OK)
		return http_error(r, 400, "bad_path", path_strerror(r->path_err));
	for (size_t i = 0; i < app.nhandlers; i++) {
		struct http_step *s = app.handlers[i].handle(r);
		if (s->kind != STEP_DECLINED)
			return s;
	}
	return http_error(r, 404, "not_found", "nothing here");
}

/* HTTPS: libmicrohttpd (0.9.75) hands GnuTLS an answer's headers and its
 * body in two calls, so a small answer left as two TLS records in two
 * sends. Corked in GnuTLS from its queueing to the end of the request
 * (on_completed, which libmicrohttpd calls before any TLS shutdown), the
 * two leave as one record in one send. Only small answers (a few KB: the
 * kernel takes them whole) are held so. */
#define TLS_CORK_MAX 4096

static gnutls_session_t tls_session_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	return ci ? (gnutls_session_t)ci->tls_session : NULL;
}

static void tls_cork(struct req *r)
{
	gnutls_session_t s = tls_session_of(r->conn);
	if (s) {
		gnutls_record_cork(s);
		r->tls_corked = true;
	}
}

static void tls_uncork(struct MHD_Connection *c, bool with_body)
{
	gnutls_session_t s = tls_session_of(c);
	const union MHD_ConnectionInfo *fd =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	/* Without waiting: a socket whose client stopped reading would hold
	 * this thread. An answer that cannot leave now ends the connection
	 * (its client had not read a full send buffer of earlier answers). */
	if (!s || !fd)
		return;
	if (gnutls_record_uncork(s, 0) < 0) {
		shutdown(fd->connect_fd, SHUT_RDWR);
		return;
	}
	/* libmicrohttpd corks the socket for the headers of an answer with a
	 * body sent apart (the first it sends so, or a large one of its own
	 * before) and, having sent nothing, may leave it so: the record would
	 * wait for the kernel's 200 ms. Pushed now. Once it has corked, it
	 * believes the socket corked for good and never corks it again (it
	 * pushes each answer with TCP_NODELAY instead, before this record is
	 * sent): once per connection after an answer with a body. An answer
	 * without one (HEAD, 304) is not corked by it, but may follow one of
	 * its own large answers, which it left corked: always. */
	if (!with_body || !conn_guard_uncorked_before(c)) {
		int off = 0;
		setsockopt(fd->connect_fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off));
	}
}

static enum MHD_Result queue(struct req *r)
{
	if (r->answer_len && r->answer_len <= TLS_CORK_MAX && !r->tls_corked)
		tls_cork(r);
	enum MHD_Result ret = MHD_queue_response(r->conn, r->status, r->response);
	if (!r->response_shared)
		MHD_destroy_response(r->response);
	r->response = NULL;
	return ret;
}

/* Before anything else, with the request line as sent: the path is read
 * once, here (path.h), not as libmicrohttpd decodes it. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct per_thread *t = per_thread_made ? per_thread() : NULL;
	struct req *r = t ? t->spare : NULL;
	if (r) {
		t->spare = NULL;
		memset(r, 0, sizeof(*r) + app.req_extra);
	} else {
		r = calloc(1, sizeof(*r) + app.req_extra);
	}
	const char *q = NULL;
	size_t n = strlen(uri);
	if (!r)
		return NULL;
	if (n > PATH_MAX_TARGET) {
		r->path_err = PATH_TOO_LONG;
	} else if ((r->path = malloc(n + 1))) {
		r->path_err = path_canonical(uri, r->path, n + 1, &q);
		if (q && strlen(q) <= 4096)
			r->query = strdup(q);
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
	client_addr_of(c, l402.cfg.trust_proxy, l402.cfg.trusted, l402.cfg.ntrusted, &r->client);
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
	r->body_size = cl ? strtoull(cl, NULL, 10) : 0;
	r->body_expected = r->body_size > 0
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
		if (!conn_guard_admitted(c))
			return MHD_NO; /* over its client's share: closed */
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
	} else if (!r->body_wanted) {
		return MHD_YES; /* waiting on the loop, or done */
	} else if (r->body_resumed) {
		r->body_resumed = false;
		return MHD_YES; /* the first call again: the body comes next */
	}
	struct http_step *s;
	if (!r->path && r->path_err == PATH_OK) {
		s = http_error(r, 500, "internal", "out of memory");
	} else if (decide) {
		r->decided = true;
		s = preflight_or_handlers(r);
	} else {
		s = http_locked(body_done, r);
	}
	if (s->kind == STEP_CONTINUE || s->kind == STEP_DECLINED) {
		/* Every step answers or hands r on: this is a bug, not a hang. */
		s = http_error(r, 500, "internal", "the request was not answered");
	}
	/* Answered now, or waiting: then the loop answers it later, and r
	 * is not ours to look at. */
	return s->kind == STEP_ANSWERED ? queue(r) : MHD_YES;
}

/* Not under the loop's lock: a finished request is its thread's alone
 * (a waiting one is resumed, and so unregistered, before it completes). */
static void on_completed(void *cls, struct MHD_Connection *c, void **ctx,
			 enum MHD_RequestTerminationCode toe)
{
	struct req *r = *ctx;
	conn_guard_request_done(c);
	if (!r)
		return;
	if (r->tls_corked)
		tls_uncork(c, strcmp(r->method, "HEAD") != 0 && r->status != 204 && r->status != 304
				      && r->answer_len > 1);
	if (r->ref_slot) {
		/* Never so, by construction (answering and reading a body
		 * unregister); but a stale ref must find nothing, not this. */
		loop_lock();
		ref_unregister(r);
		loop_unlock();
	}
	if (r->status && app.done)
		app.done(r, loop_now_ns() - r->started_ns);
	if (r->response && !r->response_shared)
		MHD_destroy_response(r->response);
	if (app.req_free)
		app.req_free(r);
	atomic_fetch_sub(&body_bytes, r->body_counted);
	free(r->path);
	free(r->query);
	strbuf_free(&r->body);
	struct per_thread *t = per_thread_made ? per_thread() : NULL;
	if (t && !t->spare)
		t->spare = r;
	else
		free(r);
	*ctx = NULL;
}

bool http_start(struct listener *l, size_t n, unsigned threads, const struct http_app *a,
		char *why, size_t whylen)
{
	app = *a;
	if (!per_thread_made)
		per_thread_made = pthread_key_create(&per_thread_key, per_thread_free) == 0;
	conn_guard_start((unsigned)l402.cfg.max_conns_per_client, (unsigned)l402.cfg.header_timeout,
			 l402.cfg.trust_proxy, l402.cfg.trusted, l402.cfg.ntrusted);
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
	/* Stopping joins libmicrohttpd's threads, which may be waiting for
	 * the lock in a callback; the loop does nothing meanwhile. */
	loop_unlock();
	for (size_t i = 0; i < ndaemons; i++)
		MHD_stop_daemon(daemons[i]);
	loop_lock();
	ndaemons = 0;
	atomic_store(&closing, false);
	conn_guard_stop();
	if (per_thread_made) {
		/* libmicrohttpd's threads freed theirs as they ended. */
		per_thread_free(pthread_getspecific(per_thread_key));
		pthread_setspecific(per_thread_key, NULL);
		pthread_key_delete(per_thread_key);
		per_thread_made = false;
	}
	free(slots);
	slots = NULL;
	nslots = free_slot = 0;
}
