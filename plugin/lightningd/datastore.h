/* The plugin's records in lightningd's datastore, all under ["l402", GROUP]
 * or ["l402", GROUP, NAME]: paid state, routes, stats, tokens, minted
 * records, the pay index and the secret generation. Every read and write
 * of them goes through here. */
#ifndef L402_DATASTORE_H
#define L402_DATASTORE_H

#include <stdbool.h>
#include <stdint.h>

#include "lightningd/rpc.h"

/* Longest value a list hands to its callback; longer values are skipped
 * (nothing we write comes near it). */
#define DS_MAX_VALUE 8192

enum ds_mode { DS_CREATE_OR_REPLACE, DS_MUST_CREATE, DS_MUST_REPLACE };

/* create-or-replace ["l402", group, name] = value (a string); value NULL
 * deletes the key. name NULL: the two-element key ["l402", group]. cb
 * NULL: failures are logged. */
void ds_put(const char *group, const char *name, const char *value, rpc_cb cb, void *arg,
	    const char *parent_id);

/* A write with a mode; generation (when not NULL) is the datastore entry's
 * generation a must-replace expects, for compare-and-swap. */
void ds_write(const char *group, const char *name, const char *value, enum ds_mode mode,
	      const uint64_t *generation, rpc_cb cb, void *arg);

/* One stored entry as a list hands it over: name is the key's third part
 * ("" for a two-element key), value its string. */
struct ds_entry {
	const char *name;
	const char *value;
	uint64_t generation;
};

/* listdatastore ["l402", group]: each runs once per entry holding a
 * string, in order, walking the reply once; then done runs with the
 * reply's status (each never runs when it failed). */
void ds_list(const char *group, void (*each)(void *arg, const struct ds_entry *e),
	     rpc_cb done, void *arg, const char *parent_id);

/* listdatastore ["l402", group, name]: each runs for it if it exists
 * and holds a string, then done. */
void ds_get(const char *group, const char *name, void (*each)(void *arg, const struct ds_entry *e),
	    rpc_cb done, void *arg);

/* Loading a module's records once the RPC is up: once at a time, done
 * for good when it succeeds, started again a second later when
 * lightningd fails a step (a lost connection restarts it anyway). */
struct ds_load {
	void (*start)(void);	/* the module's sync function */
	bool done, running;
	uint64_t retry_timer;
};

/* Whether to start now (not done, not running); marks it running. */
bool ds_load_begin(struct ds_load *l);
/* For each step's reply: true when it failed (a retry is scheduled). */
bool ds_load_failed(struct ds_load *l, const struct rpc_result *r);
void ds_load_finish(struct ds_load *l);

#endif
