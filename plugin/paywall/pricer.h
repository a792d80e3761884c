/* Live prices (a route's price=rpc:METHOD): before a challenge is minted,
 * and before a balance token pays for a request, the lightningd command
 * METHOD (any plugin's, in any language) is asked what this request
 * costs. It is called with
 *   {"route": "POST /v1/ai", "method": "POST", "path": "/v1/ai",
 *    "query": "model=x", "body_size": 1234, "content_digest": "sha-256=:...:"}
 * (body_size from Content-Length; a chunked body is read first, within
 * BACKEND_MAX_BODY, to learn its size; content_digest only when the
 * client sent a Content-Digest header) and answers {"price_msat": N}. An answer above the route's
 * PRICE, a malformed one, an error or no answer within PRICER_TIMEOUT_MS
 * is a 503 with Retry-After: never a free request. */
#ifndef L402_PRICER_H
#define L402_PRICER_H

#include "http/http.h"

#define PRICER_TIMEOUT_MS 3000

/* Holding the loop's lock: ask for r's price. r waits, and then then(r)
 * runs (under the lock, never from inside this call) with the paywall's
 * route.spec.price_msat set and priced, or r is answered with a 503. */
HTTP_MUST_USE struct http_step *pricer_ask(struct req *r, http_step_fn then);

#endif
