/* Macaroon codec and verification beyond the shared vectors: round trips,
 * third-party caveats, and garbage, truncated and oversized inputs. */
#include <sodium.h>

#include "encoding.h"
#include "macaroon.h"
#include "test.h"

static bool accept_all(void *ctx, const uint8_t *c, size_t n)
{
	return true;
}

static bool refuse_all(void *ctx, const uint8_t *c, size_t n)
{
	return false;
}

static void test_roundtrip(void)
{
	struct macaroon m, d;
	uint8_t buf[4096], vid[MACAROON_VID_LEN];
	const uint8_t key[] = "root";

	macaroon_init(&m, key, 4, mslice_str("id"), mslice_str("loc"));
	CHECK_EQ_INT(macaroon_add_first_party(&m, mslice_str("a = 1")), MACAROON_OK);
	CHECK_EQ_INT(macaroon_add_third_party(&m, (const uint8_t *)"tk", 2, mslice_str("tp"),
					      mslice_str("there"), vid), MACAROON_OK);
	size_t n = macaroon_encode_v2(&m, buf, sizeof(buf));
	CHECK(n == macaroon_encoded_len_v2(&m));
	CHECK(macaroon_decode_v2(buf, n, &d) == MACAROON_OK);
	CHECK(d.ncaveats == 2 && d.caveats[1].vid.len == MACAROON_VID_LEN);
	CHECK(d.location.len == 3 && memcmp(d.location.p, "loc", 3) == 0);
	CHECK(d.caveats[1].location.len == 5);
	CHECK(memcmp(d.sig, m.sig, 32) == 0);
	/* Without the discharge, verification fails. */
	CHECK_EQ_INT(macaroon_verify(&d, key, 4, NULL, 0, accept_all, NULL),
		     MACAROON_ERR_DISCHARGE_MISSING);
	struct macaroon dis;
	macaroon_init(&dis, (const uint8_t *)"tk", 2, mslice_str("tp"), mslice_str(""));
	macaroon_bind_discharge(&m, &dis);
	CHECK_EQ_INT(macaroon_verify(&d, key, 4, &dis, 1, accept_all, NULL), MACAROON_OK);
	CHECK_EQ_INT(macaroon_verify(&d, key, 4, &dis, 1, refuse_all, NULL), MACAROON_ERR_CAVEAT);
	CHECK_EQ_INT(macaroon_verify(&d, (const uint8_t *)"nope", 4, &dis, 1, accept_all, NULL),
		     MACAROON_ERR_DECRYPT);
	/* An extra, unused discharge is an error (go-macaroon does the same). */
	struct macaroon two[2] = { dis, dis };
	CHECK_EQ_INT(macaroon_verify(&d, key, 4, two, 2, accept_all, NULL),
		     MACAROON_ERR_DISCHARGE_UNUSED);
	/* A small buffer is refused, not overrun. */
	CHECK_EQ_INT(macaroon_encode_v2(&m, buf, n - 1), 0);
	CHECK(strlen(macaroon_strerror(MACAROON_ERR_DECRYPT)) > 0);
}

static void test_bad_v2(void)
{
	struct macaroon m;
	uint8_t buf[4096];
	uint8_t one[1] = { 2 };

	macaroon_init(&m, (const uint8_t *)"k", 1, mslice_str("id"), mslice_str(""));
	macaroon_add_first_party(&m, mslice_str("c"));
	size_t n = macaroon_encode_v2(&m, buf, sizeof(buf));
	/* Every truncation fails cleanly. */
	int bad = 0;
	for (size_t i = 0; i < n; i++)
		bad += macaroon_decode_v2(buf, i, &m) != MACAROON_OK;
	CHECK_EQ_INT(bad, (int)n);
	CHECK(macaroon_decode_v2(one, 1, &m) == MACAROON_ERR_TRUNCATED);
	/* Trailing garbage, wrong version, a bad field, a long length. */
	buf[n] = 0;
	CHECK(macaroon_decode_v2(buf, n + 1, &m) == MACAROON_ERR_FORMAT);
	buf[0] = 1;
	CHECK(macaroon_decode_v2(buf, n, &m) == MACAROON_ERR_FORMAT);
	uint8_t badfield[] = { 2, 3, 1, 'x', 0 };
	CHECK(macaroon_decode_v2(badfield, sizeof(badfield), &m) == MACAROON_ERR_FORMAT);
	uint8_t longlen[] = { 2, 2, 0xff, 0xff, 0xff, 0xff, 0x0f, 'x' };
	CHECK(macaroon_decode_v2(longlen, sizeof(longlen), &m) == MACAROON_ERR_TRUNCATED);
	uint8_t varint[] = { 2, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
	CHECK(macaroon_decode_v2(varint, sizeof(varint), &m) != MACAROON_OK);
	/* Out-of-order fields and a missing identifier. */
	uint8_t order[] = { 2, 2, 1, 'i', 1, 1, 'l', 0 };
	CHECK(macaroon_decode_v2(order, sizeof(order), &m) == MACAROON_ERR_FORMAT);
	uint8_t noid[] = { 2, 1, 1, 'l', 0, 0, 6, 0 };
	CHECK(macaroon_decode_v2(noid, sizeof(noid), &m) == MACAROON_ERR_FORMAT);
	/* Signature of the wrong length. */
	uint8_t shortsig[] = { 2, 2, 1, 'i', 0, 0, 6, 1, 'x' };
	CHECK(macaroon_decode_v2(shortsig, sizeof(shortsig), &m) == MACAROON_ERR_FORMAT);

	/* Oversized input and too many caveats. */
	static uint8_t big[MACAROON_MAX_SIZE + 1];
	big[0] = 2;
	CHECK(macaroon_decode_v2(big, sizeof(big), &m) == MACAROON_ERR_TOO_LARGE);
	struct macaroon many;
	macaroon_init(&many, (const uint8_t *)"k", 1, mslice_str("id"), mslice_str(""));
	for (int i = 0; i < MACAROON_MAX_CAVEATS; i++)
		CHECK(macaroon_add_first_party(&many, mslice_str("c")) == MACAROON_OK);
	CHECK(macaroon_add_first_party(&many, mslice_str("c")) == MACAROON_ERR_TOO_MANY_CAVEATS);
	/* Hand-build one caveat more than we accept. */
	size_t k = 0;
	big[k++] = 2;
	big[k++] = 2; big[k++] = 1; big[k++] = 'i'; big[k++] = 0;
	for (int i = 0; i <= MACAROON_MAX_CAVEATS; i++) {
		big[k++] = 2; big[k++] = 1; big[k++] = 'c'; big[k++] = 0;
	}
	big[k++] = 0; big[k++] = 6; big[k++] = 32;
	k += 32;
	CHECK(macaroon_decode_v2(big, k, &m) == MACAROON_ERR_TOO_MANY_CAVEATS);
}

static void test_bad_v1_json(void)
{
	struct macaroon m;
	uint8_t scratch[4096];
	const char *bad_json[] = {
		"{", "{}", "[]", "{\"v\":1,\"i\":\"x\",\"s64\":\"AA\"}",
		"{\"v\":2,\"i\":\"x\"}",
		"{\"v\":2,\"i\":\"x\",\"s64\":\"AAAA\"}",
		"{\"v\":2,\"i\":\"x\",\"i64\":\"eA\",\"s64\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
		"{\"v\":2,\"i\":\"x\",\"s64\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"c\":{}}",
		"{\"v\":2,\"i\":\"x\",\"s64\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"c\":[1]}",
		"{\"v\":2,\"i\":\"x\",\"s64\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"c\":[{\"l\":\"x\"}]}",
		"{\"v\":2,\"i\":\"\\ud800\",\"s64\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
		"{\"v\":2,\"i\":\"x\",\"s64\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"} x",
	};
	for (size_t i = 0; i < sizeof(bad_json) / sizeof(bad_json[0]); i++) {
		enum macaroon_err e = macaroon_decode_json(bad_json[i], strlen(bad_json[i]),
							   scratch, sizeof(scratch), &m);
		if (e == MACAROON_OK)
			fprintf(stderr, "accepted bad json %zu\n", i);
		CHECK(e != MACAROON_OK);
	}
	const char *good = "{\"v\":2,\"i\":\"x\\n\",\"s64\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"c\":[{\"i64\":\"YQ\"}]}";
	CHECK(macaroon_decode_json(good, strlen(good), scratch, sizeof(scratch), &m) == MACAROON_OK);
	CHECK(m.identifier.len == 2 && m.identifier.p[1] == '\n');
	CHECK(m.ncaveats == 1 && m.caveats[0].id.len == 1 && m.caveats[0].id.p[0] == 'a');
	/* Scratch too small is an error, not an overflow. */
	CHECK(macaroon_decode_json(good, strlen(good), scratch, 4, &m) != MACAROON_OK);

	const char *bad_v1[] = { "", "00", "0005x", "zzzzlocation x\n",
				 "000flocation x\n", "0010location x\n0010identifier\n" };
	for (size_t i = 0; i < sizeof(bad_v1) / sizeof(bad_v1[0]); i++)
		CHECK(macaroon_decode_v1((const uint8_t *)bad_v1[i], strlen(bad_v1[i]), &m)
		      != MACAROON_OK);
	const char v1[] = "0010location x\n0011identifier i\n000bcid c\n";
	CHECK(macaroon_decode_v1((const uint8_t *)v1, strlen(v1), &m) == MACAROON_ERR_TRUNCATED);
	CHECK(macaroon_decode((const uint8_t *)"", 0, scratch, sizeof(scratch), &m, NULL)
	      == MACAROON_ERR_TRUNCATED);
	CHECK(macaroon_decode((const uint8_t *)"!!!", 3, scratch, sizeof(scratch), &m, NULL)
	      == MACAROON_ERR_FORMAT);
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	test_roundtrip();
	test_bad_v2();
	test_bad_v1_json();
	return test_done("test_macaroon");
}
