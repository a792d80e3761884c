/* The l402-route syntax: every field, quoting, and refusals. */
#include "route_spec.h"
#include "test.h"

static bool parse(const char *s, struct route_spec *r)
{
	char why[256];
	bool ok = route_spec_parse(s, r, why, sizeof(why));
	if (!ok)
		fprintf(stderr, "  (%s -> %s)\n", s, why);
	return ok;
}

int main(void)
{
	struct route_spec r;
	char why[256];

	CHECK(parse("GET /v1/price/* 10sat proxy:http://127.0.0.1:9000 valid=3600 desc=\"BTC price\"", &r));
	CHECK_STREQ(r.method, "GET");
	CHECK_STREQ(r.path, "/v1/price/");
	CHECK(r.prefix && r.price_msat == 10000 && strcmp(r.backend, "proxy") == 0);
	CHECK_STREQ(r.target, "http://127.0.0.1:9000");
	CHECK(r.valid == 3600 && r.timeout == 0);
	CHECK_STREQ(r.desc, "BTC price");
	CHECK_STREQ(r.service, "v1-price");

	CHECK(parse("post /x 1500msat \"text:hello \\\"world\\\"\" service=my.svc", &r));
	CHECK_STREQ(r.method, "POST");
	CHECK(!r.prefix && r.price_msat == 1500 && strcmp(r.backend, "text") == 0);
	CHECK_STREQ(r.target, "hello \"world\"");
	CHECK_STREQ(r.service, "my.svc");
	CHECK(parse("* / 0 rpc:getinfo", &r));
	CHECK(r.price_msat == 0 && strcmp(r.backend, "rpc") == 0);
	CHECK_STREQ(r.service, "root");
	CHECK(parse("GET /files/* 1sat dir:/srv/files", &r) && strcmp(r.backend, "dir") == 0);
	CHECK(parse("GET /p 1sat proxy:https://x.example timeout=5", &r) && r.timeout == 5);

	/* Token models and limits. */
	CHECK(parse("GET /m 1sat text:a uses=10 rate=5/60,burst=8 free=3/3600", &r));
	CHECK(r.uses == 10 && r.rate_n == 5 && r.rate_per == 60 && r.burst == 8);
	CHECK(r.free_n == 3 && r.free_per == 3600);
	CHECK(parse("GET /m 1sat text:a rate=5/60", &r) && r.burst == 5);
	/* Formatting reads back to the same route. */
	const char *round[] = {
		"GET /v1/price/* 10sat proxy:http://127.0.0.1:9000 valid=3600 desc=\"BTC price\"",
		"post /x 1500msat \"text:hello \\\"world\\\" \\\\ end\" service=my.svc uses=3",
		"* / 0 rpc:getinfo rate=1/2,burst=3 free=4/5",
		"GET /p/* 1sat proxy:https://x.example timeout=5",
		"POST /q 3sat text:q unlisted=1 category=\"AI tools\" schema=/etc/q.json",
		"GET /c/* 1sat text:c nocase=1",
	};
	for (size_t i = 0; i < sizeof(round) / sizeof(round[0]); i++) {
		struct route_spec a, b;
		char text[ROUTE_MAX_SPEC];
		CHECK(parse(round[i], &a));
		CHECK(route_spec_format(&a, text, sizeof(text)));
		CHECK(parse(text, &b));
		/* The text names the service: read back, it was given. */
		CHECK(!b.service_derived);
		b.service_derived = a.service_derived;
		CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	}
	CHECK(!route_spec_format(&r, why, 8));

	/* Matching: exact, and a prefix including its bare directory. */
	CHECK(parse("GET /v1/price/* 1sat text:a", &r));
	CHECK(route_matches_path(&r, "/v1/price/btc"));
	CHECK(route_matches_path(&r, "/v1/price"));
	CHECK(route_matches_path(&r, "/v1/price/"));
	CHECK(!route_matches_path(&r, "/v1/prices"));
	CHECK(!route_matches_path(&r, "/v1"));
	CHECK(parse("GET /exact 1sat text:a", &r));
	CHECK(route_matches_path(&r, "/exact") && !route_matches_path(&r, "/exact/x"));
	/* An exact route with or without one trailing slash; case only with
	 * nocase=1. */
	CHECK(route_matches_path(&r, "/exact/") && !route_matches_path(&r, "/exact//"));
	CHECK(!route_matches_path(&r, "/EXACT"));
	CHECK(parse("GET /exact 1sat text:a nocase=1", &r));
	CHECK(route_matches_path(&r, "/EXACT") && route_matches_path(&r, "/Exact/"));
	CHECK(parse("GET /v1/* 1sat text:a nocase=1", &r));
	CHECK(route_matches_path(&r, "/V1/x") && !route_matches_path(&r, "/v2/x"));

	char svc[80];
	route_service_from_path("/A/b c/*", svc, sizeof(svc));
	CHECK_STREQ(svc, "a-b-c");

	const char *bad[] = {
		"", "GET", "GET /x 1sat", "FETCH /x 1sat text:a", "GET x 1sat text:a",
		"GET /x* 1sat text:a", "GET /a/*/b 1sat text:a", "GET /x? 1sat text:a",
		"GET /a/../b 1sat text:a", "GET /a/.. 1sat text:a", "GET /x 1 text:a",
		"GET /x 1btc text:a", "GET /x -1sat text:a", "GET /x 99999999999999999999sat text:a",
		"GET /x 1sat text", "GET /x 1sat :a", "GET /x 1sat Proxy:http://a",
		"GET /x 1sat pr0xy:a", "GET /x 1sat abcdefghijklmnop:a",
		"GET /x 1sat text:a valid=0", "GET /x 1sat text:a valid=x", "GET /x 1sat text:a nokey",
		"GET /x 1sat text:a foo=bar", "GET /x 1sat text:a service=a/b",
		"GET /x 1sat proxy:http://a timeout=0",
		"GET /x 1sat \"text:a", "GET /x 1sat text:a\x01",
		"GET /x 1sat text:a uses=0", "GET /x 1sat text:a rate=5", "GET /x 1sat text:a rate=0/1",
		"GET /x 1sat text:a rate=1/0", "GET /x 1sat text:a rate=1/1,burst=0",
		"GET /x 1sat text:a free=1/1,burst=2", "GET /x 1sat text:a rate=1/1,bust=2",
		"GET /x 1sat text:a unlisted=yes", "GET /x 1sat text:a schema=rel.json",
		"GET /x 1sat text:a nocase=2",
		"GET /x 1sat text:a category=",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bool ok = route_spec_parse(bad[i], &r, why, sizeof(why));
		if (ok)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		CHECK(!ok && why[0]);
	}
	/* Too long, and too many words. */
	static char big[ROUTE_MAX_SPEC + 10];
	memset(big, 'a', sizeof(big) - 1);
	CHECK(!route_spec_parse(big, &r, why, sizeof(why)));
	char many[400] = "GET /x 1sat text:a";
	for (int i = 0; i < 40; i++)
		strcat(many, " d=1");
	CHECK(!route_spec_parse(many, &r, why, sizeof(why)));
	return test_done("test_route_spec");
}
