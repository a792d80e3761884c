/* Live prices (a route's price=rpc:METHOD): before a challenge is minted,
 * and before a balance token pays for a request, the lightningd command
 * METHOD (any plugin's, in any language) is asked what this request
 * costs. It is called with
 *   {"route": "POST /v1/ai", "method": "POST", "path": "/v1/ai",
 *    "query": "model=x", "body_size": 1234, "content_digest": "sha-256=:...:"}
 * (body_size from Content-Length, 0 without; content_digest only when the
 * client sent a Content-Digest header: the body itself is not read before
 * payment) and answers {"price_msat": N}. An answer above the route's
 * PRICE, a malformed one, an error or no answer within PRICER_TIMEOUT_MS
 * is a 503 with Retry-After: never a free request. */
#ifndef L402_PRICER_H
#define L402_PRICER_H

#include <stdbool.h>

#define PRICER_TIMEOUT_MS 3000

struct req;

/* Holding the loop's lock: ask for r's price. False: r was answered (a
 * 503). True: r waits, and then runs (under the lock, never from inside
 * this call) with r->route.spec.price_msat set and r->priced, or r was
 * answered with a 503. */
bool pricer_ask(struct req *r, void (*then)(struct req *r));

#endif
