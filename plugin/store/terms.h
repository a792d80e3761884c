/* What a route's L402 invoice buys: the one reading of a route's terms
 * (the invoice's amount, the price of a request, uses, lifetime, a
 * balance and how it is drawn) that the 402, l402-routes and every
 * published document give, so that none can say another thing than the
 * invoice the 402 carries. The challenge asks lightningd for an invoice
 * of terms_of()'s invoice_msat. */
#ifndef L402_TERMS_H
#define L402_TERMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json_out.h"
#include "route_spec.h"

struct backend;

enum terms_model {
	TERMS_FREE,	/* price 0 */
	TERMS_FIXED,	/* the invoice is the price: a token of uses and/or a lifetime */
	TERMS_LIVE,	/* the same, priced per challenge by price=rpc:, at most the price */
	TERMS_BALANCE,	/* the invoice is a balance; each request draws a set amount */
	TERMS_METERED,	/* the invoice is a balance; each request draws what it cost */
};

struct terms {
	enum terms_model model;
	uint64_t invoice_msat;	/* what one L402 invoice is for (at most, when live) */
	uint64_t price_msat;	/* the route's PRICE (a live price's cap) */
	uint64_t balance_msat;	/* the balance the invoice buys, or 0 */
	uint64_t draw_msat;	/* a balance: drawn per request (held, when metered) */
	bool live;		/* price=rpc: a lightningd command prices each request */
	uint64_t uses;		/* requests the token serves, 0: unlimited */
	int64_t valid;		/* the token's lifetime in seconds, 0: no expiry */
};

/* The terms of s, served by backend b (NULL: not metered). */
void terms_of(const struct route_spec *s, const struct backend *b, struct terms *t);

/* "fixed", "live", "balance", "metered" (or "free"). */
const char *terms_model_name(enum terms_model m);

/* What one payment buys, for people and agents: "5 requests within 1
 * hour", "unlimited requests, no expiry", "a 5,000-sat balance, 1 sat per
 * request drawn from it, no expiry", "free". */
void terms_buys(const struct terms *t, char *out, size_t len);

/* An amount for people: "5,000", "1.500" (msat that are not whole sats). */
void terms_sat(uint64_t msat, char *out, size_t len);

/* The members every JSON reading of a route carries beside its price:
 * "invoice_msat", "invoice_sat" (whole sats, rounded up, like the 402's
 * price_sat) and "buys" (a balance's amount is the caller's to add: the
 * 402 reads it from the token it mints). */
void terms_add_json(struct json_out *j, const struct terms *t);

#endif
