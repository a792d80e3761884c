/* What the checkout page stands on: which requests get it (Accept), the
 * cookie it sets read back and kept from upstreams, and its QR code. */
#include <string.h>

#include "accept.h"
#include "cookie.h"
#include "qr_svg.h"
#include "strbuf.h"
#include "test.h"

static const char *stripped(const char *header)
{
	static char out[256];
	if (!cookie_strip(header, L402_COOKIE, out, sizeof(out)))
		return "(too long)";
	return out;
}

int main(void)
{
	/* Browsers' navigations prefer HTML; programs do not. */
	CHECK(accept_prefers_html("text/html,application/xhtml+xml,application/xml;q=0.9,"
				  "image/avif,image/webp,*/*;q=0.8"));
	CHECK(accept_prefers_html("text/html"));
	CHECK(accept_prefers_html("TEXT/HTML ; charset=utf-8"));
	CHECK(accept_prefers_html("text/html, application/json"));
	CHECK(accept_prefers_html("application/json;q=0.5, text/html"));
	CHECK(!accept_prefers_html(NULL));
	CHECK(!accept_prefers_html(""));
	CHECK(!accept_prefers_html("*/*"));
	CHECK(!accept_prefers_html("application/json"));
	CHECK(!accept_prefers_html("application/json, text/html"));
	CHECK(!accept_prefers_html("application/problem+json, text/html"));
	CHECK(!accept_prefers_html("text/html;q=0.5, application/json"));
	CHECK(!accept_prefers_html("text/html;q=0"));
	CHECK(!accept_prefers_html("text/html;q=0.000"));
	CHECK(!accept_prefers_html("text/htmlx"));
	CHECK(!accept_prefers_html(",,,;;;q=;"));
	char big[4096];
	memset(big, ' ', sizeof(big) - 1);
	memcpy(big + sizeof(big) - 10, "text/html", 10);
	CHECK(!accept_prefers_html(big)); /* too long to read */

	/* Cookies by name, in the order sent, quotes removed. */
	const char *v[4];
	size_t l[4];
	CHECK_EQ_INT(cookie_values("a=1; L402=mac:pre; b=2; L402=\"x\"", L402_COOKIE, v, l, 4), 2);
	CHECK(l[0] == 7 && strncmp(v[0], "mac:pre", 7) == 0);
	CHECK(l[1] == 1 && v[1][0] == 'x');
	CHECK_EQ_INT(cookie_values("L4020=1;l402=2; XL402=3; L402", L402_COOKIE, v, l, 4), 0);
	CHECK_EQ_INT(cookie_values("L402=a;L402=b;L402=c", L402_COOKIE, v, l, 2), 2);
	CHECK_EQ_INT(cookie_values("", L402_COOKIE, v, l, 4), 0);
	CHECK_EQ_INT(cookie_values(";;; ;", L402_COOKIE, v, l, 4), 0);
	CHECK_EQ_INT(cookie_values(NULL, L402_COOKIE, v, l, 4), 0);
	CHECK_EQ_INT(cookie_values(" L402 = v ", L402_COOKIE, v, l, 4), 1);
	CHECK(l[0] == 1 && v[0][0] == 'v');

	/* Kept from upstreams: every L402 cookie, the others as they were. */
	CHECK_STREQ(stripped("a=1; L402=mac:pre; b=2"), "a=1; b=2");
	CHECK_STREQ(stripped("L402=x"), "");
	CHECK_STREQ(stripped("L402=x; L402=y;L402=z"), "");
	CHECK_STREQ(stripped("a=1;b=2"), "a=1; b=2");
	CHECK_STREQ(stripped("theme=dark"), "theme=dark");
	CHECK_STREQ(stripped("l402=keep; L4020=keep"), "l402=keep; L4020=keep");
	char small[4];
	CHECK(!cookie_strip("abc=1", L402_COOKIE, small, sizeof(small)));

	/* The QR code: an SVG with a quiet zone and dark modules. */
	struct strbuf sb;
	strbuf_init(&sb, 0);
	CHECK(qr_svg(&sb, "LIGHTNING:LNBCRT100N1PTEST"));
	CHECK(strncmp(sb.data, "<svg ", 5) == 0);
	CHECK(strstr(sb.data, "</svg>") != NULL);
	CHECK(strstr(sb.data, "d=\"M4 4h7v1h-7z") != NULL); /* the finder pattern's top row */
	strbuf_free(&sb);
	strbuf_init(&sb, 0);
	char huge[8000];
	memset(huge, 'A', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	CHECK(!qr_svg(&sb, huge)); /* more than a QR code holds */
	strbuf_free(&sb);
	strbuf_init(&sb, 100);
	CHECK(!qr_svg(&sb, "LIGHTNING:LNBCRT100N1PTEST")); /* the buffer's cap */
	strbuf_free(&sb);
	return test_done("test_checkout");
}
