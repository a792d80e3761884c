/* upstream: a route served by the node runner's front proxy, which asks
 * the forward-auth endpoint for each request's decision. The target
 * names the upstream for people (upstream:api, upstream:-); nothing here
 * connects to it. */
#include "backends/backend.h"
#include "http/http.h"

/* Never reached: the paywall answers a forward-auth request itself and
 * refuses a direct one before payment. */
static void serve(struct req *r)
{
	http_error(r, 404, "not_found", "this path is served by the node's front proxy");
}

const struct backend backend_upstream = {
	.name = "upstream", .usage = "upstream:NAME",
	.serve = serve,
	.lockless = true,
	.front_only = true,
};
