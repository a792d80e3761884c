/* The HTTP transport: libmicrohttpd's daemons on their own thread pools,
 * requests, their bodies, and answers (with CORS). It knows nothing of
 * payments: what to answer is decided by the handlers plugin.c hands it
 * (forward-auth, preflight, the published documents, the paywall), tried
 * in order until one takes the request.
 *
 * Every step that handles a request returns a struct http_step *, which
 * only the functions below make and which cannot be dropped (the way
 * libplugin's command_result works): a step that forgets to answer, to
 * wait, or to hand the request on does not compile. Work that outlives
 * the step (an RPC call, a timer, an upstream) holds the request as a
 * struct req_ref, never as a pointer: http_deref() gives the request back
 * only while it still waits, so nothing can touch a request that was
 * answered or whose connection is gone. */
#ifndef L402_HTTP_H
#define L402_HTTP_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/state.h"
#include "http/client_addr.h"
#include "path.h"
#include "strbuf.h"

#define HTTP_MAX_METHOD 16
/* All request bodies buffered at once, across every connection. */
#define HTTP_BODY_BUDGET (64u * 1024 * 1024)

#define HTTP_MUST_USE __attribute__((warn_unused_result))

/* The transport's request. The handlers' own state follows it in memory
 * (http_app.req_extra bytes, zeroed: http_ext). */
struct req {
	struct MHD_Connection *conn;
	char method[HTTP_MAX_METHOD];
	char *path;		/* path_canonical's reading of the target, or NULL */
	char *query;		/* the query string as sent (after '?'), or NULL */
	enum path_err path_err;	/* why the target has no one reading */
	struct client_addr client;
	struct strbuf body;	/* read when a step asked for it (http_read_body) */
	uint64_t body_size;	/* Content-Length, or what came of a chunked body */
	int64_t started_ns;	/* when its headers were in */
	unsigned status;	/* of the answer, once there is one */
	bool public_answer;	/* CORS for every origin (published documents) */

	/* The transport's own bookkeeping. */
	struct MHD_Response *response;
	bool response_shared;	/* a fixed answer's: queued, never destroyed here */
	size_t answer_len;	/* its body's length + 1; 0 or SIZE_MAX: not known */
	bool tls_corked;	/* GnuTLS holds its records until it is done */
	size_t body_counted;	/* its share of HTTP_BODY_BUDGET */
	uint32_t ref_slot;	/* while it waits: its place in the table of refs */
	bool body_expected;	/* Content-Length > 0, or chunked */
	bool body_wanted;	/* a step waits for the body */
	bool body_keep;		/* ... and keeps it (else it is passed over) */
	bool body_refused;	/* too large, or over the budget */
	bool body_resumed;	/* resumed to read it: a repeated first call comes */
	bool body_read;		/* read already (body_size is then its length) */
	size_t body_max;
	bool decided;		/* the handlers ran */
	bool suspended;
	struct http_step *(*after_body)(struct req *r);
};

/* What a step returns (opaque). */
struct http_step;
typedef struct http_step *(*http_step_fn)(struct req *r);

/* A request that waits, as asynchronous work holds it. */
struct req_ref {
	uint32_t slot, gen;
};

/* What plugin.c hands the transport. */
struct http_handler {
	const char *name;
	/* Without the loop's lock: answer r, hand it on or leave it waiting;
	 * or http_decline(r): the next handler's. */
	struct http_step *(*handle)(struct req *r);
};

struct http_app {
	const struct http_handler *handlers;
	size_t nhandlers;
	/* The handlers' state after each request, zeroed, and what to free
	 * of it when the request is done (may be NULL). */
	size_t req_extra;
	void (*req_free)(struct req *r);
	/* Called on every answer before it is queued: may add headers or
	 * change the status (payment receipts, a front proxy's deny status). */
	void (*decorate)(struct req *r, unsigned *status, struct MHD_Response *resp);
	/* Whether decorate would add a header to r's answer or change its
	 * status: a fixed answer (http_finish_fixed) is then made for r alone.
	 * NULL: never. */
	bool (*adds_headers)(const struct req *r, unsigned status);
	/* A request answered and done (any thread, no lock): for metrics. */
	void (*done)(const struct req *r, int64_t duration_ns);
};

bool http_start(struct listener *l, size_t n, unsigned threads, const struct http_app *app,
		char *why, size_t whylen);
void http_stop(void);
/* From now on, answer every new request 503 at once. */
void http_refuse_new(void);

/* A handler plugin.c may list: a CORS preflight gets its 204. */
HTTP_MUST_USE struct http_step *http_preflight(struct req *r);

/* The handlers' state of r. */
static inline void *http_ext(struct req *r)
{
	return r + 1;
}
static inline const void *http_ext_const(const struct req *r)
{
	return r + 1;
}

/* ---- what a step returns ---- */

/* Answer r with status and resp (takes ownership; NULL: a 500), resuming
 * it if it was waiting. Adds the CORS headers every response carries. */
HTTP_MUST_USE struct http_step *http_finish(struct req *r, unsigned status,
					     struct MHD_Response *resp);
/* An answer that is the same for every request that gets it (a text
 * route's body, a refusal): made once per thread and queued again, with
 * its CORS headers, unless decorate adds headers of r's own. content_type
 * must be a string constant (its address is part of the answer's key). */
HTTP_MUST_USE struct http_step *http_finish_fixed(struct req *r, unsigned status,
						   const char *content_type, const char *body,
						   size_t len);
/* A JSON body; json is copied. */
HTTP_MUST_USE struct http_step *http_finish_json(struct req *r, unsigned status,
						  const char *json, size_t len);
/* {"error": code, "message": ...} */
HTTP_MUST_USE struct http_step *http_error(struct req *r, unsigned status, const char *code,
					    const char *message);
/* An error that tells the client when to come back (Retry-After). */
HTTP_MUST_USE struct http_step *http_retry_later(struct req *r, unsigned status,
						  const char *code, const char *why,
						  unsigned seconds);
/* 503 "unavailable", retry in a few seconds. */
HTTP_MUST_USE struct http_step *http_unavailable(struct req *r, const char *why);
/* Park r until work it started answers it through a req_ref. Holding the
 * loop's lock. */
HTTP_MUST_USE struct http_step *http_wait(struct req *r);
/* Read r's body (at most max bytes; keep: for the step, else read and
 * passed over), then run then(r) holding the loop's lock; at once when
 * there is none, or it was read before. Holding the loop's lock. */
HTTP_MUST_USE struct http_step *http_read_body(struct req *r, size_t max, bool keep,
						http_step_fn then);
/* Not answered yet: the caller goes on (in a chain of steps). */
HTTP_MUST_USE struct http_step *http_continue(struct req *r);
/* A handler's: not this handler's request. */
HTTP_MUST_USE struct http_step *http_decline(struct req *r);

/* Run step(r) holding the loop's lock. */
HTTP_MUST_USE struct http_step *http_locked(http_step_fn step, struct req *r);
/* Whether a step's result leaves r for the caller to go on with. */
bool http_continues(const struct http_step *s);

/* ---- asynchronous work ---- */

/* r, which waits (http_wait), as work that outlives this step holds it. */
struct req_ref http_ref(struct req *r);
/* The request ref stands for while it still waits; NULL once it was
 * answered. Holding the loop's lock. */
struct req *http_deref(struct req_ref ref);
/* A ref packed in a callback's void * (no allocation), and back. */
void *http_ref_arg(struct req_ref ref);
struct req_ref http_arg_ref(void *arg);
/* The end of an asynchronous step: its answer, if any, is queued. */
void http_step_end(struct http_step *s);

#endif
