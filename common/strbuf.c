#include "strbuf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void strbuf_init(struct strbuf *sb, size_t cap)
{
	sb->data = NULL;
	sb->len = 0;
	sb->alloc = 0;
	sb->cap = cap ? cap : STRBUF_DEFAULT_CAP;
	sb->failed = false;
}

void strbuf_free(struct strbuf *sb)
{
	free(sb->data);
	strbuf_init(sb, sb->cap);
}

void strbuf_reset(struct strbuf *sb)
{
	sb->len = 0;
	sb->failed = false;
	if (sb->data)
		sb->data[0] = '\0';
}

static bool strbuf_reserve(struct strbuf *sb, size_t extra)
{
	if (sb->failed)
		return false;
	if (extra > sb->cap || sb->len > sb->cap - extra) {
		sb->failed = true;
		return false;
	}
	size_t need = sb->len + extra + 1;
	if (need <= sb->alloc)
		return true;
	size_t n = sb->alloc ? sb->alloc : 64;
	while (n < need)
		n = n > SIZE_MAX / 2 ? need : n * 2;
	char *p = realloc(sb->data, n);
	if (!p) {
		sb->failed = true;
		return false;
	}
	sb->data = p;
	sb->alloc = n;
	return true;
}

bool strbuf_append(struct strbuf *sb, const void *p, size_t n)
{
	if (!strbuf_reserve(sb, n))
		return false;
	if (n)
		memcpy(sb->data + sb->len, p, n);
	sb->len += n;
	sb->data[sb->len] = '\0';
	return true;
}

bool strbuf_puts(struct strbuf *sb, const char *s)
{
	return strbuf_append(sb, s, strlen(s));
}

bool strbuf_putc(struct strbuf *sb, char c)
{
	return strbuf_append(sb, &c, 1);
}

bool strbuf_vprintf(struct strbuf *sb, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || !strbuf_reserve(sb, (size_t)n))
		return false;
	vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
	sb->len += (size_t)n;
	return true;
}

bool strbuf_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	bool ok = strbuf_vprintf(sb, fmt, ap);
	va_end(ap);
	return ok;
}

void strbuf_consume(struct strbuf *sb, size_t n)
{
	if (n >= sb->len) {
		sb->len = 0;
	} else {
		memmove(sb->data, sb->data + n, sb->len - n);
		sb->len -= n;
	}
	if (sb->data)
		sb->data[sb->len] = '\0';
}

char *strbuf_steal(struct strbuf *sb)
{
	char *p = sb->data;
	if (!p)
		p = calloc(1, 1);
	strbuf_init(sb, sb->cap);
	return p;
}

bool strbuf_puts_html(struct strbuf *sb, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': strbuf_puts(sb, "&lt;"); break;
		case '>': strbuf_puts(sb, "&gt;"); break;
		case '&': strbuf_puts(sb, "&amp;"); break;
		case '"': strbuf_puts(sb, "&quot;"); break;
		case '\'': strbuf_puts(sb, "&#39;"); break;
		default: strbuf_putc(sb, *s);
		}
	}
	return !sb->failed;
}
