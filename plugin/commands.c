/* The plugin's lightning-cli commands: status, routes, tokens, revenue. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "encoding.h"
#include "json_out.h"
#include "l402.h"
#include "lightningd/datastore.h"
#include "publish/discovery.h"
#include "store/unpaid.h"
#include "core/log.h"
#include "core/loop.h"
#include "http/tls.h"
#include "options.h"
#include "store/label.h"
#include "publish/metrics.h"
#include "store/payments.h"
#include "lightningd/protocol.h"
#include "store/routes.h"
#include "lightningd/rpc.h"
#include "core/state.h"
#include "store/terms.h"
#include "store/tokens.h"
#include "commands.h"
#include "paywall/reasons.h"
#include "store/sales.h"
#include "store/secret.h"

/* ---- helpers ---- */

struct result {
	struct strbuf sb;
	struct json_out j;
};

static void result_start(struct result *r)
{
	json_out_object(&r->j, &r->sb, 0);
}

static void result_send(struct cmd *cmd, struct result *r)
{
	json_object_end(&r->j);
	cmd_success(cmd, &r->sb);
	strbuf_free(&r->sb);
}

static bool get_str(const struct json_doc *doc, int tok, char *out, size_t len)
{
	return tok >= 0 && json_get_string(doc, tok, out, len, NULL);
}

/* An integer given as a number or a numeric string (lightning-cli sends
 * either, depending on how it guessed). */
static bool get_u64(const struct json_doc *doc, int tok, uint64_t *v)
{
	char s[32], *end;
	if (json_get_u64(doc, tok, v))
		return true;
	if (!get_str(doc, tok, s, sizeof(s)) || !*s)
		return false;
	*v = strtoull(s, &end, 10);
	return *end == '\0' && s[0] != '-';
}

static void add_stats(struct json_out *j, const char *name, const struct route_stats *s)
{
	json_object_start(j, name);
	json_add_u64(j, "challenges", s->challenges);
	json_add_u64(j, "paid", s->paid);
	json_add_u64(j, "requests", s->requests);
	json_add_u64(j, "revenue_msat", s->revenue_msat);
	json_object_end(j);
}

static void add_route(struct json_out *j, const struct route *rt)
{
	char text[ROUTE_MAX_SPEC + 64];
	const struct route_spec *s = &rt->spec;
	json_object_start(j, NULL);
	json_add_string(j, "route", rt->key);
	json_add_string(j, "method", s->method);
	json_add_string(j, "path", s->path);
	json_add_bool(j, "prefix", s->prefix);
	json_add_u64(j, "price_msat", s->price_msat);
	json_add_string(j, "backend", s->backend);
	json_add_string(j, "target", s->target);
	json_add_string(j, "service", s->service);
	if (s->desc[0])
		json_add_string(j, "description", s->desc);
	struct terms t;
	terms_of(s, rt->backend, &t);
	json_object_start(j, "token_model");
	if (s->valid)
		json_add_s64(j, "valid_seconds", s->valid);
	if (s->uses)
		json_add_u64(j, "uses", s->uses);
	if (s->balance_msat)
		json_add_u64(j, "balance_msat", s->balance_msat);
	json_add_string(j, "summary", s->balance_msat ? "a balance, drawn request by request"
				      : s->valid && s->uses ? "uses within a lifetime"
				      : s->uses ? "a number of uses"
				      : s->valid ? "any number of requests within a lifetime"
				      : "any number of requests, no expiry");
	terms_add_json(j, &t);
	json_object_end(j);
	if (s->rate_n) {
		json_object_start(j, "rate");
		json_add_u64(j, "requests", s->rate_n);
		json_add_u64(j, "per_seconds", s->rate_per);
		json_add_u64(j, "burst", s->burst);
		json_object_end(j);
	}
	if (s->free_n) {
		json_object_start(j, "free");
		json_add_u64(j, "requests", s->free_n);
		json_add_u64(j, "per_seconds", s->free_per);
		json_object_end(j);
	}
	json_add_string(j, "source", rt->from_config ? (rt->overridden ? "config, overridden at runtime"
								       : "config")
						    : "runtime");
	json_add_bool(j, "active", rt->active);
	if (route_spec_format(s, text, sizeof(text)))
		json_add_string(j, "spec", text);
	add_stats(j, "since_start", &rt->since_start);
	add_stats(j, "all_time", &rt->all_time);
	json_object_end(j);
}

static struct route *find_route(struct cmd *cmd, const struct json_doc *doc, int tok)
{
	char key[ROUTE_KEY_LEN];
	struct route *rt;
	if (!get_str(doc, tok, key, sizeof(key))) {
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "route must be a string such as \"GET /v1/price\"");
		return NULL;
	}
	rt = routes_by_key(key);
	if (!rt || !rt->active) {
		/* Accept a full spec too: its key is what counts. */
		struct route_spec s;
		char why[256], k2[ROUTE_KEY_LEN];
		if (route_spec_parse(key, &s, why, sizeof(why))) {
			route_key(&s, k2, sizeof(k2));
			rt = routes_by_key(k2);
		}
	}
	if (!rt || !rt->active) {
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "no route '%s' (see l402-routes)", key);
		return NULL;
	}
	return rt;
}

/* ---- l402-status ---- */

static void cmd_status(struct cmd *cmd, const struct json_doc *doc, int params)
{
	struct result r;
	uint8_t sec[32], h[32];

	if (!param_bind(cmd, doc, params, NULL, 0, NULL))
		return;
	result_start(&r);
	json_add_string(&r.j, "version", L402_VERSION);
	json_array_start(&r.j, "bind");
	for (size_t i = 0; i < l402.nlisteners; i++) {
		char b[96];
		snprintf(b, sizeof(b), "%s%s", l402.listeners[i].tls ? "https://" : "",
			 l402.listeners[i].addr);
		json_add_string(&r.j, NULL, b);
	}
	json_array_end(&r.j);
	tls_describe(&r.j);
	json_add_u64(&r.j, "http_threads", l402.http_threads);
	if (*metrics_addr())
		json_add_string(&r.j, "metrics_bind", metrics_addr());
	json_add_u64(&r.j, "routes", routes_count());
	json_add_u64(&r.j, "invoice_expiry", (uint64_t)l402.cfg.invoice_expiry);
	json_add_string(&r.j, "cors_origin", l402.cfg.cors_origin);
	json_add_bool(&r.j, "rpc_connected", rpc_connected());
	json_add_bool(&r.j, "secret_ready", secret_ready());
	json_add_u64(&r.j, "secret_generation", secret_generation());
	/* A fingerprint lets an operator compare secrets without seeing one. */
	if (secret_get(sec)) {
		crypto_hash_sha256(h, sec, sizeof(sec));
		json_add_hex(&r.j, "secret_fingerprint", h, 8);
		sodium_memzero(sec, sizeof(sec));
	}
	json_object_start(&r.j, "paid_state");
	struct payments_status ps;
	payments_status(&ps);
	json_add_bool(&r.j, "loaded", ps.caught_up && tokens_synced() && routes_synced());
	json_add_u64(&r.j, "paid_invoices", ps.counted);
	json_add_u64(&r.j, "pay_index", ps.pay_index);
	json_add_u64(&r.j, "payments_seen", l402.invoices_paid);
	json_add_u64(&r.j, "revoked_tokens", tokens_revoked_count());
	json_add_u64(&r.j, "unpaid_outstanding", unpaid_count());
	json_add_u64(&r.j, "expired_invoices_deleted", unpaid_deleted_count());
	json_object_end(&r.j);
	if (getenv("L402_LOCK_STATS")) {
		uint64_t n, ns;
		loop_lock_stats(&n, &ns);
		json_object_start(&r.j, "lock");
		json_add_u64(&r.j, "http_acquisitions", n);
		json_add_u64(&r.j, "http_held_ns", ns);
		json_object_end(&r.j);
	}
	result_send(cmd, &r);
}

/* ---- routes ---- */

/* A listing of routes: its one optional parameter, a route key ("" for
 * all), and the result opened with its "routes" array. False when it
 * answered cmd. */
static bool start_route_listing(struct cmd *cmd, const struct json_doc *doc, int params,
				char key[ROUTE_KEY_LEN], struct result *r)
{
	int tok[1];
	static const char *const names[] = { "?route" };
	key[0] = '\0';
	if (!param_bind(cmd, doc, params, names, 1, tok))
		return false;
	if (tok[0] >= 0 && !get_str(doc, tok[0], key, ROUTE_KEY_LEN)) {
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "route must be a string");
		return false;
	}
	result_start(r);
	json_array_start(&r->j, "routes");
	return true;
}

/* The next route a listing shows from *i on: every route, or the one
 * whose key is key. */
static const struct route *next_listed(size_t *i, const char *key)
{
	while (*i < routes_total()) {
		const struct route *rt = routes_at((*i)++);
		if (!key[0] || strcmp(rt->key, key) == 0)
			return rt;
	}
	return NULL;
}

static void cmd_routes(struct cmd *cmd, const struct json_doc *doc, int params)
{
	struct result r;
	char key[ROUTE_KEY_LEN];
	if (!start_route_listing(cmd, doc, params, key, &r))
		return;
	const struct route *rt;
	for (size_t i = 0; (rt = next_listed(&i, key));)
		add_route(&r.j, rt);
	json_array_end(&r.j);
	result_send(cmd, &r);
}

static void reply_route(struct cmd *cmd, const char *key)
{
	struct result r;
	result_start(&r);
	json_array_start(&r.j, "routes");
	add_route(&r.j, routes_by_key(key));
	json_array_end(&r.j);
	result_send(cmd, &r);
}

static void cmd_route_add(struct cmd *cmd, const struct json_doc *doc, int params)
{
	int tok[1];
	static const char *const names[] = { "route" };
	char spec[ROUTE_MAX_SPEC + 1], why[300], key[ROUTE_KEY_LEN];
	struct route_spec s;
	if (!param_bind(cmd, doc, params, names, 1, tok))
		return;
	if (!get_str(doc, tok[0], spec, sizeof(spec))) {
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "route must be a string: METHOD PATH PRICE BACKEND [key=value ...]");
		return;
	}
	if (!route_spec_parse(spec, &s, why, sizeof(why))) {
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "bad route: %s", why);
		return;
	}
	if (!routes_put(&s, true, why, sizeof(why))) {
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "%s", why);
		return;
	}
	route_key(&s, key, sizeof(key));
	plugin_log(LOG_INFO, "route added by %s: %s", cmd->id_str, spec);
	reply_route(cmd, key);
}

/* Replace one field of s, as the route text would set it; "0" lifts a
 * limit. */
static bool set_field(struct route_spec *s, const char *name, const char *val,
		      char *why, size_t whylen)
{
	if (strcmp(name, "price") == 0 && strncmp(val, "rpc:", 4) != 0) {
		s->pricer[0] = '\0'; /* a fixed price again */
		return route_spec_set_price(s, val, why, whylen);
	}
	if (strcmp(name, "backend") == 0)
		return route_spec_set_backend(s, val, why, whylen);
	return route_spec_set(s, name, val, true, why, whylen);
}

static const char *const update_names[] = { "route", "?price", "?backend", "?valid", "?uses",
					    "?desc", "?service", "?rate", "?free", "?timeout",
					    "?balance", "?hold" };
enum { NUPDATE = sizeof(update_names) / sizeof(update_names[0]) };

/* The route an update names, and its spec as the update leaves it; NULL
 * when it answered cmd. */
static struct route *updated_spec(struct cmd *cmd, const struct json_doc *doc, const int *tok,
				  struct route_spec *out)
{
	const char *const *names = update_names;
	enum { N = NUPDATE };
	char why[300], val[ROUTE_MAX_SPEC];
	bool any = false;
	struct route *rt = find_route(cmd, doc, tok[0]);
	if (!rt)
		return NULL;
	struct route_spec s = rt->spec;
	for (int i = 1; i < N; i++) {
		if (tok[i] < 0)
			continue;
		uint64_t n;
		if (get_str(doc, tok[i], val, sizeof(val)))
			;
		else if (json_get_u64(doc, tok[i], &n))
			snprintf(val, sizeof(val), "%llu", (unsigned long long)n);
		else {
			cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "%s must be a string or a number", names[i] + 1);
			return NULL;
		}
		if (!set_field(&s, names[i] + 1, val, why, sizeof(why))) {
			cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "%s: %s", names[i] + 1, why);
			return NULL;
		}
		any = true;
	}
	if (!any) {
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "nothing to change: give price, backend, valid, uses, desc, "
				      "service, rate, free, timeout, balance or hold");
		return NULL;
	}
	if (!route_spec_consistent(&s, why, sizeof(why))) {
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "%s", why);
		return NULL;
	}
	*out = s;
	return rt;
}

static void cmd_route_update(struct cmd *cmd, const struct json_doc *doc, int params)
{
	int tok[NUPDATE];
	char why[300], text[ROUTE_MAX_SPEC + 64];
	struct route_spec s;
	if (!param_bind(cmd, doc, params, update_names, NUPDATE, tok))
		return;
	struct route *rt = updated_spec(cmd, doc, tok, &s);
	if (!rt)
		return;
	char key[ROUTE_KEY_LEN];
	snprintf(key, sizeof(key), "%s", rt->key);
	if (!routes_put(&s, false, why, sizeof(why))) {
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "%s", why);
		return;
	}
	if (!route_spec_format(&s, text, sizeof(text)))
		snprintf(text, sizeof(text), "%s", key);
	plugin_log(LOG_INFO, "route updated by %s: %s", cmd->id_str, text);
	reply_route(cmd, key);
}

/* A bool given as true/false or as the string lightning-cli may send. */
static bool get_flag(const struct json_doc *doc, int tok, bool *v)
{
	char s[8];
	*v = false;
	if (tok < 0 || json_get_bool(doc, tok, v))
		return true;
	if (!get_str(doc, tok, s, sizeof(s)) || (strcmp(s, "true") != 0 && strcmp(s, "false") != 0))
		return false;
	*v = strcmp(s, "true") == 0;
	return true;
}

/* The route a removal names: an active one, or with purge one removed
 * before too. NULL when it answered cmd. */
static struct route *removed_route(struct cmd *cmd, const struct json_doc *doc, const int *tok,
				   bool *purge)
{
	char key[ROUTE_KEY_LEN];
	struct route *rt;
	if (!get_flag(doc, tok[1], purge)) {
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "purge must be true or false");
		return NULL;
	}
	if (*purge && get_str(doc, tok[0], key, sizeof(key)) && (rt = routes_by_key(key)))
		return rt;
	return find_route(cmd, doc, tok[0]);
}

static void cmd_route_remove(struct cmd *cmd, const struct json_doc *doc, int params)
{
	int tok[2];
	static const char *const names[] = { "route", "?purge" };
	char why[300], key[ROUTE_KEY_LEN];
	bool purge;
	if (!param_bind(cmd, doc, params, names, 2, tok))
		return;
	struct route *rt = removed_route(cmd, doc, tok, &purge);
	if (!rt)
		return;
	snprintf(key, sizeof(key), "%s", rt->key);
	bool from_config = rt->from_config;
	if (rt->active && !routes_remove(key, why, sizeof(why))) {
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "%s", why);
		return;
	}
	if (purge && !routes_purge(key, why, sizeof(why))) {
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "%s", why);
		return;
	}
	struct result r;
	plugin_log(LOG_INFO, "route %s by %s: %s", purge ? "removed and purged" : "removed",
		   cmd->id_str, key);
	result_start(&r);
	json_add_string(&r.j, "removed", key);
	json_add_string(&r.j, "source", from_config ? "config" : "runtime");
	json_add_bool(&r.j, "purged", purge);
	result_send(cmd, &r);
}

/* ---- tokens: a page of tokens, read from lightningd's invoices ----
 *
 * The filters (route, status) apply before the limit: invoices are read in
 * batches in created order until `limit` tokens match, at most
 * TOKENS_SCAN_MAX invoices per call; next_start says where the next page
 * begins (after the last token listed, or after the last invoice read when
 * the scan bound stopped it). Minted tokens have no invoice: all of them
 * (filtered) come on the first page, beside the limit. */

#define TOKENS_PAGE_DEFAULT 1000
#define TOKENS_PAGE_MAX 10000
#define TOKENS_BATCH 1000
#define TOKENS_SCAN_MAX 100000

struct listed_token {
	uint8_t id[32];
	char tag[9];
	char inv_status[16];
	int64_t valid_until;
	uint64_t uses, msat, paid_at, inv_expires;
	uint64_t balance_msat;
	uint64_t created;	/* the invoice's created_index (0: minted) */
	bool minted;
	const char *status;	/* once known */
};

struct tokens_query {
	struct cmd *cmd;
	char route[ROUTE_KEY_LEN];
	char status[16];
	uint64_t start, limit, next_start;
	uint64_t scan_from, scanned, listed;
	bool more, batch_full;
	struct listed_token *items;
	size_t n, cap, batch_first;
	unsigned lookups;	/* use counts still being read */
};

static void tokens_done(struct tokens_query *q)
{
	free(q->items);
	free(q);
}

static void tokens_fail(struct tokens_query *q, const char *why)
{
	cmd_fail(q->cmd, -1, "listing tokens failed: %s", why);
	tokens_done(q);
}

static struct listed_token *add_item(struct tokens_query *q, const char *tag)
{
	struct route *rt = routes_by_tag(tag);
	if (q->route[0] && (!rt || strcmp(rt->key, q->route) != 0))
		return NULL;
	if (q->n == q->cap) {
		size_t nc = q->cap ? q->cap * 2 : 64;
		struct listed_token *ni = realloc(q->items, nc * sizeof(*ni));
		if (!ni)
			return NULL;
		q->items = ni;
		q->cap = nc;
	}
	struct listed_token *t = &q->items[q->n++];
	memset(t, 0, sizeof(*t));
	snprintf(t->tag, sizeof(t->tag), "%s", tag);
	return t;
}

/* Whether t's use count must be read before its status is known. */
static bool needs_count(const struct listed_token *t)
{
	return (t->uses || t->balance_msat) && strcmp(t->inv_status, "paid") == 0;
}

static const char *token_status(const struct listed_token *t, bool used_up)
{
	if (token_revoked(t->id))
		return "revoked";
	if (strcmp(t->inv_status, "paid") == 0) {
		if (used_up)
			return "used up";
		if (t->valid_until && t->valid_until <= (int64_t)time(NULL))
			return "expired";
		return "paid";
	}
	return strcmp(t->inv_status, "expired") == 0 ? "expired" : "unpaid";
}

/* What is used of t (uses or msat), when known. */
static bool listed_used(const struct listed_token *t, uint64_t *used)
{
	*used = 0;
	return !needs_count(t) || token_used(t->id, used, NULL, NULL) == USE_OK;
}

static void add_token(struct json_out *j, const struct listed_token *t)
{
	uint64_t used;
	bool known = listed_used(t, &used);
	struct route *rt = routes_by_tag(t->tag);
	json_object_start(j, NULL);
	json_add_hex(j, "token_id", t->id, 32);
	json_add_string(j, "route", rt ? rt->key : t->tag);
	json_add_string(j, "status", t->status);
	json_add_bool(j, "minted", t->minted);
	if (t->msat)
		json_add_u64(j, "amount_paid_msat", t->msat);
	if (t->paid_at)
		json_add_u64(j, "paid_at", t->paid_at);
	if (t->valid_until)
		json_add_s64(j, "valid_until", t->valid_until);
	if (t->uses) {
		json_add_u64(j, "uses", t->uses);
		if (known)
			json_add_u64(j, "uses_left", used >= t->uses ? 0 : t->uses - used);
	}
	if (t->balance_msat) {
		json_add_u64(j, "balance_msat", t->balance_msat);
		if (known)
			json_add_u64(j, "balance_left_msat",
				     used >= t->balance_msat ? 0 : t->balance_msat - used);
	}
	if (t->inv_expires && !t->minted)
		json_add_u64(j, "invoice_expires_at", t->inv_expires);
	json_object_end(j);
}

static void tokens_reply(struct tokens_query *q)
{
	struct result r;
	result_start(&r);
	json_array_start(&r.j, "tokens");
	for (size_t i = 0; i < q->n; i++)
		add_token(&r.j, &q->items[i]);
	json_array_end(&r.j);
	if (q->more)
		json_add_u64(&r.j, "next_start", q->next_start);
	result_send(q->cmd, &r);
	tokens_done(q);
}

static void fetch_batch(struct tokens_query *q);

/* The batch's statuses are known: keep what matches, up to the limit,
 * then read on or reply. */
static void batch_done(struct tokens_query *q)
{
	size_t keep = q->batch_first;
	bool stopped = false;
	for (size_t i = q->batch_first; i < q->n; i++) {
		struct listed_token *t = &q->items[i];
		uint64_t used;
		bool known = listed_used(t, &used);
		uint64_t limit = t->uses ? t->uses : t->balance_msat;
		t->status = token_status(t, known && limit && used >= limit);
		if (stopped || (q->status[0] && strcmp(q->status, t->status) != 0))
			continue;
		q->items[keep++] = *t;
		if (t->minted)
			continue;
		if (++q->listed == q->limit) {
			q->next_start = t->created + 1;
			/* More may follow, unless this was lightningd's last invoice. */
			q->more = q->batch_full || i + 1 < q->n;
			stopped = true;
		}
	}
	q->n = keep;
	if (stopped) {
		tokens_reply(q);
	} else if (!q->batch_full) {
		q->more = false;
		tokens_reply(q);
	} else if (q->scanned >= TOKENS_SCAN_MAX) {
		/* Bounded: the next page reads on from here. */
		q->more = true;
		q->next_start = q->scan_from;
		tokens_reply(q);
	} else {
		q->batch_first = q->n;
		fetch_batch(q);
	}
}

static void count_read(void *arg, enum use_result res)
{
	struct tokens_query *q = arg;
	if (--q->lookups == 0)
		batch_done(q);
}

/* Read the use counts the batch needs, then sort it out. */
static void resolve_counts(struct tokens_query *q)
{
	q->lookups = 1;	/* held until every read is asked for */
	for (size_t i = q->batch_first; i < q->n; i++) {
		uint64_t used;
		if (needs_count(&q->items[i])
		    && token_used(q->items[i].id, &used, count_read, q) == USE_WAIT)
			q->lookups++;
	}
	count_read(q, USE_OK);
}

static void got_minted(void *arg, const struct ds_entry *e)
{
	struct tokens_query *q = arg;
	uint8_t id[32];
	char tag[9] = "";
	size_t n;
	struct json_doc d;
	jsmntok_t toks[32];
	struct listed_token *t;
	if (strlen(e->name) != 64 || !hex_decode(e->name, 64, id, 32, &n)
	    || !json_parse(&d, e->value, strlen(e->value), toks, 32))
		return;
	get_str(&d, json_get(&d, 0, "tag"), tag, sizeof(tag));
	if (!(t = add_item(q, tag)))
		return;
	memcpy(t->id, id, 32);
	snprintf(t->inv_status, sizeof(t->inv_status), "paid");
	t->minted = true;
	json_get_s64(&d, json_get(&d, 0, "valid_until"), &t->valid_until);
	json_get_u64(&d, json_get(&d, 0, "uses"), &t->uses);
	json_get_u64(&d, json_get(&d, 0, "created"), &t->paid_at);
}

static void minted_loaded(void *arg, const struct rpc_result *res)
{
	struct tokens_query *q = arg;
	if (res->status != RPC_OK) {
		tokens_fail(q, res->message);
		return;
	}
	fetch_batch(q);
}

static void got_invoices(void *arg, const struct rpc_result *res)
{
	struct tokens_query *q = arg;
	const struct json_doc *d = res->doc;
	int i, e;
	uint64_t seen = 0;
	if (res->status != RPC_OK) {
		tokens_fail(q, res->message);
		return;
	}
	json_for_each_arr(d, json_get(d, res->result, "invoices"), i, e) {
		char label[256];
		struct invoice_label l;
		struct listed_token *t;
		uint64_t created = 0;
		seen++;
		if (json_get_u64(d, json_get(d, e, "created_index"), &created)
		    && created >= q->scan_from)
			q->scan_from = created + 1;
		if (!get_str(d, json_get(d, e, "label"), label, sizeof(label))
		    || !label_parse(label, &l) || l.charge || l.session || !(t = add_item(q, l.tag)))
			continue;
		memcpy(t->id, l.token_id, 32);
		t->created = created;
		t->valid_until = l.valid_until;
		t->uses = l.uses;
		t->balance_msat = l.balance_msat;
		get_str(d, json_get(d, e, "status"), t->inv_status, sizeof(t->inv_status));
		json_get_u64(d, json_get(d, e, "amount_received_msat"), &t->msat);
		json_get_u64(d, json_get(d, e, "paid_at"), &t->paid_at);
		json_get_u64(d, json_get(d, e, "expires_at"), &t->inv_expires);
	}
	q->scanned += seen;
	q->batch_full = seen == TOKENS_BATCH;
	resolve_counts(q);
}

/* The next batch of lightningd's invoices, from scan_from on. */
static void fetch_batch(struct tokens_query *q)
{
	char p[128];
	snprintf(p, sizeof(p), "{\"index\":\"created\",\"start\":%llu,\"limit\":%d}",
		 (unsigned long long)q->scan_from, TOKENS_BATCH);
	if (!rpc_call("listinvoices", p, q->cmd->id_str, 60000, got_invoices, q))
		tokens_fail(q, "cannot ask lightningd now");
}

static void cmd_tokens(struct cmd *cmd, const struct json_doc *doc, int params)
{
	int tok[4];
	static const char *const names[] = { "?route", "?status", "?start", "?limit" };
	static const char *const statuses[] = { "unpaid", "paid", "expired", "revoked", "used up" };
	struct tokens_query *q;
	if (!param_bind(cmd, doc, params, names, 4, tok))
		return;
	q = calloc(1, sizeof(*q));
	if (!q) {
		cmd_fail(cmd, -1, "out of memory");
		return;
	}
	q->cmd = cmd;
	q->limit = TOKENS_PAGE_DEFAULT;
	if (tok[0] >= 0) {
		struct route *rt = find_route(cmd, doc, tok[0]);
		if (!rt) {
			free(q);
			return;
		}
		snprintf(q->route, sizeof(q->route), "%s", rt->key);
	}
	if (tok[1] >= 0) {
		bool ok = get_str(doc, tok[1], q->status, sizeof(q->status));
		size_t i;
		for (i = 0; ok && i < sizeof(statuses) / sizeof(statuses[0]); i++)
			if (strcmp(q->status, statuses[i]) == 0)
				break;
		if (!ok || i == sizeof(statuses) / sizeof(statuses[0])) {
			cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "status must be unpaid, paid, expired, revoked or used up");
			free(q);
			return;
		}
	}
	if ((tok[2] >= 0 && !get_u64(doc, tok[2], &q->start))
	    || (tok[3] >= 0 && (!get_u64(doc, tok[3], &q->limit) || q->limit == 0
				|| q->limit > TOKENS_PAGE_MAX))) {
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS,
			 "start must be the next_start of the page before, limit 1 to %d tokens",
			 TOKENS_PAGE_MAX);
		free(q);
		return;
	}
	q->scan_from = q->start;
	/* Minted tokens have no invoice: they come with the first page. */
	if (q->start == 0)
		ds_list("minted", got_minted, minted_loaded, q, cmd->id_str);
	else
		fetch_batch(q);
}

static bool get_token_id(struct cmd *cmd, const struct json_doc *doc, int tok, uint8_t id[32])
{
	char hex[80];
	size_t n;
	if (!get_str(doc, tok, hex, sizeof(hex)) || strlen(hex) != 64
	    || !hex_decode(hex, 64, id, 32, &n)) {
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "token_id must be 64 hex digits (see l402-tokens)");
		return false;
	}
	return true;
}

static void cmd_tls_reload(struct cmd *cmd, const struct json_doc *doc, int params)
{
	char why[512];
	struct result r;
	if (!param_bind(cmd, doc, params, NULL, 0, NULL))
		return;
	if (!l402.cfg.tls_cert) {
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "no l402-tls-cert is configured");
		return;
	}
	if (!tls_load(l402.cfg.tls_cert, l402.cfg.tls_key, why, sizeof(why))) {
		plugin_log(LOG_UNUSUAL, "TLS reload refused: %s", why);
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "%s (the previous certificate stays)", why);
		return;
	}
	plugin_log(LOG_INFO, "TLS certificate reloaded from %s", l402.cfg.tls_cert);
	result_start(&r);
	json_add_bool(&r.j, "reloaded", true);
	tls_describe(&r.j);
	result_send(cmd, &r);
}

static void cmd_revoke(struct cmd *cmd, const struct json_doc *doc, int params)
{
	int tok[1];
	static const char *const names[] = { "token_id" };
	uint8_t id[32];
	struct result r;
	if (!param_bind(cmd, doc, params, names, 1, tok) || !get_token_id(cmd, doc, tok[0], id))
		return;
	bool fresh = token_revoke(id);
	char hex[65];
	hex_encode(id, 32, hex, sizeof(hex));
	plugin_log(LOG_INFO, "token %s revoked by %s%s", hex, cmd->id_str,
		   fresh ? "" : " (it was already)");
	result_start(&r);
	json_add_hex(&r.j, "token_id", id, 32);
	json_add_bool(&r.j, "revoked", true);
	json_add_bool(&r.j, "already_revoked", !fresh);
	result_send(cmd, &r);
}

static void minted_stored(void *arg, const struct rpc_result *res)
{
	if (res->status != RPC_OK)
		plugin_log(LOG_UNUSUAL, "recording a minted token failed: %s", res->message);
}

static void cmd_mint(struct cmd *cmd, const struct json_doc *doc, int params)
{
	int tok[3];
	static const char *const names[] = { "route", "?valid", "?uses" };
	uint8_t preimage[32], secret[32];
	struct l402_identifier id;
	char mac[4096], hex[65];
	uint64_t valid = 0, uses = 0;
	struct result r;
	struct strbuf auth;

	if (!param_bind(cmd, doc, params, names, 3, tok))
		return;
	struct route *rt = find_route(cmd, doc, tok[0]);
	if (!rt)
		return;
	valid = (uint64_t)rt->spec.valid;
	uses = rt->spec.uses;
	if (tok[1] >= 0 && !get_u64(doc, tok[1], &valid)) {
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "valid must be a number of seconds (0: no expiry)");
		return;
	}
	if (tok[2] >= 0 && !get_u64(doc, tok[2], &uses)) {
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "uses must be a number (0: unlimited)");
		return;
	}
	if (valid > 100ULL * 365 * 86400 || uses > 1000000000ULL) {
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "valid or uses out of range");
		return;
	}
	if (!secret_get(secret)) {
		cmd_fail(cmd, -1, "the L402 secret is not ready yet");
		return;
	}
	randombytes_buf(preimage, sizeof(preimage));
	randombytes_buf(id.token_id, sizeof(id.token_id));
	id.version = 0;
	crypto_hash_sha256(id.payment_hash, preimage, sizeof(preimage));
	int64_t valid_until = valid ? (int64_t)time(NULL) + (int64_t)valid : 0;
	/* A comp token of a balance route gets the route's balance. */
	uint64_t balance = uses ? 0 : rt->spec.balance_msat;
	struct l402_mint_params mp = { .service = rt->spec.service,
				       .grant = { valid_until, uses, balance, 0 } };
	bool ok = l402_mint(secret, &id, &mp, mac, sizeof(mac));
	sodium_memzero(secret, sizeof(secret));
	if (!ok) {
		cmd_fail(cmd, -1, "minting failed");
		return;
	}
	hex_encode(id.token_id, 32, hex, sizeof(hex));
	{
		struct strbuf rec;
		struct json_out j;
		json_out_object(&j, &rec, 0);
		json_add_string(&j, "route", rt->key);
		json_add_string(&j, "tag", rt->tag);
		json_add_s64(&j, "valid_until", valid_until);
		json_add_u64(&j, "uses", uses);
		json_add_u64(&j, "created", (uint64_t)time(NULL));
		json_object_end(&j);
		ds_put("minted", hex, rec.data, minted_stored, NULL, cmd->id_str);
		strbuf_free(&rec);
	}
	plugin_log(LOG_INFO, "token %s minted without payment by %s for %s", hex, cmd->id_str, rt->key);
	strbuf_init(&auth, 0);
	l402_authorization(&auth, mac, preimage);
	result_start(&r);
	json_add_string(&r.j, "authorization", auth.data);
	json_add_string(&r.j, "macaroon", mac);
	json_add_hex(&r.j, "preimage", preimage, 32);
	json_add_string(&r.j, "token_id", hex);
	json_add_hex(&r.j, "payment_hash", id.payment_hash, 32);
	json_add_string(&r.j, "route", rt->key);
	if (valid_until)
		json_add_s64(&r.j, "valid_until", valid_until);
	if (uses)
		json_add_u64(&r.j, "uses", uses);
	if (balance)
		json_add_u64(&r.j, "balance_msat", balance);
	json_add_bool(&r.j, "minted", true);
	result_send(cmd, &r);
	strbuf_free(&auth);
	sodium_memzero(preimage, sizeof(preimage));
}

/* A verdict of l402-verify, waiting for a token's use count if need be. */
struct verification {
	struct cmd *cmd;
	enum l402_err e;
	struct l402_verdict v;
	char service[ROUTE_MAX_SERVICE + 1];
};

static void verify_reply(struct verification *vf);

static void verify_count_read(void *arg, enum use_result res)
{
	verify_reply(arg);
}

static void verify_reply(struct verification *vf)
{
	const struct l402_verdict *v = &vf->v;
	enum reason reason = REASON_OK;
	const char *detail = "";
	char detail_buf[300];
	bool valid = false, revoked = false, used_known = false;
	uint64_t used = 0;
	struct result r;

	if (vf->e != L402_OK) {
		reason = reason_of_l402(vf->e);
		snprintf(detail_buf, sizeof(detail_buf), "%s%s%s", l402_strerror(vf->e),
			 v->detail[0] ? ": " : "", v->detail);
		detail = detail_buf;
	} else {
		/* Verified, preimage included: its invoice is paid. */
		revoked = token_revoked(v->id.token_id);
		if (v->grant.uses || v->grant.balance_msat) {
			enum use_result u = token_used(v->id.token_id, &used, verify_count_read, vf);
			if (u == USE_WAIT)
				return;
			used_known = u == USE_OK;
		}
		if (revoked) {
			reason = REASON_REVOKED;
			detail = "this token was revoked";
		} else if (used_known && v->grant.uses && used >= v->grant.uses) {
			reason = REASON_USED_UP;
			detail = "this token has no uses left";
		} else if (used_known && v->grant.balance_msat && used >= v->grant.balance_msat) {
			reason = REASON_BALANCE_EXHAUSTED;
			detail = "this token's balance is spent";
		} else {
			valid = true;
		}
	}
	result_start(&r);
	json_add_bool(&r.j, "valid", valid);
	json_add_string(&r.j, "reason", reason_name(reason));
	if (detail[0])
		json_add_string(&r.j, "detail", detail);
	if (vf->e == L402_OK || vf->e == L402_ERR_PREIMAGE_MISMATCH || vf->e == L402_ERR_CAVEAT
	    || vf->e == L402_ERR_EXPIRED) {
		json_add_hex(&r.j, "token_id", v->id.token_id, 32);
		json_add_hex(&r.j, "payment_hash", v->id.payment_hash, 32);
	}
	if (vf->service[0])
		json_add_string(&r.j, "service", vf->service);
	if (vf->e == L402_OK) {
		json_add_bool(&r.j, "paid", true);
		json_add_bool(&r.j, "revoked", revoked);
		if (v->grant.valid_until)
			json_add_s64(&r.j, "valid_until", v->grant.valid_until);
		if (v->grant.uses) {
			json_add_u64(&r.j, "uses", v->grant.uses);
			if (used_known)
				json_add_u64(&r.j, "uses_left",
					     used >= v->grant.uses ? 0 : v->grant.uses - used);
		}
		if (v->grant.balance_msat) {
			json_add_u64(&r.j, "balance_msat", v->grant.balance_msat);
			if (used_known)
				json_add_u64(&r.j, "balance_left_msat",
					     used >= v->grant.balance_msat ? 0
									    : v->grant.balance_msat - used);
		}
	}
	result_send(vf->cmd, &r);
	free(vf);
}

static void cmd_verify(struct cmd *cmd, const struct json_doc *doc, int params)
{
	int tok[2];
	static const char *const names[] = { "authorization", "?route" };
	char auth[L402_MAX_AUTH_LEN + 1];
	uint8_t secret[32];

	if (!param_bind(cmd, doc, params, names, 2, tok))
		return;
	if (!get_str(doc, tok[0], auth, sizeof(auth))) {
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "authorization must be the header value, \"L402 <macaroon>:<preimage>\"");
		return;
	}
	struct route *rt = NULL;
	if (tok[1] >= 0 && !(rt = find_route(cmd, doc, tok[1])))
		return;
	struct l402_credential *cred = malloc(sizeof(*cred));
	struct verification *vf = calloc(1, sizeof(*vf));
	if (!cred || !vf) {
		free(cred);
		free(vf);
		cmd_fail(cmd, -1, "out of memory");
		return;
	}
	vf->cmd = cmd;
	vf->e = l402_parse_authorization(auth, strlen(auth), cred);
	if (vf->e == L402_OK) {
		const uint8_t *sv;
		size_t sl;
		if (rt)
			snprintf(vf->service, sizeof(vf->service), "%s", rt->spec.service);
		else if (l402_caveat_value(&cred->mac, "services", &sv, &sl)) {
			/* The token's own first service. */
			size_t n = 0;
			while (n < sl && n < ROUTE_MAX_SERVICE && sv[n] != ':' && sv[n] != ',')
				n++;
			memcpy(vf->service, sv, n);
			vf->service[n] = '\0';
		}
		if (!secret_get(secret)) {
			free(cred);
			free(vf);
			cmd_fail(cmd, -1, "the L402 secret is not ready yet");
			return;
		}
		struct l402_verify_req vr = { vf->service, NULL, (int64_t)time(NULL) };
		vf->e = l402_verify(cred, secret, &vr, &vf->v);
		sodium_memzero(secret, sizeof(secret));
	}
	free(cred);
	verify_reply(vf);
}

static void stats_counters(struct cmd *cmd, const char *key)
{
	struct result r;
	struct route_stats ts = { 0 }, ta = { 0 };
	result_start(&r);
	json_array_start(&r.j, "routes");
	const struct route *rt;
	for (size_t i = 0; (rt = next_listed(&i, key));) {
		json_object_start(&r.j, NULL);
		json_add_string(&r.j, "route", rt->key);
		json_add_bool(&r.j, "active", rt->active);
		add_stats(&r.j, "since_start", &rt->since_start);
		add_stats(&r.j, "all_time", &rt->all_time);
		json_object_end(&r.j);
		ts.challenges += rt->since_start.challenges;
		ts.paid += rt->since_start.paid;
		ts.requests += rt->since_start.requests;
		ts.revenue_msat += rt->since_start.revenue_msat;
		ta.challenges += rt->all_time.challenges;
		ta.paid += rt->all_time.paid;
		ta.requests += rt->all_time.requests;
		ta.revenue_msat += rt->all_time.revenue_msat;
	}
	json_array_end(&r.j);
	json_object_start(&r.j, "total");
	add_stats(&r.j, "since_start", &ts);
	add_stats(&r.j, "all_time", &ta);
	json_object_end(&r.j);
	result_send(cmd, &r);
}

/* ---- stats over a range: revenue by day and by route, from the node's
 * own records (store/sales.c) ---- */

static void range_reply(void *arg, const struct sales_report *rep, const char *why)
{
	struct cmd *cmd = arg;
	struct result r;
	if (!rep) {
		cmd_fail(cmd, -1, "%s", why);
		return;
	}
	result_start(&r);
	json_add_s64(&r.j, "since", rep->since);
	json_add_s64(&r.j, "until", rep->until);
	json_array_start(&r.j, "by_day");
	for (size_t i = 0; i < rep->nby_day; i++) {
		char day[16];
		sales_day_name(rep->by_day[i].day, day);
		json_object_start(&r.j, NULL);
		json_add_string(&r.j, "day", day);
		json_add_string(&r.j, "route", rep->by_day[i].route);
		json_add_u64(&r.j, "paid", rep->by_day[i].paid);
		json_add_u64(&r.j, "revenue_msat", rep->by_day[i].msat);
		json_object_end(&r.j);
	}
	json_array_end(&r.j);
	json_array_start(&r.j, "by_route");
	for (size_t i = 0; i < rep->nby_route; i++) {
		json_object_start(&r.j, NULL);
		json_add_string(&r.j, "route", rep->by_route[i].route);
		json_add_u64(&r.j, "paid", rep->by_route[i].paid);
		json_add_u64(&r.j, "revenue_msat", rep->by_route[i].msat);
		json_object_end(&r.j);
	}
	json_array_end(&r.j);
	json_object_start(&r.j, "range_total");
	json_add_u64(&r.j, "paid", rep->paid);
	json_add_u64(&r.j, "revenue_msat", rep->msat);
	json_object_end(&r.j);
	json_add_u64(&r.j, "invoices_read", rep->invoices_read);
	if (rep->more)
		json_add_u64(&r.j, "next_start", rep->next_start);
	result_send(cmd, &r);
}

/* A day (YYYY-MM-DD, UTC: its start, or with end the start of the next)
 * or UNIX seconds. */
static bool get_time(const struct json_doc *doc, int tok, bool end, int64_t *out)
{
	char s[32];
	uint64_t n;
	if (json_get_u64(doc, tok, &n) && n < (1ULL << 40)) {
		*out = (int64_t)n;
		return true;
	}
	if (!get_str(doc, tok, s, sizeof(s)))
		return false;
	if (sales_parse_day(s, end, out))
		return true;
	if (!get_u64(doc, tok, &n) || n >= (1ULL << 40))
		return false;
	*out = (int64_t)n;
	return true;
}

static void cmd_stats(struct cmd *cmd, const struct json_doc *doc, int params)
{
	int tok[4];
	static const char *const names[] = { "?route", "?since", "?until", "?start" };
	char key[ROUTE_KEY_LEN] = "", tag[9] = "";
	int64_t since, until = (int64_t)time(NULL) + 1;
	uint64_t start = 0;
	if (!param_bind(cmd, doc, params, names, 4, tok))
		return;
	if (tok[0] >= 0 && !get_str(doc, tok[0], key, sizeof(key))) {
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "route must be a string");
		return;
	}
	if (tok[1] < 0 && tok[2] < 0 && tok[3] < 0) {
		stats_counters(cmd, key);
		return;
	}
	if (tok[1] < 0 || !get_time(doc, tok[1], false, &since)
	    || (tok[2] >= 0 && !get_time(doc, tok[2], true, &until))) {
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "since (and until) must be a day, YYYY-MM-DD "
			 "(UTC; until includes its day), or UNIX seconds; since is needed for a range");
		return;
	}
	if (!sales_range_ok(since, until)) {
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "the range must end after it starts and span at "
			 "most %d days", SALES_MAX_DAYS);
		return;
	}
	if (tok[3] >= 0 && !get_u64(doc, tok[3], &start)) {
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "start must be the next_start of the answer before");
		return;
	}
	if (key[0]) {
		const struct route *rt = routes_by_key(key);
		if (!rt) {
			cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "no route '%s' (see l402-routes)", key);
			return;
		}
		snprintf(tag, sizeof(tag), "%s", rt->tag);
	}
	if (!sales_query(tag, since, until, start, cmd->id_str, range_reply, cmd))
		cmd_fail(cmd, -1, "cannot ask lightningd now");
}

static void rotated(void *arg, const char *err)
{
	struct cmd *cmd = arg;
	struct result r;
	if (err) {
		cmd_fail(cmd, -1, "rotation failed: %s", err);
		return;
	}
	result_start(&r);
	json_add_u64(&r.j, "secret_generation", secret_generation());
	json_add_string(&r.j, "note", "every token issued before is now invalid");
	result_send(cmd, &r);
}

static void cmd_rotate(struct cmd *cmd, const struct json_doc *doc, int params)
{
	int tok[1];
	static const char *const names[] = { "?confirm" };
	bool confirm = false;
	char s[8];
	if (!param_bind(cmd, doc, params, names, 1, tok))
		return;
	if (!json_get_bool(doc, tok[0], &confirm) && get_str(doc, tok[0], s, sizeof(s)))
		confirm = strcmp(s, "true") == 0;
	if (!confirm) {
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "this invalidates every token already sold; "
				      "call again with confirm=true");
		return;
	}
	if (!secret_ready()) {
		cmd_fail(cmd, -1, "the L402 secret is not ready yet");
		return;
	}
	plugin_log(LOG_INFO, "secret rotation asked by %s", cmd->id_str);
	secret_rotate(rotated, cmd);
}

static void manifest_done(void *arg, const char *json, size_t len)
{
	struct cmd *cmd = arg;
	struct strbuf sb;
	if (!json) {
		cmd_fail(cmd, -1, "the manifest cannot be built right now");
		return;
	}
	strbuf_init(&sb, 0);
	strbuf_append(&sb, json, len);
	cmd_success(cmd, &sb);
	strbuf_free(&sb);
}

static void cmd_manifest(struct cmd *cmd, const struct json_doc *doc, int params)
{
	int tok[1];
	if (!param_bind(cmd, doc, params, NULL, 0, tok))
		return;
	discovery_manifest(manifest_done, cmd, cmd->id_str);
}

static void cmd_listing(struct cmd *cmd, const struct json_doc *doc, int params)
{
	int tok[1];
	struct strbuf sb;
	if (!param_bind(cmd, doc, params, NULL, 0, tok))
		return;
	strbuf_init(&sb, 0);
	discovery_listing(&sb);
	cmd_success(cmd, &sb);
	strbuf_free(&sb);
}

/* ---- check: what a command would say of its parameters, changing nothing ----
 *
 * With "cancheck" in the manifest, lightningd forwards `lightning-cli check
 * l402-route-add ...` here as the client sent it (method "check", the
 * command's name as command_to_check, first by position), and `check
 * setconfig l402-...` as {"command_to_check":"setconfig","config","val"}.
 * The answer of a good one is {"command_to_check": NAME}, as lightningd's
 * own checks answer. Each check_* gets the command's parameters bound. */

static bool check_route_add(struct cmd *cmd, const struct json_doc *doc, const int *tok)
{
	char spec[ROUTE_MAX_SPEC + 1], why[300];
	struct route_spec s;
	if (!get_str(doc, tok[0], spec, sizeof(spec))) {
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "route must be a string: METHOD PATH PRICE BACKEND [key=value ...]");
		return false;
	}
	if (!route_spec_parse(spec, &s, why, sizeof(why))) {
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "bad route: %s", why);
		return false;
	}
	if (!routes_check(&s, true, why, sizeof(why))) {
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "%s", why);
		return false;
	}
	return true;
}

static bool check_route_update(struct cmd *cmd, const struct json_doc *doc, const int *tok)
{
	char why[300];
	struct route_spec s;
	if (!updated_spec(cmd, doc, tok, &s))
		return false;
	if (!routes_check(&s, false, why, sizeof(why))) {
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "%s", why);
		return false;
	}
	return true;
}

static bool check_route(struct cmd *cmd, const struct json_doc *doc, const int *tok)
{
	return find_route(cmd, doc, tok[0]) != NULL;
}

static bool check_route_remove(struct cmd *cmd, const struct json_doc *doc, const int *tok)
{
	bool purge;
	return removed_route(cmd, doc, tok, &purge) != NULL;
}

static bool check_revoke(struct cmd *cmd, const struct json_doc *doc, const int *tok)
{
	uint8_t id[32];
	return get_token_id(cmd, doc, tok[0], id);
}

static bool check_verify(struct cmd *cmd, const struct json_doc *doc, const int *tok)
{
	char auth[L402_MAX_AUTH_LEN + 1];
	if (!get_str(doc, tok[0], auth, sizeof(auth))) {
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "authorization must be the header value, \"L402 <macaroon>:<preimage>\"");
		return false;
	}
	return tok[1] < 0 || find_route(cmd, doc, tok[1]);
}

static bool check_rotate(struct cmd *cmd, const struct json_doc *doc, const int *tok)
{
	bool confirm = false;
	char s[8];
	if (!json_get_bool(doc, tok[0], &confirm) && get_str(doc, tok[0], s, sizeof(s)))
		confirm = strcmp(s, "true") == 0;
	if (!confirm)
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "this invalidates every token already sold; "
				      "call again with confirm=true");
	return confirm;
}

static void check_done(struct cmd *cmd, const char *name)
{
	struct result r;
	result_start(&r);
	json_add_string(&r.j, "command_to_check", name);
	result_send(cmd, &r);
}

/* The parameter names of a usage string ("route [price]": "route", "?price"),
 * after command_to_check. */
static int usage_names(const char *usage, char store[][40], const char **names, int max)
{
	int n = 0;
	names[n++] = "command_to_check";
	for (const char *p = usage; *p && n < max;) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		size_t len = strcspn(p, " ");
		bool opt = *p == '[';
		const char *w = p + opt;
		size_t wl = len - (opt ? 2 : 0);
		snprintf(store[n], sizeof(store[n]), "%s%.*s", opt ? "?" : "", (int)wl, w);
		names[n] = store[n];
		n++;
		p += len;
	}
	return n;
}

void commands_check(struct cmd *cmd, const struct json_doc *doc, int params)
{
	char name[64], store[24][40];
	const char *names[24];
	int tok[24], t;
	if (json_is_array(doc, params) && doc->toks[params].size > 0)
		t = params + 1;
	else
		t = json_get(doc, params, "command_to_check");
	if (!get_str(doc, t, name, sizeof(name))) {
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "missing required parameter: command_to_check");
		return;
	}
	if (strcmp(name, "setconfig") == 0) {
		char opt[128];
		const char *err;
		if (!get_str(doc, json_get(doc, params, "config"), opt, sizeof(opt)))
			err = "setconfig: config must be a string";
		else
			err = options_check(opt, doc, json_get(doc, params, "val"));
		if (err)
			cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "%s", err);
		else
			check_done(cmd, name);
		return;
	}
	for (size_t i = 0; i < ncommands; i++) {
		if (strcmp(commands[i].name, name) != 0)
			continue;
		int n = usage_names(commands[i].usage, store, names, 24);
		if (!param_bind(cmd, doc, params, names, n, tok))
			return;
		if (commands[i].check && !commands[i].check(cmd, doc, tok + 1))
			return;
		check_done(cmd, name);
		return;
	}
	cmd_fail(cmd, JSONRPC2_METHOD_NOT_FOUND, "Unknown command '%s'", name);
}

const struct command commands[] = {
	{ "l402-status", "", "Version, HTTP addresses, routes and paid-state counters of the L402 paywall", cmd_status, NULL },
	{ "l402-routes", "[route]", "Every route with its source, price, backend, token model and counters", cmd_routes, NULL },
	{ "l402-route-add", "route", "Add a route (METHOD PATH PRICE BACKEND [key=value ...]), persisted", cmd_route_add, check_route_add },
	{ "l402-route-update", "route [price] [backend] [valid] [uses] [desc] [service] [rate] [free] [timeout] [balance] [hold]",
	  "Change a route live (0 lifts valid, uses, rate or free); persisted, overrides a config route", cmd_route_update, check_route_update },
	{ "l402-route-remove", "route [purge]", "Remove a route live, persisted; purge=true also forgets it and its counters (a removed one too)", cmd_route_remove, check_route_remove },
	{ "l402-tokens", "[route] [status] [start] [limit]", "Issued tokens: status (unpaid, paid, expired, revoked, used up), uses left, expiry, amount paid", cmd_tokens, NULL },
	{ "l402-revoke", "token_id", "Revoke a token: refused from the next request on, persisted", cmd_revoke, check_revoke },
	{ "l402-mint", "route [valid] [uses]", "Issue a token without payment (comp access), as a ready Authorization value", cmd_mint, check_route },
	{ "l402-verify", "authorization [route]", "Check an Authorization value: the verdict and the reason, without serving", cmd_verify, check_verify },
	{ "l402-stats", "[route] [since] [until] [start]", "Challenges, payments, requests and revenue per route, since start and all time; with since (and until), revenue by day and by route over that range", cmd_stats, NULL },
	{ "l402-rotate-secret", "confirm", "Rotate the L402 secret: every token issued before stops working", cmd_rotate, check_rotate },
	{ "l402-tls-reload", "", "Read l402-tls-cert and l402-tls-key again (after a renewal); on any problem the old ones stay", cmd_tls_reload, NULL },
	{ "l402-manifest", "", "The signed discovery manifest served at /.well-known/l402.json", cmd_manifest, NULL },
	{ "l402-listing", "", "Per listed route, the fields directories ask for when registering an endpoint", cmd_listing, NULL },
};
const size_t ncommands = sizeof(commands) / sizeof(commands[0]);
