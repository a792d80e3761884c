#include "store/routes.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "lightningd/datastore.h"
#include "encoding.h"
#include "json_out.h"
#include "core/log.h"
#include "core/loop.h"
#include "lightningd/rpc.h"

#define MAX_ROUTES 1024
#define RPC_TIMEOUT_MS 30000
#define STATS_FLUSH_MS 10000

static struct route *routes[MAX_ROUTES];
static size_t nroutes;
/* The table is changed only by the loop (holding its lock) and read by
 * it freely; HTTP threads match and copy routes without the loop's lock,
 * under this one (routes_lookup), so the loop changes the table and the
 * routes' specs holding it for writing. */
static pthread_rwlock_t table_lock = PTHREAD_RWLOCK_INITIALIZER;
static uint64_t next_id = 1;
static struct ds_load load = { routes_sync, false, false, 0 };
static uint64_t flush_timer;
/* Told when the table changes (plugin.c: the published documents). */
static void (*changed_observer)(void);

void routes_set_observer(void (*changed)(void))
{
	changed_observer = changed;
}

void route_key(const struct route_spec *s, char *out, size_t len)
{
	snprintf(out, len, "%s %s%s", s->method, s->path, s->prefix ? "*" : "");
}

static void fill(struct route *r, const struct route_spec *s)
{
	uint8_t h[32];
	r->spec = *s;
	r->backend = backend_find(s->backend);
	route_key(s, r->key, sizeof(r->key));
	crypto_hash_sha256(h, (const uint8_t *)r->key, strlen(r->key));
	hex_encode(h, 4, r->tag, sizeof(r->tag));
}

static bool check_schema(const char *path, char *why, size_t whylen)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;
	struct json_doc d;
	if (!f) {
		snprintf(why, whylen, "schema=%s cannot be read", path);
		return false;
	}
	buf = malloc(64 * 1024 + 1);
	n = buf ? fread(buf, 1, 64 * 1024 + 1, f) : 0;
	fclose(f);
	bool ok = buf && n > 0 && n <= 64 * 1024 && json_parse_alloc(&d, buf, n, 8192);
	if (ok) {
		ok = json_is_object(&d, 0);
		json_doc_free(&d);
	}
	free(buf);
	if (!ok)
		snprintf(why, whylen, "schema=%s is not a JSON object of at most 64 KiB", path);
	return ok;
}

static bool check_spec(const struct route_spec *s, char *why, size_t whylen)
{
	if (!backend_check(s, why, whylen))
		return false;
	if (s->schema[0] && !check_schema(s->schema, why, whylen))
		return false;
	return true;
}

/* Whether two routes sell the same thing: what a payment buys and costs. */
static bool same_terms(const struct route_spec *a, const struct route_spec *b)
{
	return a->price_msat == b->price_msat && a->uses == b->uses && a->valid == b->valid
	       && a->balance_msat == b->balance_msat && a->hold_msat == b->hold_msat
	       && strcmp(a->pricer, b->pricer) == 0;
}

/* A token names what it opens by service only (aperture's services
 * caveat), so two routes of one service open each other. Where they sell
 * different terms, a route whose name was derived from its path (paths
 * that read alike: an exact route and a prefix on the same path, GET and
 * POST of one path, /Report and /report) gets a name of its own, its tag
 * after it; a name given with service= is refused (holding the table;
 * told is false for a check that changes nothing). */
static bool own_service(struct route_spec *s, const char *key, bool told, char *why,
			size_t whylen)
{
	for (size_t i = 0; i < nroutes; i++) {
		const struct route *o = routes[i];
		if (!o->active || strcmp(o->key, key) == 0 || strcmp(o->spec.service, s->service) != 0
		    || same_terms(&o->spec, s))
			continue;
		if (!s->service_derived) {
			snprintf(why, whylen, "service %s is sold by route %s on other terms: a token "
					      "of either would open both; give this route a service= "
					      "of its own", s->service, o->key);
			return false;
		}
		uint8_t h[32];
		char tag[9];
		crypto_hash_sha256(h, (const uint8_t *)key, strlen(key));
		hex_encode(h, 4, tag, sizeof(tag));
		size_t keep = strlen(s->service);
		if (keep > ROUTE_MAX_SERVICE - 9)
			keep = ROUTE_MAX_SERVICE - 9;
		s->service[keep] = '\0';
		snprintf(s->service + keep, sizeof(s->service) - keep, "-%s", tag);
		s->service_derived = false;
		if (told)
			plugin_log(LOG_INFO, "route %s: service %s (its path's name is another "
					     "route's, on other terms)", key, s->service);
		return own_service(s, key, told, why, whylen);
	}
	return true;
}

/* Whether two specs say the same, by their canonical text. */
static bool same_spec(const struct route_spec *a, const struct route_spec *b)
{
	char ta[ROUTE_MAX_SPEC + 64], tb[ROUTE_MAX_SPEC + 64];
	return route_spec_format(a, ta, sizeof(ta)) && route_spec_format(b, tb, sizeof(tb))
	       && strcmp(ta, tb) == 0;
}

static bool load_config(char *const *specs, size_t n, char *why, size_t whylen);

/* A new active route at the end of the table (holding it for writing). */
static bool add_route(const struct route_spec *s, bool from_config, char *why, size_t whylen)
{
	struct route *r;
	if (nroutes == MAX_ROUTES) {
		snprintf(why, whylen, "more than %d routes", MAX_ROUTES);
		return false;
	}
	if (!(r = calloc(1, sizeof(*r)))) {
		snprintf(why, whylen, "out of memory");
		return false;
	}
	fill(r, s);
	r->id = next_id++;
	r->from_config = from_config;
	r->active = true;
	routes[nroutes++] = r;
	return true;
}

bool routes_load(char *const *specs, size_t n, char *why, size_t whylen)
{
	routes_free();
	pthread_rwlock_wrlock(&table_lock);
	bool ok = load_config(specs, n, why, whylen);
	pthread_rwlock_unlock(&table_lock);
	if (!ok)
		routes_free();
	return ok;
}

static bool load_config(char *const *specs, size_t n, char *why, size_t whylen)
{
	char err[256];
	for (size_t i = 0; i < n; i++) {
		struct route_spec s;
		if (!route_spec_parse(specs[i], &s, err, sizeof(err))
		    || !check_spec(&s, err, sizeof(err))) {
			snprintf(why, whylen, "l402-route=%.200s: %s", specs[i], err);
			return false;
		}
		char key[ROUTE_KEY_LEN];
		struct route *dup;
		route_key(&s, key, sizeof(key));
		if ((dup = routes_by_key(key))) {
			/* lightningd hands a restarted plugin its startup options
			 * again, plus those given to `plugin start`: the same route
			 * twice is one route. Two for one key is a mistake. */
			if (same_spec(&dup->spec, &s)) {
				plugin_log(LOG_DEBUG, "l402-route=%s given twice", specs[i]);
				continue;
			}
			snprintf(why, whylen, "l402-route=%.200s: duplicates an earlier route", specs[i]);
			return false;
		}
		if (!own_service(&s, key, true, err, sizeof(err))) {
			snprintf(why, whylen, "l402-route=%.200s: %s", specs[i], err);
			return false;
		}
		if (!add_route(&s, true, why, whylen))
			return false;
	}
	return true;
}

static bool better(const struct route *a, const struct route *b)
{
	if (!b)
		return true;
	bool ea = !a->spec.prefix, eb = !b->spec.prefix;
	if (ea != eb)
		return ea;
	size_t la = strlen(a->spec.path), lb = strlen(b->spec.path);
	if (la != lb)
		return la > lb;
	return strcmp(b->spec.method, "*") == 0 && strcmp(a->spec.method, "*") != 0;
}

bool routes_lookup(const char *method, const char *path, struct route_view *out,
		   bool *path_known)
{
	pthread_rwlock_rdlock(&table_lock);
	const struct route *r = routes_match(method, path, path_known);
	if (r) {
		out->spec = r->spec;
		out->backend = r->backend;
		out->id = r->id;
		memcpy(out->tag, r->tag, sizeof(out->tag));
	}
	pthread_rwlock_unlock(&table_lock);
	return r != NULL;
}

struct route *routes_match(const char *method, const char *path, bool *path_known)
{
	struct route *best = NULL;
	*path_known = false;
	for (size_t i = 0; i < nroutes; i++) {
		struct route *r = routes[i];
		if (!r->active || !route_matches_path(&r->spec, path))
			continue;
		*path_known = true;
		/* HEAD is answered like GET, as directories probe with HEAD. */
		if (strcmp(r->spec.method, "*") != 0 && strcmp(r->spec.method, method) != 0
		    && !(strcmp(method, "HEAD") == 0 && strcmp(r->spec.method, "GET") == 0))
			continue;
		if (better(r, best))
			best = r;
	}
	return best;
}

struct route *routes_by_id(uint64_t id)
{
	for (size_t i = 0; i < nroutes; i++)
		if (routes[i]->id == id)
			return routes[i];
	return NULL;
}

struct route *routes_by_key(const char *key)
{
	for (size_t i = 0; i < nroutes; i++)
		if (strcmp(routes[i]->key, key) == 0)
			return routes[i];
	return NULL;
}

struct route *routes_by_tag(const char *tag)
{
	for (size_t i = 0; i < nroutes; i++)
		if (strncmp(routes[i]->tag, tag, 8) == 0)
			return routes[i];
	return NULL;
}

size_t routes_count(void)
{
	size_t n = 0;
	for (size_t i = 0; i < nroutes; i++)
		n += routes[i]->active;
	return n;
}

size_t routes_total(void)
{
	return nroutes;
}

struct route *routes_at(size_t i)
{
	return i < nroutes ? routes[i] : NULL;
}

/* ---- persistence ---- */

static void stored(void *arg, const struct rpc_result *r)
{
	if (r->status != RPC_OK && !(r->status == RPC_ERROR && r->code == DATASTORE_DEL_DOES_NOT_EXIST))
		plugin_log(LOG_UNUSUAL, "saving a route change failed: %s", r->message);
}

static void persist(const char *key, const char *value)
{
	char hex[2 * ROUTE_KEY_LEN + 1];
	hex_encode((const uint8_t *)key, strlen(key), hex, sizeof(hex));
	ds_put("routes", hex, value, stored, NULL, NULL);
}

/* Install without persisting (used when loading). A "-" value is a
 * tombstone: the config route of that key was removed at runtime. */
static bool install_locked(const char *key, const char *value, char *why, size_t whylen);
/* The stored value of a config route that was removed ("-", a tombstone:
 * still listed, inactive) or removed and purged (not listed). */
#define PURGED "--"

static bool install(const char *key, const char *value, char *why, size_t whylen)
{
	pthread_rwlock_wrlock(&table_lock);
	bool ok = install_locked(key, value, why, whylen);
	pthread_rwlock_unlock(&table_lock);
	return ok;
}

/* Forget a route: out of the table, its counters with it (holding it for
 * writing; only the loop, holding its lock, keeps route pointers). */
static void drop_locked(struct route *r)
{
	for (size_t i = 0; i < nroutes; i++)
		if (routes[i] == r) {
			memmove(&routes[i], &routes[i + 1], (nroutes - i - 1) * sizeof(routes[0]));
			nroutes--;
			free(r);
			return;
		}
}

static bool install_locked(const char *key, const char *value, char *why, size_t whylen)
{
	struct route *old = routes_by_key(key);
	struct route_spec s;
	char err[256];

	if (changed_observer)
		changed_observer();
	if (strcmp(value, PURGED) == 0) {
		/* A config route removed and purged: not even listed. */
		if (old)
			drop_locked(old);
		return true;
	}
	if (strcmp(value, "-") == 0) {
		if (old)
			old->active = false;
		return true;
	}
	if (!route_spec_parse(value, &s, err, sizeof(err)) || !check_spec(&s, err, sizeof(err))
	    || !own_service(&s, key, true, err, sizeof(err))) {
		snprintf(why, whylen, "%s", err);
		return false;
	}
	if (old) {
		bool cfg = old->from_config;
		struct route_stats a = old->all_time, b = old->since_start;
		fill(old, &s);
		old->from_config = cfg;
		old->overridden = cfg;
		old->active = true;
		old->all_time = a;
		old->since_start = b;
		return true;
	}
	return add_route(&s, false, why, whylen);
}

bool routes_check(const struct route_spec *s, bool must_be_new, char *why, size_t whylen)
{
	char key[ROUTE_KEY_LEN], text[ROUTE_MAX_SPEC + 64];
	struct route_spec copy = *s;
	route_key(s, key, sizeof(key));
	struct route *old = routes_by_key(key);
	if (must_be_new && old && old->active) {
		snprintf(why, whylen, "route %s exists; use l402-route-update", key);
		return false;
	}
	if (!route_spec_format(&copy, text, sizeof(text))) {
		snprintf(why, whylen, "route too long");
		return false;
	}
	if (!old && nroutes == MAX_ROUTES) {
		snprintf(why, whylen, "more than %d routes", MAX_ROUTES);
		return false;
	}
	pthread_rwlock_rdlock(&table_lock);
	bool own = own_service(&copy, key, false, why, whylen);
	pthread_rwlock_unlock(&table_lock);
	return own && check_spec(s, why, whylen);
}

bool routes_put(const struct route_spec *s, bool must_be_new, char *why, size_t whylen)
{
	char key[ROUTE_KEY_LEN], text[ROUTE_MAX_SPEC + 64];
	struct route_spec copy = *s;
	route_key(s, key, sizeof(key));
	struct route *old = routes_by_key(key);
	if (must_be_new && old && old->active) {
		snprintf(why, whylen, "route %s exists; use l402-route-update", key);
		return false;
	}
	/* Its service name settled before it is written down: the text
	 * kept (with service=) then reads back to the same name. */
	pthread_rwlock_rdlock(&table_lock);
	bool own = own_service(&copy, key, true, why, whylen);
	pthread_rwlock_unlock(&table_lock);
	if (!own)
		return false;
	if (!route_spec_format(&copy, text, sizeof(text))) {
		snprintf(why, whylen, "route too long");
		return false;
	}
	if (!install(key, text, why, whylen))
		return false;
	persist(key, text);
	return true;
}

bool routes_remove(const char *key, char *why, size_t whylen)
{
	struct route *r = routes_by_key(key);
	if (!r || !r->active) {
		snprintf(why, whylen, "no route %s", key);
		return false;
	}
	pthread_rwlock_wrlock(&table_lock);
	r->active = false;
	pthread_rwlock_unlock(&table_lock);
	if (changed_observer)
		changed_observer();
	/* A config route stays removed across restarts through a tombstone. */
	persist(key, r->from_config ? "-" : NULL);
	return true;
}

bool routes_purge(const char *key, char *why, size_t whylen)
{
	struct route *r = routes_by_key(key);
	char hex[2 * ROUTE_KEY_LEN + 1];
	if (!r) {
		snprintf(why, whylen, "no route %s", key);
		return false;
	}
	bool from_config = r->from_config;
	pthread_rwlock_wrlock(&table_lock);
	drop_locked(r);
	pthread_rwlock_unlock(&table_lock);
	if (changed_observer)
		changed_observer();
	persist(key, from_config ? PURGED : NULL);
	hex_encode((const uint8_t *)key, strlen(key), hex, sizeof(hex));
	ds_put("stats", hex, NULL, stored, NULL, NULL);
	return true;
}

/* Keys are stored hex-encoded: they hold spaces and slashes. */
static bool key_from_name(const char *name, char key[ROUTE_KEY_LEN])
{
	size_t n;
	if (!hex_decode(name, strlen(name), (uint8_t *)key, ROUTE_KEY_LEN - 1, &n))
		return false;
	key[n] = '\0';
	return true;
}

static void got_stats(void *arg, const struct ds_entry *e)
{
	char key[ROUTE_KEY_LEN];
	struct route *r;
	struct json_doc d;
	jsmntok_t t[32];
	if (!key_from_name(e->name, key) || !(r = routes_by_key(key))
	    || !json_parse(&d, e->value, strlen(e->value), t, 32))
		return;
	json_get_u64(&d, json_get(&d, 0, "challenges"), &r->all_time.challenges);
	json_get_u64(&d, json_get(&d, 0, "paid"), &r->all_time.paid);
	json_get_u64(&d, json_get(&d, 0, "requests"), &r->all_time.requests);
	json_get_u64(&d, json_get(&d, 0, "revenue_msat"), &r->all_time.revenue_msat);
	/* Counted since start before the load finished: keep them. */
	r->all_time.challenges += r->since_start.challenges;
	r->all_time.paid += r->since_start.paid;
	r->all_time.requests += r->since_start.requests;
	r->all_time.revenue_msat += r->since_start.revenue_msat;
}

static void stats_loaded(void *arg, const struct rpc_result *res)
{
	if (ds_load_failed(&load, res))
		return;
	ds_load_finish(&load);
	plugin_log(LOG_INFO, "%zu routes active", routes_count());
}

static void got_route(void *arg, const struct ds_entry *e)
{
	char key[ROUTE_KEY_LEN], why[256];
	if (key_from_name(e->name, key) && !install(key, e->value, why, sizeof(why)))
		plugin_log(LOG_UNUSUAL, "stored route %s ignored: %s", key, why);
}

static void routes_loaded(void *arg, const struct rpc_result *res)
{
	if (!ds_load_failed(&load, res))
		ds_list("stats", got_stats, stats_loaded, NULL, NULL);
}

static void flush_tick(void *arg)
{
	flush_timer = loop_add_timer(STATS_FLUSH_MS, flush_tick, NULL);
	routes_flush_stats();
}

void routes_sync(void)
{
	if (!flush_timer)
		flush_timer = loop_add_timer(STATS_FLUSH_MS, flush_tick, NULL);
	if (ds_load_begin(&load))
		ds_list("routes", got_route, routes_loaded, NULL, NULL);
}

bool routes_synced(void)
{
	return load.done;
}

/* ---- counters ---- */

static void count(struct route *r, const struct route_stats *add)
{
	struct route_stats *both[] = { &r->since_start, &r->all_time };
	for (size_t i = 0; i < 2; i++) {
		both[i]->challenges += add->challenges;
		both[i]->requests += add->requests;
		both[i]->paid += add->paid;
		both[i]->revenue_msat += add->revenue_msat;
	}
	r->stats_dirty = true;
}

void routes_count_challenge(uint64_t id)
{
	struct route *r = routes_by_id(id);
	if (r)
		count(r, &(struct route_stats){ .challenges = 1 });
}

void routes_count_request(uint64_t id)
{
	struct route *r = routes_by_id(id);
	if (r)
		count(r, &(struct route_stats){ .requests = 1 });
}

void routes_count_payment(const char *tag, uint64_t msat)
{
	struct route *r = routes_by_tag(tag);
	if (r)
		count(r, &(struct route_stats){ .paid = 1, .revenue_msat = msat });
}

void routes_flush_stats(void)
{
	if (!load.done || !rpc_connected())
		return;
	for (size_t i = 0; i < nroutes; i++) {
		struct route *r = routes[i];
		char hex[2 * ROUTE_KEY_LEN + 1], val[256];
		if (!r->stats_dirty)
			continue;
		r->stats_dirty = false;
		hex_encode((const uint8_t *)r->key, strlen(r->key), hex, sizeof(hex));
		snprintf(val, sizeof(val),
			 "{\"challenges\":%llu,\"paid\":%llu,\"requests\":%llu,\"revenue_msat\":%llu}",
			 (unsigned long long)r->all_time.challenges, (unsigned long long)r->all_time.paid,
			 (unsigned long long)r->all_time.requests,
			 (unsigned long long)r->all_time.revenue_msat);
		ds_put("stats", hex, val, stored, NULL, NULL);
	}
}

void routes_free(void)
{
	pthread_rwlock_wrlock(&table_lock);
	for (size_t i = 0; i < nroutes; i++)
		free(routes[i]);
	nroutes = 0;
	pthread_rwlock_unlock(&table_lock);
	if (flush_timer)
		loop_cancel_timer(flush_timer);
	flush_timer = 0;
}
