#include "client_addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static void group_v4(const struct in_addr *a, uint8_t g[16])
{
	memset(g, 0, 16);
	g[10] = g[11] = 0xff;
	memcpy(g + 12, a, 4);
}

static void group_v6(const struct in6_addr *a, uint8_t g[16])
{
	memcpy(g, a, 16);
	/* An IPv4 client on a dual-stack socket stays its IPv4 address. */
	if (!IN6_IS_ADDR_V4MAPPED(a))
		memset(g + 8, 0, 8);
}

bool client_group(const struct sockaddr *sa, uint8_t group[16])
{
	if (sa && sa->sa_family == AF_INET) {
		group_v4(&((const struct sockaddr_in *)sa)->sin_addr, group);
		return true;
	}
	if (sa && sa->sa_family == AF_INET6) {
		group_v6(&((const struct sockaddr_in6 *)sa)->sin6_addr, group);
		return true;
	}
	return false;
}

/* Behind a reverse proxy we run, the client is the last address it
 * appended to X-Forwarded-For. False if there is none we can read. */
static bool forwarded(struct MHD_Connection *c, struct client_addr *out)
{
	const char *xff = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For");
	char ip[64];
	struct in_addr a4;
	struct in6_addr a6;
	if (!xff)
		return false;
	const char *last = strrchr(xff, ',');
	last = last ? last + 1 : xff;
	while (*last == ' ' || *last == '\t')
		last++;
	size_t n = strcspn(last, " \t");
	if (n == 0 || n >= sizeof(ip))
		return false;
	memcpy(ip, last, n);
	ip[n] = '\0';
	if (inet_pton(AF_INET, ip, &a4) == 1)
		group_v4(&a4, out->group);
	else if (inet_pton(AF_INET6, ip, &a6) == 1)
		group_v6(&a6, out->group);
	else
		return false;
	memcpy(out->text, ip, n + 1);
	return true;
}

void client_addr_of(struct MHD_Connection *c, bool trust_proxy, struct client_addr *out)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	memset(out, 0, sizeof(*out));
	if (trust_proxy && forwarded(c, out))
		return;
	if (!client_group(sa, out->group)
	    || !inet_ntop(sa->sa_family,
			  sa->sa_family == AF_INET
				  ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
				  : (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr,
			  out->text, sizeof(out->text)))
		snprintf(out->text, sizeof(out->text), "unknown");
}
