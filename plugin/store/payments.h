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

/* A paid invoice of the paywall, as counted (once per pay index; a
 * payment made while the plugin was down is told once it caught up). */
struct sale {
	const char *tag;		/* the route's tag (label.h) */
	const uint8_t *token_id;	/* 32 bytes: the token's, or the charge's or session's id */
	const uint8_t *payment_hash;	/* 32 bytes */
	uint64_t msat;			/* amount received */
	uint64_t paid_at;		/* lightningd's paid_at, UNIX seconds */
	uint64_t pay_index;
	bool charge, session;		/* a Payment charge; a session's deposit or top-up */
};
/* Who is told of each sale (plugin.c). */
void payments_set_observer(void (*sold)(const struct sale *s));

struct payments_status {
	bool caught_up;		/* every payment up to pay_index is counted */
	uint64_t counted;	/* payments to our invoices counted since start */
	uint64_t pay_index;	/* lightningd's, caught up to */
};
void payments_status(struct payments_status *st);

#endif
