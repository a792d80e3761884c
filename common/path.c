#include "path.h"

#include "encoding.h"

#include <string.h>

/* In enum path_err's order. */
static const char *const errors[] = {
	"ok", "the path must start with '/'", "the request target is too long",
	"a '#' in the request target", "a '%' not followed by two hex digits",
	"an encoded NUL, '/', '\\' or '%' in the path", "a control character in the path",
	"a backslash in the path", "a ';' in the path", "the path is not UTF-8",
	"an empty segment ('//') in the path",
	"a '.' or '..' segment (in some spelling) in the path",
	"a segment ending in '.' or ' ' in the path",
};
_Static_assert(sizeof(errors) / sizeof(errors[0]) == PATH_SEGMENT_END + 1,
	       "one message for each enum path_err");

const char *path_strerror(enum path_err e)
{
	return (unsigned)e < sizeof(errors) / sizeof(errors[0]) ? errors[e] : "bad path";
}

/* Whether the segment is dots only, in ASCII or one of their look-alikes
 * (U+2024 ONE DOT LEADER, U+FE52 SMALL FULL STOP, U+FF0E FULLWIDTH FULL
 * STOP), which some servers fold to '.'. */
static bool dots_only(const unsigned char *s, size_t n)
{
	static const char *const alike[] = { "\xE2\x80\xA4", "\xEF\xB9\x92", "\xEF\xBC\x8E" };
	size_t i = 0;
	while (i < n) {
		if (s[i] == '.') {
			i++;
			continue;
		}
		bool found = false;
		for (size_t k = 0; k < sizeof(alike) / sizeof(alike[0]) && !found; k++)
			if (n - i >= 3 && memcmp(s + i, alike[k], 3) == 0)
				found = true;
		if (!found)
			return false;
		i += 3;
	}
	return n > 0;
}

/* The checks of one decoded segment. */
static enum path_err segment_ok(const unsigned char *s, size_t n)
{
	if (dots_only(s, n))
		return PATH_DOT_SEGMENT;
	if (n && (s[n - 1] == '.' || s[n - 1] == ' '))
		return PATH_SEGMENT_END;
	return PATH_OK;
}

enum path_err path_canonical(const char *target, char *out, size_t outlen, const char **query)
{
	size_t n = strcspn(target, "?"), o = 0, seg = 0;
	if (query)
		*query = target[n] == '?' ? target + n + 1 : NULL;
	if (target[0] != '/')
		return PATH_NOT_ABSOLUTE;
	if (n > PATH_MAX_TARGET || n + 1 > outlen)
		return PATH_TOO_LONG;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)target[i];
		if (c == '%') {
			int hi = i + 2 < n ? hex_digit(target[i + 1]) : -1;
			int lo = hi >= 0 ? hex_digit(target[i + 2]) : -1;
			if (hi < 0 || lo < 0)
				return PATH_BAD_ESCAPE;
			c = (unsigned char)(hi * 16 + lo);
			i += 2;
			if (c == 0 || c == '/' || c == '\\' || c == '%')
				return PATH_ENCODED_SEPARATOR;
		} else if (c == '#') {
			return PATH_FRAGMENT;
		}
		if (c < 0x20 || c == 0x7f)
			return PATH_CONTROL;
		if (c == '\\')
			return PATH_BACKSLASH;
		if (c == ';')
			return PATH_PARAMETER;
		if (c == '/') {
			if (o > 0 && o == seg)
				return PATH_EMPTY_SEGMENT; /* "//" */
			enum path_err e = segment_ok((const unsigned char *)out + seg, o - seg);
			if (e != PATH_OK)
				return e;
			out[o++] = '/';
			seg = o;
			continue;
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	enum path_err e = segment_ok((const unsigned char *)out + seg, o - seg);
	if (e != PATH_OK)
		return e;
	for (size_t i = 0; i < o;) {
		size_t len = utf8_seq_len((const unsigned char *)out + i, o - i);
		if (!len)
			return PATH_NOT_UTF8;
		i += len;
	}
	return PATH_OK;
}
