#include "routes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct route *routes;
static size_t nroutes;

/* Methods that read and never spend, sign, or change the node. */
static const char *const rpc_allowed[] = {
	"getinfo", "listnodes", "listchannels", "feerates", "getroute", "decode",
	"decodepay", "listpeers", "listpeerchannels", "listforwards", "listfunds",
	"listinvoices", "listsendpays", "listpays", "listoffers", "help",
};

bool rpc_method_allowed(const char *method)
{
	for (size_t i = 0; i < sizeof(rpc_allowed) / sizeof(rpc_allowed[0]); i++)
		if (strcmp(method, rpc_allowed[i]) == 0)
			return true;
	return false;
}

bool routes_load(char *const *specs, size_t n, char *why, size_t whylen)
{
	struct route *r = calloc(n ? n : 1, sizeof(*r));
	char err[256];
	if (!r) {
		snprintf(why, whylen, "out of memory");
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (!route_spec_parse(specs[i], &r[i].spec, err, sizeof(err))) {
			snprintf(why, whylen, "l402-route=%.200s: %s", specs[i], err);
			free(r);
			return false;
		}
		if (r[i].spec.backend == BACKEND_RPC && !rpc_method_allowed(r[i].spec.target)) {
			snprintf(why, whylen, "l402-route=%.200s: rpc:%s is not an allowed read-only method",
				 specs[i], r[i].spec.target);
			free(r);
			return false;
		}
		for (size_t k = 0; k < i; k++)
			if (strcmp(r[k].spec.method, r[i].spec.method) == 0
			    && strcmp(r[k].spec.path, r[i].spec.path) == 0
			    && r[k].spec.prefix == r[i].spec.prefix) {
				snprintf(why, whylen, "l402-route=%.200s: duplicates an earlier route",
					 specs[i]);
				free(r);
				return false;
			}
		r[i].from_config = true;
	}
	free(routes);
	routes = r;
	nroutes = n;
	return true;
}

struct route *routes_match(const char *method, const char *path, bool *path_known)
{
	struct route *best = NULL;
	size_t best_len = 0;
	bool best_exact = false;
	*path_known = false;
	for (size_t i = 0; i < nroutes; i++) {
		struct route *r = &routes[i];
		if (!route_matches_path(&r->spec, path))
			continue;
		*path_known = true;
		/* HEAD is answered like GET, as directories probe with HEAD. */
		if (strcmp(r->spec.method, "*") != 0 && strcmp(r->spec.method, method) != 0
		    && !(strcmp(method, "HEAD") == 0 && strcmp(r->spec.method, "GET") == 0))
			continue;
		size_t len = strlen(r->spec.path);
		bool exact = !r->spec.prefix;
		if (!best || (exact && !best_exact) || (exact == best_exact && len > best_len)
		    || (exact == best_exact && len == best_len
			&& strcmp(best->spec.method, "*") == 0)) {
			best = r;
			best_len = len;
			best_exact = exact;
		}
	}
	return best;
}

size_t routes_count(void)
{
	return nroutes;
}

struct route *routes_at(size_t i)
{
	return i < nroutes ? &routes[i] : NULL;
}

void routes_free(void)
{
	free(routes);
	routes = NULL;
	nroutes = 0;
}
