/* The live route table: routes from l402-route options, matched by method
 * and path (an exact path beats a prefix, a longer prefix beats a shorter
 * one). */
#ifndef L402_ROUTES_H
#define L402_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include "route_spec.h"

struct route {
	struct route_spec spec;
	bool from_config;
	/* counters since start */
	unsigned long long challenges, paid_requests, free_requests;
};

/* Parse and install the configured routes; on failure why names the route. */
bool routes_load(char *const *specs, size_t n, char *why, size_t whylen);
/* The route for method+path. *path_known says whether any route has this
 * path (for 405 rather than 404). */
struct route *routes_match(const char *method, const char *path, bool *path_known);
size_t routes_count(void);
struct route *routes_at(size_t i);
void routes_free(void);

/* rpc: backends may only call these read-only lightningd methods. */
bool rpc_method_allowed(const char *method);

#endif
