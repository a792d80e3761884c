/* libFuzzer target: every macaroon decoder; whatever decodes must survive
 * a v2 re-encode and decode to the same macaroon. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "macaroon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool accept_all(void *ctx, const uint8_t *c, size_t n)
{
	return true;
}

static bool same(const struct macaroon *a, const struct macaroon *b)
{
	if (a->identifier.len != b->identifier.len || a->ncaveats != b->ncaveats
	    || memcmp(a->identifier.p, b->identifier.p, a->identifier.len)
	    || memcmp(a->sig, b->sig, sizeof(a->sig)))
		return false;
	for (size_t i = 0; i < a->ncaveats; i++)
		if (a->caveats[i].id.len != b->caveats[i].id.len
		    || memcmp(a->caveats[i].id.p, b->caveats[i].id.p,
			      a->caveats[i].id.len))
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct macaroon m, m2;
	static uint8_t scratch[MACAROON_MAX_SIZE + 16];
	static uint8_t enc[MACAROON_MAX_SIZE * 2];

	if (sodium_init() < 0)
		abort();
	(void)macaroon_decode_v1(data, size, &m);
	(void)macaroon_decode_json((const char *)data, size, scratch,
				   sizeof(scratch), &m);
	if (size <= MACAROON_MAX_SIZE
	    && macaroon_decode(data, size, scratch, sizeof(scratch), &m, NULL)
		       == MACAROON_OK) {
		(void)macaroon_verify(&m, (const uint8_t *)"k", 1, NULL, 0,
				      accept_all, NULL);
		size_t n = macaroon_encode_v2(&m, enc, sizeof(enc));
		if (n) {
			if (macaroon_decode_v2(enc, n, &m2) != MACAROON_OK
			    || !same(&m, &m2))
				abort();
		}
	}
	return 0;
}
