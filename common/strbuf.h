/* A growable, NUL-terminated byte buffer with a hard size cap, in the
 * spirit of redis' sds: appends never overflow, and a buffer that would
 * grow past its cap stops growing and remembers that it failed, so a
 * caller can build a whole message and check once at the end. */
#ifndef L402_STRBUF_H
#define L402_STRBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct strbuf {
	char *data;	/* NULL until the first append, then always NUL-terminated */
	size_t len;
	size_t alloc;
	size_t cap;	/* maximum len; appends beyond it set failed */
	bool failed;
};

#define STRBUF_DEFAULT_CAP (16u * 1024 * 1024)

void strbuf_init(struct strbuf *sb, size_t cap);
void strbuf_free(struct strbuf *sb);
void strbuf_reset(struct strbuf *sb);
bool strbuf_append(struct strbuf *sb, const void *p, size_t n);
bool strbuf_puts(struct strbuf *sb, const char *s);
bool strbuf_putc(struct strbuf *sb, char c);
bool strbuf_printf(struct strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
bool strbuf_vprintf(struct strbuf *sb, const char *fmt, va_list ap);
/* s as HTML text or an attribute's value: < > & " ' escaped. */
bool strbuf_puts_html(struct strbuf *sb, const char *s);
/* Remove the first n bytes (consumed input), keeping the rest. */
void strbuf_consume(struct strbuf *sb, size_t n);
/* Hand the buffer to the caller (who frees it) and reset sb. */
char *strbuf_steal(struct strbuf *sb);

#endif
