#include "paywall/pricer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "json_out.h"
#include "core/log.h"
#include "store/routes.h"
#include "lightningd/rpc.h"

struct asking {
	struct req *r;
	void (*then)(struct req *r);
	uint64_t cap;
};

static void unavailable(struct req *r, const char *why)
{
	http_retry_later(r, 503, "pricer_unavailable", why, 5);
}

static void priced(void *arg, const struct rpc_result *res)
{
	struct asking *a = arg;
	struct req *r = a->r;
	uint64_t msat;
	const struct json_doc *d = res->doc;
	if (res->status != RPC_OK) {
		plugin_log(LOG_UNUSUAL, "pricer %s failed: %s", r->route.spec.pricer, res->message);
		unavailable(r, res->status == RPC_TIMEOUT ? "the pricer did not answer in time"
							 : "the pricer failed");
	} else if (!json_get_u64(d, json_get(d, res->result, "price_msat"), &msat)) {
		plugin_log(LOG_UNUSUAL, "pricer %s answered without a price_msat number",
			   r->route.spec.pricer);
		unavailable(r, "the pricer gave no price");
	} else if (msat == 0 || msat > a->cap) {
		plugin_log(LOG_UNUSUAL, "pricer %s asked %llu msat, outside 1..%llu",
			   r->route.spec.pricer, (unsigned long long)msat, (unsigned long long)a->cap);
		unavailable(r, "the pricer asked a price this route does not allow");
	} else {
		r->route.spec.price_msat = msat;
		r->priced = true;
		a->then(r);
	}
	free(a);
}

bool pricer_ask(struct req *r, void (*then)(struct req *r))
{
	struct strbuf sb;
	struct json_out j;
	char key[ROUTE_KEY_LEN];
	const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
	const char *cd = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Digest");
	struct asking *a = calloc(1, sizeof(*a));
	if (!a) {
		unavailable(r, "out of memory");
		return false;
	}
	a->r = r;
	a->then = then;
	a->cap = r->route.spec.price_msat;
	route_key(&r->route.spec, key, sizeof(key));
	json_out_object(&j, &sb, 0);
	json_add_string(&j, "route", key);
	json_add_string(&j, "method", r->method);
	json_add_string(&j, "path", r->path);
	json_add_string(&j, "query", r->query ? r->query : "");
	json_add_u64(&j, "body_size", cl ? strtoull(cl, NULL, 10) : 0);
	if (cd && strlen(cd) < 512)
		json_add_string(&j, "content_digest", cd);
	json_object_end(&j);
	bool asked = json_out_ok(&j)
		     && rpc_call(r->route.spec.pricer, sb.data, NULL, PRICER_TIMEOUT_MS, priced, a);
	strbuf_free(&sb);
	if (!asked) {
		free(a);
		unavailable(r, "cannot ask the pricer now");
		return false;
	}
	http_wait(r);
	return true;
}
