/* Forward-auth: the paywall as the decision for a front proxy (Caddy's
 * forward_auth, Traefik's ForwardAuth, nginx's auth_request) that serves
 * the request itself. The proxy sends us the original method and URI in
 * X-Forwarded-Method/X-Forwarded-Uri or X-Original-Method/X-Original-URI,
 * with the client's headers; the request then goes through the route
 * table and the paywall exactly as a direct one would, except that
 * passing answers 200 with what the upstream may want to know (no
 * backend runs). A request with X-L402-Deny-Status: 401 (or 403) gets
 * that status for every other answer, without an invoice: nginx passes
 * only those through, and asks again for the full answer. The one
 * answer that means "serve" carries X-L402-Serve: 1; a proxy that passes
 * every other answer to the client says X-L402-Final: 1, and then gets a
 * Payment session's topUp or close answered here (200 with its receipt),
 * which otherwise (a proxy that takes any 2xx for "serve") is a 409. */
#ifndef L402_FORWARD_AUTH_H
#define L402_FORWARD_AUTH_H

#include "http/http.h"

/* The handler plugin.c lists first: when r asks the forward-auth endpoint
 * (l402-auth-path), r now stands for the original request (method, path)
 * and the paywall decides it; r is answered with a 400 when the proxy's
 * headers do not say clearly what that was. Others are declined. */
HTTP_MUST_USE struct http_step *forward_auth_handle(struct req *r);

#endif
