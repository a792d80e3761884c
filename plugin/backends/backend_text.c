/* text: a fixed body, for demos and tests. */
#include <string.h>

#include "backends/backend.h"

static struct http_step *serve(const struct backend_call *c)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		strlen(c->spec->target), (void *)c->spec->target, MHD_RESPMEM_MUST_COPY);
	if (resp)
		MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
	return http_finish(c->req, 200, resp);
}

const struct backend backend_text = {
	.name = "text", .usage = "text:BODY",
	.serve = serve,
	.lockless = true,
};
