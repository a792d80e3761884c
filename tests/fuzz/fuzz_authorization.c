/* libFuzzer target: the Authorization and Macaroon header parsers, and
 * verification of whatever they accept. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "l402.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct l402_credential cred;
	static const uint8_t secret[L402_SECRET_LEN] = { 1, 2, 3 };
	struct l402_verify_req req = { "svc", "read", 1700000000 };
	struct l402_verdict v;
	char *s = malloc(size + 1);

	if (sodium_init() < 0 || !s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	if (l402_parse_authorization(s, size, &cred) == L402_OK)
		(void)l402_verify(&cred, secret, &req, &v);
	if (l402_parse_macaroon_header(s, size, &cred) == L402_OK)
		(void)l402_verify(&cred, secret, &req, &v);
	free(s);
	return 0;
}
