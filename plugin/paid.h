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

/* Our invoices' labels start with this. */
#define L402_LABEL_PREFIX "l402-"

/* Our labels: l402-TAG-VALIDUNTIL-USES-TOKENID, so that an invoice alone
 * tells which route it paid for and what the token buys. */
bool label_make(char *out, size_t len, const char *tag, int64_t valid_until,
		uint64_t uses, const uint8_t token_id[32]);
bool label_parse(const char *label, char tag[9], int64_t *valid_until,
		 uint64_t *uses, uint8_t token_id[32]);

/* A comp token (l402-mint): its hash counts as paid, persisted. */
void paid_add_minted(const uint8_t hash[32]);

/* Start (or restart after a reconnection) loading and catching up. */
void paid_sync(void);
/* True once the persisted set is loaded: before that, a miss means
 * "don't know yet", not "unpaid". */
bool paid_loaded(void);
bool paid_lookup(const uint8_t hash[32], uint64_t *msat);
void paid_on_notification(const char *label, const char *preimage_hex, uint64_t msat);
uint64_t paid_count(void);
uint64_t paid_pay_index(void);
void paid_free(void);

#endif
