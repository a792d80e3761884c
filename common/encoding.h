/* Byte encodings used on the wire: base64 (both alphabets) and hex.
 * Thin, bounds-checked wrappers over libsodium so callers never size
 * buffers by guesswork. */
#ifndef L402_ENCODING_H
#define L402_ENCODING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length of the standard, padded base64 encoding of n bytes, without NUL. */
size_t b64_encoded_len(size_t n);

/* Standard alphabet with padding (what aperture and lnget send).
 * Writes a NUL-terminated string; returns its length or 0 if out is too small. */
size_t b64_encode(const uint8_t *in, size_t inlen, char *out, size_t outcap);

/* URL-safe alphabet without padding (what go-macaroon's JSON uses). */
size_t b64url_encode(const uint8_t *in, size_t inlen, char *out, size_t outcap);

/* Decode base64 in either alphabet, with or without padding. Whitespace is
 * not accepted. Returns false on any invalid input or if out is too small. */
bool b64_decode_any(const char *in, size_t inlen, uint8_t *out, size_t outcap,
		    size_t *outlen);

/* Lowercase hex; out must hold 2*inlen+1 bytes. Returns false if it doesn't. */
bool hex_encode(const uint8_t *in, size_t inlen, char *out, size_t outcap);

/* One hex digit's value (either case), or -1. */
int hex_digit(char c);

/* The length of the valid UTF-8 sequence at s (at most n bytes left), or 0:
 * overlong forms, surrogates and code points past U+10FFFF are invalid. */
size_t utf8_seq_len(const unsigned char *s, size_t n);

/* Decode exactly inlen hex digits (either case) into inlen/2 bytes. */
bool hex_decode(const char *in, size_t inlen, uint8_t *out, size_t outcap,
		size_t *outlen);

#endif
