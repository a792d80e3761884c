/* What the plugin itself must remember per token, the only per-token
 * state there is (payment is proven by the preimage): revocations, and
 * what tokens with a use limit or a balance have spent (counted the same
 * way: a use is a spend of 1, a balance is spent in msat).
 *
 * Revocations are read at start and kept in memory. Use counts are read
 * from the datastore the first time a token is used after a start, and
 * persisted as a reservation ahead of the uses: before the use that
 * passes the reserved count, the next block is written and the request
 * waits for lightningd's acknowledgement. After a crash the reserved
 * count is taken as used. A block is a tenth of the token's uses (at
 * least 1, at most USE_BLOCK_MAX), so a crash costs a client less than a
 * tenth of a token, never serves a token more than its limit, and never
 * loses a paid token. Entries are evicted when idle past a cap (they are
 * read again when needed): memory does not grow with history. */
#ifndef L402_TOKENS_H
#define L402_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define USE_BLOCK_MAX 10

enum use_result { USE_OK, USE_EXHAUSTED, USE_WAIT, USE_FAIL };

/* Read the revocations (at start, after each RPC connection). */
void tokens_sync(void);
bool tokens_synced(void);

bool token_revoked(const uint8_t id[32]);
/* Returns false if it already was revoked. */
bool token_revoke(const uint8_t id[32]);
uint64_t tokens_revoked_count(void);
/* Entries kept (revoked tokens, and tokens whose uses are counted). */
size_t tokens_in_memory(void);

/* Count one use of a token limited to `limit`. USE_WAIT: done will be
 * called later with the outcome (never from inside this call). */
enum use_result token_use(const uint8_t id[32], uint64_t limit,
			  void (*done)(void *arg, enum use_result), void *arg);
/* Uses counted so far (the reservation after a restart) in *used:
 * USE_OK when known; USE_WAIT when it is being read from the datastore
 * (done gets USE_OK when it is known, or USE_FAIL, never from inside this
 * call: ask again then); USE_FAIL when it cannot be read now, or is not
 * known and done is NULL. */
enum use_result token_used(const uint8_t id[32], uint64_t *used,
			   void (*done)(void *arg, enum use_result), void *arg);
/* Reading only (nothing is created or read from the datastore): what a
 * token has spent, when it is known in memory. */
bool token_spent(const uint8_t id[32], uint64_t *used);
/* The size of the reservation written ahead of a token's uses. */
uint64_t token_use_block(uint64_t limit);

/* Balances are spent the same way, in msat: token_spend takes amount
 * out of limit, reserving block ahead (token_balance_block: a tenth of
 * the balance, at least one request's amount). token_use is a spend of 1
 * out of a use count. */
enum use_result token_spend(const uint8_t id[32], uint64_t limit, uint64_t amount, uint64_t block,
			    void (*done)(void *arg, enum use_result), void *arg);
uint64_t token_balance_block(uint64_t balance, uint64_t amount);
/* A metered request holds part of a balance until it settles (token_hold
 * when it starts, token_settle once when it ends). While any does, or a
 * spend waits for its reservation, the balance's spending is not final
 * (a session's close waits for them: token_pending). */
void token_hold(const uint8_t id[32]);
unsigned token_pending(const uint8_t id[32]);
/* A metered request is done: it held `held` and cost `cost`. The
 * difference goes back, or is taken too (never past limit, which for a
 * closed session is 0: what it had left was refunded), and persisted
 * without waiting. */
void token_settle(const uint8_t id[32], uint64_t limit, uint64_t held, uint64_t cost);
/* Stopping cleanly: write back every reservation to what was really used
 * (and keep doing so for reservations being written), so that a clean
 * stop loses nothing; the caller waits for lightningd's acknowledgements. */
void tokens_flush(void);
void tokens_free(void);

#endif
