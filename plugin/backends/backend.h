/* A backend serves a paid (or free) route's requests. Each is one file
 * exporting one struct backend, and one row of the table in backends.c;
 * route checking, serving, start-up and shutdown all go through it.
 * A backend knows nothing of tokens, sessions or schemes: it is handed
 * the request, the route, and, when the request pays as it runs, a meter.
 *
 * To add one: write plugin/backends/backend_NAME.c with
 *	const struct backend backend_NAME = { "NAME", "NAME:TARGET", ... };
 * declare it below and add &backend_NAME to the table in backends.c. */
#ifndef L402_BACKEND_H
#define L402_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"
#include "route_spec.h"

/* The largest request body a backend that reads one is handed. */
#define BACKEND_MAX_BODY (8u * 1024 * 1024)

/* ---- metering: a request that pays for what it turns out to cost ---- */

/* How a draw went: granted, to be answered later (the callback), not
 * covered by what is left, or not countable now. */
enum meter_draw { METER_OK, METER_WAIT, METER_SHORT, METER_FAIL };

struct meter;
struct meter_ops {
	/* Draw one more unit (a streamed event's price) on the loop: METER_WAIT
	 * means done(arg, result) runs later, never from inside. */
	enum meter_draw (*draw)(struct meter *m, void (*done)(void *arg, enum meter_draw res),
				void *arg);
	/* The request is over: it cost cost_msat of what it held. Once. */
	void (*settle)(struct meter *m, uint64_t cost_msat);
	/* An SSE event telling the client that its balance ran out (event:
	 * payment-need-topup or session-timeout), for a paused stream. */
	void (*pause_event)(const struct meter *m, const char *event, char *out, size_t len);
	/* The SSE event that ends a completed stream whose client took
	 * `units` events (a Payment session's payment-receipt), or "" for
	 * none. Any thread: it reads only what the meter was made with. */
	void (*end_event)(const struct meter *m, uint64_t units, char *out, size_t len);
};

/* Copied by value into whatever outlives the request. */
struct meter {
	const struct meter_ops *ops;	/* NULL: the request does not pay as it runs */
	uint8_t account[32];		/* the meter's own: a backend passes it back */
	uint64_t limit;			/* ditto */
	bool session;			/* ditto */
	uint64_t held;			/* what the request holds now, in msat */
	uint64_t unit;			/* one more unit's price (a streamed event) */
	int64_t pause_s;		/* how long a paused stream waits for a top-up */
};

/* ---- keeping: an answer the request may have to give again ---- */

/* A request whose answer must be given again, unchanged, to a retry (a
 * Payment session's open: the draft's idempotency) asks for it whole: a
 * backend that can hands status, type and body to kept once it has them
 * (before or after answering), holding the loop's lock, and never when
 * the body is longer than max, streamed, or not whole. Copied by value. */
struct keep {
	void (*kept)(const uint8_t key[32], unsigned status, const char *content_type,
		     const char *body, size_t len);	/* NULL: nothing to keep */
	uint8_t key[32];		/* the keeper's own: passed back */
	size_t max;
};

/* ---- a backend ---- */

/* What a backend is handed to serve one request. */
struct backend_call {
	struct req *req;		/* the transport's request: answer it */
	const struct route_spec *spec;	/* the route that matched */
	const char *subpath;		/* the path under a prefix route ("" for exact) */
	struct meter meter;
	struct keep keep;
};

struct backend {
	const char *name;	/* as written in a route: NAME:TARGET */
	const char *usage;	/* "proxy:URL", for people */
	bool takes_timeout;	/* whether timeout= means something to it */
	bool reads_body;	/* whether it is handed the request body */
	/* Whether it learns what a request costs as it runs (and so is
	 * handed a meter to settle); else a request pays its price. */
	bool meters;
	/* Whether serve may run without the loop's lock: it touches no
	 * plugin state besides the request (and answers at once). */
	bool lockless;
	/* Whether only a front proxy serves its routes: the paywall decides
	 * for it through forward-auth, and refuses direct requests. */
	bool front_only;
	/* The route's target and keys, when a route is added; NULL: any
	 * target will do. False with a reason refuses the route. */
	bool (*check)(const struct route_spec *s, char *why, size_t whylen);
	/* Answer c->req: at once, or after http_wait, holding it by ref.
	 * Called holding the loop's lock (or not, when lockless). A metered
	 * call's meter must be settled exactly once, whatever happens. */
	struct http_step *(*serve)(const struct backend_call *c);
	/* When the HTTP server starts and stops; NULL: nothing to do. */
	bool (*start)(void);
	void (*stop)(void);
};

extern const struct backend backend_proxy, backend_dir, backend_rpc, backend_text,
	backend_upstream;

/* For checks: the reason in why, and false. */
bool backend_refuse(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The backend named name, or NULL. */
const struct backend *backend_find(const char *name);
/* Whether s names a backend that accepts its target and keys. */
bool backend_check(const struct route_spec *s, char *why, size_t whylen);
/* Start every backend (false with the reason), stop them all. */
bool backends_start(char *why, size_t whylen);
void backends_stop(void);

/* Whether a subpath is plain names: no "." or ".." segment, no backslash
 * (the path is already percent-decoded, so "%2e%2e" and "%2f" are caught
 * too). Backends that map it onto something refuse others. */
bool backend_subpath_plain(const char *subpath);
/* The whole answer handed to k's keeper, when it asks and it fits. */
void backend_keep(const struct keep *k, unsigned status, const char *content_type,
		  const char *body, size_t len);
/* A metered call's meter settled with cost (nothing when not metered). */
void backend_settle(struct meter *m, uint64_t cost_msat);

#endif
