#include "store/rate.h"

#include <sodium.h>
#include <string.h>

#include "core/loop.h"

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

/* Which set a key lands in is keyed with a secret made at start, so
 * nobody can pick subjects that evict a victim's bucket on purpose. */
static uint8_t hash_key[crypto_shorthash_KEYBYTES];
static bool hash_key_ready;

unsigned rate_take(char kind, uint64_t route_id, const void *subject, size_t len,
		   uint32_t n, uint32_t per, uint32_t burst)
{
	uint8_t msg[1 + sizeof(route_id) + 64], h[crypto_shorthash_BYTES];
	uint64_t key;
	if (!hash_key_ready) {
		randombytes_buf(hash_key, sizeof(hash_key));
		hash_key_ready = true;
	}
	if (len > 64)
		len = 64;
	msg[0] = (uint8_t)kind;
	memcpy(msg + 1, &route_id, sizeof(route_id));
	memcpy(msg + 1 + sizeof(route_id), subject, len);
	crypto_shorthash(h, msg, 1 + sizeof(route_id) + len, hash_key);
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
