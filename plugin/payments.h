/* The plugin's local knowledge of which invoices are paid, so that a paid
 * request is checked without an RPC round trip. Fed by the invoice_payment
 * notification and by waitanyinvoice (catch-up from the last pay index we
 * persisted, then a long poll), persisted in lightningd's datastore under
 * ["l402","paid",HASH] so a restart of either side loses nothing. */
#ifndef L402_PAID_H
#define L402_PAID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A comp token (l402-mint): its hash counts as paid, persisted. */
void paid_add_minted(const uint8_t hash[32]);

/* Start (or restart after a reconnection) loading and catching up. */
void paid_sync(void);
/* True once the persisted set is loaded: before that, a miss means
 * "don't know yet", not "unpaid". */
bool paid_loaded(void);
bool paid_lookup(const uint8_t hash[32], uint64_t *msat);
void paid_on_notification(const char *label, const char *preimage_hex, uint64_t msat);
struct paid_status {
	bool loaded;
	uint64_t count;		/* paid hashes known */
	uint64_t pay_index;	/* lightningd's, caught up to */
};
void paid_status(struct paid_status *st);
void paid_free(void);

#endif
