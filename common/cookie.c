#include "cookie.h"

#include <string.h>

/* One pair of a Cookie header: [name, name+nlen) = [val, val+vlen). */
struct pair {
	const char *start, *name, *val;
	size_t len, nlen, vlen;
};

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* The pair starting at *p (after a ';'), moving *p past it. */
static bool next_pair(const char **p, struct pair *out)
{
	const char *s = *p;
	while (*s == ';' || is_ows(*s))
		s++;
	if (!*s)
		return false;
	const char *end = strchr(s, ';');
	if (!end)
		end = s + strlen(s);
	const char *e = end;
	while (e > s && is_ows(e[-1]))
		e--;
	out->start = s;
	out->len = (size_t)(e - s);
	const char *eq = memchr(s, '=', out->len);
	out->name = s;
	out->nlen = eq ? (size_t)(eq - s) : 0;
	while (out->nlen && is_ows(s[out->nlen - 1]))
		out->nlen--;
	out->val = eq ? eq + 1 : e;
	while (out->val < e && is_ows(*out->val))
		out->val++;
	out->vlen = (size_t)(e - out->val);
	if (out->vlen >= 2 && out->val[0] == '"' && out->val[out->vlen - 1] == '"') {
		out->val++;
		out->vlen -= 2;
	}
	*p = end;
	return true;
}

static bool named(const struct pair *pr, const char *name)
{
	return pr->nlen == strlen(name) && memcmp(pr->name, name, pr->nlen) == 0;
}

size_t cookie_values(const char *header, const char *name, const char **vals, size_t *lens,
		     size_t max)
{
	struct pair pr;
	size_t n = 0;
	const char *p = header;
	while (header && n < max && next_pair(&p, &pr))
		if (named(&pr, name)) {
			vals[n] = pr.val;
			lens[n++] = pr.vlen;
		}
	return n;
}

bool cookie_strip(const char *header, const char *name, char *out, size_t outlen)
{
	struct pair pr;
	size_t n = 0;
	const char *p = header;
	if (outlen == 0)
		return false;
	out[0] = '\0';
	while (header && next_pair(&p, &pr)) {
		if (named(&pr, name))
			continue;
		size_t need = (n ? 2 : 0) + pr.len;
		if (n + need + 1 > outlen)
			return false;
		if (n) {
			memcpy(out + n, "; ", 2);
			n += 2;
		}
		memcpy(out + n, pr.start, pr.len);
		n += pr.len;
		out[n] = '\0';
	}
	return true;
}
