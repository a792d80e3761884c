/* L402 tokens as aperture mints and checks them: the version-0 identifier
 * (version, payment hash, token id), the services / capabilities /
 * valid_until caveats with aperture's narrowing rules, the challenge
 * headers, and the Authorization forms clients send back. */
#ifndef L402_L402_H
#define L402_L402_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macaroon.h"
#include "strbuf.h"

#define L402_ID_LEN 66
#define L402_HASH_LEN 32
#define L402_TOKEN_ID_LEN 32
#define L402_SECRET_LEN 32
#define L402_PREIMAGE_LEN 32
#define L402_MAX_DISCHARGES 4
/* Longest caveat condition the server knows ("SERVICE_valid_until"). */
#define L402_MAX_CONDITION 96
/* Longest Authorization value we look at; longer is refused unread. */
#define L402_MAX_AUTH_LEN 16384
/* aperture's location for the macaroons it mints. */
#define L402_LOCATION "lsat"

struct l402_identifier {
	uint16_t version;
	uint8_t payment_hash[L402_HASH_LEN];
	uint8_t token_id[L402_TOKEN_ID_LEN];
};

enum l402_err {
	L402_OK = 0,
	L402_ERR_NO_CREDENTIALS,
	L402_ERR_BAD_SCHEME,
	L402_ERR_BAD_FORMAT,
	L402_ERR_BAD_BASE64,
	L402_ERR_BAD_HEX,
	L402_ERR_BAD_MACAROON,
	L402_ERR_BAD_IDENTIFIER,
	L402_ERR_PREIMAGE_LENGTH,
	L402_ERR_PREIMAGE_HEX,
	L402_ERR_NO_PREIMAGE,
	L402_ERR_PREIMAGE_MISMATCH,
	L402_ERR_SIGNATURE,
	L402_ERR_CAVEAT,
	L402_ERR_EXPIRED,
	L402_ERR_TOO_LARGE,
};

/* A short, stable, machine-friendly reason ("bad_base64", ...). */
const char *l402_err_code(enum l402_err err);
/* A sentence for people. */
const char *l402_strerror(enum l402_err err);

void l402_identifier_encode(const struct l402_identifier *id,
			    uint8_t out[L402_ID_LEN]);
bool l402_identifier_decode(const uint8_t *in, size_t len,
			    struct l402_identifier *id);

/* Each token's root key: HMAC-SHA256(secret, token_id), so verifying a
 * token needs the one secret and no per-token lookup. */
void l402_root_key(const uint8_t secret[L402_SECRET_LEN],
		   const uint8_t token_id[L402_TOKEN_ID_LEN],
		   uint8_t out[L402_SECRET_LEN]);

/* What a token's caveats grant beyond access to its service: minted
 * from it, reported by verification, kept by the verdict cache. A caveat
 * that limits something new adds its field here. */
struct l402_grant {
	int64_t valid_until;	/* SERVICE_valid_until, 0 for no expiry */
	uint64_t uses;		/* SERVICE_uses, 0 for unlimited (counting is the server's) */
	uint64_t balance_msat;	/* SERVICE_balance_msat, 0 for none: what the token
				 * may spend, at each request's price */
	uint64_t max_price_msat; /* SERVICE_max_price_msat, 0 for none: the live
				  * price it was bought at, the most a request it
				  * pays for may be priced at */
};

struct l402_mint_params {
	const char *service;	  /* services=SERVICE:TIER */
	unsigned tier;
	const char *capabilities; /* SERVICE_capabilities=..., or NULL */
	struct l402_grant grant;
	const char *const *extra; /* further caveats, condition=value */
	size_t nextra;
};

/* Mint a token: a v2 macaroon with the 66-byte identifier, as standard
 * padded base64 in out. Returns false if a caveat is malformed or out is
 * too small. */
bool l402_mint(const uint8_t secret[L402_SECRET_LEN],
	       const struct l402_identifier *id,
	       const struct l402_mint_params *p, char *out, size_t outcap);

/* What a client sent: the macaroon, discharges, and the preimage. The
 * macaroons point into storage. */
struct l402_credential {
	struct macaroon mac;
	struct macaroon discharges[L402_MAX_DISCHARGES];
	size_t ndischarges;
	uint8_t preimage[L402_PREIMAGE_LEN];
	uint8_t storage[L402_MAX_AUTH_LEN];
	size_t used;
};

/* "L402 <b64>[,<b64>...]:<64 hex>" (or LSAT, any case). */
enum l402_err l402_parse_authorization(const char *value, size_t len,
				       struct l402_credential *cred);
/* aperture's Macaroon / Grpc-Metadata-Macaroon / Token headers: a hex
 * macaroon carrying a preimage=HEX caveat. */
enum l402_err l402_parse_macaroon_header(const char *value, size_t len,
					 struct l402_credential *cred);

struct l402_verify_req {
	const char *service;	/* the service the request is for */
	const char *capability;	/* required capability, or NULL */
	int64_t now;		/* unix seconds */
};

struct l402_verdict {
	struct l402_identifier id;
	struct l402_grant grant;
	char detail[192];	/* which caveat failed, and why */
};

/* Signature (with discharges), preimage against the payment hash, then the
 * caveats as aperture's satisfiers do: a repeated condition may only narrow
 * the one before it, the last one decides, unknown conditions are skipped.
 * Ours beside aperture's: SERVICE_uses=N, narrowing to smaller N; counting
 * the uses is the server's job (the verdict reports the limit). */
enum l402_err l402_verify(const struct l402_credential *cred,
			  const uint8_t secret[L402_SECRET_LEN],
			  const struct l402_verify_req *req,
			  struct l402_verdict *verdict);

/* A first-party caveat the server knows: one entry of a table that
 * minting, verification and the published catalog all read. To add one,
 * add its entry (and, if it grants something, a field of l402_grant). */
struct l402_caveat {
	const char *name;	/* the condition, after "SERVICE_" when per_service */
	bool per_service;
	const char *syntax, *narrowing;	/* for people and catalogs */
	/* The value to mint for p; false: this caveat is not minted. */
	bool (*mint)(const struct l402_mint_params *p, char *out, size_t len);
	/* Whether a value is well-formed (NULL: any is), and what to say
	 * when it is not. */
	bool (*valid)(struct mslice v);
	const char *malformed;
	/* Whether cur narrows prev, the same condition before it in the
	 * token, and what to say when it widens instead. */
	bool (*narrows)(struct mslice cur, struct mslice prev);
	const char *widened;
	/* Whether the last value holds for this request; fills the grant. */
	enum l402_err (*holds)(struct mslice v, const struct l402_verify_req *req,
			       struct l402_grant *g, const char **why);
};

const struct l402_caveat *l402_caveats(size_t *n);
/* The condition as written in a token for service ("v1-price_uses"). */
bool l402_caveat_condition(const struct l402_caveat *c, const char *service, char *out,
			   size_t len);

/* The value of the last caveat with this condition, as aperture's HasCaveat. */
bool l402_caveat_value(const struct macaroon *m, const char *condition,
		       const uint8_t **val, size_t *len);

/* WWW-Authenticate values. macaroon first and invoice second, both quoted:
 * lnget and the npm l402 client match exactly that. */
bool l402_challenge(struct strbuf *sb, const char *mac_b64, const char *invoice);
bool lsat_challenge(struct strbuf *sb, const char *mac_b64, const char *invoice);

/* "L402 <mac_b64>:<preimage hex>", what l402-mint hands out. */
bool l402_authorization(struct strbuf *sb, const char *mac_b64,
			const uint8_t preimage[L402_PREIMAGE_LEN]);

#endif
