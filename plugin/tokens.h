/* What the plugin remembers per token: revocations, and uses for tokens
 * with a use limit. Uses are counted in memory and persisted as a
 * reservation ahead of them: before the use that passes the reserved
 * count, the next block of USE_BLOCK is written to the datastore and the
 * request waits for lightningd's acknowledgement. After a crash the
 * reserved count is taken as used: a client may lose at most
 * USE_BLOCK - 1 uses of a token; a token never serves more than its limit
 * and a paid token is never lost (its payment lives in the paid state). */
#ifndef L402_TOKENS_H
#define L402_TOKENS_H

#include <stdbool.h>
#include <stdint.h>

#define USE_BLOCK 10

enum use_result { USE_OK, USE_EXHAUSTED, USE_WAIT, USE_FAIL };

void tokens_sync(void);
bool tokens_synced(void);

bool token_revoked(const uint8_t id[32]);
/* Returns false if it already was revoked. */
bool token_revoke(const uint8_t id[32]);
uint64_t tokens_revoked_count(void);

/* Count one use of a token limited to `limit`. USE_WAIT: done will be
 * called later with the outcome (never from inside this call). */
enum use_result token_use(const uint8_t id[32], uint64_t limit,
			  void (*done)(void *arg, enum use_result), void *arg);
/* Uses counted so far (the reservation after a restart). */
uint64_t token_used(const uint8_t id[32]);
void tokens_free(void);

#endif
