/* The 402: fresh invoices from lightningd (the L402 token's, and the
 * Payment scheme's charge and session deposit where offered), a token
 * committing to the first one's payment hash, the WWW-Authenticate
 * challenges and one JSON body every client reads. */
#ifndef L402_CHALLENGE_H
#define L402_CHALLENGE_H

#include "http/http.h"
#include "paywall/reasons.h"

/* Holding the loop's lock: answer r with a 402 for reason (detail for
 * people, may be NULL), after asking the route's pricer when it has one.
 * Bounded per client (l402-challenge-rate) and by l402-max-unpaid. */
HTTP_MUST_USE struct http_step *challenge(struct req *r, enum reason why, const char *detail);

#endif
