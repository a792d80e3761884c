#include "verdict_cache.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

#define SLOTS 8192

struct entry {
	uint8_t key[32];
	struct l402_identifier id;
	struct l402_grant grant;
	uint64_t generation;
	bool used;
};
static struct entry slots[SLOTS];

/* OpenSSL's SHA-256 uses the CPU's SHA extensions, several times faster
 * than libsodium's portable code on a header of half a kilobyte, and this
 * runs on every paid request. */
static EVP_MD *sha256;
static EVP_MD_CTX *sha256_ctx;

bool verdict_key(const char *service, const char *header, const char *value,
		 struct verdict_key *k)
{
	return sha256 && sha256_ctx && EVP_DigestInit_ex2(sha256_ctx, sha256, NULL)
	       && EVP_DigestUpdate(sha256_ctx, service, strlen(service) + 1)
	       && EVP_DigestUpdate(sha256_ctx, header, strlen(header) + 1)
	       && EVP_DigestUpdate(sha256_ctx, value, strlen(value))
	       && EVP_DigestFinal_ex(sha256_ctx, k->hash, NULL);
}

static struct entry *slot(const struct verdict_key *k)
{
	uint32_t h;
	memcpy(&h, k->hash, sizeof(h));
	return &slots[h % SLOTS];
}

bool verdict_cache_find(const struct verdict_key *k, uint64_t generation, int64_t now,
			struct l402_verdict *v)
{
	const struct entry *e = slot(k);
	if (!e->used || e->generation != generation || CRYPTO_memcmp(e->key, k->hash, 32) != 0
	    || (e->grant.valid_until && now >= e->grant.valid_until))
		return false;
	memset(v, 0, sizeof(*v));
	v->id = e->id;
	v->grant = e->grant;
	return true;
}

void verdict_cache_put(const struct verdict_key *k, uint64_t generation,
		       const struct l402_verdict *v)
{
	struct entry *e = slot(k);
	memcpy(e->key, k->hash, 32);
	e->id = v->id;
	e->grant = v->grant;
	e->generation = generation;
	e->used = true;
}

void verdict_cache_start(void)
{
	sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	sha256_ctx = EVP_MD_CTX_new();
}

void verdict_cache_stop(void)
{
	EVP_MD_CTX_free(sha256_ctx);
	EVP_MD_free(sha256);
	sha256_ctx = NULL;
	sha256 = NULL;
	memset(slots, 0, sizeof(slots));
}
