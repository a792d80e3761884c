/* rpc: sells node data, the result of one read-only lightningd call with
 * the query string as its parameters. Only the methods below: they read
 * and never spend, sign, or change the node. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "json_out.h"
#include "lightningd/rpc.h"

#define RPC_BACKEND_TIMEOUT_MS 10000
/* The parameters made from a query string. */
#define MAX_PARAMS (64 * 1024)

/* What may be sold, and what each reveals (the README's list is this
 * one). None returns a payment preimage, a session, a deposit or a return
 * invoice: nothing another buyer's access depends on. */
static const struct sold {
	const char *method, *reveals;
} sold[] = {
	{ "getinfo", "the node's id, alias, addresses, version, channel and peer counts" },
	{ "listnodes", "public gossip: nodes and their announced addresses" },
	{ "listchannels", "public gossip: channels, capacities and fees" },
	{ "feerates", "the node's on-chain fee estimates" },
	{ "getroute", "a route through public channels" },
	{ "decode", "what a string the buyer sends says (an invoice, an offer)" },
	{ "decodepay", "what a BOLT11 invoice the buyer sends says" },
	{ "listpeers", "the node's peers and their connection state" },
	{ "listpeerchannels", "the node's channels with its peers, balances included" },
	{ "listforwards", "the payments the node forwarded, amounts and fees" },
	{ "listfunds", "the node's on-chain outputs and channel funds" },
	{ "listoffers", "the node's BOLT12 offers" },
	{ "help", "the commands the node offers" },
};

/* Methods that answer with payment preimages: a preimage is a credential
 * here (an L402 token's, a session's bearer, a refund's proof). */
static const char *const never[] = { "listinvoices", "listsendpays", "listpays" };

static bool check(const struct route_spec *s, char *why, size_t whylen)
{
	if (!*s->target)
		return backend_refuse(why, whylen, "rpc: needs a method name");
	for (size_t i = 0; i < sizeof(sold) / sizeof(sold[0]); i++)
		if (strcmp(s->target, sold[i].method) == 0)
			return true;
	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
		if (strcmp(s->target, never[i]) == 0)
			return backend_refuse(why, whylen, "rpc:%s is not sold: its answers carry "
					      "payment preimages, which are other buyers' "
					      "credentials", never[i]);
	return backend_refuse(why, whylen, "rpc:%.100s is not an allowed read-only method",
			      s->target);
}

/* A request waiting for lightningd's answer. */
struct wait {
	struct req_ref ref;
	struct keep keep;
};

static struct http_step *answer(struct req *r, const struct rpc_result *res,
				const struct keep *keep)
{
	size_t len;
	if (res->status == RPC_OK) {
		const char *raw = json_raw(res->doc, res->result, &len);
		/* json_raw strips quotes from strings: results are objects. */
		backend_keep(keep, 200, "application/json", raw, len);
		return http_finish_json(r, 200, raw, len);
	}
	if (res->status == RPC_ERROR)
		return http_error(r, 502, "upstream_error", res->message);
	return http_unavailable(r, res->message);
}

static void answered(void *arg, const struct rpc_result *res)
{
	struct wait *w = arg;
	struct req *r = http_deref(w->ref);
	if (r)
		http_step_end(answer(r, res, &w->keep));
	free(w);
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
	struct wait *w = malloc(sizeof(*w));
	if (!w) {
		strbuf_free(&sb);
		return http_unavailable(r, "out of memory");
	}
	struct http_step *s = http_wait(r);
	w->ref = http_ref(r);
	w->keep = c->keep;
	if (!rpc_call(c->spec->target, sb.data, NULL, RPC_BACKEND_TIMEOUT_MS, answered, w)) {
		free(w);
		s = http_unavailable(r, "cannot ask lightningd now");
	}
	strbuf_free(&sb);
	return s;
}

const struct backend backend_rpc = {
	.name = "rpc", .usage = "rpc:METHOD",
	.check = check,
	.serve = serve,
};
