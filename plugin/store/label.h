/* The labels of the invoices the paywall creates:
 *   l402-TAG-VALIDUNTIL-USES-TOKENID		an L402 token's
 *   l402-TAG-0-1-TOKENID-charge		a Payment scheme charge's
 *   l402-TAG-0-0-TOKENID-session		a Payment session's deposit or top-up
 *   l402-TAG-VALIDUNTIL-0-TOKENID-bMSAT	a token buying a balance
 * so that an invoice alone tells which route it paid for (TAG, 8 hex of
 * the route key's hash) and what the token buys. lightningd keeps them;
 * a label format change would orphan every invoice already sold. */
#ifndef L402_LABEL_H
#define L402_LABEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define L402_LABEL_PREFIX "l402-"
/* The longest label label_make writes, with its NUL. */
#define LABEL_MAX 128

struct invoice_label {
	char tag[9];
	int64_t valid_until;	/* 0: no expiry */
	uint64_t uses;		/* 0: unlimited */
	uint8_t token_id[32];
	bool charge;		/* a Payment charge: one request, no macaroon */
	bool session;		/* a Payment session's deposit or top-up */
	uint64_t balance_msat;	/* a token buying a balance, else 0 */
};

bool label_make(char *out, size_t len, const struct invoice_label *l);
bool label_parse(const char *label, struct invoice_label *l);
/* Whether an invoice label is in the paywall's namespace. */
bool label_is_ours(const char *label);

#endif
