/* rpc: sells node data, the result of one read-only lightningd call with
 * the query string as its parameters. Only the methods below: they read
 * and never spend, sign, or change the node. */
#include <stdio.h>
#include <string.h>

#include "backends/backend.h"
#include "json_out.h"
#include "lightningd/rpc.h"

#define RPC_BACKEND_TIMEOUT_MS 10000
/* The parameters made from a query string. */
#define MAX_PARAMS (64 * 1024)

static const char *const allowed[] = {
	"getinfo", "listnodes", "listchannels", "feerates", "getroute", "decode",
	"decodepay", "listpeers", "listpeerchannels", "listforwards", "listfunds",
	"listinvoices", "listsendpays", "listpays", "listoffers", "help",
};

static bool check(const struct route_spec *s, char *why, size_t whylen)
{
	if (!*s->target)
		return backend_refuse(why, whylen, "rpc: needs a method name");
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (strcmp(s->target, allowed[i]) == 0)
			return true;
	return backend_refuse(why, whylen, "rpc:%.100s is not an allowed read-only method",
			      s->target);
}

static struct http_step *answer(struct req *r, const struct rpc_result *res)
{
	size_t len;
	if (res->status == RPC_OK) {
		const char *raw = json_raw(res->doc, res->result, &len);
		/* json_raw strips quotes from strings: results are objects. */
		return http_finish_json(r, 200, raw, len);
	}
	if (res->status == RPC_ERROR)
		return http_error(r, 502, "upstream_error", res->message);
	return http_unavailable(r, res->message);
}

static void answered(void *arg, const struct rpc_result *res)
{
	struct req *r = http_deref(http_arg_ref(arg));
	if (r)
		http_step_end(answer(r, res));
}

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
			       const char *value)
{
	struct json_out *j = cls;
	json_add_string(j, key, value ? value : "");
	return MHD_YES;
}

static struct http_step *serve(const struct backend_call *c)
{
	struct req *r = c->req;
	struct strbuf sb;
	struct json_out j;
	if (!rpc_connected())
		return http_unavailable(r, "lightningd is unavailable; retry shortly");
	json_out_object(&j, &sb, MAX_PARAMS);
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, add_arg, &j);
	json_object_end(&j);
	if (!json_out_ok(&j)) {
		strbuf_free(&sb);
		return http_error(r, 400, "bad_request", "query too large");
	}
	struct http_step *s = http_wait(r);
	if (!rpc_call(c->spec->target, sb.data, NULL, RPC_BACKEND_TIMEOUT_MS, answered,
		      http_ref_arg(http_ref(r))))
		s = http_unavailable(r, "cannot ask lightningd now");
	strbuf_free(&sb);
	return s;
}

const struct backend backend_rpc = {
	.name = "rpc", .usage = "rpc:METHOD",
	.check = check,
	.serve = serve,
};
