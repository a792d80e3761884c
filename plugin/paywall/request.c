#include "paywall/request.h"

#include <stdlib.h>

#include "store/rate.h"

void paid_start(struct req *r)
{
	struct paid *p = paid_of(r);
	if (p->started)
		return;
	p->started = true;
	p->uses_left = -1;
	p->balance_left = -1;
}

void paid_free(struct req *r)
{
	free(paid_of(r)->mpp.return_invoice);
}

unsigned paid_take_for_client(const struct req *r, char kind, uint64_t route_id, uint32_t n,
			      uint32_t per, uint32_t burst)
{
	return rate_take(kind, route_id, r->client.group, sizeof(r->client.group), n, per, burst);
}

struct http_step *paid_too_many(struct req *r, unsigned wait, const char *why)
{
	return http_retry_later(r, 429, "rate_limited", why, wait);
}
