/* The paywall's decision for one request: which route, free or paid,
 * the credentials (L402 and aperture's headers, the Payment scheme), the
 * verdict cache, the node's local state (paid, revoked, uses, balances,
 * rates), and for everything that is not paid, a 402 with fresh invoices,
 * or a wait. Its state of a request is paywall/request.h's. */
#ifndef L402_PAYWALL_H
#define L402_PAYWALL_H

#include "http/http.h"

/* The handler plugin.c lists last: decide and answer r (at once, or later
 * after a wait). Without the loop's lock: verification runs without it,
 * and it is taken only for what needs plugin state. */
HTTP_MUST_USE struct http_step *paywall_handle(struct req *r);
/* The same for a request whose paywall state a front proxy's question
 * set up (forward_auth.c). */
HTTP_MUST_USE struct http_step *paywall_decide(struct req *r);
/* Answers decorated on the way out: a served request's Payment-Receipt
 * and balance left, a front proxy's deny status (http_app.decorate); and
 * whether it would for r (http_app.adds_headers). */
bool paywall_adds_headers(const struct req *r, unsigned status);
void paywall_decorate(struct req *r, unsigned *status, struct MHD_Response *resp);
/* The answer headers of the paywall a buyer's page on another origin
 * needs to read (cors_expose). */
#define PAYWALL_EXPOSED_HEADERS "Payment-Receipt, X-L402-Balance-Msat"

#endif
