/* upstream: a route served by the node runner's front proxy, which asks
 * the forward-auth endpoint for each request's decision. The target
 * names the upstream for people (upstream:api, upstream:-); nothing here
 * connects to it. */
#include "backends/backend.h"

/* Never reached: the paywall answers a forward-auth request itself and
 * refuses a direct one before payment. */
static struct http_step *serve(const struct backend_call *c)
{
	return http_error(c->req, 404, "not_found", "this path is served by the node's front proxy");
}

const struct backend backend_upstream = {
	.name = "upstream", .usage = "upstream:NAME",
	.serve = serve,
	.lockless = true,
	.front_only = true,
};
