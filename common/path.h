/* The one reading of a request's path. Every decision (which route, free
 * or paid) and every backend (the URL a proxy forwards to, the file a dir
 * serves) uses the path this returns, and a front proxy's question is read
 * by the same function, so the route decided and the path served are the
 * same path.
 *
 * Nothing is normalised: what common servers could read two ways is
 * refused (forward-auth cannot choose what the proxy forwards, and the
 * direct listener follows the same rules). Refused:
 *   - a target that does not start with '/', and a raw '#';
 *   - percent-encoded NUL, '/', '\' or '%' (a '%' left after decoding was
 *     encoded twice, and some servers decode again), a bad '%' escape;
 *   - control characters, a backslash, ';' (path parameters: Tomcat-style
 *     servers read "..;" as ".."), a space or a dot at the end of a segment
 *     (Windows-style servers drop them: "/report." is "/report");
 *   - bytes that are not UTF-8 (overlong forms such as %c0%ae included);
 *   - empty segments ("//": proxies merge them, upstreams may not);
 *   - dot segments in any spelling: ".", "..", their encodings, and
 *     segments of the dot look-alikes U+2024, U+FE52 and U+FF0E.
 * The query (after '?') is not part of the path and is left as it is. */
#ifndef L402_PATH_H
#define L402_PATH_H

#include <stdbool.h>
#include <stddef.h>

#define PATH_MAX_TARGET 8192

enum path_err {
	PATH_OK = 0,
	PATH_NOT_ABSOLUTE,
	PATH_TOO_LONG,
	PATH_FRAGMENT,
	PATH_BAD_ESCAPE,
	PATH_ENCODED_SEPARATOR,	/* %2f, %5c, %00, %25 */
	PATH_CONTROL,
	PATH_BACKSLASH,
	PATH_PARAMETER,		/* ';' */
	PATH_NOT_UTF8,
	PATH_EMPTY_SEGMENT,
	PATH_DOT_SEGMENT,
	PATH_SEGMENT_END,	/* a segment ending in '.' or ' ' */
};

/* A sentence for people. */
const char *path_strerror(enum path_err e);

/* The decoded path of target (a request line's target or a proxy's
 * X-Forwarded-Uri: "/a/b?q"), into out (outlen bytes, NUL-terminated; it
 * is never longer than the target), or why it is refused. *query, when not
 * NULL, points into target at what follows '?' (NULL without one). */
enum path_err path_canonical(const char *target, char *out, size_t outlen, const char **query);

#endif
