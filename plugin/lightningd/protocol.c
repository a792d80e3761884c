/* lightningd's side of the conversation: framing of stdin, replies and
 * notifications on stdout (each message followed by "\n\n", nothing else
 * ever written there), and parameter binding. */
#include "lightningd/protocol.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

/* A single message from lightningd larger than this is a broken stream. */
#define MAX_MESSAGE (64u * 1024 * 1024)
#define MAX_TOKENS (1u * 1024 * 1024)

static protocol_dispatcher dispatch;

void protocol_set_dispatcher(protocol_dispatcher d)
{
	dispatch = d;
}

static struct strbuf inbuf = { NULL, 0, 0, MAX_MESSAGE + 65536, false };

static void write_all(const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(STDOUT_FILENO, p, n);
		if (w < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			/* lightningd is gone: nothing to tell it any more. */
			_exit(0);
		}
		p += w;
		n -= (size_t)w;
	}
}

void protocol_send(const char *json, size_t len)
{
	write_all(json, len);
	write_all("\n\n", 2);
}

void protocol_notify(const char *topic, const char *params, size_t len)
{
	struct strbuf out;
	struct json_out j;
	json_out_object(&j, &out, 0);
	json_add_string(&j, "jsonrpc", "2.0");
	json_add_string(&j, "method", topic);
	json_add_raw(&j, "params", params, len);
	json_object_end(&j);
	protocol_send(out.data, out.len);
	strbuf_free(&out);
}

/* A log line or an error message: at most this long. */
#define MAX_LOG_MESSAGE 8192

static void format_message(struct strbuf *msg, const char *fmt, va_list ap)
{
	strbuf_init(msg, MAX_LOG_MESSAGE);
	strbuf_vprintf(msg, fmt, ap);
}

void plugin_log(enum log_level level, const char *fmt, ...)
{
	static const char *names[] = { "trace", "debug", "info", "unusual", "broken" };
	struct strbuf msg, out;
	struct json_out j;
	va_list ap;

	va_start(ap, fmt);
	format_message(&msg, fmt, ap);
	va_end(ap);
	json_out_object(&j, &out, 0);
	json_add_string(&j, "jsonrpc", "2.0");
	json_add_string(&j, "method", "log");
	json_object_start(&j, "params");
	json_add_string(&j, "level", names[level]);
	json_add_stringn(&j, "message", msg.data ? msg.data : "", msg.len);
	json_object_end(&j);
	json_object_end(&j);
	protocol_send(out.data, out.len);
	strbuf_free(&msg);
	strbuf_free(&out);
}

void cmd_free(struct cmd *cmd)
{
	free(cmd->id_json);
	free(cmd->id_str);
	free(cmd->method);
	free(cmd);
}

void cmd_success(struct cmd *cmd, const struct strbuf *result)
{
	struct strbuf out;
	strbuf_init(&out, 0);
	strbuf_printf(&out, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":", cmd->id_json);
	strbuf_append(&out, result->data, result->len);
	strbuf_putc(&out, '}');
	protocol_send(out.data, out.len);
	strbuf_free(&out);
	cmd_free(cmd);
}

void cmd_fail(struct cmd *cmd, int code, const char *fmt, ...)
{
	struct strbuf msg, out;
	va_list ap;

	va_start(ap, fmt);
	format_message(&msg, fmt, ap);
	va_end(ap);
	strbuf_init(&out, 0);
	strbuf_printf(&out, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"error\":{\"code\":%d,\"message\":",
		      cmd->id_json, code);
	json_escape_string(&out, msg.data ? msg.data : "", msg.len);
	strbuf_puts(&out, "}}");
	protocol_send(out.data, out.len);
	strbuf_free(&msg);
	strbuf_free(&out);
	cmd_free(cmd);
}

/* What to write in place of an argument named name. */
static const char *placeholder(const char *name)
{
	if (strcmp(name, "route") == 0)
		return "METHOD PATH PRICE BACKEND key=value ...";
	if (strcmp(name, "authorization") == 0)
		return "L402 <macaroon>:<preimage>";
	return "...";
}

/* A name no parameter has. lightning-cli, given a first argument holding
 * '=' (a route with valid=60, a base64 token), sends every argument as
 * name=value, split at the first '=': the name is then no name at all.
 * Say so, and how to name the argument instead. */
static void unknown_param(struct cmd *cmd, const struct json_doc *doc, int t,
			  const char *const *names, int n)
{
	char key[128];
	bool plain = json_get_string(doc, t, key, sizeof(key), NULL);
	if (!plain) {
		size_t len;
		const char *raw = json_raw(doc, t, &len);
		snprintf(key, sizeof(key), "%.*s", (int)(len < 40 ? len : 40), raw);
	}
	for (const char *p = key; plain && *p; p++)
		plain = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-';
	if (plain || n == 0) {
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "unknown parameter: %s", key);
		return;
	}
	const char *first = names[0][0] == '?' ? names[0] + 1 : names[0];
	/* A credential is not worth echoing whole. */
	if (strlen(key) > 40)
		strcpy(key + 37, "...");
	cmd_fail(cmd, JSONRPC2_INVALID_PARAMS,
		 "unknown parameter: %s (lightning-cli sent your argument as name=value "
		 "because it holds '='; name it instead: lightning-cli -k %s %s=\"%s\")",
		 key, cmd->method, first, placeholder(first));
}

bool param_bind(struct cmd *cmd, const struct json_doc *doc, int params,
		const char *const *names, int n, int *tok)
{
	for (int i = 0; i < n; i++)
		tok[i] = -1;
	if (params < 0 || json_is_null(doc, params))
		goto required;
	if (json_is_array(doc, params)) {
		if (doc->toks[params].size > n) {
			cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "too many parameters: got %d, expected at most %d",
				 doc->toks[params].size, n);
			return false;
		}
		int i, t;
		json_for_each_arr(doc, params, i, t)
			tok[i] = json_is_null(doc, t) ? -1 : t;
	} else if (json_is_object(doc, params)) {
		int t = params + 1;
		for (int k = 0; k < doc->toks[params].size; k++) {
			int i;
			for (i = 0; i < n; i++) {
				const char *nm = names[i][0] == '?' ? names[i] + 1 : names[i];
				if (json_streq(doc, t, nm))
					break;
			}
			if (i == n) {
				unknown_param(cmd, doc, t, names, n);
				return false;
			}
			tok[i] = json_is_null(doc, t + 1) ? -1 : t + 1;
			t = json_next(doc, t + 1);
		}
	} else {
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "params must be an array or an object");
		return false;
	}
required:
	for (int i = 0; i < n; i++)
		if (names[i][0] != '?' && tok[i] < 0) {
			cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "missing required parameter: %s", names[i]);
			return false;
		}
	return true;
}

bool protocol_feed(const char *buf, size_t len)
{
	if (!strbuf_append(&inbuf, buf, len)) {
		plugin_log(LOG_BROKEN, "message from lightningd too large");
		return false;
	}
	for (;;) {
		size_t st, en;
		int r = json_find_value(inbuf.data, inbuf.len, &st, &en);
		if (r == 0)
			return inbuf.len <= MAX_MESSAGE;
		if (r < 0) {
			plugin_log(LOG_BROKEN, "garbage from lightningd on stdin");
			return false;
		}
		char *msg = malloc(en - st);
		if (!msg)
			return false;
		memcpy(msg, inbuf.data + st, en - st);
		strbuf_consume(&inbuf, en);
		struct json_doc doc;
		if (json_parse_alloc(&doc, msg, en - st, MAX_TOKENS)
		    && json_is_object(&doc, 0)) {
			if (dispatch)
				dispatch(&doc);
			json_doc_free(&doc);
		} else {
			plugin_log(LOG_BROKEN, "unparsable message from lightningd dropped");
		}
		free(msg);
	}
}

void protocol_free(void)
{
	strbuf_free(&inbuf);
}
