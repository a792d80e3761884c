/* The ring of recent L402 preimages the checkout page reads: found by
 * payment hash, noted once, the oldest forgotten first, wiped. */
#include "../../plugin/store/preimages.c"

#include "test.h"

static void mk(uint32_t i, uint8_t hash[32], uint8_t pre[32])
{
	memset(pre, 0, 32);
	memcpy(pre, &i, sizeof(i));
	crypto_hash_sha256(hash, pre, 32);
}

int main(void)
{
	uint8_t h[32], p[32], got[32];
	if (sodium_init() < 0)
		return 1;
	mk(1, h, p);
	CHECK(!preimages_find(h, got));
	preimages_note(h, p);
	CHECK(preimages_find(h, got) && memcmp(got, p, 32) == 0);
	preimages_note(h, p); /* the notification, then waitanyinvoice: one entry */
	CHECK_EQ_INT(next, 1);
	/* A full ring forgets the oldest first. */
	for (uint32_t i = 2; i <= PREIMAGES_KEPT; i++) {
		uint8_t hh[32], pp[32];
		mk(i, hh, pp);
		preimages_note(hh, pp);
	}
	CHECK(preimages_find(h, got));
	uint8_t hn[32], pn[32];
	mk(PREIMAGES_KEPT + 1, hn, pn);
	preimages_note(hn, pn);
	CHECK(!preimages_find(h, got));
	CHECK(preimages_find(hn, got) && memcmp(got, pn, 32) == 0);
	mk(2, h, p);
	CHECK(preimages_find(h, got) && memcmp(got, p, 32) == 0);
	preimages_free();
	CHECK(!preimages_find(hn, got));
	return test_done("test_preimages");
}
