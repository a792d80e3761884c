#include "json_out.h"

#include "encoding.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void json_out_init(struct json_out *j, struct strbuf *sb)
{
	j->sb = sb;
	j->depth = 0;
	j->overflow = false;
	memset(j->need_comma, 0, sizeof(j->need_comma));
}

void json_out_object(struct json_out *j, struct strbuf *sb, size_t cap)
{
	strbuf_init(sb, cap);
	json_out_init(j, sb);
	json_object_start(j, NULL);
}

bool json_out_ok(const struct json_out *j)
{
	return !j->overflow && !j->sb->failed;
}

bool json_escape_string(struct strbuf *sb, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t run = 0;

	strbuf_putc(sb, '"');
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		const char *esc = NULL;
		char ubuf[8];
		size_t l;

		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		default:
			if (c < 0x20) {
				snprintf(ubuf, sizeof(ubuf), "\\u%04x", c);
				esc = ubuf;
			}
		}
		if (esc) {
			strbuf_append(sb, s + i - run, run);
			run = 0;
			strbuf_puts(sb, esc);
			i++;
			continue;
		}
		l = utf8_seq_len(s + i, n - i);
		if (l == 0) {
			strbuf_append(sb, s + i - run, run);
			run = 0;
			strbuf_puts(sb, "\\ufffd");
			i++;
			continue;
		}
		run += l;
		i += l;
	}
	strbuf_append(sb, s + n - run, run);
	return strbuf_putc(sb, '"');
}

static void json_prefix(struct json_out *j, const char *key)
{
	if (j->need_comma[j->depth])
		strbuf_putc(j->sb, ',');
	j->need_comma[j->depth] = true;
	if (key) {
		json_escape_string(j->sb, key, strlen(key));
		strbuf_putc(j->sb, ':');
	}
}

static void json_open(struct json_out *j, const char *key, char c)
{
	json_prefix(j, key);
	strbuf_putc(j->sb, c);
	if (j->depth >= JSON_OUT_MAX_DEPTH) {
		j->overflow = true;
		return;
	}
	j->depth++;
	j->need_comma[j->depth] = false;
}

static void json_close(struct json_out *j, char c)
{
	if (j->depth == 0) {
		j->overflow = true;
		return;
	}
	j->depth--;
	strbuf_putc(j->sb, c);
}

void json_object_start(struct json_out *j, const char *key)
{
	json_open(j, key, '{');
}

void json_object_end(struct json_out *j)
{
	json_close(j, '}');
}

void json_array_start(struct json_out *j, const char *key)
{
	json_open(j, key, '[');
}

void json_array_end(struct json_out *j)
{
	json_close(j, ']');
}

void json_add_stringn(struct json_out *j, const char *key, const char *val,
		      size_t n)
{
	json_prefix(j, key);
	json_escape_string(j->sb, val, n);
}

void json_add_string(struct json_out *j, const char *key, const char *val)
{
	if (!val) {
		json_add_null(j, key);
		return;
	}
	json_add_stringn(j, key, val, strlen(val));
}

void json_add_u64(struct json_out *j, const char *key, uint64_t v)
{
	json_prefix(j, key);
	strbuf_printf(j->sb, "%" PRIu64, v);
}

void json_add_s64(struct json_out *j, const char *key, int64_t v)
{
	json_prefix(j, key);
	strbuf_printf(j->sb, "%" PRId64, v);
}

void json_add_bool(struct json_out *j, const char *key, bool v)
{
	json_prefix(j, key);
	strbuf_puts(j->sb, v ? "true" : "false");
}

void json_add_null(struct json_out *j, const char *key)
{
	json_prefix(j, key);
	strbuf_puts(j->sb, "null");
}

void json_add_hex(struct json_out *j, const char *key, const uint8_t *p,
		  size_t n)
{
	static const char digits[] = "0123456789abcdef";
	json_prefix(j, key);
	strbuf_putc(j->sb, '"');
	for (size_t i = 0; i < n; i++) {
		char two[2] = { digits[p[i] >> 4], digits[p[i] & 15] };
		strbuf_append(j->sb, two, 2);
	}
	strbuf_putc(j->sb, '"');
}

void json_add_raw(struct json_out *j, const char *key, const char *json,
		  size_t n)
{
	json_prefix(j, key);
	strbuf_append(j->sb, json, n);
}

void json_add_strings(struct json_out *j, const char *key, const char *const *v, size_t n)
{
	json_array_start(j, key);
	for (size_t i = 0; i < n; i++)
		json_add_string(j, NULL, v[i]);
	json_array_end(j);
}
