/* text: a fixed body, for demos and tests. */
#include <string.h>

#include "backends/backend.h"

#define TEXT_TYPE "text/plain; charset=utf-8"

/* The same answer every time: made once per thread (http_finish_fixed),
 * and made again when the route's body changes. */
static struct http_step *serve(const struct backend_call *c)
{
	backend_keep(&c->keep, 200, TEXT_TYPE, c->spec->target, strlen(c->spec->target));
	return http_finish_fixed(c->req, 200, TEXT_TYPE, c->spec->target,
				 strlen(c->spec->target));
}

const struct backend backend_text = {
	.name = "text", .usage = "text:BODY",
	.serve = serve,
	.lockless = true,
};
