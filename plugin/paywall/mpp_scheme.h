/* The Payment scheme's parts that its intents (charge, session) share:
 * what a request carried, the binding key, the realm, and the common
 * part of every offer. Charge and session depend on this, not on each
 * other. */
#ifndef L402_MPP_SCHEME_H
#define L402_MPP_SCHEME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mpp.h"
#include "strbuf.h"

/* What a request carried in the Payment scheme, once read. */
/* The largest body a charge is bound to (read before payment). */
#define MPP_DIGEST_MAX_BODY (64u * 1024)

struct mpp_state {
	bool used;		/* the credential was Payment's */
	enum mpp_err err;
	enum mpp_ln_problem ln;	/* finer than err, when a refusal says (else derived) */
	char digest[MPP_DIGEST_LEN];	/* a charge's challenge's, when it had one */
	enum mpp_action action;	/* MPP_CHARGE, or a session's action */
	char challenge_id[48];
	uint8_t hash[32];	/* the invoice paid: a charge's, or a deposit's */
	uint64_t amount_sat;	/* a charge's amount, or a deposit's */
	int64_t expires;
	uint8_t session_id[32];	/* bearer, topUp, close; open: hash */
	char *return_invoice;	/* open: the client's, freed with the request */
	char receipt[512];	/* Payment-Receipt of a served request */
};

/* An amount in whole sats, rounded up: what every Payment offer asks. */
uint64_t mpp_sats(uint64_t msat);
/* The binding key, from the L402 secret; false before it is known. */
bool mpp_binding_key(uint8_t key[MPP_KEY_LEN]);
/* The realm every challenge names. */
void mpp_realm(char *out, size_t len);
/* An intent's request, written into a challenge (base64url JCS). */
typedef bool (*mpp_request_encoder)(char *out, size_t outcap, const void *request);
/* A challenge of intent for request (written by encode), with the realm,
 * method, expiry, the route as opaque and the bound id: its
 * WWW-Authenticate value. */
bool mpp_offer(const char *route_tag, const char *intent, mpp_request_encoder encode,
	       const void *request, uint64_t expires_at, const char *digest,
	       struct strbuf *out);

/* Whether a credential's challenge is one we issued, unchanged, for the
 * route tagged route_tag: MPP_OK, or MPP_INVALID_CHALLENGE with why. A
 * challenge echoed without its opaque gets this route's. */
enum mpp_err mpp_challenge_ours(struct mpp_challenge *ch, const char *route_tag, char *why,
				size_t whylen);
/* What the invoice's prefix says, in the drafts' words ("" for testnet). */
const char *mpp_network_of(const char *bolt11);

#endif
