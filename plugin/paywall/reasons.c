#include "paywall/reasons.h"

static const char *const own_names[] = {
	[REASON_REVOKED - REASON_REVOKED] = "revoked",
	[REASON_USED_UP - REASON_REVOKED] = "used_up",
	[REASON_BALANCE_EXHAUSTED - REASON_REVOKED] = "balance_exhausted",
	[REASON_PRICE_ABOVE_TOKEN - REASON_REVOKED] = "price_above_token",
};

static const enum mpp_err mpp_of[] = {
	[REASON_MPP_MALFORMED - REASON_MPP_MALFORMED] = MPP_MALFORMED,
	[REASON_MPP_INVALID_CHALLENGE - REASON_MPP_MALFORMED] = MPP_INVALID_CHALLENGE,
	[REASON_MPP_EXPIRED - REASON_MPP_MALFORMED] = MPP_EXPIRED,
	[REASON_MPP_VERIFICATION_FAILED - REASON_MPP_MALFORMED] = MPP_VERIFICATION_FAILED,
	[REASON_MPP_INSUFFICIENT - REASON_MPP_MALFORMED] = MPP_INSUFFICIENT,
};

const char *reason_name(enum reason r)
{
	if (r <= REASON_L402_LAST)
		return l402_err_code((enum l402_err)r);
	if (r < REASON_MPP_MALFORMED)
		return own_names[r - REASON_REVOKED];
	if (r < NREASONS)
		return mpp_problem_type(mpp_of[r - REASON_MPP_MALFORMED]);
	return "other";
}

enum reason reason_of_l402(enum l402_err e)
{
	return (unsigned)e <= REASON_L402_LAST ? (enum reason)e : REASON_NO_CREDENTIALS;
}

enum reason reason_of_mpp(enum mpp_err e)
{
	for (unsigned i = 0; i < sizeof(mpp_of) / sizeof(mpp_of[0]); i++)
		if (mpp_of[i] == e)
			return (enum reason)(REASON_MPP_MALFORMED + i);
	return REASON_MPP_VERIFICATION_FAILED;
}

enum mpp_err reason_problem(enum reason r)
{
	if (r >= REASON_MPP_MALFORMED && r < NREASONS)
		return mpp_of[r - REASON_MPP_MALFORMED];
	if (r == REASON_NO_CREDENTIALS)
		return MPP_OK; /* payment-required */
	if (r == REASON_L402_EXPIRED)
		return MPP_EXPIRED;
	if (r == REASON_PRICE_ABOVE_TOKEN)
		return MPP_INSUFFICIENT;
	return MPP_VERIFICATION_FAILED;
}
