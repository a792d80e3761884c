#include "route_spec.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORDS 32

void format_sat(char *out, size_t len, uint64_t msat)
{
	if (msat % 1000 == 0)
		snprintf(out, len, "%llu", (unsigned long long)(msat / 1000));
	else
		snprintf(out, len, "%llu.%03llu", (unsigned long long)(msat / 1000),
			 (unsigned long long)(msat % 1000));
}

const char *backend_name(enum backend_kind k)
{
	switch (k) {
	case BACKEND_PROXY: return "proxy";
	case BACKEND_DIR: return "dir";
	case BACKEND_RPC: return "rpc";
	case BACKEND_TEXT: return "text";
	}
	return "?";
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

/* "N/SECONDS" and, when burst is wanted, an optional ",burst=B". */
static bool parse_rate(const char *v, uint32_t *n, uint32_t *per, uint32_t *burst)
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

	if (!parse_price(w[2], &r->price_msat))
		return fail(why, whylen, "price '%.40s' must be Nsat, Nmsat or 0", w[2]);

	const char *b = w[3], *colon = strchr(b, ':');
	if (!colon)
		return fail(why, whylen, "backend '%.200s' must be proxy:URL, dir:PATH, rpc:METHOD or text:BODY", b);
	size_t kl = (size_t)(colon - b);
	const char *target = colon + 1;
	if (kl == 5 && strncmp(b, "proxy", 5) == 0) {
		r->backend = BACKEND_PROXY;
		if (strncmp(target, "http://", 7) != 0 && strncmp(target, "https://", 8) != 0)
			return fail(why, whylen, "proxy URL '%.200s' must start with http:// or https://", target);
	} else if (kl == 3 && strncmp(b, "dir", 3) == 0) {
		r->backend = BACKEND_DIR;
		if (target[0] != '/')
			return fail(why, whylen, "dir '%.200s' must be an absolute path", target);
		if (!r->prefix)
			return fail(why, whylen, "a dir: backend needs a prefix path ending in '/*'%s", "");
	} else if (kl == 3 && strncmp(b, "rpc", 3) == 0) {
		r->backend = BACKEND_RPC;
		if (!*target)
			return fail(why, whylen, "rpc: needs a method name%s", "");
	} else if (kl == 4 && strncmp(b, "text", 4) == 0) {
		r->backend = BACKEND_TEXT;
	} else {
		return fail(why, whylen, "backend '%.200s' must be proxy:URL, dir:PATH, rpc:METHOD or text:BODY", b);
	}
	if (strlen(target) >= sizeof(r->target))
		return fail(why, whylen, "backend target too long%s", "");
	strcpy(r->target, target);

	for (int i = 4; i < n; i++) {
		char *eq = strchr(w[i], '=');
		if (!eq)
			return fail(why, whylen, "'%.100s' is not key=value", w[i]);
		*eq = '\0';
		const char *k = w[i], *v = eq + 1;
		uint64_t u;
		if (strcmp(k, "valid") == 0) {
			if (!parse_u64(v, strlen(v), &u) || u == 0 || u > 100ULL * 365 * 86400)
				return fail(why, whylen, "valid=%.40s must be a number of seconds", v);
			r->valid = (int64_t)u;
		} else if (strcmp(k, "uses") == 0) {
			if (!parse_u64(v, strlen(v), &u) || u == 0 || u > 1000000000ULL)
				return fail(why, whylen, "uses=%.40s must be 1 to 1000000000", v);
			r->uses = u;
		} else if (strcmp(k, "rate") == 0 || strcmp(k, "free") == 0) {
			uint32_t cnt, per, burst = 0;
			if (!parse_rate(v, &cnt, &per, strcmp(k, "rate") == 0 ? &burst : NULL))
				return fail(why, whylen, strcmp(k, "rate") == 0
					    ? "rate=%.60s must be N/SECONDS[,burst=B]"
					    : "free=%.60s must be N/SECONDS", v);
			if (strcmp(k, "rate") == 0) {
				r->rate_n = cnt;
				r->rate_per = per;
				r->burst = burst ? burst : cnt;
			} else {
				r->free_n = cnt;
				r->free_per = per;
			}
		} else if (strcmp(k, "unlisted") == 0) {
			if (strcmp(v, "1") != 0 && strcmp(v, "0") != 0)
				return fail(why, whylen, "unlisted=%.10s must be 1 or 0", v);
			r->unlisted = v[0] == '1';
		} else if (strcmp(k, "category") == 0) {
			if (!*v || strlen(v) >= sizeof(r->category))
				return fail(why, whylen, "category=%.70s must be 1 to 63 characters", v);
			strcpy(r->category, v);
		} else if (strcmp(k, "schema") == 0) {
			if (v[0] != '/' || strlen(v) >= sizeof(r->schema))
				return fail(why, whylen, "schema=%.100s must be an absolute file path", v);
			strcpy(r->schema, v);
		} else if (strcmp(k, "timeout") == 0) {
			if (!parse_u64(v, strlen(v), &u) || u == 0 || u > 3600)
				return fail(why, whylen, "timeout=%.40s must be 1 to 3600 seconds", v);
			r->timeout = (int64_t)u;
		} else if (strcmp(k, "desc") == 0) {
			if (strlen(v) >= sizeof(r->desc))
				return fail(why, whylen, "desc longer than %s characters", "511");
			strcpy(r->desc, v);
		} else if (strcmp(k, "service") == 0) {
			if (!valid_service(v))
				return fail(why, whylen, "service=%.80s: use 1-64 of A-Z a-z 0-9 - _ .", v);
			strcpy(r->service, v);
		} else {
			return fail(why, whylen, "unknown key '%.60s'", k);
		}
	}
	if (!r->service[0])
		route_service_from_path(r->path, r->service, sizeof(r->service));
	if (r->timeout && r->backend != BACKEND_PROXY)
		return fail(why, whylen, "timeout= only applies to proxy: routes%s", "");
	if (!r->timeout)
		r->timeout = 30;
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
	snprintf(w, sizeof(w), "%s:%s", backend_name(r->backend), r->target);
	ok &= put_word(out, outlen, &o, w);
	if (r->valid) {
		snprintf(w, sizeof(w), "valid=%lld", (long long)r->valid);
		ok &= put_word(out, outlen, &o, w);
	}
	if (r->uses) {
		snprintf(w, sizeof(w), "uses=%llu", (unsigned long long)r->uses);
		ok &= put_word(out, outlen, &o, w);
	}
	if (r->rate_n) {
		snprintf(w, sizeof(w), "rate=%u/%u,burst=%u", r->rate_n, r->rate_per, r->burst);
		ok &= put_word(out, outlen, &o, w);
	}
	if (r->free_n) {
		snprintf(w, sizeof(w), "free=%u/%u", r->free_n, r->free_per);
		ok &= put_word(out, outlen, &o, w);
	}
	if (r->backend == BACKEND_PROXY && r->timeout != 30) {
		snprintf(w, sizeof(w), "timeout=%lld", (long long)r->timeout);
		ok &= put_word(out, outlen, &o, w);
	}
	if (r->desc[0]) {
		snprintf(w, sizeof(w), "desc=%s", r->desc);
		ok &= put_word(out, outlen, &o, w);
	}
	if (r->unlisted)
		ok &= put_word(out, outlen, &o, "unlisted=1");
	if (r->category[0]) {
		snprintf(w, sizeof(w), "category=%s", r->category);
		ok &= put_word(out, outlen, &o, w);
	}
	if (r->schema[0]) {
		snprintf(w, sizeof(w), "schema=%s", r->schema);
		ok &= put_word(out, outlen, &o, w);
	}
	snprintf(w, sizeof(w), "service=%s", r->service);
	ok &= put_word(out, outlen, &o, w);
	return ok;
}

bool route_matches_path(const struct route_spec *r, const char *p)
{
	size_t n = strlen(r->path);
	if (!r->prefix)
		return strcmp(p, r->path) == 0;
	/* The prefix "/v1/price/" matches "/v1/price" and everything under it. */
	if (strncmp(p, r->path, n) == 0)
		return true;
	return n > 1 && strlen(p) == n - 1 && strncmp(p, r->path, n - 1) == 0;
}
