/* Why a request was not served as paid: one value each, with one table of
 * names (paywall answers, metrics labels and l402-verify read the same). */
#ifndef L402_REASONS_H
#define L402_REASONS_H

#include "l402.h"
#include "mpp.h"

enum reason {
	/* The L402 credential's errors, in enum l402_err's order: the
	 * first, REASON_OK, stands for L402_OK. */
	REASON_OK = 0,
	REASON_NO_CREDENTIALS = L402_ERR_NO_CREDENTIALS,
	REASON_L402_EXPIRED = L402_ERR_EXPIRED,
	REASON_L402_LAST = L402_ERR_TOO_LARGE,
	/* The node's own state. */
	REASON_REVOKED,
	REASON_USED_UP,
	REASON_BALANCE_EXHAUSTED,
	REASON_PRICE_ABOVE_TOKEN,	/* a live price above what the token was bought at */
	/* The Payment scheme's problem types. */
	REASON_MPP_MALFORMED,
	REASON_MPP_INVALID_CHALLENGE,
	REASON_MPP_EXPIRED,
	REASON_MPP_VERIFICATION_FAILED,
	REASON_MPP_INSUFFICIENT,
	NREASONS
};

/* The stable name ("no_credentials", "used_up", "invalid-challenge"). */
const char *reason_name(enum reason r);
enum reason reason_of_l402(enum l402_err e);
/* A Payment credential's refusal (MPP_OK and MPP_UNSUPPORTED, which are
 * not refusals of a payment, read as verification-failed). */
enum reason reason_of_mpp(enum mpp_err e);
/* The Payment scheme's problem type a 402 for this reason stands for. */
enum mpp_err reason_problem(enum reason r);

#endif
