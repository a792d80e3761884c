/* The forward-auth endpoint (forward_auth.h). What matters most here is
 * that the path we decide on is the path the upstream will serve: a
 * proxy forwards the URI as the client wrote it, so anything two servers
 * could read two ways (path.h says what; a second header naming another
 * URI) is refused rather than guessed at. */
#include "paywall/forward_auth.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "core/state.h"
#include "path.h"
#include "paywall/paywall.h"
#include "paywall/request.h"

#define MAX_FORWARDED_URI 8192

/* The headers a proxy may describe the original request with, and how
 * many times each came. */
struct forwarded {
	const char *method[2], *uri[2]; /* [0] X-Forwarded-*, [1] X-Original-* */
	unsigned seen_method[2], seen_uri[2];
	const char *deny;
	unsigned seen_deny;
	const char *final;
	unsigned seen_final;
};

static enum MHD_Result scan(void *cls, enum MHD_ValueKind kind, const char *key,
			    const char *value)
{
	struct forwarded *f = cls;
	static const char *const names[2][2] = { { "X-Forwarded-Method", "X-Forwarded-Uri" },
						 { "X-Original-Method", "X-Original-URI" } };
	if (!value)
		return MHD_YES;
	for (int i = 0; i < 2; i++) {
		if (strcasecmp(key, names[i][0]) == 0) {
			f->method[i] = value;
			f->seen_method[i]++;
		} else if (strcasecmp(key, names[i][1]) == 0) {
			f->uri[i] = value;
			f->seen_uri[i]++;
		}
	}
	if (strcasecmp(key, "X-L402-Final") == 0) {
		f->final = value;
		f->seen_final++;
	}
	if (strcasecmp(key, "X-L402-Deny-Status") == 0) {
		f->deny = value;
		f->seen_deny++;
	}
	return MHD_YES;
}

/* One value of a pair of headers that must agree when both came. NULL,
 * with *why, when it is missing, repeated or contradicted. */
static const char *one_of(const char *v[2], const unsigned seen[2], const char *what,
			  const char **why)
{
	if (seen[0] > 1 || seen[1] > 1) {
		*why = what[0] == 'm' ? "the original method is given more than once"
				      : "the original URI is given more than once";
		return NULL;
	}
	if (v[0] && v[1] && strcmp(v[0], v[1]) != 0) {
		*why = what[0] == 'm' ? "X-Forwarded-Method and X-Original-Method disagree"
				      : "X-Forwarded-Uri and X-Original-URI disagree";
		return NULL;
	}
	if (!v[0] && !v[1]) {
		*why = what[0] == 'm' ? "no X-Forwarded-Method or X-Original-Method"
				      : "no X-Forwarded-Uri or X-Original-URI";
		return NULL;
	}
	return v[0] ? v[0] : v[1];
}

static bool method_ok(const char *m)
{
	size_t n = strlen(m);
	if (n == 0 || n >= HTTP_MAX_METHOD)
		return false;
	for (; *m; m++)
		if (!((*m >= 'A' && *m <= 'Z') || *m == '-' || *m == '_'))
			return false;
	return true;
}

struct http_step *forward_auth_handle(struct req *r)
{
	struct forwarded f = { 0 };
	const char *why = NULL, *method, *uri;
	const char *auth_path = l402.cfg.auth_path;
	if (!auth_path || strcmp(r->path, auth_path) != 0)
		return http_decline(r);
	paid_start(r);
	struct paid *p = paid_of(r);
	p->forward_auth = true;
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, scan, &f);
	if (f.seen_final) {
		/* Only the recipe can say it: a proxy that copies the client's
		 * headers into its question (Caddy's plain forward_auth,
		 * Traefik) would let a client claim it, and then serve a
		 * session's close to the upstream, again and again. */
		const char *key = l402.cfg.proxy_key;
		if (f.seen_final != 1 || f.seen_deny)
			why = "X-L402-Final must come once, without X-L402-Deny-Status";
		else if (key && strlen(f.final) == strlen(key)
			 && sodium_memcmp(f.final, key, strlen(key)) == 0)
			p->answer_goes_to_client = true;
		/* else: not the recipe's key, so not the proxy's word: ignored */
	}
	if (!why && f.seen_deny) {
		if (f.seen_deny == 1 && (strcmp(f.deny, "401") == 0 || strcmp(f.deny, "403") == 0))
			p->deny_status = (unsigned)atoi(f.deny);
		else
			why = "X-L402-Deny-Status must be 401 or 403, once";
	}
	if (!why && (method = one_of(f.method, f.seen_method, "method", &why))
	    && (uri = one_of(f.uri, f.seen_uri, "uri", &why))) {
		/* The one reading of a path (path.h), as for a direct request. */
		size_t n = strlen(uri);
		char *path = n <= MAX_FORWARDED_URI ? malloc(n + 1) : NULL;
		enum path_err e = path ? path_canonical(uri, path, n + 1, NULL) : PATH_TOO_LONG;
		if (!method_ok(method))
			why = "the original method is not an HTTP method";
		else if (e != PATH_OK)
			why = path_strerror(e);
		/* The original query too: a live price may depend on it. */
		const char *q = strchr(uri, '?');
		char *query = q ? strndup(q + 1, strcspn(q + 1, "#")) : NULL;
		if (!why && q && !query)
			why = "out of memory";
		if (!why) {
			snprintf(r->method, sizeof(r->method), "%s", method);
			free(r->path);
			r->path = path;
			free(r->query);
			r->query = query;
		} else {
			free(query);
			free(path);
		}
	}
	if (why) {
		/* Our mistake or the proxy's, not the client's: a 400, never a
		 * 401/403 of its own; but a proxy that asked for a deny status
		 * (nginx, which makes a 500 of anything else) gets it, and asks
		 * again for the 400 itself. */
		return http_error(r, 400, "bad_forward_auth", why);
	}
	/* The route table alone decides for a front proxy. */
	return paywall_decide(r);
}
