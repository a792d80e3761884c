#include "paywall/pricer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "core/log.h"
#include "json_out.h"
#include "lightningd/rpc.h"
#include "paywall/request.h"
#include "store/routes.h"

struct asking {
	struct req_ref ref;
	http_step_fn then;
	uint64_t cap;
};

static struct http_step *unavailable(struct req *r, const char *why)
{
	return http_retry_later(r, 503, "pricer_unavailable", why, 5);
}

static struct http_step *price_known(struct req *r, const struct asking *a,
				     const struct rpc_result *res)
{
	uint64_t msat;
	const struct json_doc *d = res->doc;
	if (res->status != RPC_OK) {
		plugin_log(LOG_UNUSUAL, "pricer %s failed: %s", paid_of(r)->route.spec.pricer, res->message);
		return unavailable(r, res->status == RPC_TIMEOUT ? "the pricer did not answer in time"
								: "the pricer failed");
	}
	if (!json_get_u64(d, json_get(d, res->result, "price_msat"), &msat)) {
		plugin_log(LOG_UNUSUAL, "pricer %s answered without a price_msat number",
			   paid_of(r)->route.spec.pricer);
		return unavailable(r, "the pricer gave no price");
	}
	if (msat == 0 || msat > a->cap) {
		plugin_log(LOG_UNUSUAL, "pricer %s asked %llu msat, outside 1..%llu",
			   paid_of(r)->route.spec.pricer, (unsigned long long)msat, (unsigned long long)a->cap);
		return unavailable(r, "the pricer asked a price this route does not allow");
	}
	paid_of(r)->route.spec.price_msat = msat;
	paid_of(r)->priced = true;
	return a->then(r);
}

static void priced(void *arg, const struct rpc_result *res)
{
	struct asking *a = arg;
	struct req *r = http_deref(a->ref);
	if (r)
		http_step_end(price_known(r, a, res));
	free(a);
}

static struct http_step *price_with_body(struct req *r)
{
	return pricer_ask(r, paid_of(r)->after_price);
}

/* Methods whose requests carry no body as a rule. */
static bool bodiless(const char *method)
{
	return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0
	       || strcmp(method, "DELETE") == 0 || strcmp(method, "OPTIONS") == 0;
}

struct http_step *pricer_ask(struct req *r, http_step_fn then)
{
	/* A front proxy's question carries no body (nginx's says nothing of
	 * it): priced as bodiless, a large body would be sold at a small
	 * one's price. Only a question that states the original
	 * Content-Length is priced; a request that may have a body is
	 * otherwise refused, never guessed at. */
	if (paid_of(r)->forward_auth && !bodiless(r->method)
	    && !MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH))
		return http_error(r, 400, "size_unknown",
				  "this route's live price depends on the request's body, whose size "
				  "this front proxy does not pass on");
	/* A chunked body says its size only once read: read it first (within
	 * the backends' limit and the transport's budget). */
	if (r->body_expected && !r->body_read && !MHD_lookup_connection_value(
				 r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
		paid_of(r)->after_price = then;
		return http_read_body(r, BACKEND_MAX_BODY, true, price_with_body);
	}
	struct strbuf sb;
	struct json_out j;
	char key[ROUTE_KEY_LEN];
	const char *cd = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Digest");
	struct asking *a = calloc(1, sizeof(*a));
	if (!a)
		return unavailable(r, "out of memory");
	a->then = then;
	a->cap = paid_of(r)->route.spec.price_msat;
	route_key(&paid_of(r)->route.spec, key, sizeof(key));
	json_out_object(&j, &sb, 0);
	json_add_string(&j, "route", key);
	json_add_string(&j, "method", r->method);
	json_add_string(&j, "path", r->path);
	json_add_string(&j, "query", r->query ? r->query : "");
	json_add_u64(&j, "body_size", r->body_size);
	if (cd && strlen(cd) < 512)
		json_add_string(&j, "content_digest", cd);
	json_object_end(&j);
	struct http_step *waiting = http_wait(r);
	a->ref = http_ref(r);
	bool asked = json_out_ok(&j)
		     && rpc_call(paid_of(r)->route.spec.pricer, sb.data, NULL, PRICER_TIMEOUT_MS,
				 priced, a);
	strbuf_free(&sb);
	if (!asked) {
		free(a);
		return unavailable(r, "cannot ask the pricer now");
	}
	return waiting;
}
