/* What the shop tells others: a custom notification per sale, per
 * session close and per refund, which lightningd passes to every plugin
 * subscribed to the topic, and the sales in lightningd's log. plugin.c
 * declares the topics in the manifest and makes these the observers of
 * payments.c and mpp_session.c. */
#ifndef L402_EVENTS_H
#define L402_EVENTS_H

#include <stddef.h>

#include "paywall/mpp_session.h"
#include "store/payments.h"

extern const char *const events_topics[];
extern const size_t nevents_topics;

void events_sale(const struct sale *s);
void events_session(const struct session_event *e);

#endif
