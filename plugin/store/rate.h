/* Token buckets that keep one client or one token within a rate: per
 * route and token, per route and client address, and for new challenges.
 * A fixed, set-associative table: memory never grows. */
#ifndef L402_RATE_H
#define L402_RATE_H

#include <stddef.h>
#include <stdint.h>

/* Take one from the bucket (kind, route, subject: up to 64 bytes, say a
 * client's address group or a token id): n per `per` seconds, holding at
 * most burst. Returns 0 if allowed, else the seconds to wait. */
unsigned rate_take(char kind, uint64_t route_id, const void *subject, size_t len,
		   uint32_t n, uint32_t per, uint32_t burst);

#endif
