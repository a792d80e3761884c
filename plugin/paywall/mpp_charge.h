/* The Payment scheme's lightning charge, the node's side: the offer each
 * 402 carries beside L402's (its own invoice: a charge buys one request,
 * a token what its caveats say, so they cannot share a preimage), and
 * credentials checked against the binding, then against lightningd (paid,
 * for the amount offered) and consumed once: the consumption is written
 * to the datastore with must-create before the request is served, so a
 * replay, concurrent or after a restart, gets a fresh 402. Records are
 * deleted once their challenge has expired. */
#ifndef L402_MPP_CHARGE_H
#define L402_MPP_CHARGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mpp.h"
#include "strbuf.h"

struct req;

/* What a request carried in the Payment scheme, once read. */
struct mpp_state {
	bool used;		/* the credential was Payment's */
	enum mpp_err err;
	enum mpp_action action;	/* MPP_CHARGE, or a session's action */
	char challenge_id[48];
	uint8_t hash[32];	/* the invoice paid: a charge's, or a deposit's */
	uint64_t amount_sat;	/* a charge's amount, or a deposit's */
	int64_t expires;
	uint8_t session_id[32];	/* bearer, topUp, close; open: hash */
	char *return_invoice;	/* open: the client's, freed with the request */
	char receipt[512];	/* Payment-Receipt of a served request */
};

/* The charge's price for a route price: whole sats, rounded up. */
uint64_t mpp_charge_sats(uint64_t price_msat);
/* The WWW-Authenticate value offering a charge for r, for the invoice
 * lightningd made for it. */
bool mpp_charge_offer(const struct req *r, const char *bolt11, const uint8_t hash[32],
		      uint64_t expires_at, struct strbuf *out);

/* The binding key, from the L402 secret; false before it is known. */
bool mpp_binding_key(uint8_t key[MPP_KEY_LEN]);
/* The realm every challenge names. */
void mpp_realm(char *out, size_t len);
/* The rest of a challenge whose request is set: realm, method, intent,
 * expiry, the route as opaque, the bound id; its WWW-Authenticate value. */
bool mpp_offer(const struct req *r, struct mpp_challenge *c, const char *intent,
	       uint64_t expires_at, struct strbuf *out);
/* What the invoice's prefix says, in the drafts' words ("" for testnet). */
const char *mpp_network_of(const char *bolt11);

/* A Payment credential's checks that need nothing but the secret (no
 * lock): parse, then for a charge binding, expiry, route, amount and
 * preimage, for a session mpp_session_check's. MPP_OK or why not. */
enum mpp_err mpp_check(struct req *r, const char *authorization, char *why, size_t whylen);
/* Holding the loop's lock: paid for what was offered, and consumed once.
 * PENDING: done runs later (never inside), with MPP_OK, or why not (why
 * NULL when lightningd could not be asked: a 503, nothing consumed).
 * IN_USE: another request is consuming this charge now. */
enum mpp_consume { MPP_CONSUME_PENDING, MPP_CONSUME_IN_USE, MPP_CONSUME_FAILED };
enum mpp_consume mpp_charge_consume(struct req *r, void (*done)(struct req *r, enum mpp_err e,
								  const char *why));

/* Deleting the records of expired charges: at start, then hourly. */
void mpp_charge_start(void);
void mpp_charge_free(void);

#endif
