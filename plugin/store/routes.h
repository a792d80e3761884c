/* The live route table. Routes come from l402-route options and from
 * lightning-cli (l402-route-add/-update/-remove), which are persisted in
 * the datastore under ["l402","routes",HEX(KEY)] and win over a config
 * route with the same key. A route's key is "METHOD PATH" (PATH with its
 * trailing '*' for prefixes). Matching: an exact path beats a prefix, a
 * longer prefix beats a shorter one, a named method beats '*'. */
#ifndef L402_ROUTES_H
#define L402_ROUTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "route_spec.h"

struct backend;

struct route_stats {
	uint64_t challenges, paid, requests, revenue_msat;
};

struct route {
	uint64_t id;		/* unique for the plugin's life */
	char key[ROUTE_KEY_LEN];
	char tag[9];		/* 8 hex of sha256(key): ties invoices to routes */
	struct route_spec spec;
	const struct backend *backend;	/* spec.backend's, checked when added */
	bool from_config;
	bool overridden;	/* a runtime route replaced the config one */
	bool active;
	struct route_stats since_start, all_time;
	bool stats_dirty;
};

/* Config routes at init; on failure why names the route. */
bool routes_load(char *const *specs, size_t n, char *why, size_t whylen);
/* Who is told when a route is added, changed or removed (plugin.c). */
void routes_set_observer(void (*changed)(void));
/* Runtime routes from the datastore, once the RPC is up. */
void routes_sync(void);
bool routes_synced(void);

/* The route a request matches, for the loop (holding its lock). */
struct route *routes_match(const char *method, const char *path, bool *path_known);

/* The same for HTTP threads, without the loop's lock: a copy of what the
 * request needs. */
struct route_view {
	struct route_spec spec;
	const struct backend *backend;
	uint64_t id;
	char tag[9];
};
bool routes_lookup(const char *method, const char *path, struct route_view *out,
		   bool *path_known);
struct route *routes_by_id(uint64_t id);
struct route *routes_by_key(const char *key);
struct route *routes_by_tag(const char *tag);
size_t routes_count(void);	/* active routes */
size_t routes_total(void);	/* including inactive config routes */
struct route *routes_at(size_t i);

/* Canonical key of a spec. */
void route_key(const struct route_spec *s, char *out, size_t len);

/* Runtime changes, persisted; on failure a reason in why. add refuses an
 * existing active key; put adds or replaces; remove deactivates. */
bool routes_put(const struct route_spec *s, bool must_be_new, char *why, size_t whylen);
/* What routes_put would refuse, changing nothing (lightning-cli check). */
bool routes_check(const struct route_spec *s, bool must_be_new, char *why, size_t whylen);
bool routes_remove(const char *key, char *why, size_t whylen);
/* Forget a route, active or removed: out of every listing, its counters
 * deleted; a config route stays out across restarts until added again. */
bool routes_purge(const char *key, char *why, size_t whylen);

void routes_count_challenge(uint64_t id);
void routes_count_request(uint64_t id);
/* A payment for an invoice whose label carries tag. */
void routes_count_payment(const char *tag, uint64_t msat);
/* Write dirty all-time counters to the datastore. */
void routes_flush_stats(void);
void routes_free(void);

#endif
