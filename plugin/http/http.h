/* The HTTP server: libmicrohttpd on its own thread pool, suspend/resume
 * for answers that wait on lightningd or a backend, the answers
 * themselves (with CORS). What to answer is
 * decided elsewhere: discovery_serve() and paywall_handle(). */
#ifndef L402_HTTP_H
#define L402_HTTP_H

#include <microhttpd.h>
#include <stdbool.h>

#include "http/client_addr.h"
#include "l402.h"
#include "paywall/mpp_charge.h"
#include "route_spec.h"
#include "store/routes.h"
#include "core/state.h"
#include "strbuf.h"

/* The largest request body a backend is handed, and all request bodies
 * buffered at once: bodies are read only for requests already paid for
 * (or free), whose backend takes one. */
#define HTTP_MAX_BODY (8u * 1024 * 1024)
#define HTTP_BODY_BUDGET (64u * 1024 * 1024)

struct backend;

struct req {
	struct MHD_Connection *conn;
	char method[ROUTE_MAX_METHOD];
	char *path;		/* percent-decoded by libmicrohttpd */
	char *query;		/* the query string as sent (after '?'), or NULL */
	struct client_addr client;
	struct strbuf body;
	size_t body_counted;	/* its share of HTTP_BODY_BUDGET */
	bool nul_in_target;	/* "%00" in the request line: refused */
	bool body_expected;	/* Content-Length > 0, or chunked */
	bool serve_after_body;	/* decided: read the body, then serve */
	bool keep_body;		/* for the backend (else it is passed over) */
	bool body_refused;	/* too large, or over the budget */
	bool decided;		/* handle() ran */
	bool served, suspended;
	bool public_doc;	/* discovery documents: CORS for everyone */
	struct MHD_Response *response;
	unsigned status;
	int64_t started_ns;	/* when its headers were in */

	/* The paywall's: the route that matched, copied (routes may change
	 * under us), and while a challenge's invoice is being made, why. */
	struct route_view route;
	const char *reason;
	char detail[192];
	struct l402_verdict verdict;
	bool path_known;	/* no route matched, but one for another method */
	bool serve_unlocked;	/* passed; its backend serves without the lock */
	int64_t uses_left;	/* of a token with a use limit, once counted; else -1 */
	int64_t balance_left;	/* msat of a balance token after this request's
				 * draw (or hold); else -1 */
	uint64_t held_msat;	/* what this request took from a balance */
	bool priced;		/* route.spec.price_msat is the pricer's answer */
	struct mpp_state mpp;	/* a Payment scheme credential, when it came with one */

	/* A front proxy's question (forward_auth.h): method and path above
	 * are the original request's; passing answers 200 instead of
	 * serving, and deny_status (401 or 403, for nginx), when set,
	 * replaces every other answer, without minting an invoice. */
	bool forward_auth;
	unsigned deny_status;
};

/* What became of a request after a step: answered (r->response set),
 * pending (waiting on the loop, or reading its body: not ours to touch),
 * passed, to be served by a backend that needs no lock, or nothing yet
 * (the caller carries on). */
enum http_outcome { HTTP_ANSWERED, HTTP_PENDING, HTTP_SERVE_UNLOCKED, HTTP_CONTINUE };

/* Run step(r) holding the loop's lock, and say what became of r. */
enum http_outcome http_locked(void (*step)(struct req *r), struct req *r);

bool http_start(struct listener *l, size_t n, unsigned threads, char *why, size_t whylen);
void http_stop(void);
/* From now on, answer every new request 503 at once. */
void http_refuse_new(void);

/* Answer r with status and resp (takes ownership), resuming it if it was
 * waiting. Adds the CORS headers every response carries. */
void http_finish(struct req *r, unsigned status, struct MHD_Response *resp);
/* A JSON body; json is copied. */
void http_finish_json(struct req *r, unsigned status, const char *json, size_t len);
/* {"error": code, "message": ...} */
void http_error(struct req *r, unsigned status, const char *code, const char *message);
/* An error that tells the client when to come back (Retry-After). */
void http_retry_later(struct req *r, unsigned status, const char *code, const char *why,
		      unsigned seconds);
/* 503 "unavailable", retry in a few seconds. */
void http_unavailable(struct req *r, const char *why);
/* Park r until a backend or lightningd answers. */
void http_wait(struct req *r);

/* Hand r to its backend: at once, or once its body is read when the
 * backend takes one. Called holding the loop's lock. */
void http_serve(struct req *r);

/* The part of the request path under a prefix route ("" for exact). */
const char *req_subpath(const struct req *r);
/* Whether that part is plain names: no "." or ".." segment, no
 * backslash (the path is already percent-decoded, so "%2e%2e" and "%2f"
 * are caught too). Backends that map it onto something refuse others. */
bool req_subpath_plain(const struct req *r);

#endif
