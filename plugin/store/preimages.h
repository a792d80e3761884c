/* The preimages of L402 token invoices paid lately, as lightningd
 * reported them (the invoice_payment notification, waitanyinvoice), so
 * that the checkout page can hand a browser that holds a token's
 * macaroon its credential without asking lightningd on every poll. A
 * fixed ring: the oldest is forgotten first; memory never grows. Holding
 * the loop's lock. */
#ifndef L402_PREIMAGES_H
#define L402_PREIMAGES_H

#include <stdbool.h>
#include <stdint.h>

#define PREIMAGES_KEPT 4096

/* A paid invoice's preimage (hash: its payment hash). */
void preimages_note(const uint8_t hash[32], const uint8_t preimage[32]);
/* The preimage of hash, if its payment was noted and not forgotten. */
bool preimages_find(const uint8_t hash[32], uint8_t preimage[32]);
void preimages_free(void);

#endif
