/* The ledger's credits: every paid invoice that buys something once (a
 * Payment charge, a session's opening deposit, a session's top-up) is
 * credited once, for one purpose, before the credit is used. A credit is
 * a must-create record ["l402","charge",HASH] = "EXPIRES PURPOSE [SESSION
 * [closed]]",
 * whatever the purpose (the group kept its first name: charges' records
 * from before carry "EXPIRES" alone and count as charges), kept until
 * EXPIRES, the expiry of the challenge that offered the invoice: no
 * credential naming the invoice is accepted past it, so none can find the
 * record gone. So an invoice credited as one session's deposit can never
 * also top up a session, open another, or pay a charge, concurrently,
 * after a restart, or after the session was closed and forgotten. */
#ifndef L402_LEDGER_H
#define L402_LEDGER_H

#include <stdbool.h>
#include <stdint.h>

enum credit_purpose { CREDIT_CHARGE, CREDIT_DEPOSIT, CREDIT_TOPUP };

/* A credit as recorded. */
struct credit {
	enum credit_purpose purpose;
	uint8_t session[32];	/* the session a deposit opened or a top-up filled */
	int64_t expires;
	bool closed;		/* a deposit's session was closed: it opens nothing */
};

enum credit_result {
	CREDIT_OK,		/* credited now, for this purpose */
	CREDIT_TAKEN,		/* credited before: *prior says for what */
	CREDIT_FAILED,		/* lightningd could not be asked: nothing credited */
};

typedef void (*credit_cb)(void *arg, enum credit_result res, const struct credit *prior);

/* Credit the invoice paid with hash, as c says. done runs later, never from
 * inside; with CREDIT_TAKEN, prior is the record found (its purpose
 * CREDIT_CHARGE when it cannot be read). False: the call could not be
 * made (done never runs). */
bool ledger_credit(const uint8_t hash[32], const struct credit *c, credit_cb done, void *arg);

/* A deposit's session is closing: its credit says so, so that nothing
 * (not even a lost session record) opens it again. Without waiting. */
void ledger_close(const uint8_t hash[32], const struct credit *c);

/* Deleting credits whose challenges expired: at start, then hourly. */
void ledger_start(void);
void ledger_free(void);

#endif
