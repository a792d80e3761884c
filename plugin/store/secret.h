/* The L402 secret every token's root key derives from: made by
 * lightningd's makesecret from the node's seed, never stored. */
#ifndef L402_SECRET_H
#define L402_SECRET_H

#include <stdbool.h>
#include <stdint.h>

void secret_start(void);
bool secret_ready(void);
/* Copies the secret; false if not yet derived. Callable from any thread. */
bool secret_get(uint8_t out[32]);
/* The same, with its generation, read together. */
bool secret_get_generation(uint8_t out[32], uint64_t *gen);
/* Whether it is ready and its generation, without a lock. */
bool secret_ready_generation(uint64_t *gen);
uint64_t secret_generation(void);
void secret_wipe(void);
/* Bump the generation and derive the new secret: every token sold before
 * stops verifying. done gets NULL or the reason it failed. */
void secret_rotate(void (*done)(void *arg, const char *err), void *arg);

#endif
