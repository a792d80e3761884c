/* Following the node's payments. Nothing here decides whether a request
 * is paid: the preimage in a credential proves its invoice was paid
 * (lightningd reveals it only when the payment settles), so the paywall
 * needs no record per token. This follows lightningd's invoice payments
 * to count each route's sales and revenue and to stop counting a paid
 * invoice against l402-max-unpaid: from the invoice_payment
 * notification, and from waitanyinvoice (catching up from the pay index
 * persisted under ["l402","pay-index"], then a long poll), so a payment
 * made while the plugin was down is counted once it is back. */
#ifndef L402_PAYMENTS_H
#define L402_PAYMENTS_H

#include <stdbool.h>
#include <stdint.h>

/* Start (or restart after a reconnection) catching up, then follow. */
void payments_sync(void);
void payments_on_notification(const char *label, const char *preimage_hex);

struct payments_status {
	bool caught_up;		/* every payment up to pay_index is counted */
	uint64_t counted;	/* payments to our invoices counted since start */
	uint64_t pay_index;	/* lightningd's, caught up to */
};
void payments_status(struct payments_status *st);

#endif
