/* The plugin's state: configuration from lightningd's options, the HTTP
 * listeners, and counters. One instance, written by plugin.c holding the
 * loop's lock (init, and setconfig for dynamic options). Code that runs
 * without that lock reads only options that are not dynamic (set once at
 * init: binds, proxies trusted, the forward-auth path, connection limits);
 * l402-cors-origin, which is, is copied under cors.c's own lock. */
#ifndef L402_PLUGIN_STATE_H
#define L402_PLUGIN_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An address block (CIDR) a proxy is trusted from. */
struct addr_block {
	uint8_t addr[16];
	unsigned bits;
};
#define MAX_TRUSTED_PROXIES 16

#define MAX_BINDS 8
#define MAX_CONFIG_ROUTES 256
#define DEFAULT_BIND "127.0.0.1:8402"

struct l402_config {
	char *bind[MAX_BINDS];
	size_t nbind;
	char *route[MAX_CONFIG_ROUTES];
	size_t nroute;
	int64_t invoice_expiry;
	char *cors_origin;
	bool trust_proxy;	/* X-Forwarded-For from every peer */
	struct addr_block trusted[MAX_TRUSTED_PROXIES];	/* ... or from these */
	size_t ntrusted;
	char *auth_path;	/* the forward-auth endpoint, or NULL when off */
	char *proxy_key;	/* l402-proxy-key: X-L402-Final's value, or NULL */
	bool log_requests;
	int64_t max_unpaid;
	char *service_name, *service_description, *contact, *public_url;
	char *catalog;		/* path of the HTML catalog, or NULL when off */
	char *index_token;	/* 402index domain proof */
	uint32_t challenge_n, challenge_per;	/* new challenges per client IP */
	int64_t http_threads;	/* 0: one per core */
	int64_t max_conns_per_client;	/* open connections one client may hold */
	int64_t header_timeout;	/* seconds a request has to send its headers */
	char *metrics_bind;	/* HOST:PORT of the metrics listener, or NULL */
	char *tls_cert, *tls_key;	/* PEM files for https:// binds, or NULL */
	int64_t session_idle;	/* seconds before an idle Payment session is closed */
	int64_t session_pause;	/* seconds a stream waits for a top-up */
	int64_t max_client_sessions;	/* open sessions one client may hold */
};

struct listener {
	int fd;
	char addr[80];	/* what we actually bound, port resolved */
	bool tls;	/* l402-bind=https://... */
};

struct l402 {
	struct l402_config cfg;
	struct listener listeners[MAX_BINDS];
	size_t nlisteners;
	unsigned http_threads;	/* what l402-http-threads came to */
	char rpc_path[4096];
	bool initialized;
	uint64_t invoices_paid;	/* payments seen since start */
};

extern struct l402 l402;

#endif
