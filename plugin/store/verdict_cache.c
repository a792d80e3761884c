#include "store/verdict_cache.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

#define SLOTS 8192
/* Slots are guarded by stripes of locks: HTTP threads use the cache
 * without the loop's lock, and rarely meet on a stripe. */
#define STRIPES 64

struct entry {
	uint8_t key[32];
	struct l402_identifier id;
	struct l402_grant grant;
	uint64_t generation;
	bool used;
};
static struct entry slots[SLOTS];
/* The cache's locks: stripes[i] guards every SLOTS/STRIPES-th slot (slot
 * s is stripe s % STRIPES). Taken by HTTP threads without the loop's lock;
 * leaves. */
static pthread_mutex_t stripes[STRIPES];

/* OpenSSL's SHA-256 uses the CPU's SHA extensions, several times faster
 * than libsodium's portable code on a header of half a kilobyte, and this
 * runs on every paid request: one context per thread. */
static EVP_MD *sha256;
static pthread_key_t ctx_key;
static bool started;

static EVP_MD_CTX *thread_ctx(void)
{
	EVP_MD_CTX *c = pthread_getspecific(ctx_key);
	if (!c && (c = EVP_MD_CTX_new()) && pthread_setspecific(ctx_key, c) != 0) {
		EVP_MD_CTX_free(c);
		c = NULL;
	}
	return c;
}

static void free_ctx(void *c)
{
	EVP_MD_CTX_free(c);
}

bool verdict_key(const char *service, const char *header, const char *value,
		 struct verdict_key *k)
{
	EVP_MD_CTX *c = sha256 ? thread_ctx() : NULL;
	return c && EVP_DigestInit_ex2(c, sha256, NULL)
	       && EVP_DigestUpdate(c, service, strlen(service) + 1)
	       && EVP_DigestUpdate(c, header, strlen(header) + 1)
	       && EVP_DigestUpdate(c, value, strlen(value))
	       && EVP_DigestFinal_ex(c, k->hash, NULL);
}

static size_t slot_of(const struct verdict_key *k)
{
	uint32_t h;
	memcpy(&h, k->hash, sizeof(h));
	return h % SLOTS;
}

bool verdict_cache_find(const struct verdict_key *k, uint64_t generation, int64_t now,
			struct l402_verdict *v)
{
	size_t i = slot_of(k);
	const struct entry *e = &slots[i];
	pthread_mutex_lock(&stripes[i % STRIPES]);
	bool hit = e->used && e->generation == generation
		   && CRYPTO_memcmp(e->key, k->hash, 32) == 0
		   && !(e->grant.valid_until && now >= e->grant.valid_until);
	if (hit) {
		memset(v, 0, sizeof(*v));
		v->id = e->id;
		v->grant = e->grant;
	}
	pthread_mutex_unlock(&stripes[i % STRIPES]);
	return hit;
}

void verdict_cache_put(const struct verdict_key *k, uint64_t generation,
		       const struct l402_verdict *v)
{
	size_t i = slot_of(k);
	struct entry *e = &slots[i];
	pthread_mutex_lock(&stripes[i % STRIPES]);
	memcpy(e->key, k->hash, 32);
	e->id = v->id;
	e->grant = v->grant;
	e->generation = generation;
	e->used = true;
	pthread_mutex_unlock(&stripes[i % STRIPES]);
}

/* Before the HTTP threads start. */
void verdict_cache_start(void)
{
	for (size_t i = 0; i < STRIPES; i++)
		pthread_mutex_init(&stripes[i], NULL);
	pthread_key_create(&ctx_key, free_ctx);
	sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	started = true;
}

/* After the HTTP threads stopped (each freed its context on exit). */
void verdict_cache_stop(void)
{
	if (!started)
		return;
	started = false;
	free_ctx(pthread_getspecific(ctx_key));
	pthread_setspecific(ctx_key, NULL);
	pthread_key_delete(ctx_key);
	EVP_MD_free(sha256);
	sha256 = NULL;
	memset(slots, 0, sizeof(slots));
	for (size_t i = 0; i < STRIPES; i++)
		pthread_mutex_destroy(&stripes[i]);
}
