/* The l402-route syntax:
 *   METHOD PATH PRICE BACKEND [key=value ...]
 * METHOD a verb or '*'; PATH exact or a prefix ending in "/" and a star; PRICE Nsat,
 * Nmsat or 0; BACKEND NAME:TARGET (the plugin's backend table says which
 * names exist and checks their targets: this parser knows none). Words
 * split on spaces; double quotes group (desc="BTC price", "text:a b"),
 * and a backslash escapes the next character inside quotes. */
#ifndef L402_ROUTE_SPEC_H
#define L402_ROUTE_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROUTE_MAX_SPEC 4096
#define ROUTE_MAX_SERVICE 64
#define ROUTE_MAX_METHOD 16	/* with its NUL */
#define ROUTE_MAX_BACKEND 16	/* a backend's name, with its NUL */
#define ROUTE_MAX_PATH 1024	/* with its NUL */
/* A route's key, "METHOD PATH" with a '*' for prefixes, and its NUL. */
#define ROUTE_KEY_LEN (ROUTE_MAX_METHOD + ROUTE_MAX_PATH + 2)

struct route_spec {
	char method[ROUTE_MAX_METHOD];	/* upper case, or "*" */
	char path[ROUTE_MAX_PATH];	/* without the trailing '*' for prefixes */
	bool prefix;		/* path ended in a slash and a star */
	uint64_t price_msat;
	char backend[ROUTE_MAX_BACKEND];	/* lower-case name: "proxy" */
	char target[2048];	/* what the backend makes of it: URL, directory, ... */
	int64_t valid;		/* token lifetime in seconds, 0 = no expiry */
	int64_t timeout;	/* timeout=: a backend's deadline in seconds, 0 unset */
	uint64_t uses;		/* requests one payment buys, 0 = unlimited */
	uint64_t balance_msat;	/* balance=: one payment buys this much, each request
				 * draws its price (or its metered cost) from it */
	uint64_t hold_msat;	/* hold=: held while a metered request runs
				 * (default: the price) */
	char pricer[64];	/* price=rpc:METHOD: a lightningd command prices
				 * each request, up to PRICE */
	uint32_t rate_n, rate_per, burst;	/* rate=N/SECONDS[,burst=B] */
	uint32_t free_n, free_per;		/* free=N/SECONDS per client IP */
	bool unlisted;		/* unlisted=1: in no published catalog */
	bool nocase;		/* nocase=1: the path matches in any ASCII case */
	char category[64];
	char schema[512];	/* path of a JSON file describing the request body */
	char desc[512];
	char service[ROUTE_MAX_SERVICE + 1];
	bool service_derived;	/* no service= given: derived from the path */
};

/* Parse one route. On failure returns false with a reason in why. */
bool route_spec_parse(const char *spec, struct route_spec *r, char *why,
		      size_t whylen);

/* Set r's price ("10sat", "1500msat", "0") or backend ("NAME:TARGET"). */
bool route_spec_set_price(struct route_spec *r, const char *price, char *why, size_t whylen);
bool route_spec_set_backend(struct route_spec *r, const char *backend, char *why, size_t whylen);

/* Whether r's keys make sense together (a balance needs a price and is
 * not a use count; a hold needs a balance); why says which do not. */
bool route_spec_consistent(const struct route_spec *r, char *why, size_t whylen);

/* Set one key=value of r, as a route would; zero_clears: "0" lifts a
 * limit (valid, uses, rate, free, balance, hold, price) instead of being
 * refused. */
bool route_spec_set(struct route_spec *r, const char *key, const char *value, bool zero_clears,
		    char *why, size_t whylen);

/* The canonical text of r, which route_spec_parse reads back to r.
 * Returns false if out is too small. */
bool route_spec_format(const struct route_spec *r, char *out, size_t outlen);

/* A rate, "N/SECONDS" (1 to 1000000 per 1 s to 366 days) and, when burst
 * is not NULL, an optional ",burst=B". The one syntax of route keys and of
 * l402-challenge-rate. */
bool rate_parse(const char *v, uint32_t *n, uint32_t *per, uint32_t *burst);

/* Service name from a path: "/v1/price/" -> "v1-price"; "/" -> "root". */
void route_service_from_path(const char *path, char *out, size_t outlen);

/* Whether request path p (path_canonical's) matches the route: exact
 * (with or without one trailing slash), or under the prefix. */
bool route_matches_path(const struct route_spec *r, const char *p);

/* msat as sat for people and catalogs: "10", or "1.500" when it is not a
 * whole number of sat. */
void format_sat(char *out, size_t len, uint64_t msat);

#endif
