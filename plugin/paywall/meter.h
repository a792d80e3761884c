/* The paywall's meter (backends/backend.h): a backend that learns what a
 * request cost as it runs (the proxy: the upstream's X-L402-Cost-Msat, a
 * stream's events) draws and settles through it on the balance the
 * request is paid from: a balance token's, or a Payment session's. */
#ifndef L402_METER_H
#define L402_METER_H

#include "backends/backend.h"
#include "paywall/request.h"

/* The meter for p's request: ops NULL unless it holds part of a balance. */
struct meter paid_meter(const struct paid *p);

#endif
