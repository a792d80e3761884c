#include "http/client_addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
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

bool addr_block_parse(const char *s, struct addr_block *out)
{
	char ip[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	struct in_addr a4;
	struct in6_addr a6;
	unsigned max;
	if (n == 0 || n >= sizeof(ip))
		return false;
	memcpy(ip, s, n);
	ip[n] = '\0';
	if (inet_pton(AF_INET, ip, &a4) == 1) {
		group_v4(&a4, out->addr);
		max = 32;
	} else if (inet_pton(AF_INET6, ip, &a6) == 1) {
		memcpy(out->addr, &a6, 16);
		max = 128;
	} else {
		return false;
	}
	unsigned bits = max;
	if (slash) {
		const char *p = slash + 1;
		if (!*p || strlen(p) > 3 || strspn(p, "0123456789") != strlen(p))
			return false;
		bits = (unsigned)atoi(p);
		if (bits > max)
			return false;
	}
	out->bits = bits + (128 - max);
	return true;
}

static bool in_block(const struct addr_block *b, const uint8_t a[16])
{
	unsigned whole = b->bits / 8, rest = b->bits % 8;
	if (memcmp(a, b->addr, whole) != 0)
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a[whole] & mask) == (b->addr[whole] & mask);
}

/* The peer's whole address, IPv4 as ::ffff:a.b.c.d. */
static bool peer_addr(const struct sockaddr *sa, uint8_t a[16])
{
	if (sa && sa->sa_family == AF_INET) {
		group_v4(&((const struct sockaddr_in *)sa)->sin_addr, a);
		return true;
	}
	if (sa && sa->sa_family == AF_INET6) {
		memcpy(a, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		return true;
	}
	return false;
}

bool client_addr_trusted(const struct sockaddr *sa, bool trust_all,
			 const struct addr_block *trusted, size_t ntrusted)
{
	uint8_t a[16];
	if (!peer_addr(sa, a))
		return false;
	if (trust_all)
		return true;
	for (size_t i = 0; i < ntrusted; i++)
		if (in_block(&trusted[i], a))
			return true;
	return false;
}

/* Decimal digits of v, at p; returns the end. */
static char *put_dec(char *p, unsigned v)
{
	if (v >= 100)
		*p++ = (char)('0' + v / 100);
	if (v >= 10)
		*p++ = (char)('0' + v / 10 % 10);
	*p++ = (char)('0' + v % 10);
	return p;
}

static char *put_v4(char *p, const uint8_t a[4])
{
	for (int i = 0; i < 4; i++) {
		if (i)
			*p++ = '.';
		p = put_dec(p, a[i]);
	}
	return p;
}

/* RFC 5952 text, as inet_ntop writes it (the longest run of two or more
 * zero groups, the first of equals, as "::"; IPv4-mapped and -compatible
 * addresses end in dotted decimal). */
static char *put_v6(char *p, const uint8_t a[16])
{
	static const char hex[] = "0123456789abcdef";
	unsigned g[8];
	int best = -1, bestlen = 0;
	for (int i = 0; i < 8; i++)
		g[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
	for (int i = 0; i < 8;) {
		int j = i;
		while (j < 8 && g[j] == 0)
			j++;
		if (j - i > bestlen && j - i >= 2) {
			best = i;
			bestlen = j - i;
		}
		i = j > i ? j : i + 1;
	}
	/* ::a.b.c.d (not ::1 or ::) and ::ffff:a.b.c.d */
	bool v4 = best == 0 && (bestlen == 6 || (bestlen == 5 && g[5] == 0xffff))
		  && (bestlen == 5 || g[6] != 0);
	int groups = v4 ? 6 : 8;
	for (int i = 0; i < groups; i++) {
		if (i == best) {
			*p++ = ':';
			if (i == 0)
				*p++ = ':';
			i += bestlen - 1;
			continue;
		}
		bool started = false;
		for (int shift = 12; shift >= 0; shift -= 4) {
			unsigned d = g[i] >> shift & 15;
			if (d || started || shift == 0) {
				*p++ = hex[d];
				started = true;
			}
		}
		if (i < 7)
			*p++ = ':';
	}
	if (v4)
		p = put_v4(p, a + 12);
	return p;
}

bool client_addr_format(const struct sockaddr *sa, char out[CLIENT_ADDR_TEXT])
{
	char *end;
	if (sa && sa->sa_family == AF_INET)
		end = put_v4(out, (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr);
	else if (sa && sa->sa_family == AF_INET6)
		end = put_v6(out, ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
	else
		return false;
	*end = '\0';
	return true;
}

void client_addr_of(struct MHD_Connection *c, bool trust_all, const struct addr_block *trusted,
		    size_t ntrusted, struct client_addr *out)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	if (client_addr_trusted(sa, trust_all, trusted, ntrusted) && forwarded(c, out))
		return;
	/* No stdio: this runs for every request (inet_ntop printfs). */
	if (!client_group(sa, out->group) || !client_addr_format(sa, out->text))
		memcpy(out->text, "unknown", sizeof("unknown"));
}
