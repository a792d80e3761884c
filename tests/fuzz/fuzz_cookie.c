/* libFuzzer target: what a browser's headers hand the checkout page
 * (common/cookie.c, common/accept.c). For every Cookie header:
 *   - each L402 value found lies inside the header and holds no ';';
 *   - the header stripped of L402 cookies has none left, and stripping
 *     it again changes nothing (the cookie never reaches an upstream),
 *     within the room cookie.h promises;
 * and an Accept header of any bytes is read without a fault. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "accept.h"
#include "cookie.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Joined by "; ": at most one more byte per ';' than the header. */
	size_t cap = 2 * size + 1;
	char *h = malloc(size + 1), *out = malloc(cap), *again = malloc(cap);
	const char *v[8];
	size_t l[8];
	if (!h || !out || !again)
		abort();
	memcpy(h, data, size);
	h[size] = '\0';
	size_t len = strlen(h);
	size_t n = cookie_values(h, L402_COOKIE, v, l, 8);
	for (size_t i = 0; i < n; i++) {
		if (v[i] < h || v[i] + l[i] > h + len || memchr(v[i], ';', l[i]))
			abort();
	}
	if (!cookie_strip(h, L402_COOKIE, out, cap))
		abort();
	if (cookie_values(out, L402_COOKIE, v, l, 8) != 0)
		abort();
	if (!cookie_strip(out, L402_COOKIE, again, cap) || strcmp(out, again) != 0)
		abort();
	(void)accept_prefers_html(h);
	free(h);
	free(out);
	free(again);
	return 0;
}
