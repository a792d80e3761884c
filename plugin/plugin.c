/* plugin/l402: the Core Lightning plugin. lightningd starts it, asks for
 * the manifest, sends init with our options, then forwards our commands
 * and the notifications we subscribed to. stdin, the RPC socket and the
 * proxy's events run in one event loop (loop.c); the HTTP server runs on
 * libmicrohttpd's threads, which take the loop's lock to handle a
 * request. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/backend.h"
#include "http/cors.h"
#include "http/http.h"
#include "paywall/checkout.h"
#include "paywall/forward_auth.h"
#include "paywall/paywall.h"
#include "paywall/request.h"
#include "store/ledger.h"
#include "store/verdict_cache.h"
#include "publish/metrics.h"
#include "core/state.h"
#include "http/listen.h"
#include "commands.h"
#include "events.h"
#include "store/secret.h"
#include "core/log.h"
#include "core/loop.h"
#include "options.h"
#include "store/payments.h"
#include "lightningd/protocol.h"
#include "publish/discovery.h"
#include "store/preimages.h"
#include "store/unpaid.h"
#include "store/routes.h"
#include "paywall/mpp_session.h"
#include "http/tls.h"
#include "store/tokens.h"
#include "lightningd/rpc.h"

struct l402 l402;


static void shutdown_plugin(const char *why)
{
	plugin_log(LOG_DEBUG, "exiting: %s", why);
	loop_stop();
}

static void reply_manifest(struct cmd *cmd)
{
	struct strbuf sb;
	struct json_out j;
	json_out_object(&j, &sb, 0);
	options_manifest(&j);
	json_array_start(&j, "rpcmethods");
	for (size_t i = 0; i < ncommands; i++) {
		json_object_start(&j, NULL);
		json_add_string(&j, "name", commands[i].name);
		json_add_string(&j, "usage", commands[i].usage);
		json_add_string(&j, "description", commands[i].description);
		json_object_end(&j);
	}
	json_array_end(&j);
	static const char *const subscriptions[] = { "invoice_payment", "shutdown" };
	json_add_strings(&j, "subscriptions", subscriptions, 2);
	json_add_strings(&j, "hooks", NULL, 0);
	/* Custom topics we send: lightningd forwards only declared ones. */
	json_array_start(&j, "notifications");
	for (size_t i = 0; i < nevents_topics; i++) {
		json_object_start(&j, NULL);
		json_add_string(&j, "method", events_topics[i]);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_add_bool(&j, "nonnumericids", true);
	/* lightningd then forwards `check` of our commands and of setconfig
	 * of our options to us, instead of passing them unchecked. */
	json_add_bool(&j, "cancheck", true);
	json_add_bool(&j, "dynamic", true);
	json_object_end(&j);
	cmd_success(cmd, &sb);
	strbuf_free(&sb);
}

static void reply_disable(struct cmd *cmd, const char *why)
{
	struct strbuf sb;
	struct json_out j;
	plugin_log(LOG_UNUSUAL, "disabling: %s", why);
	json_out_object(&j, &sb, 0);
	json_add_string(&j, "disable", why);
	json_object_end(&j);
	cmd_success(cmd, &sb);
	strbuf_free(&sb);
}

/* ---- the HTTP side, put together ---- */

/* Tried in order until one takes the request. */
static const struct http_handler handlers[] = {
	{ "forward-auth", forward_auth_handle },
	{ "preflight", http_preflight },
	{ "documents", discovery_handle },
	{ "checkout", checkout_handle },
	{ "paywall", paywall_handle },
};

static void request_done(const struct req *r, int64_t duration_ns)
{
	const struct paid *p = paid_of_const(r);
	metrics_request_done(p->started ? p->route.id : 0, p->reason, r->status, duration_ns);
}

static const struct http_app app = {
	.handlers = handlers,
	.nhandlers = sizeof(handlers) / sizeof(handlers[0]),
	.req_extra = sizeof(struct paid),
	.req_free = paid_free,
	.decorate = paywall_decorate,
	.adds_headers = paywall_adds_headers,
	.done = request_done,
};

static bool http_up(char *why, size_t whylen)
{
	if (!backends_start(why, whylen))
		return false;
	verdict_cache_start();
	return http_start(l402.listeners, l402.nlisteners, l402.http_threads, &app, why, whylen);
}

static void http_down(void)
{
	backends_stop();
	http_stop();
	verdict_cache_stop();
}

static void on_rpc_connect(void)
{
	secret_start();
	routes_sync();
	tokens_sync();
	payments_sync();
	unpaid_start();
	ledger_start();
	mpp_session_start();
	discovery_sync();
}

/* Before exiting, write what is only in memory (all-time counters) and
 * give lightningd a moment to take it. */
static void flush_state(void)
{
	routes_flush_stats();
	tokens_flush();
	int64_t until = loop_now_ms() + 2000;
	while (rpc_pending() > 0 && rpc_connected() && loop_now_ms() < until)
		loop_run_once(50);
}

/* The certificate and key, read now when given, so that a bad pair
 * disables the plugin with the reason instead of failing handshakes. */
static bool tls_configure(const struct l402_config *cfg, char *why, size_t whylen)
{
	bool https = false;
	for (size_t i = 0; i < cfg->nbind; i++) {
		bool tls;
		bind_hostport(cfg->bind[i], &tls);
		https |= tls;
	}
	if (!cfg->tls_cert != !cfg->tls_key) {
		snprintf(why, whylen, "l402-tls-cert and l402-tls-key go together: one is missing");
		return false;
	}
	if (https && !cfg->tls_cert) {
		snprintf(why, whylen, "l402-bind=https://...: needs l402-tls-cert and l402-tls-key");
		return false;
	}
	return !cfg->tls_cert || tls_load(cfg->tls_cert, cfg->tls_key, why, whylen);
}

static void handle_init(struct cmd *cmd, const struct json_doc *doc, int params)
{
	char dir[4096], file[4096], why[512];
	int conf = json_get(doc, params, "configuration");
	const char *err;

	if (l402.initialized) {
		cmd_fail(cmd, JSONRPC2_INVALID_REQUEST, "init twice");
		return;
	}
	err = options_init(doc, json_get(doc, params, "options"), &l402.cfg);
	if (err) {
		reply_disable(cmd, err);
		return;
	}
	cors_set_origin(l402.cfg.cors_origin);
	cors_expose(PAYWALL_EXPOSED_HEADERS);
	discovery_catalog_moved(l402.cfg.catalog);
	if (!json_get_string(doc, json_get(doc, conf, "lightning-dir"), dir, sizeof(dir), NULL)
	    || !json_get_string(doc, json_get(doc, conf, "rpc-file"), file, sizeof(file), NULL)) {
		reply_disable(cmd, "init: configuration lacks lightning-dir or rpc-file");
		return;
	}
	if (file[0] == '/')
		snprintf(l402.rpc_path, sizeof(l402.rpc_path), "%s", file);
	else
		snprintf(l402.rpc_path, sizeof(l402.rpc_path), "%s/%s", dir, file);
	if (strlen(l402.rpc_path) >= 108) {
		reply_disable(cmd, "init: RPC socket path longer than a unix socket allows");
		return;
	}
	if (!routes_load(l402.cfg.route, l402.cfg.nroute, why, sizeof(why))) {
		reply_disable(cmd, why);
		return;
	}
	if (!tls_configure(&l402.cfg, why, sizeof(why))) {
		reply_disable(cmd, why);
		return;
	}
	if (!listeners_open(&l402.cfg, l402.listeners, &l402.nlisteners, why, sizeof(why))) {
		reply_disable(cmd, why);
		return;
	}
	unsigned threads = (unsigned)l402.cfg.http_threads;
	if (!threads) {
		long cores = sysconf(_SC_NPROCESSORS_ONLN);
		threads = cores < 1 ? 1 : cores > 16 ? 16 : (unsigned)cores;
	}
	l402.http_threads = threads;
	if (!metrics_start(l402.cfg.metrics_bind, why, sizeof(why)) || !http_up(why, sizeof(why))) {
		http_down();
		metrics_stop();
		listeners_close(l402.listeners, l402.nlisteners);
		reply_disable(cmd, why);
		return;
	}
	l402.initialized = true;
	cmd_success(cmd, &(struct strbuf){ "{}", 2, 3, 3, false });
	for (size_t i = 0; i < l402.nlisteners; i++)
		plugin_log(LOG_INFO, "listening on %s", l402.listeners[i].addr);
	if (*metrics_addr())
		plugin_log(LOG_INFO, "metrics on http://%s/metrics, the dashboard on http://%s/dashboard",
			   metrics_addr(), metrics_addr());
	rpc_init(l402.rpc_path, on_rpc_connect);
}

static void handle_setconfig(struct cmd *cmd, const struct json_doc *doc, int params)
{
	char name[128];
	if (!json_get_string(doc, json_get(doc, params, "config"), name, sizeof(name), NULL)) {
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "setconfig: config must be a string");
		return;
	}
	const char *err = options_set(name, doc, json_get(doc, params, "val"), &l402.cfg);
	if (err) {
		cmd_fail(cmd, JSONRPC2_INVALID_PARAMS, "%s", err);
		return;
	}
	cors_set_origin(l402.cfg.cors_origin);
	discovery_catalog_moved(l402.cfg.catalog);
	size_t vlen = 0;
	const char *v = json_get(doc, params, "val") >= 0 ? json_raw(doc, json_get(doc, params, "val"), &vlen) : "";
	plugin_log(LOG_INFO, "%s changed to %.*s", name, (int)(vlen < 200 ? vlen : 200), v);
	discovery_changed();
	cmd_success(cmd, &(struct strbuf){ "{}", 2, 3, 3, false });
}

static void handle_notification(const struct json_doc *doc, const char *method,
				int params)
{
	if (strcmp(method, "shutdown") == 0) {
		shutdown_plugin("shutdown notification");
	} else if (strcmp(method, "invoice_payment") == 0) {
		int p = json_get(doc, params, "invoice_payment");
		char label[256], pre[80];
		l402.invoices_paid++;
		if (json_get_string(doc, json_get(doc, p, "label"), label, sizeof(label), NULL)
		    && json_get_string(doc, json_get(doc, p, "preimage"), pre, sizeof(pre), NULL))
			payments_on_notification(label, pre);
	}
}

/* The id exactly as it came, quotes included, so the reply echoes it. */
static char *raw_id(const struct json_doc *doc, int t)
{
	const jsmntok_t *tok = &doc->toks[t];
	int s = tok->start, e = tok->end;
	if (tok->type == JSMN_STRING) {
		s--;
		e++;
	}
	return strndup(doc->js + s, (size_t)(e - s));
}

static void dispatch(const struct json_doc *doc)
{
	char method[128];
	int idt = json_get(doc, 0, "id");
	int params = json_get(doc, 0, "params");

	if (!json_get_string(doc, json_get(doc, 0, "method"), method, sizeof(method), NULL)) {
		if (idt >= 0)
			plugin_log(LOG_UNUSUAL, "reply from lightningd on stdin ignored");
		return;
	}
	if (idt < 0) {
		handle_notification(doc, method, params);
		return;
	}
	if (json_is_object(doc, idt) || json_is_array(doc, idt)) {
		plugin_log(LOG_BROKEN, "request id is not a string or number");
		return;
	}
	struct cmd *cmd = calloc(1, sizeof(*cmd));
	char idbuf[4096];
	if (!cmd)
		return;
	cmd->id_json = raw_id(doc, idt);
	if (!json_get_string(doc, idt, idbuf, sizeof(idbuf), NULL)) {
		size_t n;
		const char *r = json_raw(doc, idt, &n);
		snprintf(idbuf, sizeof(idbuf), "%.*s", (int)(n < 4000 ? n : 4000), r);
	}
	cmd->id_str = strdup(idbuf);
	cmd->method = strdup(method);

	if (strcmp(method, "getmanifest") == 0) {
		reply_manifest(cmd);
	} else if (strcmp(method, "init") == 0) {
		handle_init(cmd, doc, params);
	} else if (strcmp(method, "setconfig") == 0) {
		handle_setconfig(cmd, doc, params);
	} else if (strcmp(method, "check") == 0) {
		if (!l402.initialized)
			cmd_fail(cmd, JSONRPC2_INVALID_REQUEST, "not initialized yet");
		else
			commands_check(cmd, doc, params);
	} else {
		for (size_t i = 0; i < ncommands; i++)
			if (strcmp(commands[i].name, method) == 0) {
				if (!l402.initialized)
					cmd_fail(cmd, JSONRPC2_INVALID_REQUEST, "not initialized yet");
				else
					commands[i].fn(cmd, doc, params);
				return;
			}
		cmd_fail(cmd, JSONRPC2_METHOD_NOT_FOUND, "Unknown method '%s'", method);
	}
}

static void on_stdin(void *arg, short revents)
{
	char buf[65536];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
	if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
		shutdown_plugin("stdin closed");
		return;
	}
	if (n > 0 && !protocol_feed(buf, (size_t)n))
		shutdown_plugin("broken input from lightningd");
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("cln-l402 %s\n", L402_VERSION);
		return 0;
	}
	if (sodium_init() < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	loop_measure_lock(getenv("L402_LOCK_STATS") != NULL);
	/* Lower layers tell, they do not call up: wired here. */
	protocol_set_dispatcher(dispatch);
	rpc_set_observer(metrics_rpc_done);
	routes_set_observer(discovery_changed);
	payments_set_observer(events_sale);
	mpp_session_set_observer(events_session);
	loop_lock();
	loop_add_fd(STDIN_FILENO, POLLIN, on_stdin, NULL);
	loop_run();
	http_refuse_new();
	flush_state();
	rpc_close();
	http_down();
	metrics_stop();
	listeners_close(l402.listeners, l402.nlisteners);
	routes_free();
	tokens_free();
	unpaid_free();
	preimages_free();
	ledger_free();
	mpp_session_free();
	discovery_free();
	secret_wipe();
	options_free(&l402.cfg);
	tls_free();
	protocol_free();
	loop_unlock();
	return 0;
}
