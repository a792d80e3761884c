/* JSON writer escaping, jsmn reader bounds, and base64/hex helpers. */
#include "encoding.h"
#include "json_in.h"
#include "json_out.h"
#include "test.h"

static void test_json_out(void)
{
	struct strbuf sb;
	struct json_out j;
	strbuf_init(&sb, 0);
	json_out_init(&j, &sb);
	json_object_start(&j, NULL);
	json_add_string(&j, "s", "a\"b\\c\n\x01\x7f");
	json_add_stringn(&j, "bad", "\xff\xc3(ok\xe2\x82\xac", 8);
	json_add_u64(&j, "u", 18446744073709551615ULL);
	json_add_s64(&j, "i", -5);
	json_add_bool(&j, "b", true);
	json_add_null(&j, "n");
	json_add_string(&j, "nul", NULL);
	uint8_t h[2] = { 0xde, 0xad };
	json_add_hex(&j, "h", h, 2);
	json_array_start(&j, "a");
	json_add_u64(&j, NULL, 1);
	json_add_raw(&j, NULL, "{\"x\":1}", 7);
	json_array_end(&j);
	json_object_end(&j);
	CHECK(json_out_ok(&j));
	CHECK_STREQ(sb.data,
		    "{\"s\":\"a\\\"b\\\\c\\n\\u0001\x7f\",\"bad\":\"\\ufffd\\ufffd(ok\xe2\x82\xac\","
		    "\"u\":18446744073709551615,\"i\":-5,\"b\":true,\"n\":null,\"nul\":null,"
		    "\"h\":\"dead\",\"a\":[1,{\"x\":1}]}");
	/* What we wrote parses back. */
	struct json_doc doc;
	jsmntok_t toks[64];
	CHECK(json_parse(&doc, sb.data, sb.len, toks, 64));
	char out[64];
	CHECK(json_get_string(&doc, json_get(&doc, 0, "s"), out, sizeof(out), NULL));
	CHECK_STREQ(out, "a\"b\\c\n\x01\x7f");
	/* Unbalanced ends are flagged. */
	json_out_init(&j, &sb);
	json_object_end(&j);
	CHECK(!json_out_ok(&j));
	/* The cap holds. */
	struct strbuf small;
	strbuf_init(&small, 8);
	json_out_init(&j, &small);
	json_add_string(&j, NULL, "far too long for eight");
	CHECK(!json_out_ok(&j));
	strbuf_free(&small);
	strbuf_free(&sb);
}

static void test_json_in(void)
{
	struct json_doc doc;
	jsmntok_t toks[32];
	const char *js = "{\"a\":[1,2,{\"b\":\"x\\u00e9\\ud83d\\ude00\"}],\"n\":-9223372036854775808,"
			 "\"u\":18446744073709551615,\"t\":true,\"z\":null,\"h\":\"00ff\"}";
	CHECK(json_parse(&doc, js, strlen(js), toks, 32));
	int a = json_get(&doc, 0, "a");
	CHECK(json_is_array(&doc, a));
	CHECK(json_at(&doc, a, 3) == -1);
	int b = json_get(&doc, json_at(&doc, a, 2), "b");
	char s[16];
	size_t n;
	CHECK(json_get_string(&doc, b, s, sizeof(s), &n));
	CHECK(n == 7 && memcmp(s, "x\xc3\xa9\xf0\x9f\x98\x80", 7) == 0);
	CHECK(!json_get_string(&doc, b, s, 4, &n));
	int64_t i64;
	uint64_t u64;
	bool t;
	uint8_t h[2];
	CHECK(json_get_s64(&doc, json_get(&doc, 0, "n"), &i64) && i64 == INT64_MIN);
	CHECK(json_get_u64(&doc, json_get(&doc, 0, "u"), &u64) && u64 == UINT64_MAX);
	CHECK(!json_get_s64(&doc, json_get(&doc, 0, "u"), &i64));
	CHECK(json_get_bool(&doc, json_get(&doc, 0, "t"), &t) && t);
	CHECK(json_is_null(&doc, json_get(&doc, 0, "z")));
	CHECK(json_get_hex(&doc, json_get(&doc, 0, "h"), h, 2) && h[1] == 0xff);
	CHECK(!json_get_hex(&doc, json_get(&doc, 0, "h"), h, 1));
	CHECK(json_get(&doc, 0, "missing") == -1);
	CHECK(json_get(&doc, a, "a") == -1);
	CHECK(!json_get_u64(&doc, 9999, &u64));

	const char *bad[] = { "", "{", "{\"a\":}", "[1,]x", "{\"a\":1}{}", "\"s\" 1", "{'a':1}",
			      "{\"a\":\"\\u0000\"}" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]) - 1; i++)
		CHECK(!json_parse(&doc, bad[i], strlen(bad[i]), toks, 32));
	/* Parses, but \u0000 is refused when read as a C string. */
	CHECK(json_parse(&doc, bad[7], strlen(bad[7]), toks, 32));
	CHECK(!json_get_string(&doc, json_get(&doc, 0, "a"), s, sizeof(s), NULL));
	/* Too many tokens for the caller's array. */
	CHECK(!json_parse(&doc, "[1,2,3,4]", 9, toks, 3));
	CHECK(json_parse_alloc(&doc, "[1,2,3,4]", 9, 10));
	json_doc_free(&doc);
	CHECK(!json_parse_alloc(&doc, "[1,2,3,4]", 9, 4));

	/* Message framing in a stream. */
	size_t st, en;
	const char *stream = "  {\"a\":\"}\\\"\"}\n\n{\"b\"";
	CHECK(json_find_value(stream, strlen(stream), &st, &en) == 1);
	CHECK(st == 2 && stream[en - 1] == '}' && en == 13);
	CHECK(json_find_value(stream + en, strlen(stream) - en, &st, &en) == 0);
	CHECK(json_find_value("x{}", 3, &st, &en) == -1);
	CHECK(json_find_value("   ", 3, &st, &en) == 0);
}

static void test_encoding(void)
{
	uint8_t out[64];
	size_t n;
	char s[128];
	const uint8_t data[] = { 0xfb, 0xff, 0xfe };
	CHECK(b64_encode(data, 3, s, sizeof(s)) == 4);
	CHECK_STREQ(s, "+//+");
	CHECK(b64url_encode(data, 3, s, sizeof(s)) == 4);
	CHECK_STREQ(s, "-__-");
	CHECK(b64_encode(data, 3, s, 4) == 0);
	CHECK(b64_encoded_len(3) == 4 && b64_encoded_len(4) == 8);
	CHECK(b64_decode_any("+//+", 4, out, sizeof(out), &n) && n == 3 && out[0] == 0xfb);
	CHECK(b64_decode_any("-__-", 4, out, sizeof(out), &n) && n == 3);
	CHECK(b64_decode_any("YQ==", 4, out, sizeof(out), &n) && n == 1 && out[0] == 'a');
	CHECK(b64_decode_any("YQ", 2, out, sizeof(out), &n) && n == 1);
	CHECK(!b64_decode_any("YQ=", 3, out, sizeof(out), &n));
	CHECK(!b64_decode_any("Y", 1, out, sizeof(out), &n));
	CHECK(!b64_decode_any("+_", 2, out, sizeof(out), &n));
	CHECK(!b64_decode_any("YW Jj", 5, out, sizeof(out), &n));
	CHECK(!b64_decode_any("YWJjZGVm", 8, out, 5, &n));
	CHECK(b64_decode_any("", 0, out, sizeof(out), &n) && n == 0);

	CHECK(hex_encode(data, 3, s, sizeof(s)));
	CHECK_STREQ(s, "fbfffe");
	CHECK(!hex_encode(data, 3, s, 6));
	CHECK(hex_decode("FBff", 4, out, sizeof(out), &n) && n == 2 && out[0] == 0xfb);
	CHECK(!hex_decode("fbf", 3, out, sizeof(out), &n));
	CHECK(!hex_decode("zz", 2, out, sizeof(out), &n));
	CHECK(!hex_decode("aabb", 4, out, 1, &n));
}

static void test_strbuf(void)
{
	struct strbuf sb;
	strbuf_init(&sb, 10);
	CHECK(strbuf_puts(&sb, "hello"));
	CHECK(strbuf_printf(&sb, "%d", 1234));
	CHECK(!strbuf_puts(&sb, "xx"));
	CHECK(sb.failed && sb.len == 9);
	strbuf_reset(&sb);
	CHECK(strbuf_puts(&sb, "abcdef"));
	strbuf_consume(&sb, 2);
	CHECK_STREQ(sb.data, "cdef");
	strbuf_consume(&sb, 100);
	CHECK(sb.len == 0);
	char *p = strbuf_steal(&sb);
	CHECK(p && sb.data == NULL);
	free(p);
	strbuf_free(&sb);
}

int main(void)
{
	test_json_out();
	test_json_in();
	test_encoding();
	test_strbuf();
	return test_done("test_json_encoding");
}
