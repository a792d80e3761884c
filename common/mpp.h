/* The Payment HTTP authentication scheme (draft-httpauth-payment, "MPP")
 * with the lightning method's charge intent (draft-lightning-charge):
 * challenges bound statelessly by HMAC-SHA256 over the seven slots the
 * core draft names, the JCS request they carry, the credential clients
 * send back, receipts, and Accept-Payment. Nothing here knows lightningd:
 * the plugin makes invoices and checks payments (plugin/mpp_charge.c). */
#ifndef L402_MPP_H
#define L402_MPP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

#define MPP_KEY_LEN 32
/* Longest base64url credential (after "Payment ") we read. */
#define MPP_MAX_CREDENTIAL 12288
/* Longest base64url request parameter (a BOLT11 invoice and a little). */
#define MPP_MAX_REQUEST 6144

/* The challenge's parameters, as sent and as echoed. Empty strings for
 * absent optional ones. */
struct mpp_challenge {
	char id[48];		/* base64url HMAC, 43 characters */
	char realm[256];
	char method[32];
	char intent[32];
	char request[MPP_MAX_REQUEST + 1];
	char expires[40];	/* RFC 3339, "2026-11-25T16:00:00Z" */
	char digest[160];
	char opaque[512];
	char description[640];
};

/* The lightning session's actions (draft-lightning-session). */
enum mpp_action { MPP_CHARGE, MPP_OPEN, MPP_BEARER, MPP_TOPUP, MPP_CLOSE };

struct mpp_credential {
	struct mpp_challenge ch;
	enum mpp_action action;	/* MPP_CHARGE for intent charge */
	/* payload.preimage (charge, open, bearer, close) or
	 * payload.topUpPreimage (topUp): 64 lowercase hex */
	uint8_t preimage[32];
	uint8_t session_id[32];	/* payload.sessionId (bearer, topUp, close) */
	char return_invoice[2048];	/* payload.returnInvoice (open) */
};

/* Why a credential was refused, as the drafts' problem types. */
enum mpp_err {
	MPP_OK,
	MPP_MALFORMED,		/* malformed-credential */
	MPP_INVALID_CHALLENGE,	/* invalid-challenge: not ours, tampered, used */
	MPP_EXPIRED,		/* payment-expired */
	MPP_VERIFICATION_FAILED,/* verification-failed: wrong preimage */
	MPP_INSUFFICIENT,	/* payment-insufficient: another, cheaper offer */
	MPP_UNSUPPORTED,	/* method-unsupported (a 400) */
};
const char *mpp_problem_type(enum mpp_err e);	/* the URI's last segment */
const char *mpp_problem_title(enum mpp_err e);

/* A body's digest as a challenge's digest parameter (RFC 9530's
 * Content-Digest value, "sha-256=:BASE64:"), and the sha-256 member of a
 * client's Content-Digest header as the same string (false when it has
 * none that reads). */
#define MPP_DIGEST_LEN 64
void mpp_body_digest(const void *body, size_t len, char out[MPP_DIGEST_LEN]);
bool mpp_content_digest(const char *header, char out[MPP_DIGEST_LEN]);

/* The lightning method's own problem types (draft-lightning-charge and
 * -session), finer than the core's: a refused lightning credential's 402
 * names the one that applies. */
enum mpp_ln_problem {
	MPP_LN_NONE,			/* the core type applies */
	MPP_LN_MALFORMED_CREDENTIAL,
	MPP_LN_UNKNOWN_CHALLENGE,	/* not ours, or consumed */
	MPP_LN_INVALID_PREIMAGE,
	MPP_LN_EXPIRED_INVOICE,		/* a charge's */
	MPP_LN_CHALLENGE_EXPIRED,	/* a session's */
	MPP_LN_SESSION_NOT_FOUND,
	MPP_LN_SESSION_CLOSED,
	MPP_LN_INSUFFICIENT_BALANCE,
	MPP_LN_INVALID_RETURN_INVOICE,
	MPP_LN_CORE,			/* said: none applies, the core type does */
};
/* "lightning/unknown-challenge" (after .../problems/), and its title. */
const char *mpp_ln_problem_type(enum mpp_ln_problem p);
const char *mpp_ln_problem_title(enum mpp_ln_problem p);
/* What a refusal of a charge's or a session's credential, of core type e,
 * stands for when nothing finer was said. */
enum mpp_ln_problem mpp_ln_problem_of(enum mpp_err e, bool session);

/* The session request: a unit price, and the deposit invoice. */
struct mpp_session_request {
	uint64_t amount_sat;	/* per unit */
	uint64_t deposit_sat;
	char description[640];
	char unit_type[32];
	char deposit_invoice[2048];
	uint8_t payment_hash[32];
	uint64_t idle_timeout;	/* seconds, 0: not said */
};
bool mpp_session_request_encode(char *out, size_t outcap, const struct mpp_session_request *r);
bool mpp_session_request_decode(const char *b64, struct mpp_session_request *r);
/* A session's receipt: reference is the session id; a close adds the
 * refund (refund_status NULL otherwise). */
bool mpp_session_receipt(struct strbuf *out, const char *challenge_id,
			 const uint8_t session_id[32], int64_t at, uint64_t refund_sat,
			 const char *refund_status);

/* The charge request, decoded from (or encoded into) `request`. */
struct mpp_charge_request {
	uint64_t amount_sat;
	char currency[8];
	char description[640];
	char invoice[2048];
	uint8_t payment_hash[32];
	char network[16];
};

/* Whether an Authorization value uses the Payment scheme. */
bool mpp_is_payment(const char *authorization);
/* Parse "Payment <base64url JSON>" (or just the base64url). Unknown
 * members are ignored; a known one twice, of the wrong type or too long
 * is MPP_MALFORMED, with the reason in why. Method lightning, intent
 * charge or session (with its action's fields); others MPP_UNSUPPORTED. */
enum mpp_err mpp_parse_credential(const char *value, size_t len, struct mpp_credential *out,
				  char *why, size_t whylen);

/* id = base64url(HMAC-SHA256(key, realm|method|intent|request|expires|
 * digest|opaque)), per the core draft. */
void mpp_challenge_id(const uint8_t key[MPP_KEY_LEN], const struct mpp_challenge *c,
		      char out[48]);
/* Whether c->id is the id of c's other parameters, in constant time. */
bool mpp_challenge_bound(const uint8_t key[MPP_KEY_LEN], const struct mpp_challenge *c);

/* The WWW-Authenticate value. */
bool mpp_write_challenge(struct strbuf *out, const struct mpp_challenge *c);

/* The charge request as base64url JCS, and back. */
bool mpp_charge_request_encode(char *out, size_t outcap, const struct mpp_charge_request *r);
bool mpp_charge_request_decode(const char *b64, struct mpp_charge_request *r);

/* The opaque correlation data: a flat map of strings, here {"route": TAG}. */
bool mpp_opaque_encode(char *out, size_t outcap, const char *route_tag);
bool mpp_opaque_route(const char *b64, char *tag, size_t taglen);

/* A Payment-Receipt value (base64url JCS). */
bool mpp_receipt(struct strbuf *out, const char *challenge_id, const uint8_t payment_hash[32],
		 int64_t settled_at);

/* RFC 3339 in UTC with seconds: "2026-11-25T16:00:00Z"; and back (any
 * offset, fractions ignored). */
void mpp_time_format(int64_t t, char out[24]);
bool mpp_time_parse(const char *s, int64_t *t);

/* The weight (0..1000) Accept-Payment gives method/intent, from its most
 * specific matching range; -1 when the header is absent or malformed
 * (then everything is acceptable), 0 when nothing matches. */
int mpp_accept_weight(const char *accept_payment, const char *method, const char *intent);

#endif
