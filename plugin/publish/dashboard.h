/* The operator's dashboard: one server-rendered HTML page (no script, no
 * request elsewhere) at /dashboard on the metrics listener
 * (l402-metrics-bind), never on the public one. Over a range of days
 * chosen by ?since=YYYY-MM-DD&until=YYYY-MM-DD (UTC, until included, at
 * most SALES_MAX_DAYS days; the last 30 days by default): revenue by day
 * and by route and the latest sales, read from lightningd's paid invoices
 * (store/sales.c, as l402-stats reads them); and now: open sessions with
 * their balances, challenges against sales per route (the route
 * counters). */
#ifndef L402_DASHBOARD_H
#define L402_DASHBOARD_H

#include <microhttpd.h>

/* On the metrics listener's thread, for every call libmicrohttpd makes
 * for a request of /dashboard: *state is the request's (NULL at first);
 * the answer is queued now, or the connection is suspended until the
 * node's records are read. dashboard_done frees *state once the request
 * is complete. */
enum MHD_Result dashboard_serve(struct MHD_Connection *c, const char *method, void **state);
void dashboard_done(void *state);
/* Holding the loop's lock, before the listener stops: every request still
 * waiting is answered (503), and no new one waits. */
void dashboard_stop(void);

#endif
