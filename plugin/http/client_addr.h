/* Who a request comes from: the address as connected (or, behind a
 * proxy the node runner trusts, as its X-Forwarded-For says), and the
 * group that rate limits and connection caps count it in. An IPv6 client
 * is grouped by its /64, since one subscriber usually holds a whole /64
 * (2^64 addresses would otherwise be 2^64 identities); an IPv4 client is
 * its address. */
#ifndef L402_CLIENT_ADDR_H
#define L402_CLIENT_ADDR_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/state.h"

/* The longest address text, with its NUL (INET6_ADDRSTRLEN is 46). */
#define CLIENT_ADDR_TEXT 64

struct client_addr {
	char text[CLIENT_ADDR_TEXT];		/* as people read it ("unknown" if not known) */
	uint8_t group[16];	/* IPv4 as ::ffff:a.b.c.d; IPv6 with the low 64 bits zero */
};

/* An address block the node runner trusts to say who its clients are:
 * IPv4 as ::ffff:a.b.c.d with bits counted from the IPv6 top. */

/* "ADDR" or "ADDR/BITS", IPv4 or IPv6. */
bool addr_block_parse(const char *s, struct addr_block *out);

/* Whether a peer is a reverse proxy the node runner trusts (every peer
 * when trust_all): its X-Forwarded-For names the client. */
bool client_addr_trusted(const struct sockaddr *sa, bool trust_all,
			 const struct addr_block *trusted, size_t ntrusted);
/* X-Forwarded-For is believed from every peer when trust_all, else only
 * from peers inside one of the trusted blocks. */
void client_addr_of(struct MHD_Connection *c, bool trust_all, const struct addr_block *trusted,
		    size_t ntrusted, struct client_addr *out);
/* An IPv4 or IPv6 socket address as inet_ntop writes it, without stdio;
 * false for other families. */
bool client_addr_format(const struct sockaddr *sa, char out[CLIENT_ADDR_TEXT]);
/* The group of a socket address; false for other families. */
bool client_group(const struct sockaddr *sa, uint8_t group[16]);

#endif
