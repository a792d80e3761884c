/* The Payment scheme's pieces: JCS (RFC 8785's string rules and member
 * order), the HMAC challenge id, the credential parser on good and bad
 * input, the charge request round trip, RFC 3339 times, Accept-Payment. */
#include <sodium.h>

#include "encoding.h"
#include "jcs.h"
#include "mpp.h"
#include "test.h"

static char *jcs(const struct jcs_object *o)
{
	static char buf[4096];
	struct strbuf sb;
	strbuf_init(&sb, sizeof(buf) - 1);
	if (!jcs_write(&sb, o)) {
		strbuf_free(&sb);
		return NULL;
	}
	snprintf(buf, sizeof(buf), "%s", sb.data);
	strbuf_free(&sb);
	return buf;
}

static void test_jcs(void)
{
	struct jcs_object o = { .n = 0 }, inner = { .n = 0 };
	/* RFC 8785 3.2.2.2: the string rules of JSON.stringify. */
	jcs_add(&o, "string", "\xe2\x82\xac$\x0f\nA'B\"\\\\\"/");
	CHECK_STREQ(jcs(&o), "{\"string\":\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
	/* Members sorted by UTF-16 code units: U+1F600 (a surrogate pair,
	 * 0xD83D...) sorts before U+FB33 though its UTF-8 bytes are larger. */
	o.n = 0;
	jcs_add(&o, "\xef\xac\xb3", "b");
	jcs_add(&o, "\xf0\x9f\x98\x80", "a");
	jcs_add(&o, "\r", "c");
	jcs_add(&o, "1", "d");
	CHECK_STREQ(jcs(&o), "{\"\\r\":\"c\",\"1\":\"d\",\"\xf0\x9f\x98\x80\":\"a\",\"\xef\xac\xb3\":\"b\"}");
	/* Nested, sorted at each level; absent optional members left out. */
	o.n = 0;
	jcs_add(&inner, "paymentHash", "00");
	jcs_add(&inner, "invoice", "lnbc1");
	jcs_add(&o, "methodDetails", NULL);
	jcs_add_object(&o, "methodDetails", &inner);
	jcs_add(&o, "amount", "10");
	jcs_add(&o, "currency", "sat");
	CHECK_STREQ(jcs(&o), "{\"amount\":\"10\",\"currency\":\"sat\",\"methodDetails\":"
			     "{\"invoice\":\"lnbc1\",\"paymentHash\":\"00\"}}");
	/* Whole numbers as their digits (refundSats); anything else refused. */
	o.n = 0;
	jcs_add_number(&o, "refundSats", "140");
	jcs_add_number(&o, "zero", "0");
	jcs_add_number(&o, "absent", NULL);
	CHECK_STREQ(jcs(&o), "{\"refundSats\":140,\"zero\":0}");
	static const char *const not_numbers[] = { "", "01", "1.5", "-1", "1e3", "9007199254740992",
						   "12345678901234567", " 1" };
	for (size_t i = 0; i < sizeof(not_numbers) / sizeof(not_numbers[0]); i++) {
		o.n = 0;
		jcs_add_number(&o, "n", not_numbers[i]);
		CHECK(jcs(&o) == NULL);
	}
	o.n = 0;
	jcs_add_number(&o, "n", "9007199254740991");
	CHECK_STREQ(jcs(&o), "{\"n\":9007199254740991}");
	/* Refused: bad UTF-8, a surrogate, an overlong, duplicate keys, too many. */
	o.n = 0;
	jcs_add(&o, "a", "\xc3");
	CHECK(jcs(&o) == NULL);
	o.n = 0;
	jcs_add(&o, "a", "\xed\xa0\x80");
	CHECK(jcs(&o) == NULL);
	o.n = 0;
	jcs_add(&o, "a", "\xc0\xaf");
	CHECK(jcs(&o) == NULL);
	o.n = 0;
	jcs_add(&o, "a", "1");
	jcs_add(&o, "a", "2");
	CHECK(jcs(&o) == NULL);
	o.n = 0;
	for (int i = 0; i < JCS_MAX_MEMBERS + 2; i++)
		jcs_add(&o, i % 2 ? "x" : "y", "v");
	CHECK(jcs(&o) == NULL);
}

static void test_binding(void)
{
	uint8_t key[32];
	struct mpp_challenge c = { .realm = "api.example.com", .method = "lightning",
				   .intent = "charge", .request = "eyJhIjoiYiJ9",
				   .expires = "2026-11-25T16:00:00Z" };
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	mpp_challenge_id(key, &c, c.id);
	/* HMAC-SHA256 over the seven slots joined by "|", computed apart. */
	CHECK_STREQ(c.id, "7auRcz6p-1_sWvlGhsM3eyd3Zg6GAM6bgbcEjU9JIo8");
	CHECK(mpp_challenge_bound(key, &c));
	struct mpp_challenge t = c;
	strcpy(t.expires, "2026-11-25T17:00:00Z");
	CHECK(!mpp_challenge_bound(key, &t));
	t = c;
	strcpy(t.digest, "");
	strcpy(t.opaque, "e30");
	CHECK(!mpp_challenge_bound(key, &t));
	t = c;
	t.id[5] ^= 1;
	CHECK(!mpp_challenge_bound(key, &t));
	t = c;
	t.id[0] = '\0';
	CHECK(!mpp_challenge_bound(key, &t));

	struct strbuf sb;
	strbuf_init(&sb, 0);
	strcpy(c.description, "a \"quoted\" \\ thing");
	CHECK(mpp_write_challenge(&sb, &c));
	CHECK(strstr(sb.data, "Payment id=\"7auRcz6p-1_sWvlGhsM3eyd3Zg6GAM6bgbcEjU9JIo8\", "
			      "realm=\"api.example.com\", method=\"lightning\", intent=\"charge\", "
			      "request=\"eyJhIjoiYiJ9\", description=\"a \\\"quoted\\\" \\\\ thing\", "
			      "expires=\"2026-11-25T16:00:00Z\"") == sb.data);
	strbuf_free(&sb);
}

static enum mpp_err parse(const char *s, struct mpp_credential *c)
{
	char why[160];
	return mpp_parse_credential(s, strlen(s), c, why, sizeof(why));
}

static char *b64json(const char *json)
{
	static char out[8192];
	b64url_encode((const uint8_t *)json, strlen(json), out, sizeof(out));
	return out;
}

static void test_credential(void)
{
	struct mpp_credential c;
	char v[MPP_MAX_CREDENTIAL + 64];
	/* Unknown members ignored, "Payment " optional, padding accepted. */
	CHECK_EQ_INT(parse("Payment eyJjaGFsbGVuZ2UiOnsiaWQiOiJYIiwicmVhbG0iOiJyIiwibWV0aG9kIjoibGln"
			   "aHRuaW5nIiwiaW50ZW50IjoiY2hhcmdlIiwicmVxdWVzdCI6ImV5SmhJam9pWWlKOSIsImV4"
			   "cGlyZXMiOiIyMDI2LTExLTI1VDE2OjAwOjAwWiIsImV4dHJhIjoiaWdub3JlZCJ9LCJwYXls"
			   "b2FkIjp7InByZWltYWdlIjoiYWJhYmFiYWJhYmFiYWJhYmFiYWJhYmFiYWJhYmFiYWJhYmFi"
			   "YWJhYmFiYWJhYmFiYWJhYmFiYWJhYmFiYWJhYiJ9LCJzb3VyY2UiOiJkaWQ6eCJ9", &c),
		     MPP_OK);
	CHECK_STREQ(c.ch.id, "X");
	CHECK_STREQ(c.ch.expires, "2026-11-25T16:00:00Z");
	CHECK(c.preimage[0] == 0xab && c.preimage[31] == 0xab);
	const char *good = "{\"challenge\":{\"id\":\"X\",\"realm\":\"r\",\"method\":\"lightning\","
			   "\"intent\":\"charge\",\"request\":\"e30\"},\"payload\":{\"preimage\":\""
			   "0000000000000000000000000000000000000000000000000000000000000001\"}}";
	snprintf(v, sizeof(v), "Payment %s==", b64json(good));
	CHECK_EQ_INT(parse(v, &c), MPP_OK);
	CHECK(c.preimage[31] == 1);

	static const struct {
		const char *json;
		enum mpp_err want;
	} bad[] = {
		{ "[]", MPP_MALFORMED },
		{ "{\"challenge\":{}}", MPP_MALFORMED },
		{ "{\"challenge\":1,\"payload\":{}}", MPP_MALFORMED },
		{ "{\"challenge\":{\"id\":\"X\",\"realm\":\"r\",\"method\":\"lightning\",\"intent\":"
		  "\"charge\",\"request\":\"e30\"},\"payload\":{}}", MPP_MALFORMED },
		{ "{\"challenge\":{\"id\":\"\",\"realm\":\"r\",\"method\":\"lightning\",\"intent\":"
		  "\"charge\",\"request\":\"e30\"},\"payload\":{\"preimage\":\"00\"}}", MPP_MALFORMED },
		{ "{\"challenge\":{\"id\":\"X\",\"id\":\"Y\",\"realm\":\"r\",\"method\":\"lightning\","
		  "\"intent\":\"charge\",\"request\":\"e30\"},\"payload\":{\"preimage\":\"00\"}}",
		  MPP_MALFORMED },
		{ "{\"challenge\":{\"id\":\"X\",\"realm\":\"r\",\"method\":\"lightning\",\"intent\":"
		  "\"charge\",\"request\":\"e30\"},\"payload\":{\"preimage\":\"00\"},\"challenge\":{}}",
		  MPP_MALFORMED },
		{ "{\"challenge\":{\"id\":\"X\",\"realm\":\"r\",\"method\":\"lightning\",\"intent\":"
		  "\"charge\",\"request\":7},\"payload\":{\"preimage\":\"00\"}}", MPP_MALFORMED },
		{ "{\"challenge\":{\"id\":\"X\",\"realm\":\"r\",\"method\":\"tempo\",\"intent\":"
		  "\"charge\",\"request\":\"e30\"},\"payload\":{\"preimage\":\"00\"}}", MPP_UNSUPPORTED },
		{ "{\"challenge\":{\"id\":\"X\",\"realm\":\"r\",\"method\":\"lightning\",\"intent\":"
		  "\"charge\",\"request\":\"e30\"},\"payload\":{\"preimage\":\"ABABABABABABABABABABABAB"
		  "ABABABABABABABABABABABABABABABABABABABABAB\"}}", MPP_MALFORMED },
		{ "{\"challenge\":{\"id\":\"X\\u0000\",\"realm\":\"r\",\"method\":\"lightning\",\"intent\":"
		  "\"charge\",\"request\":\"e30\"},\"payload\":{\"preimage\":\"00\"}}", MPP_MALFORMED },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(v, sizeof(v), "Payment %s", b64json(bad[i].json));
		CHECK_EQ_INT(parse(v, &c), bad[i].want);
	}
	CHECK_EQ_INT(parse("Payment ", &c), MPP_MALFORMED);
	CHECK_EQ_INT(parse("Payment a+b/", &c), MPP_MALFORMED);
	CHECK_EQ_INT(parse("Payment !!!!", &c), MPP_MALFORMED);
	CHECK_EQ_INT(parse("Payment bm90IGpzb24", &c), MPP_MALFORMED);
	/* Too long is refused before decoding. */
	memset(v, 'A', MPP_MAX_CREDENTIAL + 1);
	v[MPP_MAX_CREDENTIAL + 1] = '\0';
	CHECK_EQ_INT(parse(v, &c), MPP_MALFORMED);
	CHECK(mpp_is_payment("Payment x") && mpp_is_payment("payment\tx") && !mpp_is_payment("Paymentx")
	      && !mpp_is_payment("L402 x") && !mpp_is_payment(NULL));
}

static void test_request(void)
{
	struct mpp_charge_request r = { .amount_sat = 10, .description = "BTC \"price\"",
					.invoice = "lnbcrt100n1xyz", .network = "regtest" };
	struct mpp_charge_request back;
	char b64[MPP_MAX_REQUEST + 1];
	uint8_t raw[2048];
	size_t n;
	for (int i = 0; i < 32; i++)
		r.payment_hash[i] = (uint8_t)(0xf0 + i % 16);
	CHECK(mpp_charge_request_encode(b64, sizeof(b64), &r));
	CHECK(b64_decode_any(b64, strlen(b64), raw, sizeof(raw) - 1, &n));
	raw[n] = 0;
	CHECK_STREQ((char *)raw, "{\"amount\":\"10\",\"currency\":\"sat\",\"description\":\"BTC "
				 "\\\"price\\\"\",\"methodDetails\":{\"invoice\":\"lnbcrt100n1xyz\","
				 "\"network\":\"regtest\",\"paymentHash\":\"f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"
				 "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff\"}}");
	CHECK(strchr(b64, '=') == NULL && strchr(b64, '+') == NULL);
	CHECK(mpp_charge_request_decode(b64, &back));
	CHECK_EQ_INT(back.amount_sat, 10);
	CHECK_STREQ(back.invoice, r.invoice);
	CHECK(memcmp(back.payment_hash, r.payment_hash, 32) == 0);
	/* Amounts are positive decimal strings, currency sat. */
	static const char *const badreq[] = {
		"{\"amount\":\"0\",\"currency\":\"sat\",\"methodDetails\":{\"invoice\":\"x\",\"paymentHash\":\"" "0000000000000000000000000000000000000000000000000000000000000000\"}}",
		"{\"amount\":\"010\",\"currency\":\"sat\",\"methodDetails\":{\"invoice\":\"x\",\"paymentHash\":\"" "0000000000000000000000000000000000000000000000000000000000000000\"}}",
		"{\"amount\":\"10\",\"currency\":\"usd\",\"methodDetails\":{\"invoice\":\"x\",\"paymentHash\":\"" "0000000000000000000000000000000000000000000000000000000000000000\"}}",
		"{\"amount\":10,\"currency\":\"sat\",\"methodDetails\":{\"invoice\":\"x\",\"paymentHash\":\"" "0000000000000000000000000000000000000000000000000000000000000000\"}}",
		"{\"amount\":\"10\",\"currency\":\"sat\",\"methodDetails\":{\"invoice\":\"x\"}}",
		"{\"amount\":\"10\",\"currency\":\"sat\"}",
	};
	for (size_t i = 0; i < sizeof(badreq) / sizeof(badreq[0]); i++)
		CHECK(!mpp_charge_request_decode(b64json(badreq[i]), &back));

	char op[128], tag[16];
	CHECK(mpp_opaque_encode(op, sizeof(op), "0a1b2c3d"));
	CHECK(mpp_opaque_route(op, tag, sizeof(tag)));
	CHECK_STREQ(tag, "0a1b2c3d");
	CHECK(!mpp_opaque_route(b64json("{\"route\":1}"), tag, sizeof(tag)));

	struct strbuf sb;
	strbuf_init(&sb, 0);
	CHECK(mpp_receipt(&sb, "abc", r.payment_hash, 1764086400));
	CHECK(b64_decode_any(sb.data, sb.len, raw, sizeof(raw) - 1, &n));
	raw[n] = 0;
	CHECK_STREQ((char *)raw, "{\"challengeId\":\"abc\",\"method\":\"lightning\",\"reference\":"
				 "\"f0f1f2f3f4f5f6f7f8f9fafbfcfdfefff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff\","
				 "\"status\":\"success\",\"timestamp\":\"2025-11-25T16:00:00Z\"}");
	strbuf_free(&sb);
}

static void test_time(void)
{
	char s[24];
	int64_t t;
	mpp_time_format(0, s);
	CHECK_STREQ(s, "1970-01-01T00:00:00Z");
	mpp_time_format(1764086400, s);
	CHECK_STREQ(s, "2025-11-25T16:00:00Z");
	mpp_time_format(951782400, s); /* a leap day */
	CHECK_STREQ(s, "2000-02-29T00:00:00Z");
	CHECK(mpp_time_parse("2025-11-25T16:00:00Z", &t) && t == 1764086400);
	CHECK(mpp_time_parse("2025-11-25T16:00:00.123Z", &t) && t == 1764086400);
	CHECK(mpp_time_parse("2025-11-25T18:00:00+02:00", &t) && t == 1764086400);
	CHECK(mpp_time_parse("2025-11-25T15:30:00-00:30", &t) && t == 1764086400);
	CHECK(!mpp_time_parse("2025-11-25 16:00:00Z", &t));
	CHECK(!mpp_time_parse("2025-13-25T16:00:00Z", &t));
	CHECK(!mpp_time_parse("2025-11-25T16:00:00", &t));
	CHECK(!mpp_time_parse("2025-11-25T16:00:00Zjunk", &t));
	CHECK(!mpp_time_parse("", &t));
	for (int64_t x = 0; x < 4102444800; x += 86400 * 397 + 3671) {
		mpp_time_format(x, s);
		CHECK(mpp_time_parse(s, &t) && t == x);
	}
}

static void test_accept(void)
{
	CHECK_EQ_INT(mpp_accept_weight(NULL, "lightning", "charge"), -1);
	CHECK_EQ_INT(mpp_accept_weight("", "lightning", "charge"), -1);
	CHECK_EQ_INT(mpp_accept_weight("lightning/charge", "lightning", "charge"), 1000);
	CHECK_EQ_INT(mpp_accept_weight("tempo/charge, lightning/charge;q=0.5", "lightning", "charge"), 500);
	CHECK_EQ_INT(mpp_accept_weight("tempo/*", "lightning", "charge"), 0);
	CHECK_EQ_INT(mpp_accept_weight("*/*;q=0.2, lightning/*;q=0.7", "lightning", "charge"), 700);
	/* The most specific range decides, whatever its order or weight. */
	CHECK_EQ_INT(mpp_accept_weight("lightning/charge;q=0, lightning/*", "lightning", "charge"), 0);
	CHECK_EQ_INT(mpp_accept_weight("*/charge;q=0.3, */*", "lightning", "charge"), 300);
	CHECK_EQ_INT(mpp_accept_weight("lightning/session;q=0", "lightning", "charge"), 0);
	/* Malformed: ignored. */
	CHECK_EQ_INT(mpp_accept_weight("lightning", "lightning", "charge"), -1);
	CHECK_EQ_INT(mpp_accept_weight("lightning/charge;q=2", "lightning", "charge"), -1);
	CHECK_EQ_INT(mpp_accept_weight("lightning/charge;q=0.1234", "lightning", "charge"), -1);
	CHECK_EQ_INT(mpp_accept_weight("lightning/charge junk", "lightning", "charge"), -1);
	CHECK_EQ_INT(mpp_accept_weight("lightning/charge;q=1.0, ,tempo/charge", "lightning", "charge"), 1000);
}

/* RFC 9530 digests: ours of a body, and a client's header read. */
static void test_digest(void)
{
	char d[MPP_DIGEST_LEN], c[MPP_DIGEST_LEN];
	mpp_body_digest("", 0, d);
	CHECK(strcmp(d, "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:") == 0);
	mpp_body_digest("hello", 5, d);
	CHECK(mpp_content_digest(d, c) && strcmp(c, d) == 0);
	char two[200];
	snprintf(two, sizeof(two), "sha-512=:AAAA:, %s", d);
	CHECK(mpp_content_digest(two, c) && strcmp(c, d) == 0);
	CHECK(!mpp_content_digest(NULL, c));
	CHECK(!mpp_content_digest("", c));
	CHECK(!mpp_content_digest("sha-512=:AAAA:", c));
	CHECK(!mpp_content_digest("sha-256=:AAAA:", c));		/* short */
	CHECK(!mpp_content_digest("xsha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:", c));
	CHECK(!mpp_content_digest("sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuF!=:", c));
	CHECK(!mpp_content_digest("sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", c));
}

/* The lightning drafts' problem types: every refusal that has one names
 * it, a charge's "another, cheaper offer" keeps the core's. */
static void test_ln_problems(void)
{
	CHECK(strcmp(mpp_ln_problem_type(mpp_ln_problem_of(MPP_INVALID_CHALLENGE, false)),
		     "lightning/unknown-challenge") == 0);
	CHECK(strcmp(mpp_ln_problem_type(mpp_ln_problem_of(MPP_VERIFICATION_FAILED, true)),
		     "lightning/invalid-preimage") == 0);
	CHECK(strcmp(mpp_ln_problem_type(mpp_ln_problem_of(MPP_EXPIRED, false)),
		     "lightning/expired-invoice") == 0);
	CHECK(strcmp(mpp_ln_problem_type(mpp_ln_problem_of(MPP_EXPIRED, true)),
		     "lightning/challenge-expired") == 0);
	CHECK(strcmp(mpp_ln_problem_type(mpp_ln_problem_of(MPP_INSUFFICIENT, true)),
		     "lightning/insufficient-balance") == 0);
	CHECK(mpp_ln_problem_of(MPP_INSUFFICIENT, false) == MPP_LN_NONE);
	CHECK(mpp_ln_problem_of(MPP_OK, false) == MPP_LN_NONE);
	CHECK(mpp_ln_problem_type(MPP_LN_NONE) == NULL);
	for (int p = MPP_LN_MALFORMED_CREDENTIAL; p <= MPP_LN_INVALID_RETURN_INVOICE; p++)
		CHECK(strncmp(mpp_ln_problem_type(p), "lightning/", 10) == 0
		      && mpp_ln_problem_title(p)[0]);
	CHECK(mpp_ln_problem_type(MPP_LN_CORE) == NULL && mpp_ln_problem_type(MPP_LN_CORE + 1) == NULL);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_jcs();
	test_binding();
	test_credential();
	test_request();
	test_time();
	test_accept();
	test_ln_problems();
	test_digest();
	return test_done("test_mpp");
}
