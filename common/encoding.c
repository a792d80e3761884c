#include "encoding.h"

#include <sodium.h>
#include <string.h>

size_t b64_encoded_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

static size_t b64_encode_variant(const uint8_t *in, size_t inlen, char *out,
				 size_t outcap, int variant)
{
	size_t need = sodium_base64_encoded_len(inlen, variant);
	if (outcap < need)
		return 0;
	sodium_bin2base64(out, outcap, in, inlen, variant);
	return strlen(out);
}

size_t b64_encode(const uint8_t *in, size_t inlen, char *out, size_t outcap)
{
	return b64_encode_variant(in, inlen, out, outcap,
				  sodium_base64_VARIANT_ORIGINAL);
}

size_t b64url_encode(const uint8_t *in, size_t inlen, char *out, size_t outcap)
{
	return b64_encode_variant(in, inlen, out, outcap,
				  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

bool b64_decode_any(const char *in, size_t inlen, uint8_t *out, size_t outcap,
		    size_t *outlen)
{
	bool urlsafe = false, standard = false;
	size_t end = inlen;

	/* Padding is optional, so drop up to two trailing '=' and decode
	 * unpadded; a padded input of the wrong length then fails below. */
	if (end > 0 && in[end - 1] == '=')
		end--;
	if (end > 0 && in[end - 1] == '=')
		end--;
	if ((end % 4) == 1)
		return false;
	if (end < inlen && (inlen % 4) != 0)
		return false;

	for (size_t i = 0; i < end; i++) {
		if (in[i] == '-' || in[i] == '_')
			urlsafe = true;
		else if (in[i] == '+' || in[i] == '/')
			standard = true;
	}
	/* Mixing alphabets is never produced by an encoder: refuse it. */
	if (urlsafe && standard)
		return false;

	const char *last;
	size_t n;
	if (sodium_base642bin(out, outcap, in, end, NULL, &n, &last,
			      urlsafe ? sodium_base64_VARIANT_URLSAFE_NO_PADDING
				      : sodium_base64_VARIANT_ORIGINAL_NO_PADDING)
	    != 0)
		return false;
	if (last != in + end)
		return false;
	*outlen = n;
	return true;
}

bool hex_encode(const uint8_t *in, size_t inlen, char *out, size_t outcap)
{
	if (inlen > (SIZE_MAX - 1) / 2 || outcap < inlen * 2 + 1)
		return false;
	sodium_bin2hex(out, outcap, in, inlen);
	return true;
}

bool hex_decode(const char *in, size_t inlen, uint8_t *out, size_t outcap,
		size_t *outlen)
{
	const char *end;
	size_t n;
	if (inlen % 2 != 0 || inlen / 2 > outcap)
		return false;
	if (sodium_hex2bin(out, outcap, in, inlen, NULL, &n, &end) != 0)
		return false;
	if (end != in + inlen || n != inlen / 2)
		return false;
	if (outlen)
		*outlen = n;
	return true;
}

int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	/* Overlong forms, surrogates and values past U+10FFFF are invalid. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)
	    || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
		return 0;
	return len;
}

