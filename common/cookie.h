/* Cookies as a browser sends them (RFC 6265's Cookie header: name=value
 * pairs separated by "; "): the values of one name, and the header
 * without them. Nothing is allocated; everything is bounded by the
 * header's own length. */
#ifndef L402_COOKIE_H
#define L402_COOKIE_H

#include <stdbool.h>
#include <stddef.h>

/* The cookie the checkout page sets: "MACAROON:PREIMAGE_HEX", read like
 * an Authorization "L402 MACAROON:PREIMAGE_HEX". */
#define L402_COOKIE "L402"

/* The values of the cookies named name in header (at most max: the
 * first ones a browser sends are the most specific paths'), as pointers
 * into header and lengths, surrounding double quotes removed. Returns
 * how many were found. */
size_t cookie_values(const char *header, const char *name, const char **vals, size_t *lens,
		     size_t max);

/* header without the cookies named name, into out ("" when nothing is
 * left): the other pairs as sent, joined by "; " as browsers join them.
 * False when out is too small: never more than strlen(header) + 1 bytes
 * when the header's pairs are joined by "; " too (as browsers send them),
 * and at most one more per ';' otherwise. */
bool cookie_strip(const char *header, const char *name, char *out, size_t outlen);

#endif
