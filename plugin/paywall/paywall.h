/* The paywall's decision for one request: which route, free or paid,
 * the credentials (L402 and aperture's headers), the verdict cache, the
 * node's local state (paid, revoked, uses, rates), and for everything
 * that is not paid, a 402 with a fresh invoice and token, or a wait. */
#ifndef L402_PAYWALL_H
#define L402_PAYWALL_H

#include "http/http.h"

/* Decide and answer r (at once, or later after http_wait). Called
 * without the loop's lock: verification runs without it, and it is taken
 * only for what needs plugin state (the checks, the challenge). */
enum http_outcome paywall_handle(struct req *r);

#endif
