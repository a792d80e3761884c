/* A backend serves a paid (or free) route's requests. Each is one file
 * exporting one struct backend, and one row of the table in backends.c;
 * route checking, serving, start-up and shutdown all go through it.
 *
 * To add one: write plugin/backend_NAME.c with
 *	const struct backend backend_NAME = { "NAME", "NAME:TARGET", ... };
 * declare it below and add &backend_NAME to the table in backends.c. */
#ifndef L402_BACKEND_H
#define L402_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

#include "route_spec.h"

struct req;

struct backend {
	const char *name;	/* as written in a route: NAME:TARGET */
	const char *usage;	/* "proxy:URL", for people */
	bool takes_timeout;	/* whether timeout= means something to it */
	bool reads_body;	/* whether it is handed the request body */
	/* Whether serve may run without the loop's lock: it touches no
	 * plugin state besides the request (and answers at once). */
	bool lockless;
	/* Whether only a front proxy serves its routes: the paywall decides
	 * for it through forward-auth, and refuses direct requests. */
	bool front_only;
	/* The route's target and keys, when a route is added; NULL: any
	 * target will do. False with a reason refuses the route. */
	bool (*check)(const struct route_spec *s, char *why, size_t whylen);
	/* Answer r: at once with http_finish (or http_error), or later after
	 * http_wait. Called holding the loop's lock. */
	void (*serve)(struct req *r);
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

#endif
