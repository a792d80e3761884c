/* The 402 as a checkout page, for a person with a Lightning wallet.
 *
 * A browser's navigation (Accept prefers text/html to JSON, GET, no
 * Authorization) gets the same 402 and the same WWW-Authenticate headers
 * with an HTML body: what the payment buys, the invoice as a QR code
 * drawn here (SVG), its text with a copy button, WebLN where the browser
 * has it, and the time left. Every other client gets the JSON body.
 *
 * The page learns the payment by asking the checkout endpoint
 * (CHECKOUT_PATH?route=TAG&slot=SLOT), with the challenge's macaroon in
 * the cookie the 402 set for it (l402p_SLOT, HttpOnly, sent to the
 * endpoint only; never in a URL, which access logs keep): only the
 * holder of the macaroon can ask (its signature is checked before
 * anything else; every other request gets the same 403, whatever
 * invoice it names), and once the invoice is paid the answer sets the
 * credential as an HttpOnly cookie (L402_COOKIE: MACAROON:PREIMAGE)
 * scoped to the route's path, expiring with the token. The preimage is never in a body.
 * The paywall reads that cookie like an Authorization header. With
 * JavaScript the page polls and reloads itself once paid; without, a
 * frame refreshes itself and says so. */
#ifndef L402_CHECKOUT_H
#define L402_CHECKOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "http/http.h"
#include "l402.h"

#define CHECKOUT_PATH "/l402/checkout"

/* Whether r is a browser's navigation that gets the checkout page. */
bool checkout_wanted(struct req *r);

/* The 402's body for a person: the page for the invoice bolt11 of the
 * token tok (which grants g), expiring at expires_at. NULL when it
 * cannot be built. */
struct MHD_Response *checkout_page(struct req *r, const char *bolt11, const char *tok,
				   uint64_t expires_at, const struct l402_grant *g);

/* The handler of CHECKOUT_PATH (plugin.c lists it before the paywall). */
HTTP_MUST_USE struct http_step *checkout_handle(struct req *r);

#endif
