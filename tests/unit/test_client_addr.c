/* Client address groups: an IPv6 /64 is one client, IPv4 (mapped or not)
 * is its address. */
#include "../../plugin/http/client_addr.c"

#include "test.h"

static void group_of(const char *ip, uint8_t g[16])
{
	struct sockaddr_in a4 = { .sin_family = AF_INET };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6 };
	memset(g, 0xEE, 16);
	if (inet_pton(AF_INET, ip, &a4.sin_addr) == 1)
		client_group((struct sockaddr *)&a4, g);
	else if (inet_pton(AF_INET6, ip, &a6.sin6_addr) == 1)
		client_group((struct sockaddr *)&a6, g);
}

static bool same(const char *a, const char *b)
{
	uint8_t ga[16], gb[16];
	group_of(a, ga);
	group_of(b, gb);
	return memcmp(ga, gb, 16) == 0;
}

/* client_addr_format writes what inet_ntop writes. */
static bool formats_as_ntop(int family, const uint8_t *bytes)
{
	struct sockaddr_in a4 = { .sin_family = AF_INET };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6 };
	char want[CLIENT_ADDR_TEXT], got[CLIENT_ADDR_TEXT];
	const struct sockaddr *sa;
	if (family == AF_INET) {
		memcpy(&a4.sin_addr, bytes, 4);
		sa = (const struct sockaddr *)&a4;
		inet_ntop(AF_INET, &a4.sin_addr, want, sizeof(want));
	} else {
		memcpy(&a6.sin6_addr, bytes, 16);
		sa = (const struct sockaddr *)&a6;
		inet_ntop(AF_INET6, &a6.sin6_addr, want, sizeof(want));
	}
	if (!client_addr_format(sa, got) || strcmp(got, want) != 0) {
		fprintf(stderr, "formatted %s, inet_ntop %s\n", got, want);
		return false;
	}
	return true;
}

static void check_format(void)
{
	static const char *const v6[] = {
		"::", "::1", "::2", "1::", "2001:db8::1", "2001:db8:0:1:1:1:1:1", "2001:0:0:1::1",
		"2001:db8::1:0:0:1", "fe80::1:2:3:4", "::ffff:192.0.2.1", "::ffff:0.0.0.0",
		"::1.2.3.4", "::0.1.2.3", "::ffff:1:2", "0:0:0:0:0:ffff:0:1", "1:0:0:2:0:0:0:3",
		"1:0:0:2:0:0:3:0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "0:1:0:1:0:1:0:1",
		"::1:0:0:0", "::ffff:0:0", "64:ff9b::192.0.2.33",
	};
	uint8_t b[16];
	for (size_t i = 0; i < sizeof(v6) / sizeof(v6[0]); i++) {
		CHECK(inet_pton(AF_INET6, v6[i], b) == 1);
		CHECK(formats_as_ntop(AF_INET6, b));
	}
	/* Every pattern of zero and non-zero groups, and random addresses. */
	uint32_t x = 12345;
	for (unsigned m = 0; m < 256 * 8; m++) {
		for (int g = 0; g < 8; g++) {
			x = x * 1103515245u + 12345u;
			unsigned v = (m & (1u << g)) ? (x >> 8) & 0xffff : 0;
			if (m >= 256)
				v = (m >> 8) & 1 ? (v >> (x & 15)) : v;
			b[2 * g] = (uint8_t)(v >> 8);
			b[2 * g + 1] = (uint8_t)v;
		}
		CHECK(formats_as_ntop(AF_INET6, b));
	}
	for (unsigned i = 0; i < 4096; i++) {
		x = x * 1103515245u + 12345u;
		uint8_t a[4] = { (uint8_t)(x >> 24), (uint8_t)(x >> 16), (uint8_t)(i & 7 ? x >> 8 : 0),
				 (uint8_t)(i & 3 ? x : 0) };
		CHECK(formats_as_ntop(AF_INET, a));
	}
	struct sockaddr_un { sa_family_t f; } other = { AF_UNIX };
	char t[CLIENT_ADDR_TEXT];
	CHECK(!client_addr_format((struct sockaddr *)&other, t));
}

int main(void)
{
	check_format();
	CHECK(same("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"));
	CHECK(!same("2001:db8:1:2::1", "2001:db8:1:3::1"));
	CHECK(!same("192.0.2.1", "192.0.2.2"));
	CHECK(same("192.0.2.1", "::ffff:192.0.2.1"));
	CHECK(!same("::ffff:192.0.2.1", "::ffff:192.0.2.2"));
	CHECK(!same("192.0.2.1", "2001:db8::1"));
	struct sockaddr_un { sa_family_t f; } other = { AF_UNIX };
	uint8_t g[16];
	CHECK(!client_group((struct sockaddr *)&other, g));
	CHECK(!client_group(NULL, g));
	return test_done("test_client_addr");
}
