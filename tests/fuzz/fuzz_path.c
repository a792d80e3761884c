/* libFuzzer target: the one reading of a request's path (common/path.c),
 * against a model of what must hold for the route decided and the path
 * forwarded to agree. For every target it accepts:
 *   - the path has no empty, "." or ".." segment, no '%', ';', '\',
 *     control character or invalid UTF-8 (an encoded '#' or '?' is a
 *     character of a name, and written again encoded);
 *   - a path-cleaning upstream (Go's path.Clean: "//" merged, "." and ".."
 *     resolved) reads it as it is (but for a trailing slash);
 *   - written again as the proxy backend writes it, it reads back the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* path.Clean's reading of an absolute path, without a trailing slash. */
static void clean(const char *p, char *out)
{
	size_t o = 0;
	while (*p) {
		while (*p == '/')
			p++;
		size_t n = strcspn(p, "/");
		if (n == 0)
			break;
		if (n == 1 && p[0] == '.') {
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
		} else {
			out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
		}
		p += n;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
}

/* As backend_proxy.c writes a path into an upstream URL. */
static void escape(const char *p, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= 0x20 || c >= 0x7f || c == '%' || c == '?' || c == '#') {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *target = malloc(size + 1);
	char *path = malloc(size + 1), *cleaned = malloc(size + 2), *again = malloc(3 * size + 1);
	char *back = malloc(3 * size + 1);
	const char *query;
	if (!target || !path || !cleaned || !again || !back)
		goto out;
	memcpy(target, data, size);
	target[size] = '\0';
	if (path_canonical(target, path, size + 1, &query) != PATH_OK)
		goto out;
	size_t n = strlen(path);
	if (path[0] != '/' || strstr(path, "//") || strpbrk(path, "%;\\"))
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)path[i] < 0x20 || path[i] == 0x7f)
			abort();
	clean(path, cleaned);
	size_t m = n > 1 && path[n - 1] == '/' ? n - 1 : n;
	if (strlen(cleaned) != m || memcmp(cleaned, path, m) != 0)
		abort();
	escape(path, again);
	if (path_canonical(again, back, 3 * size + 1, NULL) != PATH_OK || strcmp(back, path) != 0)
		abort();
out:
	free(target);
	free(path);
	free(cleaned);
	free(again);
	free(back);
	return 0;
}
