/* HTTP content negotiation, as far as the paywall needs it. */
#ifndef L402_ACCEPT_H
#define L402_ACCEPT_H

#include <stdbool.h>

/* Whether an Accept header ranks text/html above JSON (application/json
 * or any +json type): html with a higher q, or the same q and named
 * first. A browser's navigation does; any type, no header, or JSON
 * first does not. Headers over 2 KiB are not read (false). */
bool accept_prefers_html(const char *accept);

#endif
