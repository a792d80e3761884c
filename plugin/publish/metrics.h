/* Prometheus metrics on a listener of their own (l402-metrics-bind, off by
 * default, never the public one): requests by route and outcome (402s by
 * reason), payments and revenue by route, unpaid invoices, tokens in
 * memory, revocations, open connections, and histograms of HTTP request
 * and lightningd RPC durations. Label sets are bounded: routes (not
 * paths), a fixed list of reasons, a fixed list of RPC outcomes. The same
 * listener serves the operator's dashboard (dashboard.h) at /dashboard. */
#ifndef L402_METRICS_H
#define L402_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/state.h"
#include "lightningd/rpc.h"
#include "paywall/reasons.h"

/* A request answered and done (any thread): its route (0: none), why it
 * was challenged (for a 402), its status. */
void metrics_request_done(uint64_t route_id, enum reason why, unsigned status,
			  int64_t duration_ns);
/* An RPC call completed (the loop): how, and how long it took. Long
 * polls are left out. */
void metrics_rpc_done(enum rpc_status status, int64_t duration_ns);

/* Start and stop the listener; false with the reason when it cannot bind. */
bool metrics_start(const char *bind, char *why, size_t whylen);
void metrics_stop(void);
/* Where it listens ("" when off). */
const char *metrics_addr(void);

#endif
