#include "http/conn_guard.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/client_addr.h"
#include "core/loop.h"

#define SWEEP_MS 1000
#define NBUCKETS 4096

/* One open connection. */
struct guarded {
	struct guarded *prev, *next;
	int fd;
	struct sockaddr_storage peer;	/* to know the fd is still this connection */
	socklen_t peerlen;
	uint8_t group[16];
	int64_t since_ms;	/* waiting for a request's headers since */
	bool in_request;
	bool uncorked;		/* conn_guard_uncorked_before */
	bool proxy;		/* a trusted proxy's: not counted in its group */
	/* Past its client's share when it opened: the accept check and the
	 * count are apart, and several threads accept at once; set before
	 * the connection is read, then only read. */
	bool over;
};

/* Open connections per client group. */
struct group_count {
	struct group_count *next;
	uint8_t group[16];
	unsigned n;
};

/* conn_guard's lock: guards open_list, counts[] and open_count, which
 * every libmicrohttpd thread and the loop's sweeper touch. A leaf: nothing
 * else is locked while it is held. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct guarded *open_list;
static struct group_count *counts[NBUCKETS];
static unsigned max_per_client = 64, header_timeout_ms = 10000;
/* The reverse proxies the node runner trusts (set at start, then
 * read-only): many clients each, so the per-client cap is not theirs;
 * the clients behind them are bounded by address where they are named. */
static bool trust_all;
static const struct addr_block *trusted;
static size_t ntrusted;
static unsigned open_count;
static uint64_t sweep_timer;

static struct group_count **count_slot(const uint8_t group[16])
{
	uint32_t h = 2166136261u;
	for (int i = 0; i < 16; i++)
		h = (h ^ group[i]) * 16777619u;
	struct group_count **pp = &counts[h % NBUCKETS];
	while (*pp && memcmp((*pp)->group, group, 16) != 0)
		pp = &(*pp)->next;
	return pp;
}

enum MHD_Result conn_guard_accept(void *cls, const struct sockaddr *addr, socklen_t len)
{
	uint8_t group[16];
	if (!client_group(addr, group) || client_addr_trusted(addr, trust_all, trusted, ntrusted))
		return MHD_YES;
	pthread_mutex_lock(&mu);
	struct group_count *gc = *count_slot(group);
	bool room = !gc || gc->n < max_per_client;
	pthread_mutex_unlock(&mu);
	return room ? MHD_YES : MHD_NO;
}

static void opened(struct MHD_Connection *c, void **socket_context)
{
	const union MHD_ConnectionInfo *fdi =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct guarded *g = calloc(1, sizeof(*g));
	if (!g || !fdi)
		goto fail;
	g->fd = fdi->connect_fd;
	g->peerlen = sizeof(g->peer);
	if (getpeername(g->fd, (struct sockaddr *)&g->peer, &g->peerlen) != 0
	    || !client_group((struct sockaddr *)&g->peer, g->group))
		goto fail;
	g->since_ms = loop_now_ms();
	g->proxy = client_addr_trusted((struct sockaddr *)&g->peer, trust_all, trusted, ntrusted);
	pthread_mutex_lock(&mu);
	struct group_count **pp = g->proxy ? NULL : count_slot(g->group);
	if (pp && !*pp && (*pp = calloc(1, sizeof(**pp))))
		memcpy((*pp)->group, g->group, 16);
	if (pp && *pp)
		g->over = (*pp)->n++ >= max_per_client;
	g->next = open_list;
	if (open_list)
		open_list->prev = g;
	open_list = g;
	open_count++;
	pthread_mutex_unlock(&mu);
	*socket_context = g;
	return;
fail:
	free(g);
	*socket_context = NULL;
}

static void closed(struct guarded *g)
{
	pthread_mutex_lock(&mu);
	struct group_count **pp = g->proxy ? NULL : count_slot(g->group);
	if (pp && *pp && --(*pp)->n == 0) {
		struct group_count *gc = *pp;
		*pp = gc->next;
		free(gc);
	}
	if (g->prev)
		g->prev->next = g->next;
	else
		open_list = g->next;
	if (g->next)
		g->next->prev = g->prev;
	open_count--;
	pthread_mutex_unlock(&mu);
	free(g);
}

void conn_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
		       enum MHD_ConnectionNotificationCode code)
{
	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		opened(c, socket_context);
	else if (*socket_context)
		closed(*socket_context);
}

static struct guarded *guarded_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *i =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return i ? i->socket_context : NULL;
}

/* A request's headers came (in_request), or it ended and the deadline
 * for the next one's starts now. */
static void mark(struct MHD_Connection *c, bool in_request)
{
	struct guarded *g = guarded_of(c);
	if (!g)
		return;
	pthread_mutex_lock(&mu);
	g->in_request = in_request;
	g->since_ms = loop_now_ms();
	pthread_mutex_unlock(&mu);
}

bool conn_guard_uncorked_before(struct MHD_Connection *c)
{
	struct guarded *g = guarded_of(c);
	if (!g)
		return false;
	/* Only the connection's own thread marks it. */
	bool before = g->uncorked;
	g->uncorked = true;
	return before;
}

bool conn_guard_admitted(struct MHD_Connection *c)
{
	const struct guarded *g = guarded_of(c);
	return !g || !g->over;
}

void conn_guard_request_started(struct MHD_Connection *c)
{
	mark(c, true);
}

void conn_guard_request_done(struct MHD_Connection *c)
{
	mark(c, false);
}

/* Shut down (not close: the fd stays libmicrohttpd's) connections whose
 * request has not sent its headers in time; libmicrohttpd then sees the
 * end of the stream and closes them. The peer is checked first, so that
 * a descriptor already reused for another connection is left alone. */
static void sweep(void *arg)
{
	int64_t now = loop_now_ms();
	sweep_timer = loop_add_timer(SWEEP_MS, sweep, NULL);
	pthread_mutex_lock(&mu);
	for (struct guarded *g = open_list; g; g = g->next) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		if (g->in_request || now - g->since_ms < header_timeout_ms)
			continue;
		if (getpeername(g->fd, (struct sockaddr *)&peer, &len) == 0 && len == g->peerlen
		    && memcmp(&peer, &g->peer, len) == 0)
			shutdown(g->fd, SHUT_RDWR);
		g->since_ms = now; /* once is enough */
	}
	pthread_mutex_unlock(&mu);
}

void conn_guard_start(unsigned max_per, unsigned timeout_s, bool trust_every_peer,
		      const struct addr_block *proxies, size_t nproxies)
{
	max_per_client = max_per;
	trust_all = trust_every_peer;
	trusted = proxies;
	ntrusted = nproxies;
	header_timeout_ms = timeout_s * 1000;
	if (!sweep_timer)
		sweep_timer = loop_add_timer(SWEEP_MS, sweep, NULL);
}

void conn_guard_stop(void)
{
	if (sweep_timer)
		loop_cancel_timer(sweep_timer);
	sweep_timer = 0;
}

unsigned conn_guard_open(void)
{
	pthread_mutex_lock(&mu);
	unsigned n = open_count;
	pthread_mutex_unlock(&mu);
	return n;
}
