/* The unpaid invoices the paywall created and that can still be paid:
 * counted against l402-max-unpaid, and deleted from lightningd once they
 * expire, so that a flood of challenges cannot grow its database. */
#ifndef L402_UNPAID_H
#define L402_UNPAID_H

#include <stdbool.h>
#include <stdint.h>

bool unpaid_room(void);
void unpaid_add(const char *label, uint64_t expires_at, const uint8_t hash[32]);
void unpaid_paid(const uint8_t hash[32]);
unsigned unpaid_count(void);
uint64_t unpaid_deleted_count(void);

/* Start the sweeper: deletes our expired unpaid invoices, first from a
 * listinvoices at start (what an earlier run left), then as they expire. */
void unpaid_start(void);
void unpaid_free(void);

#endif
