/* L402 tokens: identifier, minting (byte-exact against an independent
 * implementation), verification and aperture's caveat rules, the
 * Authorization parsers with every rejection reason, and the headers. */
#include <sodium.h>

#include "encoding.h"
#include "l402.h"
#include "test.h"

/* Minted by tests/fuzz/make_seeds.py's independent Python code with
 * secret 00..1f, preimage ab*32, token id 11*32 and three caveats. */
static const char PY_TOKEN[] =
	"AgEEbHNhdAJCAACaLbLiPxUEzQVmBlU6wEnF5xjo+c6SM4dt8aehghr4hRERERERERERERERERERERERERERERERERERERERERERAAISc2VydmljZXM9d2VhdGhlcjowAAIfd2VhdGhlcl9jYXBhYmlsaXRpZXM9cmVhZCx3cml0ZQACHndlYXRoZXJfdmFsaWRfdW50aWw9MTkwMDAwMDAwMAAABiBfPgTBVYJPFbEsPT2KIoJOfGhmHBC6vfI+gVy9sCrPqA==";

static uint8_t secret[32], preimage[32];
static struct l402_identifier ident;
static struct l402_credential cred;

static void setup(void)
{
	for (int i = 0; i < 32; i++)
		secret[i] = (uint8_t)i;
	memset(preimage, 0xab, 32);
	ident.version = 0;
	crypto_hash_sha256(ident.payment_hash, preimage, 32);
	memset(ident.token_id, 0x11, 32);
}

static void auth_for(struct strbuf *sb, const char *tok, const uint8_t *pre)
{
	strbuf_reset(sb);
	l402_authorization(sb, tok, pre);
}

static enum l402_err verify_auth(const char *auth, const char *service,
				 const char *cap, int64_t now,
				 struct l402_verdict *v)
{
	struct l402_verify_req req = { service, cap, now };
	enum l402_err e = l402_parse_authorization(auth, strlen(auth), &cred);
	if (e != L402_OK)
		return e;
	return l402_verify(&cred, secret, &req, v);
}

static void test_identifier(void)
{
	uint8_t buf[L402_ID_LEN];
	struct l402_identifier back;
	l402_identifier_encode(&ident, buf);
	CHECK(buf[0] == 0 && buf[1] == 0);
	CHECK(memcmp(buf + 2, ident.payment_hash, 32) == 0);
	CHECK(l402_identifier_decode(buf, sizeof(buf), &back));
	CHECK(memcmp(&back, &ident, sizeof(back)) == 0);
	CHECK(!l402_identifier_decode(buf, 65, &back));
	CHECK(!l402_identifier_decode(buf, 1, &back));
	buf[1] = 1; /* version 1 is unknown */
	CHECK(!l402_identifier_decode(buf, sizeof(buf), &back));
}

static void test_mint_matches_reference(void)
{
	char tok[1024];
	struct l402_mint_params p = { "weather", 0, "read,write", { 1900000000, 0, 0, 0 }, NULL, 0 };
	CHECK(l402_mint(secret, &ident, &p, tok, sizeof(tok)));
	CHECK_STREQ(tok, PY_TOKEN);
	/* Bad inputs are refused, not minted. */
	struct l402_mint_params bad = { "we ather", 0, NULL, { 0, 0, 0, 0 }, NULL, 0 };
	CHECK(!l402_mint(secret, &ident, &bad, tok, sizeof(tok)));
	bad.service = "";
	CHECK(!l402_mint(secret, &ident, &bad, tok, sizeof(tok)));
	const char *noeq[] = { "noequals" };
	struct l402_mint_params bad2 = { "svc", 0, NULL, { 0, 0, 0, 0 }, noeq, 1 };
	CHECK(!l402_mint(secret, &ident, &bad2, tok, sizeof(tok)));
	CHECK(!l402_mint(secret, &ident, &p, tok, 10));
}

static void test_verify(void)
{
	char tok[1024];
	struct strbuf sb;
	struct l402_verdict v;
	struct l402_mint_params p = { "weather", 0, "read,write", { 1900000000, 0, 0, 0 }, NULL, 0 };
	uint8_t wrong[32];

	strbuf_init(&sb, 0);
	l402_mint(secret, &ident, &p, tok, sizeof(tok));
	auth_for(&sb, tok, preimage);
	CHECK_EQ_INT(verify_auth(sb.data, "weather", "read", 1800000000, &v), L402_OK);
	CHECK(memcmp(v.id.token_id, ident.token_id, 32) == 0);
	CHECK_EQ_INT(verify_auth(sb.data, "weather", NULL, 1800000000, &v), L402_OK);
	/* Expiry against the clock passed in: valid strictly before. */
	CHECK_EQ_INT(verify_auth(sb.data, "weather", "read", 1900000000, &v), L402_ERR_EXPIRED);
	CHECK(strstr(v.detail, "weather_valid_until") != NULL);
	CHECK_EQ_INT(verify_auth(sb.data, "other", "read", 1800000000, &v), L402_ERR_CAVEAT);
	CHECK(strstr(v.detail, "services") != NULL);
	CHECK_EQ_INT(verify_auth(sb.data, "weather", "admin", 1800000000, &v), L402_ERR_CAVEAT);
	CHECK(strstr(v.detail, "capabilit") != NULL);

	memset(wrong, 0xac, 32);
	auth_for(&sb, tok, wrong);
	CHECK_EQ_INT(verify_auth(sb.data, "weather", "read", 1800000000, &v), L402_ERR_PREIMAGE_MISMATCH);

	/* Another secret (a foreign or rotated node) fails the signature. */
	uint8_t other[32] = { 9 };
	char tok2[1024];
	l402_mint(other, &ident, &p, tok2, sizeof(tok2));
	auth_for(&sb, tok2, preimage);
	CHECK_EQ_INT(verify_auth(sb.data, "weather", "read", 1800000000, &v), L402_ERR_SIGNATURE);
	strbuf_free(&sb);
}

/* Decode a token, add caveats as a client would, re-encode. */
static void attenuate(const char *tok, const char *const *cavs, size_t n,
		      char *out, size_t outcap)
{
	static uint8_t raw[4096], enc[4096];
	struct macaroon m;
	size_t len;
	b64_decode_any(tok, strlen(tok), raw, sizeof(raw), &len);
	macaroon_decode_v2(raw, len, &m);
	for (size_t i = 0; i < n; i++) {
		/* Adding a caveat needs only the current signature. */
		uint8_t sig[32];
		crypto_auth_hmacsha256_state st;
		crypto_auth_hmacsha256_init(&st, m.sig, 32);
		crypto_auth_hmacsha256_update(&st, (const uint8_t *)cavs[i], strlen(cavs[i]));
		crypto_auth_hmacsha256_final(&st, sig);
		m.caveats[m.ncaveats].id = mslice_str(cavs[i]);
		m.caveats[m.ncaveats].vid.len = 0;
		m.caveats[m.ncaveats].location.len = 0;
		m.ncaveats++;
		memcpy(m.sig, sig, 32);
	}
	len = macaroon_encode_v2(&m, enc, sizeof(enc));
	b64_encode(enc, len, out, outcap);
}

static void test_attenuation(void)
{
	char tok[1024], att[2048];
	struct strbuf sb;
	struct l402_verdict v;
	struct l402_mint_params p = { "weather", 0, "read,write", { 1900000000, 0, 0, 0 }, NULL, 0 };

	strbuf_init(&sb, 0);
	l402_mint(secret, &ident, &p, tok, sizeof(tok));

	/* Narrowing expiry is honoured. */
	const char *earlier[] = { "weather_valid_until=1700000000" };
	attenuate(tok, earlier, 1, att, sizeof(att));
	auth_for(&sb, att, preimage);
	CHECK_EQ_INT(verify_auth(sb.data, "weather", "read", 1600000000, &v), L402_OK);
	CHECK_EQ_INT(verify_auth(sb.data, "weather", "read", 1800000000, &v), L402_ERR_EXPIRED);

	/* Widening expiry is refused. */
	const char *later[] = { "weather_valid_until=2000000000" };
	attenuate(tok, later, 1, att, sizeof(att));
	auth_for(&sb, att, preimage);
	CHECK_EQ_INT(verify_auth(sb.data, "weather", "read", 1800000000, &v), L402_ERR_CAVEAT);
	CHECK(strstr(v.detail, "later") != NULL);

	/* Narrowing capabilities: read only. */
	const char *ro[] = { "weather_capabilities=read" };
	attenuate(tok, ro, 1, att, sizeof(att));
	auth_for(&sb, att, preimage);
	CHECK_EQ_INT(verify_auth(sb.data, "weather", "read", 1800000000, &v), L402_OK);
	CHECK_EQ_INT(verify_auth(sb.data, "weather", "write", 1800000000, &v), L402_ERR_CAVEAT);

	/* Widening capabilities or services is refused. */
	const char *wide[] = { "weather_capabilities=read,admin" };
	attenuate(tok, wide, 1, att, sizeof(att));
	auth_for(&sb, att, preimage);
	CHECK_EQ_INT(verify_auth(sb.data, "weather", "read", 1800000000, &v), L402_ERR_CAVEAT);
	const char *svc[] = { "services=weather:0,maps:0" };
	attenuate(tok, svc, 1, att, sizeof(att));
	auth_for(&sb, att, preimage);
	CHECK_EQ_INT(verify_auth(sb.data, "weather", "read", 1800000000, &v), L402_ERR_CAVEAT);
	const char *malformed[] = { "services=weather" };
	attenuate(tok, malformed, 1, att, sizeof(att));
	auth_for(&sb, att, preimage);
	CHECK_EQ_INT(verify_auth(sb.data, "weather", "read", 1800000000, &v), L402_ERR_CAVEAT);
	const char *badtime[] = { "weather_valid_until=soon" };
	attenuate(tok, badtime, 1, att, sizeof(att));
	auth_for(&sb, att, preimage);
	CHECK_EQ_INT(verify_auth(sb.data, "weather", "read", 1800000000, &v), L402_ERR_CAVEAT);

	/* Unknown conditions and non condition=value caveats are skipped. */
	const char *unknown[] = { "ip=127.0.0.1", "just text" };
	attenuate(tok, unknown, 2, att, sizeof(att));
	auth_for(&sb, att, preimage);
	CHECK_EQ_INT(verify_auth(sb.data, "weather", "read", 1800000000, &v), L402_OK);

	/* A caveat added without re-signing breaks the signature. */
	static uint8_t raw[4096], enc[4096];
	struct macaroon m;
	size_t len;
	b64_decode_any(tok, strlen(tok), raw, sizeof(raw), &len);
	macaroon_decode_v2(raw, len, &m);
	m.caveats[m.ncaveats++].id = mslice_str("weather_valid_until=2100000000");
	len = macaroon_encode_v2(&m, enc, sizeof(enc));
	b64_encode(enc, len, att, sizeof(att));
	auth_for(&sb, att, preimage);
	CHECK_EQ_INT(verify_auth(sb.data, "weather", "read", 1800000000, &v), L402_ERR_SIGNATURE);
	strbuf_free(&sb);
}

static void test_uses_caveat(void)
{
	char tok[1024], att[2048];
	struct strbuf sb;
	struct l402_verdict v;
	struct l402_mint_params p = { "svc", 0, NULL, { 1900000000, 5, 0, 0 }, NULL, 0 };

	strbuf_init(&sb, 0);
	CHECK(l402_mint(secret, &ident, &p, tok, sizeof(tok)));
	auth_for(&sb, tok, preimage);
	CHECK_EQ_INT(verify_auth(sb.data, "svc", NULL, 1800000000, &v), L402_OK);
	CHECK_EQ_INT(v.grant.uses, 5);
	CHECK_EQ_INT(v.grant.valid_until, 1900000000);
	const char *fewer[] = { "svc_uses=2" };
	attenuate(tok, fewer, 1, att, sizeof(att));
	auth_for(&sb, att, preimage);
	CHECK_EQ_INT(verify_auth(sb.data, "svc", NULL, 1800000000, &v), L402_OK);
	CHECK_EQ_INT(v.grant.uses, 2);
	const char *more[] = { "svc_uses=9" };
	attenuate(tok, more, 1, att, sizeof(att));
	auth_for(&sb, att, preimage);
	CHECK_EQ_INT(verify_auth(sb.data, "svc", NULL, 1800000000, &v), L402_ERR_CAVEAT);
	const char *zero[] = { "svc_uses=0" };
	attenuate(tok, zero, 1, att, sizeof(att));
	auth_for(&sb, att, preimage);
	CHECK_EQ_INT(verify_auth(sb.data, "svc", NULL, 1800000000, &v), L402_ERR_CAVEAT);
	strbuf_free(&sb);
}

/* svc_balance_msat: minted, reported, lowered but never raised. */
static void test_balance_caveat(void)
{
	char tok[1024], att[2048];
	struct strbuf sb;
	struct l402_verdict v;
	struct l402_mint_params p = { "svc", 0, NULL, { 0, 0, 20000000, 0 }, NULL, 0 };

	strbuf_init(&sb, 0);
	CHECK(l402_mint(secret, &ident, &p, tok, sizeof(tok)));
	auth_for(&sb, tok, preimage);
	CHECK_EQ_INT(verify_auth(sb.data, "svc", NULL, 1800000000, &v), L402_OK);
	CHECK_EQ_INT(v.grant.balance_msat, 20000000);
	CHECK_EQ_INT(v.grant.uses, 0);
	const char *less[] = { "svc_balance_msat=5000" };
	attenuate(tok, less, 1, att, sizeof(att));
	auth_for(&sb, att, preimage);
	CHECK_EQ_INT(verify_auth(sb.data, "svc", NULL, 1800000000, &v), L402_OK);
	CHECK_EQ_INT(v.grant.balance_msat, 5000);
	const char *more[] = { "svc_balance_msat=20000001" };
	attenuate(tok, more, 1, att, sizeof(att));
	auth_for(&sb, att, preimage);
	CHECK_EQ_INT(verify_auth(sb.data, "svc", NULL, 1800000000, &v), L402_ERR_CAVEAT);
	const char *junk[] = { "svc_balance_msat=-1" };
	attenuate(tok, junk, 1, att, sizeof(att));
	auth_for(&sb, att, preimage);
	CHECK_EQ_INT(verify_auth(sb.data, "svc", NULL, 1800000000, &v), L402_ERR_CAVEAT);
	strbuf_free(&sb);
}

static void test_parse_authorization(void)
{
	char tok[1024], hex[65], buf[4096];
	struct l402_mint_params p = { "svc", 0, NULL, { 0, 0, 0, 0 }, NULL, 0 };
	struct l402_verdict v;

	l402_mint(secret, &ident, &p, tok, sizeof(tok));
	hex_encode(preimage, 32, hex, sizeof(hex));

	snprintf(buf, sizeof(buf), "L402 %s:%s", tok, hex);
	CHECK_EQ_INT(verify_auth(buf, "svc", NULL, 0, &v), L402_OK);
	snprintf(buf, sizeof(buf), "lsat %s:%s", tok, hex);
	CHECK_EQ_INT(verify_auth(buf, "svc", NULL, 0, &v), L402_OK);
	snprintf(buf, sizeof(buf), "  l402 \t %s:%s  ", tok, hex);
	CHECK_EQ_INT(verify_auth(buf, "svc", NULL, 0, &v), L402_OK);
	/* Uppercase preimage, URL-safe unpadded base64. */
	char up[65];
	for (int i = 0; i < 64; i++)
		up[i] = (char)(hex[i] >= 'a' ? hex[i] - 32 : hex[i]);
	up[64] = 0;
	char url[1024];
	snprintf(url, sizeof(url), "%s", tok);
	for (char *c = url; *c; c++)
		*c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
	url[strcspn(url, "=")] = 0;
	snprintf(buf, sizeof(buf), "L402 %s:%s", url, up);
	CHECK_EQ_INT(verify_auth(buf, "svc", NULL, 0, &v), L402_OK);

	/* Every rejection has its own reason. */
	CHECK_EQ_INT(l402_parse_authorization("", 0, &cred), L402_ERR_NO_CREDENTIALS);
	snprintf(buf, sizeof(buf), "Bearer %s:%s", tok, hex);
	CHECK_EQ_INT(verify_auth(buf, "svc", NULL, 0, &v), L402_ERR_BAD_SCHEME);
	snprintf(buf, sizeof(buf), "L402x %s:%s", tok, hex);
	CHECK_EQ_INT(verify_auth(buf, "svc", NULL, 0, &v), L402_ERR_BAD_SCHEME);
	snprintf(buf, sizeof(buf), "L402 %s", tok);
	CHECK_EQ_INT(verify_auth(buf, "svc", NULL, 0, &v), L402_ERR_BAD_FORMAT);
	snprintf(buf, sizeof(buf), "L402 :%s", hex);
	CHECK_EQ_INT(verify_auth(buf, "svc", NULL, 0, &v), L402_ERR_BAD_FORMAT);
	snprintf(buf, sizeof(buf), "L402 %s,:%s", tok, hex);
	CHECK_EQ_INT(verify_auth(buf, "svc", NULL, 0, &v), L402_ERR_BAD_FORMAT);
	snprintf(buf, sizeof(buf), "L402 %s:%.62s", tok, hex);
	CHECK_EQ_INT(verify_auth(buf, "svc", NULL, 0, &v), L402_ERR_PREIMAGE_LENGTH);
	snprintf(buf, sizeof(buf), "L402 %s:%.62szz", tok, hex);
	CHECK_EQ_INT(verify_auth(buf, "svc", NULL, 0, &v), L402_ERR_PREIMAGE_HEX);
	snprintf(buf, sizeof(buf), "L402 %s!!:%s", tok, hex);
	CHECK_EQ_INT(verify_auth(buf, "svc", NULL, 0, &v), L402_ERR_BAD_BASE64);
	snprintf(buf, sizeof(buf), "L402 aGVsbG8gd29ybGQ=:%s", hex);
	CHECK_EQ_INT(verify_auth(buf, "svc", NULL, 0, &v), L402_ERR_BAD_MACAROON);
	/* A macaroon with a non-L402 identifier. */
	struct macaroon m;
	uint8_t bin[512];
	char b64[1024];
	macaroon_init(&m, (const uint8_t *)"k", 1, mslice_str("keyid"), mslice_str(""));
	size_t n = macaroon_encode_v2(&m, bin, sizeof(bin));
	b64_encode(bin, n, b64, sizeof(b64));
	snprintf(buf, sizeof(buf), "L402 %s:%s", b64, hex);
	CHECK_EQ_INT(verify_auth(buf, "svc", NULL, 0, &v), L402_ERR_BAD_IDENTIFIER);
	/* Truncated token. */
	snprintf(buf, sizeof(buf), "L402 %.40s:%s", tok, hex);
	CHECK(verify_auth(buf, "svc", NULL, 0, &v) != L402_OK);
	/* Oversized header is refused without reading. */
	char *huge = malloc(L402_MAX_AUTH_LEN + 10);
	memset(huge, 'A', L402_MAX_AUTH_LEN + 9);
	huge[L402_MAX_AUTH_LEN + 9] = 0;
	memcpy(huge, "L402 ", 5);
	CHECK_EQ_INT(l402_parse_authorization(huge, strlen(huge), &cred), L402_ERR_TOO_LARGE);
	free(huge);
	/* Too many tokens. */
	struct strbuf sb;
	strbuf_init(&sb, 0);
	strbuf_puts(&sb, "L402 ");
	for (int i = 0; i < L402_MAX_DISCHARGES + 2; i++)
		strbuf_printf(&sb, "%s%s", i ? "," : "", tok);
	strbuf_printf(&sb, ":%s", hex);
	CHECK_EQ_INT(l402_parse_authorization(sb.data, sb.len, &cred), L402_ERR_TOO_LARGE);
	/* Two copies of the token: the second is an unused discharge. */
	snprintf(buf, sizeof(buf), "L402 %s,%s:%s", tok, tok, hex);
	CHECK_EQ_INT(verify_auth(buf, "svc", NULL, 0, &v), L402_ERR_SIGNATURE);
	strbuf_free(&sb);

	for (enum l402_err e = L402_OK; e <= L402_ERR_TOO_LARGE; e++) {
		CHECK(strcmp(l402_err_code(e), "unknown") != 0);
		CHECK(strlen(l402_strerror(e)) > 0);
	}
}

/* Multi-token credentials: a token with a third-party caveat and its
 * discharge, both sent comma-separated. */
static void test_discharge_credentials(void)
{
	uint8_t idbytes[L402_ID_LEN], root[32], vid[MACAROON_VID_LEN];
	uint8_t bin1[2048], bin2[2048];
	char b1[4096], b2[4096], hex[65], buf[9000];
	struct macaroon m, d;
	struct l402_verdict v;
	const uint8_t third_key[] = "third party key";

	l402_identifier_encode(&ident, idbytes);
	l402_root_key(secret, ident.token_id, root);
	struct mslice ids = { idbytes, sizeof(idbytes) };
	macaroon_init(&m, root, 32, ids, mslice_str(L402_LOCATION));
	macaroon_add_first_party(&m, mslice_str("services=svc:0"));
	macaroon_add_third_party(&m, third_key, sizeof(third_key), mslice_str("tp-1"),
				 mslice_str("https://auth.example"), vid);
	macaroon_init(&d, third_key, sizeof(third_key), mslice_str("tp-1"), mslice_str(""));
	macaroon_add_first_party(&d, mslice_str("svc_valid_until=1900000000"));
	macaroon_bind_discharge(&m, &d);
	size_t n1 = macaroon_encode_v2(&m, bin1, sizeof(bin1));
	size_t n2 = macaroon_encode_v2(&d, bin2, sizeof(bin2));
	b64_encode(bin1, n1, b1, sizeof(b1));
	b64_encode(bin2, n2, b2, sizeof(b2));
	hex_encode(preimage, 32, hex, sizeof(hex));

	snprintf(buf, sizeof(buf), "L402 %s,%s:%s", b1, b2, hex);
	CHECK_EQ_INT(verify_auth(buf, "svc", NULL, 1800000000, &v), L402_OK);
	/* The discharge's own caveats count too. */
	CHECK_EQ_INT(verify_auth(buf, "svc", NULL, 1950000000, &v), L402_ERR_EXPIRED);
	snprintf(buf, sizeof(buf), "L402 %s:%s", b1, hex);
	CHECK_EQ_INT(verify_auth(buf, "svc", NULL, 1800000000, &v), L402_ERR_SIGNATURE);
	CHECK(strstr(v.detail, "discharge") != NULL);
}

static void test_macaroon_header(void)
{
	char tok[1024], hex[65], cav[80];
	uint8_t raw[2048];
	char hexmac[4096];
	size_t n;
	struct l402_verdict v;
	struct l402_verify_req req = { "svc", NULL, 0 };
	struct l402_mint_params p = { "svc", 0, NULL, { 0, 0, 0, 0 }, NULL, 0 };
	struct macaroon m;

	l402_mint(secret, &ident, &p, tok, sizeof(tok));
	hex_encode(preimage, 32, hex, sizeof(hex));
	b64_decode_any(tok, strlen(tok), raw, sizeof(raw), &n);
	macaroon_decode_v2(raw, n, &m);
	/* The client appends preimage=HEX as a caveat, as aperture's do. */
	snprintf(cav, sizeof(cav), "preimage=%s", hex);
	macaroon_add_first_party(&m, mslice_str(cav));
	uint8_t enc[2048];
	n = macaroon_encode_v2(&m, enc, sizeof(enc));
	hex_encode(enc, n, hexmac, sizeof(hexmac));
	CHECK_EQ_INT(l402_parse_macaroon_header(hexmac, strlen(hexmac), &cred), L402_OK);
	CHECK_EQ_INT(l402_verify(&cred, secret, &req, &v), L402_OK);

	CHECK_EQ_INT(l402_parse_macaroon_header("zz", 2, &cred), L402_ERR_BAD_HEX);
	CHECK_EQ_INT(l402_parse_macaroon_header("abcd", 4, &cred), L402_ERR_BAD_MACAROON);
	b64_decode_any(tok, strlen(tok), raw, sizeof(raw), &n);
	hex_encode(raw, n, hexmac, sizeof(hexmac));
	CHECK_EQ_INT(l402_parse_macaroon_header(hexmac, strlen(hexmac), &cred), L402_ERR_NO_PREIMAGE);
	CHECK_EQ_INT(l402_parse_macaroon_header(NULL, 0, &cred), L402_ERR_NO_CREDENTIALS);
}

static void test_headers(void)
{
	struct strbuf sb;
	strbuf_init(&sb, 0);
	CHECK(l402_challenge(&sb, "AgE=", "lnbcrt10n1xyz"));
	CHECK_STREQ(sb.data, "L402 macaroon=\"AgE=\", invoice=\"lnbcrt10n1xyz\", version=\"0\", token=\"AgE=\"");
	strbuf_reset(&sb);
	CHECK(lsat_challenge(&sb, "AgE=", "lnbcrt10n1xyz"));
	CHECK_STREQ(sb.data, "LSAT macaroon=\"AgE=\", invoice=\"lnbcrt10n1xyz\"");
	strbuf_reset(&sb);
	CHECK(!l402_challenge(&sb, "AgE=", "ln\"bc"));
	CHECK(!l402_challenge(&sb, "", "lnbc"));
	CHECK(!lsat_challenge(&sb, "A\nB", "lnbc"));
	uint8_t pre[32] = { 0 };
	CHECK(l402_authorization(&sb, "AgE=", pre));
	CHECK_STREQ(sb.data, "L402 AgE=:0000000000000000000000000000000000000000000000000000000000000000");
	strbuf_free(&sb);
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	setup();
	test_identifier();
	test_mint_matches_reference();
	test_verify();
	test_attenuation();
	test_uses_caveat();
	test_balance_caveat();
	test_parse_authorization();
	test_discharge_credentials();
	test_macaroon_header();
	test_headers();
	return test_done("test_l402");
}
