/* The paywall's own state of a request, kept beside the transport's
 * (http_ext): the route that matched (copied: routes may change under
 * us), the verdict on its credentials, what it drew, and why it was not
 * served as paid. Only the paywall's modules read or write it. */
#ifndef L402_PAYWALL_REQUEST_H
#define L402_PAYWALL_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "http/http.h"
#include "l402.h"
#include "paywall/mpp_scheme.h"
#include "paywall/reasons.h"
#include "store/routes.h"

struct paid {
	struct route_view route;
	enum reason reason;
	char detail[192];
	struct l402_verdict verdict;
	bool started;		/* paid_start ran */
	bool path_known;	/* no route matched, but one for another method */
	bool serve_unlocked;	/* passed; its backend serves without the lock */
	bool priced;		/* route.spec.price_msat is the pricer's answer */
	http_step_fn after_price;	/* pricer.c: what runs once priced */
	int64_t uses_left;	/* of a token with a use limit, once counted; else -1 */
	int64_t balance_left;	/* msat of a balance token after this request's
				 * draw (or hold); else -1 */
	uint64_t held_msat;	/* what this request took from a balance */
	struct mpp_state mpp;	/* a Payment scheme credential, when it came with one */
	/* A front proxy's question (forward_auth.h): the transport's method
	 * and path are the original request's; passing answers 200 instead
	 * of serving, and deny_status (401 or 403, for nginx), when set,
	 * replaces every other answer, without minting an invoice. */
	bool forward_auth;
	unsigned deny_status;
	/* X-L402-Final: 1 from a proxy that passes to its upstream only the
	 * answer marked X-L402-Serve (Caddy's recipe) or asks a second time
	 * for what the client gets (nginx's error_page): every other answer
	 * goes to the client, 2xx too. */
	bool answer_goes_to_client;
	/* Of the request's L402 credentials (in order, cookies after the
	 * Authorization headers): the first to try (those before were found
	 * unusable: revoked, used up), the one that verified, and whether
	 * any follow it. */
	uint8_t cred_from, cred_at;
	bool cred_more;
	bool cred_payment;	/* a Payment credential too, tried after them */
	/* The request body's digest, for a charge challenge bound to it. */
	char body_digest[MPP_DIGEST_LEN];
	bool challenge_counted;	/* against l402-challenge-rate, once */
	/* A session's open: its answer is kept for the open's retry. */
	bool keep_answer;
};

_Static_assert(_Alignof(struct paid) <= _Alignof(struct req),
	       "the paywall's state follows the transport's request in memory");

static inline struct paid *paid_of(struct req *r)
{
	return http_ext(r);
}

static inline const struct paid *paid_of_const(const struct req *r)
{
	return http_ext_const(r);
}

/* Before the paywall first looks at r (idempotent). */
void paid_start(struct req *r);
/* What the paywall's state of r holds besides itself, freed. */
void paid_free(struct req *r);

/* Take one from the client's bucket of this kind (grouped by address: an
 * IPv6 /64 is one client). 0: allowed; else the seconds to wait. */
unsigned paid_take_for_client(const struct req *r, char kind, uint64_t route_id, uint32_t n,
			      uint32_t per, uint32_t burst);
/* 429, come back in wait seconds. */
HTTP_MUST_USE struct http_step *paid_too_many(struct req *r, unsigned wait, const char *why);

#endif
