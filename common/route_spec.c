#include "route_spec.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_WORDS 32

void format_sat(char *out, size_t len, uint64_t msat)
{
	if (msat % 1000 == 0)
		snprintf(out, len, "%llu", (unsigned long long)(msat / 1000));
	else
		snprintf(out, len, "%llu.%03llu", (unsigned long long)(msat / 1000),
			 (unsigned long long)(msat % 1000));
}

/* Split into words; quotes group and are removed. Words are written
 * NUL-separated into buf. */
static int split_words(const char *s, char *buf, size_t buflen, char **words,
		       char *why, size_t whylen)
{
	int n = 0;
	size_t o = 0;
	while (*s) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			break;
		if (n == MAX_WORDS) {
			snprintf(why, whylen, "more than %d words", MAX_WORDS);
			return -1;
		}
		words[n++] = buf + o;
		bool quoted = false;
		while (*s && (quoted || (*s != ' ' && *s != '\t'))) {
			char c = *s++;
			if (c == '"') {
				quoted = !quoted;
				continue;
			}
			if (quoted && c == '\\' && *s)
				c = *s++;
			if (o + 1 >= buflen) {
				snprintf(why, whylen, "route too long");
				return -1;
			}
			buf[o++] = c;
		}
		if (quoted) {
			snprintf(why, whylen, "unbalanced quotes");
			return -1;
		}
		buf[o++] = '\0';
	}
	return n;
}

static bool parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t x = 0;
	if (len == 0 || len > 19)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	*out = x;
	return true;
}

bool rate_parse(const char *v, uint32_t *n, uint32_t *per, uint32_t *burst)
{
	const char *slash = strchr(v, '/');
	const char *comma = strchr(v, ',');
	uint64_t a, b, c = 0;
	if (!slash || (comma && comma < slash))
		return false;
	size_t blen = comma ? (size_t)(comma - slash - 1) : strlen(slash + 1);
	if (!parse_u64(v, (size_t)(slash - v), &a) || !parse_u64(slash + 1, blen, &b))
		return false;
	if (comma) {
		if (!burst || strncmp(comma + 1, "burst=", 6) != 0
		    || !parse_u64(comma + 7, strlen(comma + 7), &c) || c == 0 || c > 1000000)
			return false;
		*burst = (uint32_t)c;
	}
	if (a == 0 || a > 1000000 || b == 0 || b > 86400 * 366)
		return false;
	*n = (uint32_t)a;
	*per = (uint32_t)b;
	return true;
}

static bool parse_price(const char *s, uint64_t *msat)
{
	size_t n = strlen(s);
	uint64_t v;
	if (strcmp(s, "0") == 0) {
		*msat = 0;
		return true;
	}
	if (n > 4 && strcmp(s + n - 4, "msat") == 0)
		return parse_u64(s, n - 4, msat);
	if (n > 3 && strcmp(s + n - 3, "sat") == 0) {
		/* 21 million BTC in sat fits easily; refuse absurd numbers. */
		if (!parse_u64(s, n - 3, &v) || v > 2100000000000000ULL)
			return false;
		*msat = v * 1000;
		return true;
	}
	return false;
}

void route_service_from_path(const char *path, char *out, size_t outlen)
{
	size_t o = 0;
	bool dash = false;
	if (outlen == 0)
		return;
	for (const char *p = path; *p && o + 1 < outlen && o < ROUTE_MAX_SERVICE; p++) {
		char c = *p;
		if (isalnum((unsigned char)c) || c == '_' || c == '.') {
			if (dash && o > 0)
				out[o++] = '-';
			dash = false;
			if (o + 1 < outlen)
				out[o++] = (char)tolower((unsigned char)c);
		} else {
			dash = true;
		}
	}
	out[o] = '\0';
	if (o == 0)
		snprintf(out, outlen, "root");
}

static bool valid_service(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > ROUTE_MAX_SERVICE)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

static bool valid_method(const char *m)
{
	static const char *const verbs[] = { "GET", "HEAD", "POST", "PUT", "DELETE",
					     "PATCH", "OPTIONS", "*" };
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(m, verbs[i]) == 0)
			return true;
	return false;
}

static bool fail(char *why, size_t whylen, const char *fmt, const char *arg)
{
	snprintf(why, whylen, fmt, arg);
	return false;
}

/* ---- the keys: one entry each, read by the parser, the formatter and
 * l402-route-update ---- */

/* Most keys are one field of route_spec of a known kind (a number, a
 * text), handled by that kind's functions with the entry's field, syntax
 * and refusal, so a new key of a known kind is one entry. The others have
 * functions of their own and no field. */
struct route_key_def {
	const char *name;
	bool (*set)(const struct route_key_def *k, struct route_spec *r, const char *v,
		    char *why, size_t whylen);
	/* What "0" means to l402-route-update (lift the limit), NULL where 0
	 * is just a value. */
	void (*clear)(const struct route_key_def *k, struct route_spec *r);
	/* Writes the value; false when the key is unset and not written. */
	bool (*format)(const struct route_key_def *k, const struct route_spec *r, char *out,
		       size_t len);
	size_t off, size;		/* the field, for keys of a kind */
	bool (*parse)(const char *v, uint64_t *out);	/* a number's syntax */
	uint64_t max;			/* a number's largest value */
	bool (*accepts)(const char *v);	/* a text's check; NULL: any text fits */
	const char *refusal;		/* printf format for a refused value */
};

#define KEY_SIZE(f) sizeof(((struct route_spec *)0)->f)
#define KEY_FIELD(f) offsetof(struct route_spec, f), KEY_SIZE(f)
/* set_number copies a uint64_t: a number key on a field of another size
 * does not compile (a negative array size). */
#define NUMBER_FIELD(f) \
	offsetof(struct route_spec, f), sizeof(char[KEY_SIZE(f) == sizeof(uint64_t) ? 8 : -1])

static void *key_field(const struct route_key_def *k, struct route_spec *r)
{
	return (char *)r + k->off;
}

static const void *key_value(const struct route_key_def *k, const struct route_spec *r)
{
	return (const char *)r + k->off;
}

static void clear_field(const struct route_key_def *k, struct route_spec *r)
{
	memset(key_field(k, r), 0, k->size);
}

static bool parse_count(const char *v, uint64_t *out)
{
	return parse_u64(v, strlen(v), out);
}

/* A number, 1 to max, as parse reads it (a count, or an amount in msat).
 * valid and timeout are int64_t, the others uint64_t: every value a
 * number key holds (0, or 1 to max) has the same bytes in both, so all
 * are copied as a uint64_t. A refused value leaves the field as it was. */
static bool set_number(const struct route_key_def *k, struct route_spec *r, const char *v,
		       char *why, size_t whylen)
{
	uint64_t u;
	if (!k->parse(v, &u) || u == 0 || u > k->max)
		return fail(why, whylen, k->refusal, v);
	memcpy(key_field(k, r), &u, sizeof(u));
	return true;
}

static bool fmt_number(const struct route_key_def *k, const struct route_spec *r, char *out,
		       size_t len)
{
	uint64_t u;
	memcpy(&u, key_value(k, r), sizeof(u));
	snprintf(out, len, "%llu", (unsigned long long)u);
	return u != 0;
}

/* An amount is written in sat when it is a whole number of them. */
static bool fmt_amount(const struct route_key_def *k, const struct route_spec *r, char *out,
		       size_t len)
{
	uint64_t msat;
	memcpy(&msat, key_value(k, r), sizeof(msat));
	if (msat % 1000 == 0)
		snprintf(out, len, "%llusat", (unsigned long long)(msat / 1000));
	else
		snprintf(out, len, "%llumsat", (unsigned long long)msat);
	return msat != 0;
}

/* A text: stored as given when accepts takes it and it fits its field. */
static bool set_text(const struct route_key_def *k, struct route_spec *r, const char *v,
		     char *why, size_t whylen)
{
	if ((k->accepts && !k->accepts(v)) || strlen(v) >= k->size)
		return fail(why, whylen, k->refusal, v);
	strcpy(key_field(k, r), v);
	return true;
}

/* A text is written when it is set. */
static bool fmt_text(const struct route_key_def *k, const struct route_spec *r, char *out,
		     size_t len)
{
	const char *field = key_value(k, r);
	snprintf(out, len, "%s", field);
	return field[0] != '\0';
}

static bool nonempty(const char *v)
{
	return v[0] != '\0';
}

static bool absolute_path(const char *v)
{
	return v[0] == '/';
}

static bool set_rate(const struct route_key_def *k, struct route_spec *r, const char *v,
		     char *why, size_t whylen)
{
	uint32_t burst = 0;
	if (!rate_parse(v, &r->rate_n, &r->rate_per, &burst))
		return fail(why, whylen, "rate=%.60s must be N/SECONDS[,burst=B]", v);
	r->burst = burst ? burst : r->rate_n;
	return true;
}

static void clear_rate(const struct route_key_def *k, struct route_spec *r)
{
	r->rate_n = r->rate_per = r->burst = 0;
}

static bool fmt_rate(const struct route_key_def *k, const struct route_spec *r, char *out,
		     size_t len)
{
	snprintf(out, len, "%u/%u,burst=%u", r->rate_n, r->rate_per, r->burst);
	return r->rate_n != 0;
}

static bool set_free(const struct route_key_def *k, struct route_spec *r, const char *v,
		     char *why, size_t whylen)
{
	if (!rate_parse(v, &r->free_n, &r->free_per, NULL))
		return fail(why, whylen, "free=%.60s must be N/SECONDS", v);
	return true;
}

static void clear_free(const struct route_key_def *k, struct route_spec *r)
{
	r->free_n = r->free_per = 0;
}

static bool fmt_free(const struct route_key_def *k, const struct route_spec *r, char *out,
		     size_t len)
{
	snprintf(out, len, "%u/%u", r->free_n, r->free_per);
	return r->free_n != 0;
}

/* A switch: 1 or 0, written only when on. */
static bool set_flag(const struct route_key_def *k, struct route_spec *r, const char *v,
		     char *why, size_t whylen)
{
	if (strcmp(v, "1") != 0 && strcmp(v, "0") != 0)
		return fail(why, whylen, k->refusal, v);
	*(bool *)key_field(k, r) = v[0] == '1';
	return true;
}

static bool fmt_flag(const struct route_key_def *k, const struct route_spec *r, char *out,
		     size_t len)
{
	snprintf(out, len, "1");
	return *(const bool *)((const char *)r + k->off);
}

/* price=rpc:METHOD: a lightningd command name. */
static bool set_pricer(const struct route_key_def *k, struct route_spec *r, const char *v,
		       char *why, size_t whylen)
{
	const char *m = strncmp(v, "rpc:", 4) == 0 ? v + 4 : NULL;
	bool ok = m && *m && strlen(m) < sizeof(r->pricer);
	for (const char *p = m; ok && *p; p++)
		ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
		     || *p == '-' || *p == '_' || *p == '.';
	if (!ok)
		return fail(why, whylen, "price=%.60s must be rpc:METHOD (a lightningd command)", v);
	strcpy(r->pricer, m);
	return true;
}

static void clear_pricer(const struct route_key_def *k, struct route_spec *r)
{
	r->pricer[0] = '\0';
}

static bool fmt_pricer(const struct route_key_def *k, const struct route_spec *r, char *out,
		       size_t len)
{
	snprintf(out, len, "rpc:%s", r->pricer);
	return r->pricer[0] != '\0';
}

/* In the order the canonical text writes them. */
static const struct route_key_def route_keys[] = {
	{ "valid", set_number, clear_field, fmt_number, NUMBER_FIELD(valid), parse_count, 100ULL * 365 * 86400, NULL, "valid=%.40s must be a number of seconds" },
	{ "uses", set_number, clear_field, fmt_number, NUMBER_FIELD(uses), parse_count, 1000000000ULL, NULL, "uses=%.40s must be 1 to 1000000000" },
	{ "balance", set_number, clear_field, fmt_amount, NUMBER_FIELD(balance_msat), parse_price, UINT64_MAX, NULL, "balance=%.40s must be Nsat or Nmsat, more than 0" },
	{ "hold", set_number, clear_field, fmt_amount, NUMBER_FIELD(hold_msat), parse_price, UINT64_MAX, NULL, "hold=%.40s must be Nsat or Nmsat, more than 0" },
	{ "price", set_pricer, clear_pricer, fmt_pricer, 0, 0, NULL, 0, NULL, NULL },
	{ "rate", set_rate, clear_rate, fmt_rate, 0, 0, NULL, 0, NULL, NULL },
	{ "free", set_free, clear_free, fmt_free, 0, 0, NULL, 0, NULL, NULL },
	{ "timeout", set_number, NULL, fmt_number, NUMBER_FIELD(timeout), parse_count, 3600, NULL, "timeout=%.40s must be 1 to 3600 seconds" },
	{ "desc", set_text, NULL, fmt_text, KEY_FIELD(desc), NULL, 0, NULL, "desc=%.40s... is longer than 511 characters" },
	{ "unlisted", set_flag, NULL, fmt_flag, KEY_FIELD(unlisted), NULL, 0, NULL, "unlisted=%.10s must be 1 or 0" },
	{ "nocase", set_flag, NULL, fmt_flag, KEY_FIELD(nocase), NULL, 0, NULL, "nocase=%.10s must be 1 or 0" },
	{ "category", set_text, NULL, fmt_text, KEY_FIELD(category), NULL, 0, nonempty, "category=%.70s must be 1 to 63 characters" },
	{ "schema", set_text, NULL, fmt_text, KEY_FIELD(schema), NULL, 0, absolute_path, "schema=%.100s must be an absolute file path" },
	{ "service", set_text, NULL, fmt_text, KEY_FIELD(service), NULL, 0, valid_service, "service=%.80s: use 1-64 of A-Z a-z 0-9 - _ ." },
};

bool route_spec_set(struct route_spec *r, const char *key, const char *value, bool zero_clears,
		    char *why, size_t whylen)
{
	for (size_t i = 0; i < sizeof(route_keys) / sizeof(route_keys[0]); i++) {
		const struct route_key_def *k = &route_keys[i];
		if (strcmp(k->name, key) != 0)
			continue;
		if (zero_clears && k->clear && strcmp(value, "0") == 0) {
			k->clear(k, r);
			return true;
		}
		return k->set(k, r, value, why, whylen);
	}
	return fail(why, whylen, "unknown key '%.60s'", key);
}

bool route_spec_set_price(struct route_spec *r, const char *price, char *why, size_t whylen)
{
	if (!parse_price(price, &r->price_msat))
		return fail(why, whylen, "price '%.40s' must be Nsat, Nmsat or 0", price);
	return true;
}

bool route_spec_set_backend(struct route_spec *r, const char *b, char *why, size_t whylen)
{
	const char *colon = strchr(b, ':');
	size_t kl = colon ? (size_t)(colon - b) : 0;
	bool name_ok = kl > 0 && kl < sizeof(r->backend);
	for (size_t i = 0; name_ok && i < kl; i++)
		name_ok = b[i] >= 'a' && b[i] <= 'z';
	if (!name_ok)
		return fail(why, whylen, "backend '%.200s' must be NAME:TARGET (proxy:URL, dir:PATH, rpc:METHOD, text:BODY, upstream:NAME)", b);
	if (strlen(colon + 1) >= sizeof(r->target))
		return fail(why, whylen, "backend target too long%s", "");
	memcpy(r->backend, b, kl);
	r->backend[kl] = '\0';
	strcpy(r->target, colon + 1);
	return true;
}

bool route_spec_parse(const char *spec, struct route_spec *r, char *why,
		      size_t whylen)
{
	char buf[ROUTE_MAX_SPEC + 1];
	char *w[MAX_WORDS];
	int n;

	memset(r, 0, sizeof(*r));
	if (strlen(spec) > ROUTE_MAX_SPEC)
		return fail(why, whylen, "route longer than %s characters", "4096");
	for (const char *p = spec; *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t')
			return fail(why, whylen, "control character in route%s", "");
	n = split_words(spec, buf, sizeof(buf), w, why, whylen);
	if (n < 0)
		return false;
	if (n < 4)
		return fail(why, whylen, "expected METHOD PATH PRICE BACKEND [key=value ...], got '%.200s'", spec);

	for (char *c = w[0]; *c; c++)
		*c = (char)toupper((unsigned char)*c);
	if (strlen(w[0]) >= sizeof(r->method) || !valid_method(w[0]))
		return fail(why, whylen, "unknown method '%.20s'", w[0]);
	strcpy(r->method, w[0]);

	size_t pl = strlen(w[1]);
	if (w[1][0] != '/' || pl >= sizeof(r->path))
		return fail(why, whylen, "path '%.200s' must start with '/'", w[1]);
	for (size_t i = 0; i < pl; i++)
		if (w[1][i] == '?' || w[1][i] == '#' || (w[1][i] == '*' && i != pl - 1))
			return fail(why, whylen, "path '%.200s': '*' only as a final '/*', no '?' or '#'", w[1]);
	if (strstr(w[1], "/../") || strstr(w[1], "/./")
	    || (pl >= 3 && strcmp(w[1] + pl - 3, "/..") == 0))
		return fail(why, whylen, "path '%.200s' has dot segments", w[1]);
	if (w[1][pl - 1] == '*') {
		if (pl < 2 || w[1][pl - 2] != '/')
			return fail(why, whylen, "prefix path '%.200s' must end in '/*'", w[1]);
		r->prefix = true;
		memcpy(r->path, w[1], pl - 1);
		r->path[pl - 1] = '\0';
	} else {
		strcpy(r->path, w[1]);
	}

	if (!route_spec_set_price(r, w[2], why, whylen) || !route_spec_set_backend(r, w[3], why, whylen))
		return false;

	for (int i = 4; i < n; i++) {
		char *eq = strchr(w[i], '=');
		if (!eq)
			return fail(why, whylen, "'%.100s' is not key=value", w[i]);
		*eq = '\0';
		if (!route_spec_set(r, w[i], eq + 1, false, why, whylen))
			return false;
	}
	if (!r->service[0]) {
		route_service_from_path(r->path, r->service, sizeof(r->service));
		r->service_derived = true;
	}
	return route_spec_consistent(r, why, whylen);
}

bool route_spec_consistent(const struct route_spec *r, char *why, size_t whylen)
{
	if (r->balance_msat && r->uses)
		return fail(why, whylen, "balance= and uses= are two token models: choose one%s", "");
	if (r->balance_msat && r->price_msat == 0)
		return fail(why, whylen, "balance= needs a price for each request to draw%s", "");
	if (r->balance_msat && r->balance_msat < r->price_msat)
		return fail(why, whylen, "balance= must buy at least one request at the price%s", "");
	if (r->hold_msat && !r->balance_msat)
		return fail(why, whylen, "hold= applies to balance= routes%s", "");
	if (r->pricer[0] && r->price_msat == 0)
		return fail(why, whylen, "price=rpc: needs PRICE, the most its pricer may ask%s", "");
	return true;
}

/* Append word w, quoted if it needs to be. */
static bool put_word(char *out, size_t outlen, size_t *o, const char *w)
{
	bool quote = !*w || strpbrk(w, " \t\"\\") != NULL;
	size_t need = strlen(w) * 2 + 4;
	if (*o + need >= outlen)
		return false;
	if (*o)
		out[(*o)++] = ' ';
	if (quote)
		out[(*o)++] = '"';
	for (const char *p = w; *p; p++) {
		if (quote && (*p == '"' || *p == '\\'))
			out[(*o)++] = '\\';
		out[(*o)++] = *p;
	}
	if (quote)
		out[(*o)++] = '"';
	out[*o] = '\0';
	return true;
}

bool route_spec_format(const struct route_spec *r, char *out, size_t outlen)
{
	char w[2100];
	size_t o = 0;
	bool ok = true;
	if (outlen)
		out[0] = '\0';
	ok &= put_word(out, outlen, &o, r->method);
	snprintf(w, sizeof(w), "%s%s", r->path, r->prefix ? "*" : "");
	ok &= put_word(out, outlen, &o, w);
	if (r->price_msat == 0)
		snprintf(w, sizeof(w), "0");
	else if (r->price_msat % 1000 == 0)
		snprintf(w, sizeof(w), "%llusat", (unsigned long long)(r->price_msat / 1000));
	else
		snprintf(w, sizeof(w), "%llumsat", (unsigned long long)r->price_msat);
	ok &= put_word(out, outlen, &o, w);
	snprintf(w, sizeof(w), "%s:%s", r->backend, r->target);
	ok &= put_word(out, outlen, &o, w);
	for (size_t i = 0; i < sizeof(route_keys) / sizeof(route_keys[0]); i++) {
		size_t n = (size_t)snprintf(w, sizeof(w), "%s=", route_keys[i].name);
		if (route_keys[i].format(&route_keys[i], r, w + n, sizeof(w) - n))
			ok &= put_word(out, outlen, &o, w);
	}
	return ok;
}

bool route_matches_path(const struct route_spec *r, const char *p)
{
	size_t n = strlen(r->path), lp = strlen(p);
	/* nocase=1: for an upstream that folds ASCII case. */
	int (*same)(const char *, const char *, size_t) = r->nocase ? strncasecmp : strncmp;
	if (!r->prefix) {
		/* With or without one trailing slash: the many servers that fold
		 * it would serve the other spelling as this route's. */
		if (lp == n)
			return same(p, r->path, n) == 0;
		if (lp == n + 1)
			return p[n] == '/' && same(p, r->path, n) == 0;
		return lp + 1 == n && r->path[lp] == '/' && same(p, r->path, lp) == 0;
	}
	/* The prefix "/v1/price/" matches "/v1/price" and everything under it. */
	if (same(p, r->path, n) == 0)
		return true;
	return n > 1 && lp == n - 1 && same(p, r->path, n - 1) == 0;
}
