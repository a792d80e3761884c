/* The plugin side of lightningd's stdin/stdout JSON-RPC: framing, replies
 * that echo lightningd's id byte for byte, and parameter binding that
 * accepts params by position or by name as lightning-cli sends them. */
#ifndef L402_PROTOCOL_H
#define L402_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>

#include "json_in.h"
#include "json_out.h"
#include "lightningd/jsonrpc_errors.h"
#include "strbuf.h"

/* A request from lightningd that we still owe an answer. */
struct cmd {
	char *id_json;	/* the id token exactly as received */
	char *id_str;	/* the id as a string, for chaining our own calls */
	char *method;
};

/* Write one message (a complete JSON object) to lightningd. */
void protocol_send(const char *json, size_t len);
/* A notification of a custom topic (declared in the manifest's
 * "notifications"), which lightningd passes to its subscribers with params
 * unchanged (a JSON object). */
void protocol_notify(const char *topic, const char *params, size_t len);

/* Reply with result (a JSON value) and free cmd. */
void cmd_success(struct cmd *cmd, const struct strbuf *result);
/* Reply with an error and free cmd. */
void cmd_fail(struct cmd *cmd, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void cmd_free(struct cmd *cmd);

/* Bind params: names in positional order, names[i] starting with '?' are
 * optional. tok[i] gets each token or -1. Replies -32602 and frees cmd on
 * unknown names, too many or missing ones, returning false. */
bool param_bind(struct cmd *cmd, const struct json_doc *doc, int params,
		const char *const *names, int n, int *tok);

/* Who handles each complete message from lightningd (plugin.c). */
typedef void (*protocol_dispatcher)(const struct json_doc *doc);
void protocol_set_dispatcher(protocol_dispatcher d);
/* Forget the input buffered so far (at exit). */
void protocol_free(void);

/* Feed bytes read from stdin; dispatches every complete message. Returns
 * false if the stream is broken beyond repair. */
bool protocol_feed(const char *buf, size_t len);

#endif
