/* libFuzzer target: the Payment scheme's credential (what a stranger
 * sends as "Authorization: Payment ...", charge or session), the
 * charge and session requests and opaque
 * data decoded from it, and the binding check. Whatever parses must hold
 * NUL-terminated strings within their fields. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mpp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void terminated(const char *s, size_t cap)
{
	if (!memchr(s, '\0', cap))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mpp_credential cred;
	static struct mpp_charge_request req;
	static struct mpp_session_request sreq;
	static const uint8_t key[MPP_KEY_LEN] = { 9 };
	char why[160], tag[16];
	if (sodium_init() < 0)
		abort();
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	/* A client's Content-Digest header: what is taken is our own form. */
	char digest[MPP_DIGEST_LEN];
	if (mpp_content_digest(s, digest)
	    && (strlen(digest) != 54 || strncmp(digest, "sha-256=:", 9) != 0 || digest[53] != ':'))
		abort();
	if (mpp_parse_credential(s, size, &cred, why, sizeof(why)) == MPP_OK) {
		const struct mpp_challenge *c = &cred.ch;
		terminated(c->id, sizeof(c->id));
		terminated(c->request, sizeof(c->request));
		terminated(c->opaque, sizeof(c->opaque));
		(void)mpp_challenge_bound(key, c);
		if (mpp_charge_request_decode(c->request, &req) && req.amount_sat == 0)
			abort();
		if (mpp_session_request_decode(c->request, &sreq) && sreq.amount_sat == 0)
			abort();
		terminated(cred.return_invoice, sizeof(cred.return_invoice));
		(void)mpp_opaque_route(c->opaque, tag, sizeof(tag));
	}
	terminated(why, sizeof(why));
	/* The same bytes as a request parameter, and as Accept-Payment. */
	(void)mpp_charge_request_decode(s, &req);
	int w = mpp_accept_weight(s, "lightning", "charge");
	if (w < -1 || w > 1000)
		abort();
	int64_t t;
	(void)mpp_time_parse(s, &t);
	free(s);
	return 0;
}
