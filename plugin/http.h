/* The HTTP server: libmicrohttpd driven from our event loop (external
 * epoll mode, suspend/resume for answers that wait on lightningd), and
 * the L402 request flow in front of the backends. */
#ifndef L402_HTTP_H
#define L402_HTTP_H

#include <microhttpd.h>
#include <stdbool.h>

#include "state.h"
#include "route_spec.h"
#include "strbuf.h"

#define HTTP_MAX_BODY (8u * 1024 * 1024)

struct req {
	struct MHD_Connection *conn;
	struct route_spec spec;	/* copied: routes may change under us */
	uint64_t route_id;
	char route_tag[9];
	bool has_route;
	char method[16];
	char *path;
	char client_ip[64];
	struct strbuf body;
	bool body_too_large;
	bool started, suspended;
	bool public_doc;	/* discovery documents: CORS for everyone */
	struct MHD_Response *response;
	unsigned status;
	/* 402 bookkeeping while the invoice is being created */
	const char *reason;
	char detail[192];
	char detail_label[256];
	/* backend scratch */
	void *backend;
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
/* Park r until a backend or lightningd answers. */
void http_wait(struct req *r);

/* backends */
void backend_dir_serve(struct req *r);
void backend_proxy_serve(struct req *r);
bool backend_proxy_init(void);
void backend_proxy_shutdown(void);
/* The part of the request path under a prefix route ("" for exact). */
const char *req_subpath(const struct req *r);

#endif
