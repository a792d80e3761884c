/* CORS, so that browser apps and wallets (Alby's fetchWithL402) can pay:
 * the headers every answer carries, and preflights. A preflight is an
 * OPTIONS with Origin and Access-Control-Request-Method (the Fetch
 * standard); any other OPTIONS is an ordinary request for the routes. */
#ifndef L402_CORS_H
#define L402_CORS_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

/* The longest l402-cors-origin. */
#define CORS_MAX_ORIGIN 1024

/* l402-cors-origin, at start and whenever it changes. */
void cors_set_origin(const char *origin);
/* The answer headers a page on another origin may read besides the
 * transport's own (WWW-Authenticate, Link, Retry-After): a list of names,
 * once, at start. */
void cors_expose(const char *names);

/* Changes whenever the origin does: answers made once (with its
 * headers) are made again. */
uint64_t cors_generation(void);
/* The headers of every answer; public documents are open to every origin. */
void cors_add(struct MHD_Response *resp, bool public_doc);
/* Whether the request on c is a preflight. */
bool cors_is_preflight(struct MHD_Connection *c);
/* The answer to a preflight: every method, and the headers it asks for
 * (when they read as header names; otherwise the ones clients send). */
struct MHD_Response *cors_preflight(struct MHD_Connection *c);

#endif
