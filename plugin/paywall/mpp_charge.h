/* The Payment scheme's lightning charge, the node's side: the offer each
 * 402 carries beside L402's (its own invoice: a charge buys one request,
 * a token what its caveats say, so they cannot share a preimage), and
 * credentials checked against the binding, then against lightningd (paid,
 * for the amount offered) and credited once in the ledger (store/ledger.h)
 * before the request is served, so a replay, concurrent or after a
 * restart, gets a fresh 402. */
#ifndef L402_MPP_CHARGE_H
#define L402_MPP_CHARGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mpp.h"
#include "paywall/request.h"
#include "strbuf.h"

/* The WWW-Authenticate value offering a charge for p's route, for the
 * invoice lightningd made for it. */
bool mpp_charge_offer(const struct paid *p, const char *bolt11, const uint8_t hash[32],
		      uint64_t expires_at, struct strbuf *out);

/* Without the lock: a parsed charge credential's binding, route, expiry,
 * amount and preimage. MPP_OK fills p->mpp. */
enum mpp_err mpp_charge_check(struct paid *p, struct mpp_credential *cred, char *why,
			      size_t whylen);

/* Holding the loop's lock: paid for what was offered, and consumed once.
 * done(r, e, why) runs (now, or later on the loop) with MPP_OK, or why
 * not; why NULL when lightningd could not be asked: a 503, nothing
 * consumed. A charge another request is consuming now is refused. */
typedef struct http_step *(*mpp_charge_done)(struct req *r, enum mpp_err e, const char *why);
HTTP_MUST_USE struct http_step *mpp_charge_consume(struct req *r, mpp_charge_done done);

#endif
