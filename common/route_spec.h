/* The l402-route syntax:
 *   METHOD PATH PRICE BACKEND [key=value ...]
 * METHOD a verb or '*'; PATH exact or a prefix ending in "/" and a star; PRICE Nsat,
 * Nmsat or 0; BACKEND proxy:URL, dir:PATH, rpc:METHOD or text:BODY. Words
 * split on spaces; double quotes group (desc="BTC price", "text:a b"),
 * and a backslash escapes the next character inside quotes. */
#ifndef L402_ROUTE_SPEC_H
#define L402_ROUTE_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum backend_kind { BACKEND_PROXY, BACKEND_DIR, BACKEND_RPC, BACKEND_TEXT };

#define ROUTE_MAX_SPEC 4096
#define ROUTE_MAX_SERVICE 64

struct route_spec {
	char method[16];	/* upper case, or "*" */
	char path[1024];	/* without the trailing '*' for prefixes */
	bool prefix;		/* path ended in a slash and a star */
	uint64_t price_msat;
	enum backend_kind backend;
	char target[2048];	/* URL, directory, RPC method or body */
	int64_t valid;		/* token lifetime in seconds, 0 = no expiry */
	int64_t timeout;	/* proxy: upstream deadline in seconds */
	uint64_t uses;		/* requests one payment buys, 0 = unlimited */
	uint32_t rate_n, rate_per, burst;	/* rate=N/SECONDS[,burst=B] */
	uint32_t free_n, free_per;		/* free=N/SECONDS per client IP */
	bool unlisted;		/* unlisted=1: in no published catalog */
	char category[64];
	char schema[512];	/* path of a JSON file describing the request body */
	char desc[512];
	char service[ROUTE_MAX_SERVICE + 1];
};

/* Parse one route. On failure returns false with a reason in why. */
bool route_spec_parse(const char *spec, struct route_spec *r, char *why,
		      size_t whylen);

/* The canonical text of r, which route_spec_parse reads back to r.
 * Returns false if out is too small. */
bool route_spec_format(const struct route_spec *r, char *out, size_t outlen);

/* Service name from a path: "/v1/price/" -> "v1-price"; "/" -> "root". */
void route_service_from_path(const char *path, char *out, size_t outlen);

/* Whether request path p matches the route (exact, or under the prefix). */
bool route_matches_path(const struct route_spec *r, const char *p);

const char *backend_name(enum backend_kind k);

/* msat as sat for people and catalogs: "10", or "1.500" when it is not a
 * whole number of sat. */
void format_sat(char *out, size_t len, uint64_t msat);

#endif
