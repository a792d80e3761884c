/* What a route's invoice is for and buys: the one reading the 402,
 * l402-routes and every published document give of a route's terms. */
#include "../../plugin/store/terms.c"

#include "test.h"

static const struct backend plain = { .name = "text" };
static const struct backend metering = { .name = "proxy", .meters = true };

static struct route_spec spec(const char *text)
{
	struct route_spec s;
	char why[256];
	if (!route_spec_parse(text, &s, why, sizeof(why))) {
		fprintf(stderr, "%s: %s\n", text, why);
		exit(1);
	}
	return s;
}

static const char *buys(const char *text, const struct backend *b, struct terms *t)
{
	static char out[256];
	struct route_spec s = spec(text);
	terms_of(&s, b, t);
	terms_buys(t, out, sizeof(out));
	return out;
}

static const char *sat(uint64_t msat)
{
	static char out[48];
	terms_sat(msat, out, sizeof(out));
	return out;
}

int main(void)
{
	struct terms t;

	/* Sats for people: grouped by thousands, msat as three decimals. */
	CHECK_STREQ(sat(0), "0");
	CHECK_STREQ(sat(1000), "1");
	CHECK_STREQ(sat(999000), "999");
	CHECK_STREQ(sat(5000000), "5,000");
	CHECK_STREQ(sat(1234567000), "1,234,567");
	CHECK_STREQ(sat(1500), "1.500");
	CHECK_STREQ(sat(1234001), "1,234.001");
	CHECK_STREQ(sat(UINT64_MAX), "18,446,744,073,709,551.615");

	/* A token of uses and a lifetime: the invoice is the price. */
	CHECK_STREQ(buys("GET /a 10sat text:a", &plain, &t), "unlimited requests, no expiry");
	CHECK(t.model == TERMS_FIXED && t.invoice_msat == 10000 && t.balance_msat == 0);
	CHECK_STREQ(buys("GET /a 10sat text:a valid=3600", &plain, &t), "unlimited requests for 1 hour");
	CHECK_STREQ(buys("GET /a 10sat text:a valid=172800", &plain, &t), "unlimited requests for 2 days");
	CHECK_STREQ(buys("GET /a 10sat text:a uses=1", &plain, &t), "1 request");
	CHECK_STREQ(buys("GET /a 10sat text:a uses=5 valid=90", &plain, &t), "5 requests within 90 seconds");
	CHECK_STREQ(buys("GET /a 10sat text:a uses=5 valid=120", &plain, &t), "5 requests within 2 minutes");
	CHECK_STREQ(buys("GET /a 0 text:a", &plain, &t), "free");
	CHECK(t.model == TERMS_FREE && t.invoice_msat == 0);

	/* A balance: the invoice is the balance, each request draws the price. */
	CHECK_STREQ(buys("GET /v1/credits/* 1sat text:a balance=5000sat", &plain, &t),
		    "a 5,000-sat balance, 1 sat per request drawn from it, no expiry");
	CHECK(t.model == TERMS_BALANCE && t.invoice_msat == 5000000 && t.price_msat == 1000);
	CHECK(t.balance_msat == 5000000 && t.draw_msat == 1000);
	CHECK_STREQ(buys("GET /c 1500msat text:a balance=20sat valid=3600", &plain, &t),
		    "a 20-sat balance, 1.500 sat per request drawn from it, for 1 hour");
	/* A hold is what a request draws, metered or not. */
	CHECK_STREQ(buys("GET /c 1sat text:a balance=100sat hold=3sat", &plain, &t),
		    "a 100-sat balance, 3 sat per request drawn from it, no expiry");
	CHECK(t.draw_msat == 3000 && t.invoice_msat == 100000);
	CHECK_STREQ(buys("POST /ai 2sat proxy:http://127.0.0.1:9 balance=1000sat", &metering, &t),
		    "a 1,000-sat balance, each request drawing what it really cost "
		    "(2 sat held from it while the request runs), no expiry");
	CHECK(t.model == TERMS_METERED && t.invoice_msat == 1000000);
	/* A metering backend without a balance pays its price like any. */
	buys("POST /ai 2sat proxy:http://127.0.0.1:9", &metering, &t);
	CHECK(t.model == TERMS_FIXED && t.invoice_msat == 2000);

	/* Live prices: the price is a cap. */
	CHECK_STREQ(buys("GET /l 10sat text:a price=rpc:myprice", &plain, &t),
		    "unlimited requests, no expiry");
	CHECK(t.model == TERMS_LIVE && t.live && t.invoice_msat == 10000);
	CHECK_STREQ(buys("GET /l 10sat text:a price=rpc:myprice balance=50sat", &plain, &t),
		    "a 50-sat balance, each request's live price drawn from it, no expiry");
	CHECK(t.model == TERMS_BALANCE && t.invoice_msat == 50000);

	CHECK_STREQ(terms_model_name(TERMS_METERED), "metered");
	CHECK_STREQ(terms_model_name(TERMS_BALANCE), "balance");

	/* The JSON members beside a price. */
	struct strbuf sb;
	struct json_out j;
	buys("GET /v1/credits/* 1sat text:a balance=5000sat", &plain, &t);
	json_out_object(&j, &sb, 0);
	terms_add_json(&j, &t);
	json_object_end(&j);
	CHECK_STREQ(sb.data, "{\"invoice_msat\":5000000,\"invoice_sat\":5000,\"buys\":\"a 5,000-sat "
			     "balance, 1 sat per request drawn from it, no expiry\"}");
	strbuf_free(&sb);
	t.invoice_msat = 1501;
	json_out_object(&j, &sb, 0);
	terms_add_json(&j, &t);
	json_object_end(&j);
	CHECK(strncmp(sb.data, "{\"invoice_msat\":1501,\"invoice_sat\":2,", 37) == 0);
	strbuf_free(&sb);
	return test_done("test_terms");
}
