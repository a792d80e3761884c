#include "options.h"

#include "http/client_addr.h"
#include "http/cors.h"
#include "http/listen.h"
#include "route_spec.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum opt_type { OPT_STRING, OPT_INT, OPT_BOOL, OPT_FLAG };
#define FIELD(name) offsetof(struct l402_config, name)

static char errbuf[512];

static const char *set_bind(struct l402_config *c, const char *v, int64_t n, bool b);
static const char *set_route(struct l402_config *c, const char *v, int64_t n, bool b);
static const char *set_cors(struct l402_config *c, const char *v, int64_t n, bool b);
static const char *set_trusted_proxy(struct l402_config *c, const char *v, int64_t n, bool b);
static const char *set_auth_path(struct l402_config *c, const char *v, int64_t n, bool b);
static const char *set_proxy_key(struct l402_config *c, const char *v, int64_t n, bool b);
static const char *set_service_name(struct l402_config *c, const char *v, int64_t n, bool b);
static const char *set_service_desc(struct l402_config *c, const char *v, int64_t n, bool b);
static const char *set_contact(struct l402_config *c, const char *v, int64_t n, bool b);
static const char *set_public_url(struct l402_config *c, const char *v, int64_t n, bool b);
static const char *set_catalog(struct l402_config *c, const char *v, int64_t n, bool b);
static const char *set_index_token(struct l402_config *c, const char *v, int64_t n, bool b);
static const char *set_challenge_rate(struct l402_config *c, const char *v, int64_t n, bool b);
static const char *set_metrics_bind(struct l402_config *c, const char *v, int64_t n, bool b);
static const char *set_tls_cert(struct l402_config *c, const char *v, int64_t n, bool b);
static const char *set_tls_key(struct l402_config *c, const char *v, int64_t n, bool b);

static const struct opt_def {
	const char *name;
	enum opt_type type;
	const char *def; /* default as JSON text, or NULL */
	const char *desc;
	bool multi, dynamic;
	/* Checks and stores the value; NULL: a plain number (OPT_INT, an
	 * int64_t) or switch (OPT_BOOL, OPT_FLAG, a bool) stored at field. */
	const char *(*apply)(struct l402_config *c, const char *v, int64_t n, bool b);
	int64_t min, max;	/* OPT_INT: checked before apply */
	size_t field;		/* offsetof(struct l402_config, ...), without apply */
} opts[] = {
	{ "l402-bind", OPT_STRING, NULL, "HOST:PORT the HTTP server listens on (https://HOST:PORT with TLS; [V6]:PORT for IPv6; several allowed; default " DEFAULT_BIND ")", true, false, set_bind, 0, 0, 0 },
	{ "l402-route", OPT_STRING, NULL, "A paid route: METHOD PATH PRICE BACKEND [key=value ...] (several allowed)", true, false, set_route, 0, 0, 0 },
	{ "l402-invoice-expiry", OPT_INT, "600", "Seconds an invoice in a 402 challenge stays payable", false, true, NULL, 10, 31536000, FIELD(invoice_expiry) },
	{ "l402-cors-origin", OPT_STRING, "\"*\"", "Access-Control-Allow-Origin sent to browsers", false, true, set_cors, 0, 0, 0 },
	{ "l402-trust-proxy", OPT_FLAG, NULL, "Take the client IP from X-Forwarded-For (only behind a reverse proxy you run)", false, false, NULL, 0, 0, FIELD(trust_proxy) },
	{ "l402-trusted-proxy", OPT_STRING, NULL, "ADDR or ADDR/BITS of a reverse proxy whose X-Forwarded-For names the client (several allowed)", true, false, set_trusted_proxy, 0, 0, 0 },
	{ "l402-auth-path", OPT_STRING, "\"/l402/auth\"", "Path of the forward-auth endpoint front proxies ask for decisions, or off", false, false, set_auth_path, 0, 0, 0 },
	{ "l402-proxy-key", OPT_STRING, NULL, "A secret your forward-auth recipe sends as X-L402-Final, so that a Payment session's topUp and close are answered to its clients (16-128 characters of A-Z a-z 0-9 - _; unset: never)", false, false, set_proxy_key, 0, 0, 0 },
	{ "l402-log-requests", OPT_BOOL, "false", "Log every HTTP request at debug level", false, true, NULL, 0, 0, FIELD(log_requests) },
	{ "l402-max-unpaid", OPT_INT, "10000", "Most unpaid invoices the paywall keeps outstanding; past it, new challenges get 503", false, true, NULL, 1, 1000000, FIELD(max_unpaid) },
	{ "l402-service-name", OPT_STRING, NULL, "Name of this service in the published catalogs (default: the node's alias)", false, true, set_service_name, 0, 0, 0 },
	{ "l402-service-description", OPT_STRING, NULL, "One or two sentences on what this node sells, for the catalogs", false, true, set_service_desc, 0, 0, 0 },
	{ "l402-contact", OPT_STRING, NULL, "How to reach the operator (email or URL), for the catalogs", false, true, set_contact, 0, 0, 0 },
	{ "l402-public-url", OPT_STRING, NULL, "The public base URL (https://api.example.com) used in everything published; default http://BIND", false, true, set_public_url, 0, 0, 0 },
	{ "l402-catalog", OPT_STRING, "\"/\"", "Path of the HTML catalog page, or off", false, true, set_catalog, 0, 0, 0 },
	{ "l402-402index-token", OPT_STRING, NULL, "Token served at /.well-known/402index-verify.txt to prove the domain to 402index", false, true, set_index_token, 0, 0, 0 },
	{ "l402-challenge-rate", OPT_STRING, "\"30/60\"", "New challenges (invoices) one client IP may ask for: N/SECONDS", false, true, set_challenge_rate, 0, 0, 0 },
	{ "l402-http-threads", OPT_INT, "0", "Threads serving HTTP; 0 means one per CPU core", false, false, NULL, 0, 64, FIELD(http_threads) },
	{ "l402-max-client-connections", OPT_INT, "64", "Open connections one client (an IPv4 address, an IPv6 /64) may hold", false, false, NULL, 1, 4000, FIELD(max_conns_per_client) },
	{ "l402-header-timeout", OPT_INT, "10", "Seconds a request has to send its headers before its connection is closed", false, false, NULL, 1, 3600, FIELD(header_timeout) },
	{ "l402-metrics-bind", OPT_STRING, NULL, "HOST:PORT serving Prometheus metrics at /metrics (off unless set; keep it private)", false, false, set_metrics_bind, 0, 0, 0 },
	{ "l402-session-idle", OPT_INT, "300", "Seconds of inactivity after which the node closes a Payment session and refunds it", false, true, NULL, 5, 2592000, FIELD(session_idle) },
	{ "l402-max-client-sessions", OPT_INT, "64", "Open Payment sessions one client (an IPv4 address, an IPv6 /64) may hold", false, true, NULL, 1, 4096, FIELD(max_client_sessions) },
	{ "l402-session-pause", OPT_INT, "60", "Seconds a streamed answer waits for a top-up once its balance ran out, before it ends", false, true, NULL, 1, 3600, FIELD(session_pause) },
	{ "l402-tls-cert", OPT_STRING, NULL, "PEM certificate chain for https:// binds (reloaded by l402-tls-reload)", false, false, set_tls_cert, 0, 0, 0 },
	{ "l402-tls-key", OPT_STRING, NULL, "PEM private key of l402-tls-cert (unencrypted; keep it readable only by lightningd)", false, false, set_tls_key, 0, 0, 0 },
};

static const struct opt_def *find_opt(const char *name)
{
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (strcmp(opts[i].name, name) == 0)
			return &opts[i];
	return NULL;
}

void options_manifest(struct json_out *j)
{
	static const char *types[] = { "string", "int", "bool", "flag" };
	json_array_start(j, "options");
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		json_object_start(j, NULL);
		json_add_string(j, "name", opts[i].name);
		json_add_string(j, "type", types[opts[i].type]);
		if (opts[i].def)
			json_add_raw(j, "default", opts[i].def, strlen(opts[i].def));
		json_add_string(j, "description", opts[i].desc);
		if (opts[i].multi)
			json_add_bool(j, "multi", true);
		if (opts[i].dynamic)
			json_add_bool(j, "dynamic", true);
		json_object_end(j);
	}
	json_array_end(j);
}

static const char *fail(const char *name, const char *fmt, const char *val)
{
	char why[256];
	snprintf(why, sizeof(why), fmt, val ? val : "");
	snprintf(errbuf, sizeof(errbuf), "%s: %s", name, why);
	return errbuf;
}

static bool has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static const char *set_bind(struct l402_config *c, const char *v, int64_t n, bool b)
{
	char host[256], port[16];
	if (c->nbind == MAX_BINDS)
		return fail("l402-bind", "at most 8 addresses", NULL);
	if (!parse_hostport(bind_hostport(v, NULL), host, sizeof(host), port, sizeof(port)))
		return fail("l402-bind", "'%s' is not HOST:PORT, http://HOST:PORT or https://HOST:PORT (IPv6 in brackets) with a port from 0 to 65535", v);
	c->bind[c->nbind++] = strdup(v);
	return NULL;
}

static const char *set_route(struct l402_config *c, const char *v, int64_t n, bool b)
{
	if (c->nroute == MAX_CONFIG_ROUTES)
		return fail("l402-route", "at most 256 routes in the configuration", NULL);
	if (strlen(v) > 4096 || has_ctl(v))
		return fail("l402-route", "'%.80s' is too long or holds control characters", v);
	c->route[c->nroute++] = strdup(v);
	return NULL;
}

static const char *set_cors(struct l402_config *c, const char *v, int64_t n, bool b)
{
	if (!*v || strlen(v) > CORS_MAX_ORIGIN || has_ctl(v))
		return fail("l402-cors-origin", "'%.80s' is not a usable header value", v);
	free(c->cors_origin);
	c->cors_origin = strdup(v);
	return NULL;
}

static const char *set_trusted_proxy(struct l402_config *c, const char *v, int64_t n, bool b)
{
	if (c->ntrusted == MAX_TRUSTED_PROXIES)
		return fail("l402-trusted-proxy", "at most 16 addresses", NULL);
	if (!addr_block_parse(v, &c->trusted[c->ntrusted]))
		return fail("l402-trusted-proxy", "'%.80s' is not ADDR or ADDR/BITS", v);
	c->ntrusted++;
	return NULL;
}

/* A path the plugin answers at, or "off" (NULL): absolute, short, and
 * without the characters refused. */
static const char *set_own_path(char **dst, const char *name, const char *v,
				const char *refused, const char *example)
{
	char why[96];
	if (strcmp(v, "off") != 0 && (v[0] != '/' || strlen(v) > 200 || has_ctl(v)
				      || strpbrk(v, refused))) {
		snprintf(why, sizeof(why), "'%%.80s' must be a path such as %s, or off", example);
		return fail(name, why, v);
	}
	free(*dst);
	*dst = strcmp(v, "off") == 0 ? NULL : strdup(v);
	return NULL;
}

static const char *set_auth_path(struct l402_config *c, const char *v, int64_t n, bool b)
{
	return set_own_path(&c->auth_path, "l402-auth-path", v, " ?#%\"<>\\", "/l402/auth");
}

/* A published text: one line, printable, bounded. */
static const char *set_text(char **dst, const char *name, const char *v, size_t max)
{
	if (strlen(v) > max || has_ctl(v))
		return fail(name, "must be one line of at most a few hundred characters", NULL);
	free(*dst);
	*dst = *v ? strdup(v) : NULL;
	return NULL;
}

static const char *set_service_name(struct l402_config *c, const char *v, int64_t n, bool b)
{
	return set_text(&c->service_name, "l402-service-name", v, 100);
}

static const char *set_service_desc(struct l402_config *c, const char *v, int64_t n, bool b)
{
	return set_text(&c->service_description, "l402-service-description", v, 1000);
}

static const char *set_contact(struct l402_config *c, const char *v, int64_t n, bool b)
{
	return set_text(&c->contact, "l402-contact", v, 200);
}

static const char *set_public_url(struct l402_config *c, const char *v, int64_t n, bool b)
{
	size_t len = strlen(v);
	if ((strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) || len > 400
	    || has_ctl(v) || strpbrk(v, " \"<>'\\"))
		return fail("l402-public-url", "'%.80s' must be an http:// or https:// URL", v);
	free(c->public_url);
	c->public_url = strdup(v);
	/* Without a trailing slash, so paths append cleanly. */
	len = strlen(c->public_url);
	while (len > 8 && c->public_url[len - 1] == '/')
		c->public_url[--len] = '\0';
	return NULL;
}

static const char *set_catalog(struct l402_config *c, const char *v, int64_t n, bool b)
{
	return set_own_path(&c->catalog, "l402-catalog", v, " ?#\"<>", "/");
}

static const char *set_index_token(struct l402_config *c, const char *v, int64_t n, bool b)
{
	for (const char *p = v; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
		      || *p == '-' || *p == '_' || *p == '.' || *p == '='))
			return fail("l402-402index-token", "must be letters, digits, - _ . =", NULL);
	if (strlen(v) > 200)
		return fail("l402-402index-token", "too long", NULL);
	free(c->index_token);
	c->index_token = *v ? strdup(v) : NULL;
	return NULL;
}

static const char *set_proxy_key(struct l402_config *c, const char *v, int64_t n, bool b)
{
	size_t len = strlen(v);
	if (len < 16 || len > 128 || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					      "0123456789-_") != len)
		return fail("l402-proxy-key", "use 16 to 128 of A-Z a-z 0-9 - _", NULL);
	free(c->proxy_key);
	c->proxy_key = strdup(v);
	return NULL;
}

static const char *set_metrics_bind(struct l402_config *c, const char *v, int64_t n, bool b)
{
	char host[256], port[16];
	if (!parse_hostport(v, host, sizeof(host), port, sizeof(port)))
		return fail("l402-metrics-bind", "'%s' is not HOST:PORT", v);
	free(c->metrics_bind);
	c->metrics_bind = strdup(v);
	return NULL;
}

static const char *set_path(char **dst, const char *name, const char *v)
{
	if (!*v || strlen(v) > 1000 || has_ctl(v))
		return fail(name, "'%.80s' is not a file path", v);
	free(*dst);
	*dst = strdup(v);
	return NULL;
}

static const char *set_tls_cert(struct l402_config *c, const char *v, int64_t n, bool b)
{
	return set_path(&c->tls_cert, "l402-tls-cert", v);
}

static const char *set_tls_key(struct l402_config *c, const char *v, int64_t n, bool b)
{
	return set_path(&c->tls_key, "l402-tls-key", v);
}

static const char *set_challenge_rate(struct l402_config *c, const char *v, int64_t n, bool b)
{
	uint32_t cnt, per;
	if (!rate_parse(v, &cnt, &per, NULL))
		return fail("l402-challenge-rate", "'%s' is not N/SECONDS", v);
	c->challenge_n = cnt;
	c->challenge_per = per;
	return NULL;
}

/* One value of an option, typed as the manifest declared it. setconfig
 * may send numbers and bools as strings, so accept both. */
static const char *apply_value(const struct opt_def *o, const struct json_doc *doc,
			       int tok, struct l402_config *cfg)
{
	char sval[4200];
	int64_t n = 0;
	bool b = false;

	sval[0] = '\0';
	if (json_is_string(doc, tok)) {
		if (!json_get_string(doc, tok, sval, sizeof(sval), NULL))
			return fail(o->name, "value is too long or badly escaped", NULL);
	} else {
		size_t len;
		const char *raw = json_raw(doc, tok, &len);
		if (len >= sizeof(sval) || json_is_object(doc, tok) || json_is_array(doc, tok))
			return fail(o->name, "value of the wrong type", NULL);
		memcpy(sval, raw, len);
		sval[len] = '\0';
	}
	switch (o->type) {
	case OPT_STRING:
		if (!json_is_string(doc, tok))
			return fail(o->name, "'%s' should be a string", sval);
		break;
	case OPT_INT: {
		char *end;
		long long x = strtoll(sval, &end, 10);
		if (!*sval || *end)
			return fail(o->name, "'%s' is not an integer", sval);
		if (x < o->min || x > o->max) {
			char range[64];
			snprintf(range, sizeof(range), "%lld and %lld", (long long)o->min,
				 (long long)o->max);
			return fail(o->name, "must be between %s", range);
		}
		n = x;
		break;
	}
	case OPT_BOOL:
	case OPT_FLAG:
		if (strcmp(sval, "true") == 0)
			b = true;
		else if (strcmp(sval, "false") == 0)
			b = false;
		else
			return fail(o->name, "'%s' is not true or false", sval);
		break;
	}
	if (o->apply)
		return o->apply(cfg, sval, n, b);
	if (o->type == OPT_INT)
		*(int64_t *)((char *)cfg + o->field) = n;
	else
		*(bool *)((char *)cfg + o->field) = b;
	return NULL;
}

const char *options_init(const struct json_doc *doc, int options,
			 struct l402_config *cfg)
{
	const char *err;
	memset(cfg, 0, sizeof(*cfg));
	cfg->invoice_expiry = 600;
	cfg->cors_origin = strdup("*");
	cfg->max_unpaid = 10000;
	cfg->challenge_n = 30;
	cfg->challenge_per = 60;
	cfg->catalog = strdup("/");
	cfg->max_conns_per_client = 64;
	cfg->header_timeout = 10;
	cfg->max_client_sessions = 64;
	if (!json_is_object(doc, options))
		return "init: options is not an object";
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		const struct opt_def *o = &opts[i];
		int t = json_get(doc, options, o->name);
		if (t < 0)
			continue; /* unset flags and multi options are absent */
		if (o->multi) {
			if (!json_is_array(doc, t))
				return fail(o->name, "expected an array of values", NULL);
			int k, e;
			json_for_each_arr(doc, t, k, e)
				if ((err = apply_value(o, doc, e, cfg)))
					return err;
		} else if ((err = apply_value(o, doc, t, cfg))) {
			return err;
		}
	}
	if (cfg->nbind == 0)
		cfg->bind[cfg->nbind++] = strdup(DEFAULT_BIND);
	return NULL;
}

const char *options_set(const char *name, const struct json_doc *doc, int val,
			struct l402_config *cfg)
{
	const struct opt_def *o = find_opt(name);
	if (!o)
		return fail(name, "not an option of this plugin", NULL);
	if (!o->dynamic)
		return fail(name, "not a dynamic option", NULL);
	if (val < 0)
		return fail(name, "missing value", NULL);
	return apply_value(o, doc, val, cfg);
}

const char *options_check(const char *name, const struct json_doc *doc, int val)
{
	/* The same checks on a scratch configuration, dropped after. */
	struct l402_config scratch;
	memset(&scratch, 0, sizeof(scratch));
	const char *err = options_set(name, doc, val, &scratch);
	options_free(&scratch);
	return err;
}

void options_free(struct l402_config *cfg)
{
	for (size_t i = 0; i < cfg->nbind; i++)
		free(cfg->bind[i]);
	for (size_t i = 0; i < cfg->nroute; i++)
		free(cfg->route[i]);
	free(cfg->cors_origin);
	free(cfg->service_name);
	free(cfg->service_description);
	free(cfg->contact);
	free(cfg->public_url);
	free(cfg->catalog);
	free(cfg->index_token);
	free(cfg->metrics_bind);
	free(cfg->auth_path);
	free(cfg->proxy_key);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	memset(cfg, 0, sizeof(*cfg));
}
