/* libFuzzer target: the l402-route parser (routes also arrive from
 * lightning-cli, so they are outside bytes too). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "route_spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct route_spec r;
	char why[256];
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (route_spec_parse(s, &r, why, sizeof(why))) {
		(void)route_matches_path(&r, "/v1/price/x");
		if (r.price_msat > 2100000000000000000ULL || !r.service[0])
			abort();
	}
	free(s);
	return 0;
}
