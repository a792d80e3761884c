/* Verdicts of credentials that fully verified, keyed by the SHA-256 of
 * the service, the header's name and its exact value: a byte-identical
 * credential need not be decoded and HMAC'd again, and no other bytes
 * find its verdict. Only the cryptographic part is kept (identifier and
 * grant); expiry is checked on every find, revocation, payment and uses
 * by the caller, and a new secret generation makes every entry stale.
 * Fixed size. */
#ifndef L402_VERDICT_CACHE_H
#define L402_VERDICT_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "l402.h"

struct verdict_key {
	uint8_t hash[32];
};

/* False when it cannot hash (the credential is then verified in full). */
bool verdict_key(const char *service, const char *header, const char *value,
		 struct verdict_key *k);
/* The verdict stored under k for this secret generation, if it has not
 * expired by now. */
bool verdict_cache_find(const struct verdict_key *k, uint64_t generation, int64_t now,
			struct l402_verdict *v);
void verdict_cache_put(const struct verdict_key *k, uint64_t generation,
		       const struct l402_verdict *v);

void verdict_cache_start(void);
void verdict_cache_stop(void);

#endif
