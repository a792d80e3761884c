/* Forward-auth: the paywall as the decision for a front proxy (Caddy's
 * forward_auth, Traefik's ForwardAuth, nginx's auth_request) that serves
 * the request itself. The proxy sends us the original method and URI in
 * X-Forwarded-Method/X-Forwarded-Uri or X-Original-Method/X-Original-URI,
 * with the client's headers; the request then goes through the route
 * table and the paywall exactly as a direct one would, except that
 * passing answers 200 with what the upstream may want to know (no
 * backend runs). A request with X-L402-Deny-Status: 401 (or 403) gets
 * that status for every other answer, without an invoice: nginx passes
 * only those through, and asks again for the full answer. */
#ifndef L402_FORWARD_AUTH_H
#define L402_FORWARD_AUTH_H

#include <stdbool.h>

struct req;

/* Whether r asks the forward-auth endpoint; if so r now stands for the
 * original request (method, path), or r is answered with a 400 when the
 * proxy's headers do not say clearly what that was. */
bool forward_auth_take(struct req *r, const char *auth_path);
/* r passed: 200 with the X-L402-* headers. */
void forward_auth_allow(struct req *r);

#endif
