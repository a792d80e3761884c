#include "lightningd/datastore.h"

#include <stdlib.h>
#include <string.h>

#include "json_out.h"
#include "core/log.h"
#include "core/loop.h"

#define DS_TIMEOUT_MS 30000

static void logged(void *arg, const struct rpc_result *r)
{
	/* Deleting what is already gone is fine. */
	if (r->status != RPC_OK && !(r->status == RPC_ERROR && r->code == DATASTORE_DEL_DOES_NOT_EXIST))
		plugin_log(LOG_UNUSUAL, "datastore write failed: %s", r->message);
}

/* A call that could not be made still completes, once, on the next loop
 * round: the callers' callbacks are how they learn of a failure. */
struct failed_call {
	rpc_cb cb;
	void *arg;
};

static void fail_now(void *arg)
{
	struct failed_call f = *(struct failed_call *)arg;
	struct rpc_result r = { RPC_ERROR, NULL, -1, -1, "the datastore call could not be made" };
	free(arg);
	f.cb(f.arg, &r);
}

static void fail_soon(const char *method, rpc_cb cb, void *arg)
{
	struct failed_call *f = malloc(sizeof(*f));
	if (f) {
		*f = (struct failed_call){ cb, arg };
		if (loop_add_timer(0, fail_now, f))
			return;
		free(f);
	}
	plugin_log(LOG_BROKEN, "%s could not be made, and its caller not told", method);
}

static void call(const char *method, const char *params, const char *parent_id, rpc_cb cb,
		 void *arg)
{
	if (!rpc_call(method, params, parent_id, DS_TIMEOUT_MS, cb, arg))
		fail_soon(method, cb, arg);
}

static void add_key(struct json_out *j, const char *group, const char *name)
{
	json_array_start(j, "key");
	json_add_string(j, NULL, "l402");
	json_add_string(j, NULL, group);
	if (name)
		json_add_string(j, NULL, name);
	json_array_end(j);
}

static void write_entry(const char *group, const char *name, const char *value,
			enum ds_mode mode, const uint64_t *generation, rpc_cb cb, void *arg,
			const char *parent_id)
{
	static const char *const modes[] = {
		[DS_CREATE_OR_REPLACE] = "create-or-replace",
		[DS_MUST_CREATE] = "must-create",
		[DS_MUST_REPLACE] = "must-replace",
	};
	struct strbuf sb;
	struct json_out j;
	json_out_object(&j, &sb, 0);
	add_key(&j, group, name);
	if (value) {
		json_add_string(&j, "string", value);
		json_add_string(&j, "mode", modes[mode]);
		if (generation)
			json_add_u64(&j, "generation", *generation);
	}
	json_object_end(&j);
	call(value ? "datastore" : "deldatastore", sb.data, parent_id, cb ? cb : logged,
	     cb ? arg : NULL);
	strbuf_free(&sb);
}

void ds_put(const char *group, const char *name, const char *value, rpc_cb cb, void *arg,
	    const char *parent_id)
{
	write_entry(group, name, value, DS_CREATE_OR_REPLACE, NULL, cb, arg, parent_id);
}

void ds_write(const char *group, const char *name, const char *value, enum ds_mode mode,
	      const uint64_t *generation, rpc_cb cb, void *arg)
{
	write_entry(group, name, value, mode, generation, cb, arg, NULL);
}

struct listing {
	void (*each)(void *arg, const struct ds_entry *e);
	rpc_cb done;
	void *arg;
};

static void listed(void *arg, const struct rpc_result *r)
{
	struct listing l = *(struct listing *)arg;
	free(arg);
	if (r->status == RPC_OK) {
		const struct json_doc *d = r->doc;
		int arr = json_get(d, r->result, "datastore"), e, i;
		char *name = malloc(DS_MAX_VALUE), *value = malloc(DS_MAX_VALUE);
		json_for_each_arr(d, arr, i, e) {
			struct ds_entry ent = { name, value, 0 };
			int key = json_get(d, e, "key");
			int third = json_is_array(d, key) && d->toks[key].size > 2
					    ? json_next(d, json_next(d, key + 1)) : -1;
			if (!name || !value
			    || !json_get_string(d, json_get(d, e, "string"), value, DS_MAX_VALUE, NULL))
				continue;
			if (third < 0)
				name[0] = '\0';
			else if (!json_get_string(d, third, name, DS_MAX_VALUE, NULL))
				continue;
			json_get_u64(d, json_get(d, e, "generation"), &ent.generation);
			l.each(l.arg, &ent);
		}
		free(name);
		free(value);
	}
	l.done(l.arg, r);
}

static void list_key(const char *group, const char *name,
		     void (*each)(void *arg, const struct ds_entry *e), rpc_cb done, void *arg,
		     const char *parent_id)
{
	struct strbuf sb;
	struct json_out j;
	struct listing *l = malloc(sizeof(*l));
	if (!l) {
		fail_soon("listdatastore", done, arg);
		return;
	}
	*l = (struct listing){ each, done, arg };
	json_out_object(&j, &sb, 0);
	add_key(&j, group, name);
	json_object_end(&j);
	call("listdatastore", sb.data, parent_id, listed, l);
	strbuf_free(&sb);
}

void ds_list(const char *group, void (*each)(void *arg, const struct ds_entry *e),
	     rpc_cb done, void *arg, const char *parent_id)
{
	list_key(group, NULL, each, done, arg, parent_id);
}

void ds_get(const char *group, const char *name, void (*each)(void *arg, const struct ds_entry *e),
	    rpc_cb done, void *arg)
{
	list_key(group, name, each, done, arg, NULL);
}

bool ds_load_begin(struct ds_load *l)
{
	if (l->done || l->running)
		return false;
	l->running = true;
	return true;
}

static void retry_load(void *arg)
{
	struct ds_load *l = arg;
	l->retry_timer = 0;
	l->start();
}

bool ds_load_failed(struct ds_load *l, const struct rpc_result *r)
{
	if (r->status == RPC_OK)
		return false;
	l->running = false;
	if (r->status != RPC_DISCONNECTED && !l->retry_timer)
		l->retry_timer = loop_add_timer(1000, retry_load, l);
	return true;
}

void ds_load_finish(struct ds_load *l)
{
	l->done = true;
	l->running = false;
}
