/* Limits that keep strangers from abusing the node: token buckets (per
 * route and token, or per route and client IP), and a cap on the unpaid
 * invoices the plugin has outstanding, with the expired ones deleted from
 * lightningd so a flood of challenges cannot grow its database. All
 * memory here is bounded. */
#ifndef L402_LIMITS_H
#define L402_LIMITS_H

#include <stdbool.h>
#include <stdint.h>

/* Take one from the bucket (kind, route, subject): n per `per` seconds,
 * holding at most burst. Returns 0 if allowed, else the seconds to wait. */
unsigned limits_take(char kind, uint64_t route_id, const char *subject,
		     uint32_t n, uint32_t per, uint32_t burst);

/* Parse "N/SECONDS"; false if malformed. */
bool limits_parse_rate(const char *s, uint32_t *n, uint32_t *per);

/* Unpaid invoices we created and that can still be paid. */
bool limits_unpaid_room(void);
void limits_unpaid_add(const char *label, uint64_t expires_at, const uint8_t hash[32]);
void limits_unpaid_paid(const uint8_t hash[32]);
unsigned limits_unpaid_count(void);
uint64_t limits_deleted_count(void);

/* Start the sweeper: deletes our expired unpaid invoices, first from a
 * listinvoices at start (what an earlier run left), then as they expire. */
void limits_start(void);
void limits_free(void);

#endif
