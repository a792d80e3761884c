/* Writes under the plugin's own datastore keys, ["l402", GROUP, NAME],
 * which paid state, routes, stats, tokens and minted records all use. */
#ifndef L402_DATASTORE_H
#define L402_DATASTORE_H

#include "rpc.h"

/* create-or-replace ["l402", group, name] = value (a string); value NULL
 * deletes the key. cb NULL: failures are logged. */
void ds_put(const char *group, const char *name, const char *value, rpc_cb cb, void *arg,
	    const char *parent_id);

#endif
