#include "jcs.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"

void jcs_add(struct jcs_object *o, const char *key, const char *str)
{
	if (str && o->n <= JCS_MAX_MEMBERS) {
		if (o->n < JCS_MAX_MEMBERS)
			o->m[o->n] = (struct jcs_member){ key, str, NULL, false };
		o->n++; /* past the end: jcs_write refuses it */
	}
}

void jcs_add_number(struct jcs_object *o, const char *key, const char *digits)
{
	jcs_add(o, key, digits);
	if (digits && o->n <= JCS_MAX_MEMBERS)
		o->m[o->n - 1].number = true;
}

/* Digits of a whole number below 2^53 (at most 16 digits: 9007199254740991
 * has 16, and anything longer is past it). */
static bool whole_number(const char *d)
{
	size_t n = strlen(d);
	if (n == 0 || n > 16 || (d[0] == '0' && n > 1) || strspn(d, "0123456789") != n)
		return false;
	return n < 16 || strcmp(d, "9007199254740991") <= 0;
}

void jcs_add_object(struct jcs_object *o, const char *key, const struct jcs_object *obj)
{
	if (obj && o->n <= JCS_MAX_MEMBERS) {
		if (o->n < JCS_MAX_MEMBERS)
			o->m[o->n] = (struct jcs_member){ key, NULL, obj, false };
		o->n++;
	}
}

/* The next code point of valid UTF-8 (no overlongs, no surrogates, at
 * most U+10FFFF), or -1. */
static int32_t next_cp(const unsigned char **p)
{
	const unsigned char *s = *p;
	uint32_t c = s[0];
	int n;
	uint32_t min;
	if (c < 0x80) {
		*p = s + 1;
		return (int32_t)c;
	}
	if ((c & 0xE0) == 0xC0) {
		n = 1, c &= 0x1F, min = 0x80;
	} else if ((c & 0xF0) == 0xE0) {
		n = 2, c &= 0x0F, min = 0x800;
	} else if ((c & 0xF8) == 0xF0) {
		n = 3, c &= 0x07, min = 0x10000;
	} else {
		return -1;
	}
	for (int i = 1; i <= n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return -1; /* also stops at the NUL */
		c = (c << 6) | (s[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return -1;
	*p = s + n + 1;
	return (int32_t)c;
}

static bool valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p)
		if (next_cp(&p) < 0)
			return false;
	return true;
}

/* Code point c as UTF-16 code units, for ordering. */
static int utf16(int32_t c, uint16_t u[2])
{
	if (c < 0x10000) {
		u[0] = (uint16_t)c;
		return 1;
	}
	c -= 0x10000;
	u[0] = (uint16_t)(0xD800 + (c >> 10));
	u[1] = (uint16_t)(0xDC00 + (c & 0x3FF));
	return 2;
}

/* Keys compared as RFC 8785 says: by UTF-16 code units (which differs
 * from byte order only above U+FFFF against U+E000..U+FFFF). Both are
 * valid UTF-8 here. */
static int key_cmp(const char *a, const char *b)
{
	const unsigned char *p = (const unsigned char *)a, *q = (const unsigned char *)b;
	uint16_t ua[2], ub[2];
	int na = 0, nb = 0, ia = 0, ib = 0;
	for (;;) {
		if (ia == na) {
			if (!*p)
				return (*q || ib < nb) ? -1 : 0;
			na = utf16(next_cp(&p), ua);
			ia = 0;
		}
		if (ib == nb) {
			if (!*q)
				return 1;
			nb = utf16(next_cp(&q), ub);
			ib = 0;
		}
		if (ua[ia] != ub[ib])
			return ua[ia] < ub[ib] ? -1 : 1;
		ia++, ib++;
	}
}

static bool write_string(struct strbuf *out, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	strbuf_putc(out, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		unsigned char c = *p;
		switch (c) {
		case '"': strbuf_puts(out, "\\\""); break;
		case '\\': strbuf_puts(out, "\\\\"); break;
		case '\b': strbuf_puts(out, "\\b"); break;
		case '\f': strbuf_puts(out, "\\f"); break;
		case '\n': strbuf_puts(out, "\\n"); break;
		case '\r': strbuf_puts(out, "\\r"); break;
		case '\t': strbuf_puts(out, "\\t"); break;
		default:
			if (c < 0x20) {
				char e[7] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0 };
				strbuf_puts(out, e);
			} else {
				strbuf_putc(out, (char)c);
			}
		}
	}
	return strbuf_putc(out, '"');
}

static bool write_object(struct strbuf *out, const struct jcs_object *o, int depth)
{
	const struct jcs_member *order[JCS_MAX_MEMBERS];
	if (o->n > JCS_MAX_MEMBERS || depth > 4)
		return false;
	/* Insertion sort: a handful of members. */
	for (size_t i = 0; i < o->n; i++) {
		const struct jcs_member *m = &o->m[i];
		if (!m->key || !valid_utf8(m->key) || (m->str && !valid_utf8(m->str))
		    || (!m->str && !m->obj) || (m->number && !whole_number(m->str)))
			return false;
		size_t j = i;
		while (j > 0 && key_cmp(order[j - 1]->key, m->key) > 0) {
			order[j] = order[j - 1];
			j--;
		}
		if (j > 0 && key_cmp(order[j - 1]->key, m->key) == 0)
			return false;
		order[j] = m;
	}
	strbuf_putc(out, '{');
	for (size_t i = 0; i < o->n; i++) {
		if (i)
			strbuf_putc(out, ',');
		write_string(out, order[i]->key);
		strbuf_putc(out, ':');
		if (order[i]->number)
			strbuf_puts(out, order[i]->str);
		else if (order[i]->str)
			write_string(out, order[i]->str);
		else if (!write_object(out, order[i]->obj, depth + 1))
			return false;
	}
	return strbuf_putc(out, '}') && !out->failed;
}

bool jcs_write(struct strbuf *out, const struct jcs_object *o)
{
	return write_object(out, o, 0);
}

bool jcs_b64url(struct strbuf *out, const struct jcs_object *o)
{
	struct strbuf js;
	strbuf_init(&js, 64 * 1024);
	bool ok = jcs_write(&js, o);
	if (ok) {
		size_t cap = js.len * 4 / 3 + 4;
		char *b = malloc(cap);
		ok = b && b64url_encode((const uint8_t *)js.data, js.len, b, cap) > 0
		     && strbuf_puts(out, b);
		free(b);
	}
	strbuf_free(&js);
	return ok;
}
