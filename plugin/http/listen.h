/* The HTTP listeners: the sockets of l402-bind, opened before the HTTP
 * server takes them over. */
#ifndef L402_LISTEN_H
#define L402_LISTEN_H

#include <stdbool.h>
#include <stddef.h>

#include "core/state.h"

/* Bind every l402-bind address; on failure, *why says which. */
bool listeners_open(const struct l402_config *cfg, struct listener *out,
		    size_t *n, char *why, size_t whylen);
void listeners_close(struct listener *l, size_t n);
/* One, for the option named (for the reason when it fails). */
bool listener_open(const char *option, const char *spec, struct listener *l, char *why,
		   size_t whylen);
/* A bind without its scheme: "http://" or "https://" is taken off (and
 * *tls says which, when tls is not NULL). */
const char *bind_hostport(const char *bind, bool *tls);
/* Parse HOST:PORT or [V6]:PORT into host and port (copied, NUL-terminated). */
bool parse_hostport(const char *s, char *host, size_t hostlen, char *port,
		    size_t portlen);

#endif
