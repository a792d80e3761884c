#include "datastore.h"

#include "json_out.h"
#include "log.h"

#define DS_TIMEOUT_MS 30000

static void logged(void *arg, const struct rpc_result *r)
{
	/* Deleting what is already gone is fine. */
	if (r->status != RPC_OK && !(r->status == RPC_ERROR && r->code == 1200))
		plugin_log(LOG_UNUSUAL, "datastore write failed: %s", r->message);
}

void ds_put(const char *group, const char *name, const char *value, rpc_cb cb, void *arg,
	    const char *parent_id)
{
	struct strbuf sb;
	struct json_out j;
	strbuf_init(&sb, 0);
	json_out_init(&j, &sb);
	json_object_start(&j, NULL);
	json_array_start(&j, "key");
	json_add_string(&j, NULL, "l402");
	json_add_string(&j, NULL, group);
	json_add_string(&j, NULL, name);
	json_array_end(&j);
	if (value) {
		json_add_string(&j, "string", value);
		json_add_string(&j, "mode", "create-or-replace");
	}
	json_object_end(&j);
	rpc_call(value ? "datastore" : "deldatastore", sb.data, parent_id, DS_TIMEOUT_MS,
		 cb ? cb : logged, cb ? arg : NULL);
	strbuf_free(&sb);
}
