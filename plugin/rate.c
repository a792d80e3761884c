#include "rate.h"

#include <sodium.h>
#include <string.h>

#include "loop.h"

/* Buckets: a fixed, set-associative table; a new key replaces the least
 * recently used entry of its set, so memory never grows. */
#define SETS 16384
#define WAYS 4

struct bucket {
	uint64_t key;
	double tokens;
	int64_t last_ms;
};

static struct bucket table[SETS][WAYS];

unsigned rate_take(char kind, uint64_t route_id, const char *subject,
		     uint32_t n, uint32_t per, uint32_t burst)
{
	uint8_t h[32];
	crypto_hash_sha256_state st;
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)&kind, 1);
	crypto_hash_sha256_update(&st, (const uint8_t *)&route_id, sizeof(route_id));
	crypto_hash_sha256_update(&st, (const uint8_t *)subject, strlen(subject));
	crypto_hash_sha256_final(&st, h);
	uint64_t key;
	memcpy(&key, h, sizeof(key));
	key |= 1; /* 0 marks an empty slot */
	struct bucket *set = table[(key >> 1) % SETS], *b = NULL, *oldest = &set[0];
	int64_t t = loop_now_ms();
	for (int i = 0; i < WAYS; i++) {
		if (set[i].key == key) {
			b = &set[i];
			break;
		}
		if (set[i].last_ms < oldest->last_ms)
			oldest = &set[i];
	}
	double rate = (double)n / (double)per / 1000.0; /* per ms */
	if (!b) {
		b = oldest;
		b->key = key;
		b->tokens = burst;
	} else {
		b->tokens += (double)(t - b->last_ms) * rate;
		if (b->tokens > burst)
			b->tokens = burst;
	}
	b->last_ms = t;
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
		return 0;
	}
	double wait_ms = (1.0 - b->tokens) / rate;
	unsigned s = (unsigned)(wait_ms / 1000.0) + 1;
	return s;
}
