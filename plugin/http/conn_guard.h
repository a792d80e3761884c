/* Keeping connections for everyone: at most so many open connections per
 * client (an IPv6 /64 is one client) and, for a request, a deadline to
 * send its headers, after which its connection is shut down. Thousands
 * of idle or trickling connections from one place then cannot take every
 * other client's room. All of it runs on libmicrohttpd's threads under
 * its own small lock, and on the loop for the deadline sweep. */
#ifndef L402_CONN_GUARD_H
#define L402_CONN_GUARD_H

#include <microhttpd.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "core/state.h"

/* For MHD_start_daemon: its accept policy and connection notifier. */
enum MHD_Result conn_guard_accept(void *cls, const struct sockaddr *addr, socklen_t len);
void conn_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
		       enum MHD_ConnectionNotificationCode code);
/* Whether c is within its client's share of connections (false: close
 * it; two threads accepting at once can both pass the accept check). */
bool conn_guard_admitted(struct MHD_Connection *c);
/* Whether the transport uncorked c's socket before (and from now on it
 * has): kept here, with the connection's other state. */
bool conn_guard_uncorked_before(struct MHD_Connection *c);
/* A request's headers are in; it is done (the next one's deadline runs). */
void conn_guard_request_started(struct MHD_Connection *c);
void conn_guard_request_done(struct MHD_Connection *c);

/* Connections open now. */
unsigned conn_guard_open(void);

/* Start the deadline sweep (holding the loop's lock); stop it. Peers
 * that are trusted proxies (every peer when trust_all) are not capped:
 * their connections carry many clients. */
void conn_guard_start(unsigned max_per_client, unsigned header_timeout_s, bool trust_all,
		      const struct addr_block *trusted, size_t ntrusted);
void conn_guard_stop(void);

#endif
