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

int main(void)
{
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
