#include "store/preimages.h"

#include <sodium.h>
#include <string.h>

struct kept {
	uint8_t hash[32], preimage[32];
	bool used;
};

static struct kept ring[PREIMAGES_KEPT];
static size_t next;

bool preimages_find(const uint8_t hash[32], uint8_t preimage[32])
{
	for (size_t i = 0; i < PREIMAGES_KEPT; i++)
		if (ring[i].used && sodium_memcmp(ring[i].hash, hash, 32) == 0) {
			memcpy(preimage, ring[i].preimage, 32);
			return true;
		}
	return false;
}

void preimages_note(const uint8_t hash[32], const uint8_t preimage[32])
{
	uint8_t have[32];
	if (preimages_find(hash, have)) /* the notification, then waitanyinvoice */
		return;
	memcpy(ring[next].hash, hash, 32);
	memcpy(ring[next].preimage, preimage, 32);
	ring[next].used = true;
	next = (next + 1) % PREIMAGES_KEPT;
}

void preimages_free(void)
{
	sodium_memzero(ring, sizeof(ring));
	next = 0;
}
