/* The HTTP server: libmicrohttpd on its own thread pool, suspend/resume
 * for answers that wait on lightningd or a backend, the answers
 * themselves (with CORS), and the client's address. What to answer is
 * decided elsewhere: discovery_serve() and paywall_handle(). */
#ifndef L402_HTTP_H
#define L402_HTTP_H

#include <microhttpd.h>
#include <stdbool.h>

#include "label.h"
#include "route_spec.h"
#include "state.h"
#include "strbuf.h"

#define HTTP_MAX_BODY (8u * 1024 * 1024)

struct backend;

struct req {
	struct MHD_Connection *conn;
	char method[ROUTE_MAX_METHOD];
	char *path;		/* percent-decoded by libmicrohttpd */
	char client_ip[64];
	struct strbuf body;
	bool body_too_large;
	bool started, suspended;
	bool public_doc;	/* discovery documents: CORS for everyone */
	struct MHD_Response *response;
	unsigned status;

	/* The paywall's: the route that matched, copied (routes may change
	 * under us), and while a challenge's invoice is being made, why and
	 * the invoice's label. */
	struct route_spec spec;
	const struct backend *backend;
	uint64_t route_id;
	char route_tag[9];
	const char *reason;
	char detail[192];
	char label[LABEL_MAX];
};

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

/* The part of the request path under a prefix route ("" for exact). */
const char *req_subpath(const struct req *r);

#endif
