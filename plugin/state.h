/* The plugin's state: configuration from lightningd's options, the HTTP
 * listeners, the node-derived secret, and counters. One instance, owned by
 * whoever holds the event loop's lock (loop.h). */
#ifndef L402_PLUGIN_STATE_H
#define L402_PLUGIN_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
	bool trust_proxy;
	bool log_requests;
	int64_t max_unpaid;
	char *service_name, *service_description, *contact, *public_url;
	char *catalog;		/* path of the HTML catalog, or NULL when off */
	char *index_token;	/* 402index domain proof */
	uint32_t challenge_n, challenge_per;	/* new challenges per client IP */
	unsigned http_threads;	/* 0: one per core */
};

struct listener {
	int fd;
	char addr[80];	/* what we actually bound, port resolved */
};

struct l402 {
	struct l402_config cfg;
	struct listener listeners[MAX_BINDS];
	size_t nlisteners;
	unsigned http_threads;	/* what l402-http-threads came to */
	char rpc_path[4096];
	bool initialized;
	bool startup;
	uint64_t invoices_paid;	/* payments seen since start */
};

extern struct l402 l402;

/* listen.c: bind every l402-bind address; on failure, *why says which. */
bool listeners_open(const struct l402_config *cfg, struct listener *out,
		    size_t *n, char *why, size_t whylen);
void listeners_close(struct listener *l, size_t n);
/* Parse HOST:PORT or [V6]:PORT; host and port point into buf. */
bool parse_hostport(const char *s, char *host, size_t hostlen, char *port,
		    size_t portlen);

/* commands.c */
struct cmd;
struct json_doc;
typedef void (*command_fn)(struct cmd *cmd, const struct json_doc *doc, int params);
struct command {
	const char *name;
	const char *usage;
	const char *description;
	command_fn fn;
};
extern const struct command commands[];
extern const size_t ncommands;

/* secret.c: the L402 secret from lightningd's makesecret. */
void secret_start(void);
bool secret_ready(void);
/* Copies the secret; false if not yet derived. */
bool secret_get(uint8_t out[32]);
uint64_t secret_generation(void);
void secret_wipe(void);
/* Bump the generation and derive the new secret: every token sold before
 * stops verifying. done gets NULL or the reason it failed. */
void secret_rotate(void (*done)(void *arg, const char *err), void *arg);

#endif
