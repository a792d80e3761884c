#include "publish/discovery.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "encoding.h"
#include "json_in.h"
#include "json_out.h"
#include "paywall/mpp_scheme.h"
#include "paywall/mpp_session.h"
#include "l402.h"
#include "core/log.h"
#include "store/routes.h"
#include "store/terms.h"
#include "backends/backend.h"
#include "lightningd/rpc.h"
#include "core/state.h"

#define MAX_SCHEMA (64 * 1024)

static char node_id[67];
static char node_alias[64];
static uint64_t version = 1;

/* The signed manifest for `signed_version`. */
static char *signed_doc;
static size_t signed_len;
static uint64_t signed_version;

struct waiter {
	struct waiter *next;
	void (*done)(void *arg, const char *json, size_t len);
	void *arg;
};
static struct waiter *waiters;
static bool signing;

void discovery_changed(void)
{
	version++;
}

static void got_info(void *arg, const struct rpc_result *r)
{
	if (r->status != RPC_OK)
		return;
	json_get_string(r->doc, json_get(r->doc, r->result, "id"), node_id, sizeof(node_id), NULL);
	json_get_string(r->doc, json_get(r->doc, r->result, "alias"), node_alias,
			sizeof(node_alias), NULL);
	discovery_changed();
}

void discovery_sync(void)
{
	/* Without it the documents lack the node id until the next connection. */
	if (!rpc_call("getinfo", "{}", NULL, 30000, got_info, NULL))
		plugin_log(LOG_UNUSUAL, "cannot ask lightningd for getinfo");
}

enum doc_kind discovery_doc_for(const char *path)
{
	if (strcmp(path, "/.well-known/l402.json") == 0)
		return DOC_MANIFEST;
	if (strcmp(path, "/.well-known/l402-services") == 0)
		return DOC_SERVICES;
	if (strcmp(path, "/openapi.json") == 0)
		return DOC_OPENAPI;
	if (strcmp(path, "/llms.txt") == 0)
		return DOC_LLMS;
	if (strcmp(path, "/.well-known/402index-verify.txt") == 0)
		return DOC_INDEX_VERIFY;
	if (l402.cfg.catalog && strcmp(path, l402.cfg.catalog) == 0)
		return DOC_CATALOG;
	return DOC_NONE;
}

const char *discovery_content_type(enum doc_kind k)
{
	switch (k) {
	case DOC_LLMS:
	case DOC_INDEX_VERIFY:
		return "text/plain; charset=utf-8";
	case DOC_CATALOG:
		return "text/html; charset=utf-8";
	default:
		return "application/json";
	}
}

/* ---- shared pieces ---- */

/* The public base URL, "https://api.example.com", at most this long. */
#define BASE_URL_LEN 512

static void base_url(char *out, size_t len)
{
	if (l402.cfg.public_url)
		snprintf(out, len, "%s", l402.cfg.public_url);
	else if (l402.nlisteners)
		snprintf(out, len, "%s://%s", l402.listeners[0].tls ? "https" : "http",
			 l402.listeners[0].addr);
	else
		snprintf(out, len, "http://127.0.0.1:8402");
}

static const char *service_name(void)
{
	if (l402.cfg.service_name)
		return l402.cfg.service_name;
	return node_alias[0] ? node_alias : "cln-l402";
}

static const char *service_description(void)
{
	return l402.cfg.service_description ? l402.cfg.service_description
					     : "Paid HTTP APIs of a Lightning node, sold per request with L402.";
}

static bool listed(const struct route *rt)
{
	return rt->active && !rt->spec.unlisted;
}

/* The next route the documents publish, from *i on (which moves past it). */
static const struct route *next_listed(size_t *i)
{
	while (*i < routes_total()) {
		const struct route *rt = routes_at((*i)++);
		if (listed(rt))
			return rt;
	}
	return NULL;
}

/* The path an OpenAPI document gives a route: a prefix becomes {path}. */
static void template_path(const struct route *rt, char *out, size_t len)
{
	snprintf(out, len, "%s%s", rt->spec.path, rt->spec.prefix ? "{path}" : "");
}

static bool same_service(const struct route *a, const struct route *b)
{
	return strcmp(a->spec.service, b->spec.service) == 0;
}

static bool same_template(const struct route *a, const struct route *b)
{
	char pa[ROUTE_KEY_LEN + 8], pb[ROUTE_KEY_LEN + 8];
	template_path(a, pa, sizeof(pa));
	template_path(b, pb, sizeof(pb));
	return strcmp(pa, pb) == 0;
}

/* The next listed route from *k on in rt's group. */
static const struct route *next_in_group(size_t *k, const struct route *rt,
					 bool (*same)(const struct route *a, const struct route *b))
{
	const struct route *o;
	while ((o = next_listed(k)))
		if (same(o, rt))
			return o;
	return NULL;
}

/* The next group from *i on, by the first listed route of it: routes
 * share a service, or an OpenAPI path item. */
static const struct route *next_group(size_t *i,
				      bool (*same)(const struct route *a, const struct route *b))
{
	const struct route *rt;
	while ((rt = next_listed(i))) {
		const struct route *o;
		size_t k = 0;
		while ((o = next_listed(&k)) && k < *i && !same(o, rt))
			;
		if (o == rt)
			return rt;
	}
	return NULL;
}

/* The start of every JSON document: out written by j, its object
 * opened, and the base URL everything published is under. */
static void doc_start(struct json_out *j, struct strbuf *out, char base[BASE_URL_LEN])
{
	json_out_init(j, out);
	base_url(base, BASE_URL_LEN);
	json_object_start(j, NULL);
}

/* Path as published: a prefix route keeps its '*'. */
static void pub_path(const struct route *rt, char *out, size_t len)
{
	snprintf(out, len, "%s%s", rt->spec.path, rt->spec.prefix ? "*" : "");
}

static const char *route_desc(const struct route *rt)
{
	return rt->spec.desc[0] ? rt->spec.desc : rt->spec.service;
}

/* The methods a route answers, for catalogs that need concrete verbs. */
static int route_methods(const struct route *rt, const char **out)
{
	if (strcmp(rt->spec.method, "*") != 0) {
		out[0] = rt->spec.method;
		return 1;
	}
	out[0] = "GET";
	out[1] = "POST";
	return 2;
}

static void lower(const char *in, char *out, size_t len)
{
	size_t i;
	for (i = 0; in[i] && i + 1 < len; i++)
		out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32 : in[i]);
	out[i] = '\0';
}

/* A route's terms: what its invoice is for and what that buys. */
static void terms_of_route(const struct route *rt, struct terms *t)
{
	terms_of(&rt->spec, rt->backend, t);
}

static void what_it_buys(const struct route *rt, char *out, size_t len)
{
	struct terms t;
	terms_of_route(rt, &t);
	terms_buys(&t, out, len);
}

/* What one payment costs, for people: "5,000", "up to 10" (live prices). */
static void invoice_price(const struct route *rt, char *out, size_t len)
{
	struct terms t;
	char sat[40];
	terms_of_route(rt, &t);
	terms_sat(t.invoice_msat, sat, sizeof(sat));
	snprintf(out, len, "%s%s", t.model == TERMS_LIVE ? "up to " : "", sat);
}

/* A path to try a route on: a prefix gets a placeholder segment
 * ("/v1/price/" -> "/v1/price/example"), never a literal '*'. */
#define EXAMPLE_SEGMENT "example"
static void example_path(const struct route *rt, char *out, size_t len)
{
	snprintf(out, len, "%s%s", rt->spec.path, rt->spec.prefix ? EXAMPLE_SEGMENT : "");
}

/* Whether a request of this method carries a body (what OpenAPI gives a
 * requestBody, and curl examples -d). */
static bool method_has_body(const char *m)
{
	return strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0;
}

/* The route's schema file as JSON text, or NULL. Checked at route load;
 * read again here so an edited file shows without a restart. */
static char *read_schema(const struct route *rt, struct json_doc *doc)
{
	FILE *f;
	char *buf;
	size_t n;
	if (!rt->spec.schema[0] || !(f = fopen(rt->spec.schema, "r")))
		return NULL;
	buf = malloc(MAX_SCHEMA + 1);
	n = buf ? fread(buf, 1, MAX_SCHEMA + 1, f) : 0;
	fclose(f);
	if (!buf || n == 0 || n > MAX_SCHEMA) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	if (!json_parse_alloc(doc, buf, n, 8192) || !json_is_object(doc, 0)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* JSON Schema of the request body: the file is either a JSON Schema
 * object ("properties") or 402index's {field: {type, required}}. */
static void add_json_schema(struct json_out *j, const char *key, const struct json_doc *d)
{
	int props = json_get(d, 0, "properties");
	size_t len;
	const char *raw;
	if (props >= 0) {
		raw = json_raw(d, 0, &len);
		json_add_raw(j, key, raw, len);
		return;
	}
	json_object_start(j, key);
	json_add_string(j, "type", "object");
	json_object_start(j, "properties");
	for (int i = 1; i < d->ntoks && d->toks[i].parent == 0; i = json_next(d, i + 1)) {
		char name[128], type[32] = "string";
		json_get_string(d, i, name, sizeof(name), NULL);
		json_get_string(d, json_get(d, i + 1, "type"), type, sizeof(type), NULL);
		json_object_start(j, name);
		json_add_string(j, "type", type);
		json_object_end(j);
	}
	json_object_end(j);
	json_array_start(j, "required");
	for (int i = 1; i < d->ntoks && d->toks[i].parent == 0; i = json_next(d, i + 1)) {
		bool req = false;
		char name[128];
		json_get_bool(d, json_get(d, i + 1, "required"), &req);
		if (req && json_get_string(d, i, name, sizeof(name), NULL))
			json_add_string(j, NULL, name);
	}
	json_array_end(j);
	json_object_end(j);
}

/* 402index's request_schema: {field: {type, required}}. */
static void add_index_schema(struct json_out *j, const char *key, const struct json_doc *d)
{
	int props = json_get(d, 0, "properties");
	int req = json_get(d, 0, "required");
	json_object_start(j, key);
	if (props >= 0) {
		for (int i = props + 1; i < d->ntoks && d->toks[i].parent == props;
		     i = json_next(d, i + 1)) {
			char name[128], type[32] = "string";
			bool required = false;
			int k, e;
			json_get_string(d, i, name, sizeof(name), NULL);
			json_get_string(d, json_get(d, i + 1, "type"), type, sizeof(type), NULL);
			json_for_each_arr(d, req, k, e)
				if (json_streq(d, e, name))
					required = true;
			json_object_start(j, name);
			json_add_string(j, "type", type);
			json_add_bool(j, "required", required);
			json_object_end(j);
		}
	} else {
		for (int i = 1; i < d->ntoks && d->toks[i].parent == 0; i = json_next(d, i + 1)) {
			char name[128], type[32] = "string";
			bool required = false;
			json_get_string(d, i, name, sizeof(name), NULL);
			json_get_string(d, json_get(d, i + 1, "type"), type, sizeof(type), NULL);
			json_get_bool(d, json_get(d, i + 1, "required"), &required);
			json_object_start(j, name);
			json_add_string(j, "type", type);
			json_add_bool(j, "required", required);
			json_object_end(j);
		}
	}
	json_object_end(j);
}

/* A probe body from the schema: each field with a sample of its type. */
static void add_probe_body(struct json_out *j, const char *key, const struct json_doc *d)
{
	int props = json_get(d, 0, "properties");
	int obj = props >= 0 ? props : 0;
	json_object_start(j, key);
	for (int i = obj + 1; i < d->ntoks && d->toks[i].parent == obj; i = json_next(d, i + 1)) {
		char name[128], type[32] = "string";
		json_get_string(d, i, name, sizeof(name), NULL);
		json_get_string(d, json_get(d, i + 1, "type"), type, sizeof(type), NULL);
		if (strcmp(type, "integer") == 0 || strcmp(type, "number") == 0)
			json_add_u64(j, name, 1);
		else if (strcmp(type, "boolean") == 0)
			json_add_bool(j, name, true);
		else if (strcmp(type, "array") == 0) {
			json_array_start(j, name);
			json_array_end(j);
		} else if (strcmp(type, "object") == 0) {
			json_object_start(j, name);
			json_object_end(j);
		} else
			json_add_string(j, name, "example");
	}
	json_object_end(j);
}

/* The authentication schemes a route takes: none when free; else L402
 * (with its LSAT alias) and the Payment scheme's lightning charge. */
static void add_schemes(struct json_out *j, const struct route *rt)
{
	static const char *const paid[] = { "L402", "Payment" };
	json_add_strings(j, "schemes", paid, rt->spec.price_msat ? 2 : 0);
}

/* A balance's amount and its draw: a set amount per request, or, when
 * metered, what is held while a request runs. */
static void add_balance(struct json_out *j, const struct terms *t)
{
	if (!t->balance_msat)
		return;
	json_add_u64(j, "balance_msat", t->balance_msat);
	json_add_u64(j, t->model == TERMS_METERED ? "hold_msat" : "per_request_msat", t->draw_msat);
}

/* ---- /.well-known/l402.json ---- */

/* A resource's pricing: the route's price (a request's, drawn from the
 * balance when the invoice buys one), and what the invoice is for. */
static void add_pricing(struct json_out *j, const struct route *rt)
{
	struct terms t;
	terms_of_route(rt, &t);
	json_object_start(j, "pricing");
	json_add_string(j, "model", terms_model_name(t.model));
	json_add_u64(j, "price_msat", rt->spec.price_msat);
	add_balance(j, &t);
	terms_add_json(j, &t);
	json_object_end(j);
}

static void build_manifest(struct strbuf *sb)
{
	struct json_out j;
	char base[BASE_URL_LEN], url[1024], path[ROUTE_KEY_LEN];
	doc_start(&j, sb, base);
	json_add_string(&j, "version", "1.0");
	json_object_start(&j, "provider");
	json_add_string(&j, "name", service_name());
	json_add_string(&j, "uri", base);
	json_add_string(&j, "node_pubkey", node_id[0] ? node_id : NULL);
	if (l402.cfg.contact)
		json_add_string(&j, "contact", l402.cfg.contact);
	json_object_end(&j);
	json_add_string(&j, "description", service_description());
	json_add_strings(&j, "currencies", (const char *const[]){ "msat" }, 1);
	json_array_start(&j, "macaroon_versions");
	json_add_u64(&j, NULL, 0);
	json_array_end(&j);
	json_add_strings(&j, "payment_methods", (const char *const[]){ "bolt11" }, 1);
	json_array_start(&j, "caveats");
	size_t ncav;
	const struct l402_caveat *cav = l402_caveats(&ncav);
	for (size_t i = 0; i < ncav; i++) {
		char cond[L402_MAX_CONDITION];
		l402_caveat_condition(&cav[i], "SERVICE", cond, sizeof(cond));
		json_object_start(&j, NULL);
		json_add_string(&j, "condition", cond);
		json_add_string(&j, "value", cav[i].syntax);
		json_add_string(&j, "attenuation", cav[i].narrowing);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_array_start(&j, "services");
	/* One entry per service name, in the order routes first name them. */
	const struct route *rt;
	for (size_t i = 0; (rt = next_group(&i, same_service));) {
		json_object_start(&j, NULL);
		json_add_string(&j, "name", rt->spec.service);
		json_add_string(&j, "description", route_desc(rt));
		json_array_start(&j, "resources");
		const struct route *o;
		for (size_t k = i - 1; (o = next_in_group(&k, rt, same_service));) {
			const char *methods[2];
			pub_path(o, path, sizeof(path));
			for (int m = 0, nm = route_methods(o, methods); m < nm; m++) {
				json_object_start(&j, NULL);
				json_add_string(&j, "path", path);
				json_add_string(&j, "method", methods[m]);
				snprintf(url, sizeof(url), "%s%s", base, path);
				json_add_string(&j, "url", url);
				if (o->spec.desc[0])
					json_add_string(&j, "description", o->spec.desc);
				add_pricing(&j, o);
				if (o->spec.valid)
					json_add_s64(&j, "valid_seconds", o->spec.valid);
				if (o->spec.uses)
					json_add_u64(&j, "uses", o->spec.uses);
				add_schemes(&j, o);
				json_object_end(&j);
			}
		}
		json_array_end(&j);
		json_object_end(&j);
	}
	json_array_end(&j);
	snprintf(url, sizeof(url), "%s/openapi.json", base);
	json_add_string(&j, "openapi", url);
	snprintf(url, sizeof(url), "%s/.well-known/l402-services", base);
	json_add_string(&j, "services_index", url);
	json_object_end(&j);
}

/* ---- /.well-known/l402-services ---- */

static void build_services(struct strbuf *sb)
{
	struct json_out j;
	char base[BASE_URL_LEN], path[ROUTE_KEY_LEN], id[ROUTE_MAX_SERVICE + 16], sat[32], lm[16];
	char buys[256];
	struct terms t;
	doc_start(&j, sb, base);
	json_add_string(&j, "version", "1");
	json_object_start(&j, "service");
	json_add_string(&j, "name", service_name());
	json_add_string(&j, "description", service_description());
	json_add_string(&j, "operator", node_alias[0] ? node_alias : service_name());
	if (l402.cfg.contact)
		json_add_string(&j, "contact", l402.cfg.contact);
	json_add_string(&j, "url", base);
	if (node_id[0])
		json_add_string(&j, "node_pubkey", node_id);
	json_object_end(&j);
	static const char *const payment_methods[] = { "L402", "bolt11", "Payment" };
	json_add_strings(&j, "payment_methods", payment_methods, 3);
	json_array_start(&j, "services");
	const struct route *rt;
	for (size_t i = 0; (rt = next_listed(&i));) {
		const char *methods[2];
		struct json_doc sd;
		char *schema;
		pub_path(rt, path, sizeof(path));
		schema = read_schema(rt, &sd);
		for (int m = 0, nm = route_methods(rt, methods); m < nm; m++) {
			lower(methods[m], lm, sizeof(lm));
			snprintf(id, sizeof(id), "%s-%s", rt->spec.service, lm);
			json_object_start(&j, NULL);
			json_add_string(&j, "id", id);
			json_add_string(&j, "name", rt->spec.desc[0] ? rt->spec.desc : rt->spec.service);
			json_add_string(&j, "description", route_desc(rt));
			json_add_string(&j, "endpoint", path);
			json_add_string(&j, "method", methods[m]);
			json_add_string(&j, "protocol", "L402");
			if (rt->spec.category[0])
				json_add_string(&j, "category", rt->spec.category);
			if (schema)
				add_index_schema(&j, "request_schema", &sd);
			/* 402index's one amount is what a payment costs: what
			 * its probe of the 402 finds in the invoice. */
			terms_of_route(rt, &t);
			json_object_start(&j, "pricing");
			format_sat(sat, sizeof(sat), t.invoice_msat);
			json_add_raw(&j, "amount", sat, strlen(sat));
			json_add_string(&j, "currency", "sats");
			json_add_string(&j, "type", "fixed");
			terms_buys(&t, buys, sizeof(buys));
			json_add_string(&j, "description", buys);
			json_object_end(&j);
			json_object_end(&j);
		}
		if (schema) {
			json_doc_free(&sd);
			free(schema);
		}
	}
	json_array_end(&j);
	json_array_start(&j, "routes");
	for (size_t i = 0; (rt = next_listed(&i));) {
		pub_path(rt, path, sizeof(path));
		json_object_start(&j, NULL);
		json_add_string(&j, "path", path);
		json_add_string(&j, "method", rt->spec.method);
		json_add_string(&j, "description", route_desc(rt));
		/* ngx_l402's amount is its invoice's, too. */
		terms_of_route(rt, &t);
		json_object_start(&j, "price");
		json_add_string(&j, "type", "static");
		json_add_u64(&j, "amount_msat", t.invoice_msat);
		json_object_end(&j);
		json_object_start(&j, "token");
		if (rt->spec.valid)
			json_add_s64(&j, "valid_seconds", rt->spec.valid);
		if (rt->spec.uses)
			json_add_u64(&j, "uses", rt->spec.uses);
		add_balance(&j, &t);
		terms_buys(&t, buys, sizeof(buys));
		json_add_string(&j, "buys", buys);
		json_object_end(&j);
		add_schemes(&j, rt);
		if (rt->spec.rate_n) {
			json_object_start(&j, "rate_limit");
			json_add_u64(&j, "requests", rt->spec.rate_n);
			json_add_u64(&j, "per_seconds", rt->spec.rate_per);
			json_add_u64(&j, "burst", rt->spec.burst);
			json_object_end(&j);
		}
		json_object_end(&j);
	}
	json_array_end(&j);
	json_object_end(&j);
}

/* ---- /openapi.json ---- */

/* What every operation refers to: the L402 scheme and the 402 answer. */
static const char openapi_components[] =
	"{\"securitySchemes\": {\"l402\": {"
		"\"type\": \"apiKey\", \"in\": \"header\", \"name\": \"Authorization\","
		"\"x-l402-scheme\": \"L402\","
		"\"description\": \"Pay the invoice of the 402 challenge, then send "
			"'L402 <macaroon>:<preimage hex>'\"},"
		"\"payment\": {\"type\": \"http\", \"scheme\": \"Payment\","
		"\"description\": \"The Payment HTTP authentication scheme (draft-httpauth-payment), "
			"method lightning, intent charge: pay the invoice of the challenge's request, "
			"then send the credential with payload.preimage; one request per charge\"}},"
	"\"responses\": {\"PaymentRequired\": {"
		"\"description\": \"Payment required: pay the invoice, then retry with the "
			"token and the preimage\","
		"\"headers\": {\"WWW-Authenticate\": {"
			"\"description\": \"L402 macaroon=\\\"<base64>\\\", invoice=\\\"<bolt11>\\\", "
				"version=\\\"0\\\", token=\\\"<base64>\\\"\","
			"\"schema\": {\"type\": \"string\"}}},"
		"\"content\": {\"application/json\": {\"schema\": {\"type\": \"object\", "
			"\"properties\": {"
			"\"error\": {\"type\": \"string\"}, \"reason\": {\"type\": \"string\"},"
			"\"price_msat\": {\"type\": \"integer\", "
				"\"description\": \"The route's price: one request's, on a balance route\"},"
			"\"price_sat\": {\"type\": \"number\"},"
			"\"invoice_msat\": {\"type\": \"integer\", "
				"\"description\": \"What the invoice is for: the price, or the balance it buys\"},"
			"\"invoice_sat\": {\"type\": \"integer\"},"
			"\"balance_msat\": {\"type\": \"integer\"},"
			"\"max_price_msat\": {\"type\": \"integer\", "
				"\"description\": \"A live price's token: the most a request it "
				"pays for may be priced at\"},"
			"\"buys\": {\"type\": \"string\", \"description\": \"What one payment buys\"},"
			"\"invoice\": {\"type\": \"string\"}, \"macaroon\": {\"type\": \"string\"},"
			"\"token\": {\"type\": \"string\"}, \"payment_hash\": {\"type\": \"string\"},"
			"\"expires_at\": {\"type\": \"integer\"},"
			"\"valid_seconds\": {\"type\": \"integer\"}, \"valid_until\": {\"type\": \"integer\"},"
			"\"uses\": {\"type\": \"integer\"}, \"hint\": {\"type\": \"string\"}}}}}}}}";

/* The body of a POST, PUT or PATCH whose route names no schema=: any
 * content, optional, so that readers (mppx's validator among them) know
 * the operation takes one. */
static void add_any_body(struct json_out *j, const struct route *o)
{
	json_object_start(j, "requestBody");
	json_add_bool(j, "required", false);
	json_add_string(j, "description",
			o->backend && o->backend->reads_body
				? "Passed to the service as sent (up to 8 MiB, read once the request is paid for)"
				: "Not read by this route");
	json_object_start(j, "content");
	json_object_start(j, "*/*");
	json_object_start(j, "schema");
	json_object_end(j);
	json_object_end(j);
	json_object_end(j);
	json_object_end(j);
}

/* The Payment scheme's discovery draft: x-payment-info, both offers. */
static void add_payment_info(struct json_out *j, const struct route *o)
{
	char sats[24], buys[256], note[320];
	snprintf(sats, sizeof(sats), "%llu",
		 (unsigned long long)mpp_sats(o->spec.price_msat));
	what_it_buys(o, buys, sizeof(buys));
	json_object_start(j, "x-payment-info");
	json_array_start(j, "offers");
	json_object_start(j, NULL);
	json_add_string(j, "intent", "charge");
	json_add_string(j, "method", "lightning");
	json_add_string(j, "amount", sats);
	json_add_string(j, "currency", "sat");
	json_add_string(j, "description", "one request (Payment scheme, lightning charge)");
	json_object_end(j);
	if (mpp_session_offered(&o->spec)) {
		char deposit[24];
		snprintf(deposit, sizeof(deposit), "%llu",
			 (unsigned long long)(mpp_session_deposit_msat(&o->spec) / 1000));
		snprintf(note, sizeof(note), "per request, from a deposit of %s sat refunded "
					     "unspent on close (Payment scheme, lightning session)",
			 deposit);
		json_object_start(j, NULL);
		json_add_string(j, "intent", "session");
		json_add_string(j, "method", "lightning");
		json_add_string(j, "amount", sats);
		json_add_string(j, "currency", "sat");
		json_add_string(j, "description", note);
		json_object_end(j);
	}
	/* An L402 token costs its invoice: the balance, when it buys one. */
	struct terms t;
	terms_of_route(o, &t);
	snprintf(sats, sizeof(sats), "%llu", (unsigned long long)mpp_sats(t.invoice_msat));
	json_object_start(j, NULL);
	json_add_string(j, "intent", "charge");
	json_add_string(j, "method", "l402");
	json_add_string(j, "amount", sats);
	json_add_string(j, "currency", "sat");
	snprintf(note, sizeof(note), "an L402 token: %s", buys);
	json_add_string(j, "description", note);
	json_object_end(j);
	json_array_end(j);
	json_object_end(j);
}

/* Where a document is: absolute under l402-public-url when it is set (as
 * the discovery draft asks), else a path on the server that served it (a
 * base guessed from the listener may be no address a reader can reach). */
static void add_doc_uri(struct json_out *j, const char *key, const char *path)
{
	char base[BASE_URL_LEN], url[BASE_URL_LEN + ROUTE_MAX_PATH];
	if (!l402.cfg.public_url) {
		json_add_string(j, key, path);
		return;
	}
	base_url(base, sizeof(base));
	snprintf(url, sizeof(url), "%s%s", base, path);
	json_add_string(j, key, url);
}

/* x-service-info: the routes' categories (at most 5) and where the docs are. */
static void add_service_info(struct json_out *j)
{
	const char *cats[5];
	size_t n = 0;
	const struct route *rt;
	for (size_t i = 0; (rt = next_listed(&i)) && n < 5;) {
		bool seen = !rt->spec.category[0];
		for (size_t k = 0; k < n && !seen; k++)
			seen = strcmp(cats[k], rt->spec.category) == 0;
		if (!seen)
			cats[n++] = rt->spec.category;
	}
	json_object_start(j, "x-service-info");
	if (n)
		json_add_strings(j, "categories", cats, n);
	json_object_start(j, "docs");
	add_doc_uri(j, "apiReference", "/openapi.json");
	add_doc_uri(j, "llms", "/llms.txt");
	if (l402.cfg.catalog)
		add_doc_uri(j, "homepage", l402.cfg.catalog);
	json_object_end(j);
	json_object_end(j);
}

static void build_openapi(struct strbuf *sb)
{
	struct json_out j;
	char base[BASE_URL_LEN], path[ROUTE_KEY_LEN + 8], lm[16], sat[32], opid[ROUTE_MAX_SERVICE + 16];
	struct terms t;
	doc_start(&j, sb, base);
	json_add_string(&j, "openapi", "3.1.0");
	json_object_start(&j, "info");
	json_add_string(&j, "title", service_name());
	json_add_string(&j, "description", service_description());
	json_add_string(&j, "version", L402_VERSION);
	if (l402.cfg.contact) {
		json_object_start(&j, "contact");
		json_add_string(&j, strchr(l402.cfg.contact, '@') ? "email" : "url", l402.cfg.contact);
		json_object_end(&j);
	}
	json_object_start(&j, "x-l402-provider");
	json_add_string(&j, "name", service_name());
	json_add_string(&j, "uri", base);
	json_add_string(&j, "node_pubkey", node_id[0] ? node_id : NULL);
	add_doc_uri(&j, "manifest", "/.well-known/l402.json");
	json_object_end(&j);
	json_object_end(&j);
	add_service_info(&j);
	json_array_start(&j, "servers");
	json_object_start(&j, NULL);
	json_add_string(&j, "url", base);
	json_object_end(&j);
	json_array_end(&j);
	json_object_start(&j, "paths");
	/* OpenAPI paths are templates: a prefix becomes a {path} parameter,
	 * and routes sharing a template share its path item. */
	const struct route *rt;
	for (size_t i = 0; (rt = next_group(&i, same_template));) {
		template_path(rt, path, sizeof(path));
		json_object_start(&j, path);
		const struct route *o;
		for (size_t k = i - 1; (o = next_in_group(&k, rt, same_template));) {
			const char *methods[2];
			struct json_doc sd;
			char *schema = read_schema(o, &sd);
			for (int m = 0, nm = route_methods(o, methods); m < nm; m++) {
				lower(methods[m], lm, sizeof(lm));
				json_object_start(&j, lm);
				snprintf(opid, sizeof(opid), "%s_%s", o->spec.service, lm);
				for (char *c = opid; *c; c++)
					if (*c == '-' || *c == '.')
						*c = '_';
				json_add_string(&j, "operationId", opid);
				json_add_string(&j, "summary", route_desc(o));
				if (o->spec.category[0]) {
					const char *tag = o->spec.category;
					json_add_strings(&j, "tags", &tag, 1);
				}
				json_add_string(&j, "x-l402-service", o->spec.service);
				terms_of_route(o, &t);
				json_object_start(&j, "x-l402-pricing");
				json_add_string(&j, "model", terms_model_name(t.model));
				json_add_u64(&j, "price_msat", o->spec.price_msat);
				format_sat(sat, sizeof(sat), o->spec.price_msat);
				json_add_raw(&j, "price_sat", sat, strlen(sat));
				if (o->spec.valid)
					json_add_s64(&j, "valid_seconds", o->spec.valid);
				if (o->spec.uses)
					json_add_u64(&j, "uses", o->spec.uses);
				add_balance(&j, &t);
				terms_add_json(&j, &t);
				json_object_end(&j);
				if (o->spec.prefix) {
					json_array_start(&j, "parameters");
					json_object_start(&j, NULL);
					json_add_string(&j, "name", "path");
					json_add_string(&j, "in", "path");
					json_add_bool(&j, "required", true);
					json_add_string(&j, "description", "The rest of the path under this prefix");
					json_object_start(&j, "schema");
					json_add_string(&j, "type", "string");
					json_object_end(&j);
					json_object_end(&j);
					json_array_end(&j);
				}
				if (schema && strcmp(methods[m], "GET") != 0 && strcmp(methods[m], "HEAD") != 0) {
					json_object_start(&j, "requestBody");
					json_object_start(&j, "content");
					json_object_start(&j, "application/json");
					add_json_schema(&j, "schema", &sd);
					json_object_end(&j);
					json_object_end(&j);
					json_object_end(&j);
				} else if (method_has_body(methods[m])) {
					add_any_body(&j, o);
				}
				if (o->spec.price_msat)
					add_payment_info(&j, o);
				json_array_start(&j, "security");
				if (o->spec.price_msat) {
					json_object_start(&j, NULL);
					json_array_start(&j, "l402");
					json_array_end(&j);
					json_object_end(&j);
					json_object_start(&j, NULL);
					json_array_start(&j, "payment");
					json_array_end(&j);
					json_object_end(&j);
				}
				json_array_end(&j);
				json_object_start(&j, "responses");
				json_object_start(&j, "200");
				json_add_string(&j, "description", "The resource");
				json_object_end(&j);
				if (o->spec.price_msat) {
					json_object_start(&j, "402");
					json_add_string(&j, "$ref", "#/components/responses/PaymentRequired");
					json_object_end(&j);
				}
				json_object_end(&j);
				json_object_end(&j);
			}
			if (schema) {
				json_doc_free(&sd);
				free(schema);
			}
		}
		json_object_end(&j);
	}
	json_object_end(&j);
	json_add_raw(&j, "components", openapi_components, strlen(openapi_components));
	json_object_end(&j);
}

/* ---- /llms.txt ---- */

static void build_llms(struct strbuf *sb)
{
	char base[BASE_URL_LEN], path[ROUTE_KEY_LEN], sat[48], buys[256];
	base_url(base, sizeof(base));
	strbuf_printf(sb, "# %s\n\n> %s\n\n", service_name(), service_description());
	strbuf_printf(sb, "These HTTP endpoints are paid per use with Lightning (L402). No account or "
			  "API key: the payment is the credential.\n\n## Endpoints\n\n");
	const struct route *rt;
	for (size_t i = 0; (rt = next_listed(&i));) {
		pub_path(rt, path, sizeof(path));
		invoice_price(rt, sat, sizeof(sat));
		what_it_buys(rt, buys, sizeof(buys));
		if (rt->spec.price_msat)
			strbuf_printf(sb, "- %s %s%s: %s. Price: %s sat; one payment buys %s.",
				      rt->spec.method, base, path, route_desc(rt), sat, buys);
		else
			strbuf_printf(sb, "- %s %s%s: %s. Free.", rt->spec.method, base, path,
				      route_desc(rt));
		if (rt->spec.prefix) {
			example_path(rt, path, sizeof(path));
			strbuf_printf(sb, " Any path under the prefix, e.g. %s%s.", base, path);
		}
		strbuf_putc(sb, '\n');
	}
	strbuf_printf(sb,
		      "\n## How to pay\n\n"
		      "1. Request the endpoint. The answer is 402 Payment Required with the header\n"
		      "   WWW-Authenticate: L402 macaroon=\"<base64>\", invoice=\"<bolt11>\"\n"
		      "   (the JSON body has the same fields: macaroon, invoice; invoice_msat is what\n"
		      "   the invoice is for, price_msat one request's price, buys what it buys).\n"
		      "2. Pay the BOLT11 invoice with any Lightning wallet and keep the preimage.\n"
		      "3. Repeat the request with the header\n"
		      "   Authorization: L402 <macaroon>:<preimage in hex>\n"
		      "4. Reuse the same header until the token expires or its uses or balance run\n"
		      "   out; a new 402 (with a reason) means pay again.\n\n"
		      "## Machine-readable\n\n"
		      "- %s/.well-known/l402.json (L402 discovery manifest, signed by the node key)\n"
		      "- %s/.well-known/l402-services (service index)\n"
		      "- %s/openapi.json (OpenAPI 3.1)\n",
		      base, base, base);
	if (node_id[0])
		strbuf_printf(sb, "\nLightning node: %s\n", node_id);
	if (l402.cfg.contact)
		strbuf_printf(sb, "Contact: %s\n", l402.cfg.contact);
}

/* ---- the HTML catalog ---- */

static void html(struct strbuf *sb, const char *s)
{
	strbuf_puts_html(sb, s);
}

static const char CATALOG_CSS[] =
	":root{--fg:#1d1d1f;--muted:#5f6368;--bg:#fafafa;--card:#fff;--accent:#f7931a;--line:#e5e5e5}"
	"*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;"
	"color:var(--fg);background:var(--bg)}main{max-width:880px;margin:0 auto;padding:24px 16px}"
	"h1{margin:0 0 4px;font-size:1.8rem}.lede{color:var(--muted);margin:0 0 24px}"
	".badge{display:inline-block;background:var(--accent);color:#fff;border-radius:4px;padding:1px 8px;"
	"font-size:.8rem;font-weight:600;vertical-align:middle}"
	".route{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:16px;margin:0 0 12px}"
	".top{display:flex;flex-wrap:wrap;gap:8px;align-items:center}.method{font:600 .8rem ui-monospace,monospace;"
	"background:#eef;border-radius:4px;padding:2px 6px}.url{font-family:ui-monospace,monospace;"
	"overflow-wrap:anywhere;flex:1 1 240px}.price{font-weight:700;white-space:nowrap}"
	".buys,.desc{color:var(--muted);margin:6px 0 0}button{font:inherit;font-size:.85rem;border:1px solid var(--line);"
	"background:#fff;border-radius:6px;padding:4px 10px;cursor:pointer}button:active{background:#eee}"
	"pre{background:#111;color:#eee;padding:12px;border-radius:8px;overflow-x:auto;font-size:.85rem}"
	"pre.try{margin:8px 0 0;padding:8px 10px;font-size:.8rem;white-space:pre-wrap;overflow-wrap:anywhere}"
	"footer{color:var(--muted);font-size:.85rem;margin-top:24px;overflow-wrap:anywhere}a{color:#0b57d0}";

static const char CATALOG_JS[] =
	"document.querySelectorAll('button[data-copy]').forEach(function(b){"
	"b.addEventListener('click',function(){var t=b.getAttribute('data-copy');"
	"function done(){b.textContent='Copied';setTimeout(function(){b.textContent='Copy URL'},1500)}"
	"if(navigator.clipboard&&navigator.clipboard.writeText){navigator.clipboard.writeText(t).then(done,"
	"function(){fallback()})}else{fallback()}"
	"function fallback(){var a=document.createElement('textarea');a.value=t;document.body.appendChild(a);"
	"a.select();try{document.execCommand('copy')}catch(e){}document.body.removeChild(a);done()}});});"
	"document.documentElement.setAttribute('data-ready','1');";

/* s in single quotes for a POSIX shell. */
static void sh_quote(struct strbuf *sb, const char *s)
{
	strbuf_putc(sb, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			strbuf_puts(sb, "'\\''");
		else
			strbuf_putc(sb, *s);
	}
	strbuf_putc(sb, '\'');
}

/* A curl command that tries rt (text, not yet HTML): its method, a
 * concrete URL (a prefix's example path), and a body when the route
 * takes one: the schema's sample, or a placeholder. auth: an
 * Authorization header to send, or NULL. */
static void curl_command(struct strbuf *cmd, const struct route *rt, const char *base,
			 const char *auth)
{
	char path[ROUTE_KEY_LEN + sizeof(EXAMPLE_SEGMENT)];
	const char *methods[2];
	const char *m;
	route_methods(rt, methods);
	m = methods[0];
	example_path(rt, path, sizeof(path));
	strbuf_puts(cmd, "curl -i");
	if (auth) {
		strbuf_puts(cmd, " -H ");
		sh_quote(cmd, auth);
	}
	if (strcmp(m, "HEAD") == 0)
		strbuf_puts(cmd, " -I");
	else if (strcmp(m, "GET") != 0)
		strbuf_printf(cmd, " -X %s", m);
	strbuf_printf(cmd, " %s%s", base, path);
	if (!method_has_body(m))
		return;
	struct json_doc sd;
	char *schema = read_schema(rt, &sd);
	if (schema) {
		struct strbuf body;
		struct json_out j;
		strbuf_init(&body, 0);
		json_out_init(&j, &body);
		add_probe_body(&j, NULL, &sd);
		strbuf_puts(cmd, " -H 'Content-Type: application/json' -d ");
		sh_quote(cmd, body.data ? body.data : "{}");
		strbuf_free(&body);
		json_doc_free(&sd);
		free(schema);
	} else if (rt->backend && rt->backend->reads_body) {
		strbuf_puts(cmd, " --data-binary @request-body");
	}
}

/* A curl command as HTML. */
static void html_curl(struct strbuf *sb, const struct route *rt, const char *base, const char *auth)
{
	struct strbuf cmd;
	strbuf_init(&cmd, 0);
	curl_command(&cmd, rt, base, auth);
	html(sb, cmd.data ? cmd.data : "");
	strbuf_free(&cmd);
}

static void build_catalog(struct strbuf *sb)
{
	char base[BASE_URL_LEN], path[ROUTE_KEY_LEN + sizeof(EXAMPLE_SEGMENT)], sat[48], buys[256];
	char url[BASE_URL_LEN + sizeof(path)];
	const struct route *example = NULL;
	base_url(base, sizeof(base));
	strbuf_puts(sb, "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
			"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>");
	html(sb, service_name());
	strbuf_puts(sb, "</title><link rel=\"alternate\" type=\"application/json\" href=\"/.well-known/l402.json\">"
			"<link rel=\"service-desc\" type=\"application/json\" href=\"/openapi.json\"><style>");
	strbuf_puts(sb, CATALOG_CSS);
	strbuf_puts(sb, "</style></head><body><main><h1>");
	html(sb, service_name());
	strbuf_puts(sb, " <span class=\"badge\">L402</span></h1><p class=\"lede\">");
	html(sb, service_description());
	strbuf_puts(sb, "</p><section id=\"routes\">");
	const struct route *rt;
	for (size_t i = 0; (rt = next_listed(&i));) {
		if (!example && rt->spec.price_msat)
			example = rt;
		invoice_price(rt, sat, sizeof(sat));
		what_it_buys(rt, buys, sizeof(buys));
		strbuf_puts(sb, "<article class=\"route\" data-route=\"");
		html(sb, rt->key);
		strbuf_puts(sb, "\"><div class=\"top\"><span class=\"method\">");
		html(sb, rt->spec.method);
		strbuf_puts(sb, "</span><span class=\"url\">");
		/* What the route covers (a prefix with its '*'); what is copied
		 * and tried is a URL that can be asked as it is. */
		pub_path(rt, path, sizeof(path));
		snprintf(url, sizeof(url), "%s%s", base, path);
		html(sb, url);
		strbuf_puts(sb, "</span><span class=\"price\">");
		if (rt->spec.price_msat) {
			html(sb, sat);
			strbuf_puts(sb, " sat");
		} else {
			strbuf_puts(sb, "free");
		}
		example_path(rt, path, sizeof(path));
		snprintf(url, sizeof(url), "%s%s", base, path);
		strbuf_puts(sb, "</span><button type=\"button\" data-copy=\"");
		html(sb, url);
		strbuf_puts(sb, "\">Copy URL</button></div>");
		if (rt->spec.desc[0]) {
			strbuf_puts(sb, "<p class=\"desc\">");
			html(sb, rt->spec.desc);
			strbuf_puts(sb, "</p>");
		}
		if (rt->spec.price_msat) {
			strbuf_puts(sb, "<p class=\"buys\">One payment buys: ");
			html(sb, buys);
			strbuf_puts(sb, "</p>");
		} else {
			strbuf_puts(sb, "<p class=\"buys\">No payment needed.</p>");
		}
		strbuf_puts(sb, "<pre class=\"try\">");
		html_curl(sb, rt, base, NULL);
		strbuf_puts(sb, "</pre></article>");
	}
	strbuf_puts(sb, "</section><h2>How to pay</h2><pre>");
	strbuf_puts(sb, "# 1. Ask: the answer is 402 with an invoice and a macaroon\n");
	if (example) {
		html_curl(sb, example, base, NULL);
	} else {
		html(sb, "curl -i ");
		html(sb, base);
		html(sb, "/");
	}
	strbuf_puts(sb, "\n\n# 2. Pay the invoice with any Lightning wallet; keep the preimage\n\n"
			"# 3. Retry with the proof of payment\n");
	if (example) {
		html_curl(sb, example, base, "Authorization: L402 <macaroon>:<preimage>");
	} else {
		html(sb, "curl -i -H 'Authorization: L402 <macaroon>:<preimage>' ");
		html(sb, base);
		html(sb, "/");
	}
	strbuf_puts(sb, "</pre><footer>Machine-readable: <a href=\"/.well-known/l402.json\">l402.json</a> · "
			"<a href=\"/.well-known/l402-services\">l402-services</a> · "
			"<a href=\"/openapi.json\">openapi.json</a> · <a href=\"/llms.txt\">llms.txt</a>");
	if (node_id[0]) {
		strbuf_puts(sb, "<br>Lightning node: ");
		html(sb, node_id);
	}
	if (l402.cfg.contact) {
		strbuf_puts(sb, "<br>Contact: ");
		html(sb, l402.cfg.contact);
	}
	strbuf_puts(sb, "</footer></main><script>");
	strbuf_puts(sb, CATALOG_JS);
	strbuf_puts(sb, "</script></body></html>\n");
}

/* Built documents, kept until something published changes (a route, an
 * option, the node's alias): serving one costs a copy, not a walk of the
 * routes and reads of schema files. */
#define NDOCS (DOC_INDEX_VERIFY + 1)
static struct {
	uint64_t version;	/* 0: none */
	bool exists;
	char *text;
	size_t len;
	char etag[DISCOVERY_ETAG_LEN];
} built[NDOCS];

static bool build(enum doc_kind k, struct strbuf *out);

void discovery_etag(const char *body, size_t len, char etag[DISCOVERY_ETAG_LEN])
{
	uint8_t h[32];
	crypto_hash_sha256(h, (const uint8_t *)body, len);
	etag[0] = '"';
	hex_encode(h, 12, etag + 1, DISCOVERY_ETAG_LEN - 2);
	strcat(etag, "\"");
}

bool discovery_built(enum doc_kind k, const char **text, size_t *len, const char **etag)
{
	if ((unsigned)k >= NDOCS)
		return false;
	if (built[k].version != version) {
		struct strbuf sb;
		strbuf_init(&sb, 0);
		free(built[k].text);
		built[k].exists = build(k, &sb);
		built[k].len = sb.len;
		built[k].text = strbuf_steal(&sb);
		built[k].version = version;
		discovery_etag(built[k].text ? built[k].text : "", built[k].len, built[k].etag);
	}
	*text = built[k].text ? built[k].text : "";
	*len = built[k].len;
	*etag = built[k].etag;
	return built[k].exists;
}

bool discovery_build(enum doc_kind k, struct strbuf *out)
{
	const char *text, *etag;
	size_t len;
	if (!discovery_built(k, &text, &len, &etag))
		return false;
	strbuf_append(out, text, len);
	return true;
}

static bool build(enum doc_kind k, struct strbuf *out)
{
	switch (k) {
	case DOC_MANIFEST:
		build_manifest(out);
		return true;
	case DOC_SERVICES:
		build_services(out);
		return true;
	case DOC_OPENAPI:
		build_openapi(out);
		return true;
	case DOC_LLMS:
		build_llms(out);
		return true;
	case DOC_CATALOG:
		build_catalog(out);
		return true;
	case DOC_INDEX_VERIFY:
		if (!l402.cfg.index_token)
			return false;
		strbuf_printf(out, "%s\n", l402.cfg.index_token);
		return true;
	case DOC_NONE:
		break;
	}
	return false;
}

/* ---- the signed manifest ---- */

static void answer_all(const char *json, size_t len)
{
	struct waiter *w = waiters;
	waiters = NULL;
	while (w) {
		struct waiter *next = w->next;
		w->done(w->arg, json, len);
		free(w);
		w = next;
	}
}

struct signing {
	struct strbuf doc;
	uint64_t version;
};

static void signed_cb(void *arg, const struct rpc_result *r)
{
	struct signing *s = arg;
	char zbase[256];
	signing = false;
	struct strbuf out;
	strbuf_init(&out, 0);
	/* The signature goes last, so the served bytes up to it (and a
	 * closing brace) are the document whose SHA-256 was signed. */
	strbuf_append(&out, s->doc.data, s->doc.len - 1);
	if (r->status == RPC_OK
	    && json_get_string(r->doc, json_get(r->doc, r->result, "zbase"), zbase, sizeof(zbase), NULL)) {
		strbuf_printf(&out, ",\"signature\":{\"type\":\"signmessage-sha256\",\"pubkey\":\"%s\","
				    "\"zbase\":\"%s\",\"signed\":\"the lowercase hex SHA-256 of the served "
				    "bytes up to ',\\\"signature\\\":', with '}' appended\"}}",
			      node_id, zbase);
	} else {
		plugin_log(LOG_UNUSUAL, "signing the manifest failed: %s",
			   r->status == RPC_OK ? "no zbase" : r->message);
		strbuf_puts(&out, ",\"signature\":null}");
	}
	if (r->status == RPC_OK && s->version == version) {
		free(signed_doc);
		signed_len = out.len;
		signed_doc = strbuf_steal(&out);
		signed_version = s->version;
		answer_all(signed_doc, signed_len);
	} else {
		answer_all(out.data, out.len);
		strbuf_free(&out);
	}
	strbuf_free(&s->doc);
	free(s);
}

void discovery_manifest(void (*done)(void *arg, const char *json, size_t len), void *arg,
			const char *parent_id)
{
	if (signed_doc && signed_version == version) {
		done(arg, signed_doc, signed_len);
		return;
	}
	struct waiter *w = calloc(1, sizeof(*w));
	if (!w) {
		done(arg, NULL, 0);
		return;
	}
	w->done = done;
	w->arg = arg;
	w->next = waiters;
	waiters = w;
	if (signing)
		return;
	struct signing *s = calloc(1, sizeof(*s));
	if (!s) {
		answer_all(NULL, 0);
		return;
	}
	strbuf_init(&s->doc, 0);
	build_manifest(&s->doc);
	s->version = version;
	struct strbuf params;
	struct json_out j;
	json_out_object(&j, &params, 0);
	/* lightningd signs the message's JSON string token as sent, escapes
	 * and all: a hex digest needs none, so every verifier rebuilds the
	 * same text from the served bytes. */
	uint8_t h[32];
	crypto_hash_sha256(h, (const uint8_t *)s->doc.data, s->doc.len);
	json_add_hex(&j, "message", h, 32);
	json_object_end(&j);
	signing = true;
	if (!rpc_call("signmessage", params.data, parent_id, 10000, signed_cb, s))
		signed_cb(s, &(struct rpc_result){ RPC_ERROR, NULL, -1, -1, "cannot ask to sign" });
	strbuf_free(&params);
}

void discovery_listing(struct strbuf *out)
{
	struct json_out j;
	char base[BASE_URL_LEN], path[ROUTE_KEY_LEN], url[BASE_URL_LEN + ROUTE_KEY_LEN], sat[32], buys[256];
	struct terms t;
	doc_start(&j, out, base);
	json_array_start(&j, "listings");
	const struct route *rt;
	for (size_t i = 0; (rt = next_listed(&i));) {
		const char *methods[2];
		pub_path(rt, path, sizeof(path));
		snprintf(url, sizeof(url), "%s%s", base, path);
		struct json_doc sd;
		char *schema = read_schema(rt, &sd);
		for (int m = 0, nm = route_methods(rt, methods); m < nm; m++) {
			json_object_start(&j, NULL);
			json_add_string(&j, "url", url);
			json_add_string(&j, "name", rt->spec.desc[0] ? rt->spec.desc : rt->spec.service);
			json_add_string(&j, "description", route_desc(rt));
			json_add_string(&j, "protocol", "L402");
			json_add_string(&j, "http_method", methods[m]);
			/* A directory's price is what one payment costs: what its
			 * probe finds in the 402's invoice. */
			terms_of_route(rt, &t);
			format_sat(sat, sizeof(sat), t.invoice_msat);
			json_add_raw(&j, "price_sats", sat, strlen(sat));
			json_add_u64(&j, "price_msat", t.invoice_msat);
			add_balance(&j, &t);
			json_add_string(&j, "category", rt->spec.category[0] ? rt->spec.category : "other");
			terms_buys(&t, buys, sizeof(buys));
			json_add_string(&j, "one_payment_buys", buys);
			if (schema && strcmp(methods[m], "GET") != 0)
				add_probe_body(&j, "probe_body", &sd);
			else
				json_add_null(&j, "probe_body");
			json_object_end(&j);
		}
		if (schema) {
			json_doc_free(&sd);
			free(schema);
		}
	}
	json_array_end(&j);
	json_object_end(&j);
}

void discovery_free(void)
{
	for (size_t i = 0; i < NDOCS; i++) {
		free(built[i].text);
		built[i].text = NULL;
		built[i].version = 0;
	}
	free(signed_doc);
	signed_doc = NULL;
	answer_all(NULL, 0);
}
