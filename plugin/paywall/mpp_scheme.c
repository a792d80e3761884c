/* The Payment scheme's parts every intent shares (mpp_scheme.h). */
#include "paywall/mpp_scheme.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/state.h"
#include "store/secret.h"

uint64_t mpp_sats(uint64_t msat)
{
	return (msat + 999) / 1000;
}

/* The binding key: from the L402 secret, so it follows its rotation. */
bool mpp_binding_key(uint8_t key[MPP_KEY_LEN])
{
	static const char label[] = "cln-l402 Payment challenge binding v1";
	uint8_t secret[32];
	if (!secret_get(secret))
		return false;
	crypto_auth_hmacsha256(key, (const uint8_t *)label, sizeof(label) - 1, secret);
	sodium_memzero(secret, sizeof(secret));
	return true;
}

/* The realm: the public URL's authority, else the first listener's. */
void mpp_realm(char *out, size_t len)
{
	const char *u = l402.cfg.public_url;
	if (u) {
		const char *h = strstr(u, "://");
		h = h ? h + 3 : u;
		snprintf(out, len, "%.*s", (int)strcspn(h, "/"), h);
	} else if (l402.nlisteners) {
		snprintf(out, len, "%s", l402.listeners[0].addr);
	} else {
		snprintf(out, len, "%s", DEFAULT_BIND);
	}
}

/* What the invoice's prefix says, in the drafts' words; "" for networks
 * they do not name (testnet). */
const char *mpp_network_of(const char *bolt11)
{
	if (strncmp(bolt11, "lnbcrt", 6) == 0)
		return "regtest";
	if (strncmp(bolt11, "lntbs", 5) == 0)
		return "signet";
	if (strncmp(bolt11, "lnbc", 4) == 0)
		return "mainnet";
	return "";
}

bool mpp_offer(const char *route_tag, const char *intent, mpp_request_encoder encode,
	       const void *request, uint64_t expires_at, const char *digest,
	       struct strbuf *out)
{
	/* 10 KiB: one per thread, not on the stack. */
	static __thread struct mpp_challenge challenge;
	struct mpp_challenge *c = &challenge;
	uint8_t key[MPP_KEY_LEN];
	memset(c, 0, sizeof(*c));
	if (!encode(c->request, sizeof(c->request), request))
		return false;
	mpp_realm(c->realm, sizeof(c->realm));
	strcpy(c->method, "lightning");
	snprintf(c->intent, sizeof(c->intent), "%s", intent);
	mpp_time_format((int64_t)expires_at, c->expires);
	if (digest)
		snprintf(c->digest, sizeof(c->digest), "%s", digest);
	if (!mpp_opaque_encode(c->opaque, sizeof(c->opaque), route_tag) || !mpp_binding_key(key))
		return false;
	mpp_challenge_id(key, c, c->id);
	sodium_memzero(key, sizeof(key));
	return mpp_write_challenge(out, c);
}

enum mpp_err mpp_challenge_ours(struct mpp_challenge *ch, const char *route_tag, char *why,
				size_t whylen)
{
	uint8_t key[MPP_KEY_LEN];
	char tag[16];
	/* A client that does not echo opaque (Alby's fetchWithMpp): it can
	 * only have been this route's, which the request names; with any
	 * other the binding fails below. */
	if (!ch->opaque[0] && !mpp_opaque_encode(ch->opaque, sizeof(ch->opaque), route_tag)) {
		snprintf(why, whylen, "this challenge was not issued here");
		return MPP_INVALID_CHALLENGE;
	}
	if (!mpp_binding_key(key)) {
		snprintf(why, whylen, "starting up");
		return MPP_INVALID_CHALLENGE;
	}
	bool bound = mpp_challenge_bound(key, ch);
	sodium_memzero(key, sizeof(key));
	if (!bound) {
		snprintf(why, whylen, "this challenge was not issued here, or was changed");
		return MPP_INVALID_CHALLENGE;
	}
	if (!mpp_opaque_route(ch->opaque, tag, sizeof(tag)) || strcmp(tag, route_tag) != 0) {
		snprintf(why, whylen, "this challenge was issued for another route");
		return MPP_INVALID_CHALLENGE;
	}
	return MPP_OK;
}
