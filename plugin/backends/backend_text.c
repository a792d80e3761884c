/* text: a fixed body, for demos and tests. */
#include <string.h>

#include "backends/backend.h"
#include "http/http.h"

static void serve(struct req *r)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		strlen(r->route.spec.target), r->route.spec.target, MHD_RESPMEM_MUST_COPY);
	if (resp)
		MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
	http_finish(r, 200, resp);
}

const struct backend backend_text = {
	.name = "text", .usage = "text:BODY",
	.serve = serve,
	.lockless = true,
};
