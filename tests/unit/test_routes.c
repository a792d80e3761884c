/* The route table: which route a request matches, config and runtime
 * routes, and what is persisted. */
#include "../../plugin/lightningd/datastore.c"
#include "../../plugin/store/routes.c"

#include "fakes.h"
#include "test.h"

static const struct backend fake_backend = { .name = "text" };

const struct backend *backend_find(const char *name)
{
	return strcmp(name, "text") == 0 ? &fake_backend : NULL;
}

bool backend_check(const struct route_spec *s, char *why, size_t whylen)
{
	if (backend_find(s->backend))
		return true;
	snprintf(why, whylen, "no backend %s", s->backend);
	return false;
}

/* The observer plugin.c sets (the published documents' caches). */
static int discovery_changes;

static void routes_changed(void)
{
	discovery_changes++;
}

/* The key of the route a request matches, or "-" (and "known" when the
 * path has a route for another method). */
static const char *match(const char *method, const char *path)
{
	static char out[ROUTE_KEY_LEN + 8];
	bool known;
	struct route *r = routes_match(method, path, &known);
	snprintf(out, sizeof(out), "%s", r ? r->key : known ? "known" : "-");
	return out;
}

static void test_matching(void)
{
	char *specs[] = {
		"GET /v1/* 1sat text:a", "GET /v1/price/* 2sat text:b", "GET /v1/price 3sat text:c",
		"* /any 0 text:d", "POST /any 1sat text:e", "PUT /only 0 text:f",
		"GET / 0 text:root",
	};
	char why[256];
	CHECK(routes_load(specs, sizeof(specs) / sizeof(specs[0]), why, sizeof(why)));
	CHECK_EQ_INT(routes_count(), 7);
	/* An exact path beats a prefix, a longer prefix a shorter one. */
	CHECK_STREQ(match("GET", "/v1/price"), "GET /v1/price");
	CHECK_STREQ(match("GET", "/v1/price/btc"), "GET /v1/price/*");
	CHECK_STREQ(match("GET", "/v1/other"), "GET /v1/*");
	/* A prefix covers its bare directory, not a longer name. */
	CHECK_STREQ(match("GET", "/v1"), "GET /v1/*");
	CHECK_STREQ(match("GET", "/v1x"), "-");
	/* A named method beats '*'; HEAD is answered like GET. */
	CHECK_STREQ(match("POST", "/any"), "POST /any");
	CHECK_STREQ(match("DELETE", "/any"), "* /any");
	CHECK_STREQ(match("HEAD", "/v1/price"), "GET /v1/price");
	/* The path is known for another method: 405, not 404. */
	CHECK_STREQ(match("GET", "/only"), "known");
	CHECK_STREQ(match("GET", "/nothing"), "-");
	CHECK_STREQ(match("GET", "/"), "GET /");
	/* Tags tie invoices to routes: 8 hex, stable, found again. */
	struct route *r = routes_by_key("GET /v1/price");
	CHECK(r && strlen(r->tag) == 8 && routes_by_tag(r->tag) == r);
	CHECK(r && r->backend == &fake_backend);
}

static void test_config_errors(void)
{
	char why[256];
	char *dup[] = { "GET /a 1sat text:a", "GET /a 2sat text:b" };
	CHECK(!routes_load(dup, 2, why, sizeof(why)) && strstr(why, "duplicates"));
	/* The same route twice (a restarted plugin's options) is one. */
	char *twice[] = { "GET /a 1sat text:a", "GET  /a  1sat  \"text:a\"" };
	CHECK(routes_load(twice, 2, why, sizeof(why)) && routes_total() == 1);
	routes_free();
	char *bad[] = { "GET /a 1sat nope:a" };
	CHECK(!routes_load(bad, 1, why, sizeof(why)) && strstr(why, "no backend nope"));
	CHECK_EQ_INT(routes_total(), 0);
}

static void test_runtime_changes(void)
{
	char why[256];
	char *cfg[] = { "GET /a 1sat text:a" };
	struct route_spec s;
	CHECK(routes_load(cfg, 1, why, sizeof(why)));
	fake_drain("-");
	/* Add: persisted under its hex key; a second add is refused. */
	CHECK(route_spec_parse("GET /b 5sat text:b", &s, why, sizeof(why)));
	CHECK(routes_put(&s, true, why, sizeof(why)));
	struct fake_call *c = fake_pending();
	CHECK(c && strcmp(c->method, "datastore") == 0
	      && strstr(c->params, "\"routes\",\"474554202f62\"")); /* hex("GET /b") */
	fake_drain("-");
	CHECK(!routes_put(&s, true, why, sizeof(why)) && strstr(why, "exists"));
	CHECK_STREQ(match("GET", "/b"), "GET /b");
	/* Replacing a config route keeps its counters and marks it. */
	struct route *a = routes_by_key("GET /a");
	a->all_time.paid = 7;
	CHECK(route_spec_parse("GET /a 9sat text:z", &s, why, sizeof(why)));
	CHECK(routes_put(&s, false, why, sizeof(why)));
	CHECK(a->overridden && a->spec.price_msat == 9000 && a->all_time.paid == 7);
	fake_drain("-");
	/* Removing a config route leaves a tombstone; a runtime one goes. */
	CHECK(routes_remove("GET /a", why, sizeof(why)));
	c = fake_pending();
	CHECK(c && strcmp(c->method, "datastore") == 0 && strstr(c->params, "\"string\":\"-\""));
	fake_drain("-");
	CHECK(routes_remove("GET /b", why, sizeof(why)));
	c = fake_pending();
	CHECK(c && strcmp(c->method, "deldatastore") == 0);
	fake_drain("-");
	CHECK_STREQ(match("GET", "/a"), "-");
	CHECK(!routes_remove("GET /a", why, sizeof(why)));
	CHECK(discovery_changes > 0);
}

static void test_load_and_stats(void)
{
	char why[256];
	char *cfg[] = { "GET /a 1sat text:a", "GET /gone 1sat text:g" };
	CHECK(routes_load(cfg, 2, why, sizeof(why)));
	fake_drain("-");
	load.done = load.running = false;
	routes_sync();
	CHECK(!routes_synced());
	struct fake_call *c = fake_pending();
	CHECK(c && strstr(c->params, "\"routes\""));
	/* A runtime route, a tombstone, and one whose backend is gone. */
	fake_answer(c, "{\"datastore\":["
		       "{\"key\":[\"l402\",\"routes\",\"474554202f72\"],\"string\":\"GET /r 4sat text:r\"},"
		       "{\"key\":[\"l402\",\"routes\",\"474554202f676f6e65\"],\"string\":\"-\"},"
		       "{\"key\":[\"l402\",\"routes\",\"474554202f78\"],\"string\":\"GET /x 4sat nope:x\"}]}",
		    0);
	CHECK_STREQ(match("GET", "/r"), "GET /r");
	CHECK_STREQ(match("GET", "/gone"), "-");
	CHECK_STREQ(match("GET", "/x"), "-");
	c = fake_pending();
	CHECK(c && strstr(c->params, "\"stats\""));
	routes_count_request(routes_by_key("GET /a")->id);
	fake_answer(c, "{\"datastore\":[{\"key\":[\"l402\",\"stats\",\"474554202f61\"],"
		       "\"string\":\"{\\\"challenges\\\":3,\\\"paid\\\":2,\\\"requests\\\":10,"
		       "\\\"revenue_msat\\\":2000}\"}]}", 0);
	CHECK(routes_synced());
	struct route *a = routes_by_key("GET /a");
	/* Counted before the load finished: added, not lost. */
	CHECK(a->all_time.requests == 11 && a->all_time.paid == 2 && a->since_start.requests == 1);
	routes_count_payment(a->tag, 1000);
	CHECK(a->all_time.revenue_msat == 3000 && a->since_start.paid == 1);
	routes_flush_stats();
	c = fake_pending();
	CHECK(c && strstr(c->params, "\"stats\"") && strstr(c->params, "requests\\\":11"));
	fake_drain("-");
	routes_flush_stats();
	CHECK(fake_pending() == NULL);	/* nothing changed since */
}

static void test_check_and_purge(void)
{
	char why[256];
	char *cfg[] = { "GET /cfg 1sat text:c", "GET /keep 1sat text:k" };
	struct route_spec s;
	CHECK(routes_load(cfg, 2, why, sizeof(why)));
	fake_drain("-");
	/* check: what put would refuse, and nothing asked of lightningd. */
	CHECK(route_spec_parse("GET /cfg 2sat text:c", &s, why, sizeof(why)));
	CHECK(!routes_check(&s, true, why, sizeof(why)) && strstr(why, "exists"));
	CHECK(routes_check(&s, false, why, sizeof(why)));
	CHECK(route_spec_parse("GET /n 2sat nope:x", &s, why, sizeof(why)));
	CHECK(!routes_check(&s, true, why, sizeof(why)) && strstr(why, "no backend nope"));
	CHECK(fake_pending() == NULL && routes_total() == 2);
	/* Purging a runtime route deletes it and its counters. */
	CHECK(route_spec_parse("GET /rt 1sat text:r", &s, why, sizeof(why)));
	CHECK(routes_put(&s, true, why, sizeof(why)));
	fake_drain("-");
	CHECK(routes_remove("GET /rt", why, sizeof(why)));
	fake_drain("-");
	CHECK(routes_by_key("GET /rt") && routes_total() == 3);
	CHECK(routes_purge("GET /rt", why, sizeof(why)));
	CHECK(!routes_by_key("GET /rt") && routes_total() == 2);
	struct fake_call *c = fake_pending();
	CHECK(c && strcmp(c->method, "deldatastore") == 0 && strstr(c->params, "\"routes\""));
	fake_answer(c, "{}", 0);
	c = fake_pending();
	CHECK(c && strcmp(c->method, "deldatastore") == 0 && strstr(c->params, "\"stats\""));
	fake_drain("-");
	/* A config route's purge is a tombstone of its own, which a load
	 * applies by dropping the route from the table. */
	CHECK(routes_purge("GET /cfg", why, sizeof(why)));
	c = fake_pending();
	CHECK(c && strstr(c->params, "\"string\":\"--\""));
	fake_drain("-");
	CHECK(routes_load(cfg, 2, why, sizeof(why)) && routes_total() == 2);
	fake_drain("-");
	load.done = load.running = false;
	routes_sync();
	c = fake_pending();
	fake_answer(c, "{\"datastore\":[{\"key\":[\"l402\",\"routes\",\"474554202f636667\"],"
		       "\"string\":\"--\"}]}", 0);
	CHECK(!routes_by_key("GET /cfg") && routes_total() == 1);
	CHECK_STREQ(match("GET", "/keep"), "GET /keep");
	fake_drain("-");
	CHECK(!routes_purge("GET /nope", why, sizeof(why)));
}

int main(void)
{
	routes_set_observer(routes_changed);
	test_matching();
	test_config_errors();
	test_runtime_changes();
	test_load_and_stats();
	test_check_and_purge();
	routes_free();
	return test_done("test_routes");
}
