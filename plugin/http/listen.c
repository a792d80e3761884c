/* Opening the HTTP listeners at init, so that a taken port or a bad
 * address disables the plugin with a reason instead of failing later. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/listen.h"

bool parse_hostport(const char *s, char *host, size_t hostlen, char *port,
		    size_t portlen)
{
	const char *colon, *h = s;
	size_t hl;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return false;
		h = s + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return false; /* bare IPv6 must be bracketed */
		hl = (size_t)(colon - s);
	}
	const char *p = colon + 1;
	size_t pl = strlen(p);
	if (hl == 0 || hl >= hostlen || pl == 0 || pl > 5 || pl >= portlen)
		return false;
	for (size_t i = 0; i < pl; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	if (atoi(p) > 65535)
		return false;
	memcpy(host, h, hl);
	host[hl] = '\0';
	memcpy(port, p, pl + 1);
	return true;
}

const char *bind_hostport(const char *bind, bool *tls)
{
	bool https = strncmp(bind, "https://", 8) == 0;
	if (tls)
		*tls = https;
	return https ? bind + 8 : strncmp(bind, "http://", 7) == 0 ? bind + 7 : bind;
}

bool listener_open(const char *option, const char *spec, struct listener *l, char *why,
		   size_t whylen)
{
	char host[256], port[16];
	struct addrinfo hints = { 0 }, *res = NULL;
	int fd = -1, one = 1, rc;

	if (!parse_hostport(spec, host, sizeof(host), port, sizeof(port))) {
		snprintf(why, whylen, "%s=%s: not HOST:PORT", option, spec);
		return false;
	}
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(why, whylen, "%s=%s: %s", option, spec, gai_strerror(rc));
		return false;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, whylen, "%s=%s: %s", option, spec, strerror(errno));
		freeaddrinfo(res);
		return false;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (res->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
		snprintf(why, whylen, "%s=%s: %s", option, spec, strerror(errno));
		close(fd);
		freeaddrinfo(res);
		return false;
	}
	freeaddrinfo(res);

	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char nhost[NI_MAXHOST], nport[NI_MAXSERV];
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	getnameinfo((struct sockaddr *)&ss, sl, nhost, sizeof(nhost), nport,
		    sizeof(nport), NI_NUMERICHOST | NI_NUMERICSERV);
	snprintf(l->addr, sizeof(l->addr), ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
		 nhost, nport);
	l->fd = fd;
	return true;
}

bool listeners_open(const struct l402_config *cfg, struct listener *out,
		    size_t *n, char *why, size_t whylen)
{
	*n = 0;
	for (size_t i = 0; i < cfg->nbind; i++) {
		bool tls;
		const char *hp = bind_hostport(cfg->bind[i], &tls);
		out[*n].tls = tls;
		if (!listener_open("l402-bind", hp, &out[*n], why, whylen)) {
			listeners_close(out, *n);
			*n = 0;
			return false;
		}
		(*n)++;
	}
	return true;
}

void listeners_close(struct listener *l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (l[i].fd >= 0) {
			close(l[i].fd);
			l[i].fd = -1;
		}
}
