/* The unpaid invoices the paywall asked lightningd for: counted against
 * l402-max-unpaid from the moment a challenge asks (so concurrent
 * challenges cannot overshoot it), owned however late lightningd answers,
 * and deleted once they expire, so a flood of challenges cannot grow the
 * node's database. */
#ifndef L402_UNPAID_H
#define L402_UNPAID_H

#include <stdbool.h>
#include <stdint.h>

/* Take a place for an invoice about to be asked for; false when the cap
 * is reached. Every place taken is then given back (unpaid_release) or
 * filled (unpaid_add). */
bool unpaid_reserve(void);
void unpaid_release(void);
/* The invoice of a place taken: tracked until paid or expired. */
void unpaid_add(const char *label, uint64_t expires_at, const uint8_t hash[32]);
void unpaid_paid(const uint8_t hash[32]);
/* Whether the invoice of hash is tracked here, not paid yet. */
bool unpaid_pending(const uint8_t hash[32]);
/* Outstanding: tracked, unpaid and unexpired, plus places being asked for. */
unsigned unpaid_count(void);
uint64_t unpaid_deleted_count(void);

/* Start the sweeper: deletes our expired unpaid invoices, first those an
 * earlier run left (listinvoices, a page at a time), then as they expire. */
void unpaid_start(void);
void unpaid_free(void);

#endif
