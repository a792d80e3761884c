/* Client for lightningd's JSON-RPC socket: string ids chained to the
 * request that caused the call ("cli:x#1/cln:x#2/l402:invoice#3"), many
 * requests in flight, a deadline for each, and reconnection with backoff
 * when the socket drops. */
#ifndef L402_RPC_H
#define L402_RPC_H

#include <stdbool.h>
#include <stdint.h>

#include "json_in.h"
#include "lightningd/jsonrpc_errors.h"

enum rpc_status { RPC_OK, RPC_ERROR, RPC_TIMEOUT, RPC_DISCONNECTED };

struct rpc_result {
	enum rpc_status status;
	const struct json_doc *doc;	/* the whole response (OK and ERROR) */
	int result;			/* token of "result", or -1 */
	int64_t code;			/* error code for RPC_ERROR */
	char message[256];		/* error message, or why it failed */
};

typedef void (*rpc_cb)(void *arg, const struct rpc_result *r);

/* path: the socket; on_connect runs after every (re)connection. */
void rpc_init(const char *path, void (*on_connect)(void));
bool rpc_connected(void);
/* params_json must be a JSON object or array. parent_id (may be NULL) is
 * the id of the request that caused this call; timeout_ms 0 means no
 * deadline (long polls). Returns true when the call is made: cb then runs
 * exactly once, never from inside rpc_call (with the reply, a timeout, or
 * a lost connection). Returns false when it cannot be made (params too
 * large, no memory): cb never runs, and the caller answers for it now. */
bool rpc_call(const char *method, const char *params_json, const char *parent_id,
	      int timeout_ms, rpc_cb cb, void *arg) __attribute__((warn_unused_result));
/* Told how each call with a deadline ended, and how long it took (for
 * metrics); long polls are left out. */
typedef void (*rpc_observer)(enum rpc_status status, int64_t duration_ns);
void rpc_set_observer(rpc_observer done);
/* Fail every call in flight with RPC_DISCONNECTED and close (shutdown). */
void rpc_close(void);
/* Requests in flight that have a deadline (long polls excluded). */
unsigned rpc_pending(void);

#endif
