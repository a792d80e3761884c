/* The Payment scheme's lightning session (draft-lightning-session), the
 * node's side. Offered on balance= routes: a deposit invoice (the route's
 * balance), its preimage then the bearer of a session that each request
 * draws the route's price from (counted like a balance token's: the
 * session id is the token id), top-ups that add paid deposits, and close,
 * on which the node pays the client's return invoice the unspent balance,
 * once: the session is written closed before the payment is tried, and a
 * payment whose outcome a crash hid is never tried again. Idle sessions
 * are closed by the node the same way after l402-session-idle seconds.
 *
 * Records: ["l402","session",ID] = {"tag","deposit_msat","return_invoice",
 * "status","refund_sat","refund_status","closed_at"}. Top-up challenges
 * are consumed like charges. */
#ifndef L402_MPP_SESSION_H
#define L402_MPP_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "backends/backend.h"
#include "mpp.h"
#include "paywall/request.h"
#include "strbuf.h"

/* Whether s offers sessions (it sells a balance), its deposit and its
 * unit price, in whole sats as msat. */
bool mpp_session_offered(const struct route_spec *s);
uint64_t mpp_session_deposit_msat(const struct route_spec *s);
uint64_t mpp_session_unit_msat(const struct route_spec *s);

/* The WWW-Authenticate value offering a session for p's deposit invoice. */
bool mpp_session_offer(const struct paid *p, const char *bolt11, const uint8_t hash[32],
		       uint64_t expires_at, struct strbuf *out);

/* Without the lock: a parsed session credential's binding, route, expiry
 * (open and topUp) and preimage. MPP_OK fills p->mpp. */
enum mpp_err mpp_session_check(struct paid *p, struct mpp_credential *c, char *why,
			       size_t whylen);

/* Holding the loop's lock: carry out r's action (now, or later through a
 * ref). For open and bearer, serve(r) runs when r may draw on the session
 * (its verdict then names it as a balance token); topUp and close are
 * answered here. Otherwise r is answered, or unpaid(r, reason, detail)
 * asks for a fresh challenge. */
typedef struct http_step *(*mpp_session_unpaid)(struct req *r, enum reason why,
						 const char *detail);
HTTP_MUST_USE struct http_step *mpp_session_act(struct req *r, http_step_fn serve,
						 mpp_session_unpaid unpaid);

/* What keeps the answer to session id's open for its retry (paywall.c
 * hands it to the backend, which passes it back whole). */
struct keep mpp_session_keeper(const uint8_t id[32]);
void mpp_session_kept(const uint8_t id[32], unsigned status, const char *type, const char *body,
		      size_t len);

/* A session closed (written so, its refund tried), or its refund paid or
 * failed. */
struct session_event {
	bool refund;			/* a refund's outcome; else the close */
	const uint8_t *session_id;	/* 32 bytes */
	const char *tag;		/* its route's */
	uint64_t deposit_msat;		/* deposits, top-ups included */
	uint64_t spent_msat;		/* what its requests drew */
	uint64_t refund_msat;		/* paid back, or to be */
	const char *refund_status;	/* succeeded, failed, skipped */
	bool idle;			/* closed by the node for idleness */
	int64_t at;			/* UNIX seconds */
};
/* Who is told (plugin.c). */
void mpp_session_set_observer(void (*told)(const struct session_event *e));

/* Sessions in memory: loaded at start, idle ones closed. */
void mpp_session_start(void);
bool mpp_session_loaded(void);
void mpp_session_free(void);
size_t mpp_sessions_open(void);
/* An open session as the operator's dashboard shows it. */
struct session_view {
	uint8_t id[32];
	char tag[9];			/* its route's */
	uint64_t deposit_msat;		/* deposits, top-ups included */
	uint64_t spent_msat;		/* what its requests drew, when known */
	bool spent_known;		/* in memory (read again at its next request) */
	int64_t last_active;		/* UNIX seconds */
};
/* Holding the loop's lock, reading only: the open sessions, at most max
 * of them copied into out; returns how many are open. */
size_t mpp_session_list_open(struct session_view *out, size_t max);
/* What session id may spend now: its deposit while open, else 0. */
uint64_t mpp_session_limit(const uint8_t id[32]);
/* What a request running on it may settle against: its deposit until a
 * close has fixed the refund (a close waits for those requests), then 0. */
uint64_t mpp_session_settle_limit(const uint8_t id[32]);

#endif
