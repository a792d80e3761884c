/* Reading JSON with jsmn: the caller owns the tokens, and every accessor
 * checks its indexes and lengths, so a hostile document can make a lookup
 * fail but never read out of bounds. */
#ifndef L402_JSON_IN_H
#define L402_JSON_IN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#ifndef L402_JSON_IN_IMPLEMENTATION
#define JSMN_HEADER
#endif
#include <jsmn.h>

struct json_doc {
	const char *js;
	size_t len;
	jsmntok_t *toks;
	int ntoks;
};

/* Parse js[0..len) as exactly one JSON value into toks (capacity maxtoks).
 * Returns false if it is not one complete, valid value or needs more tokens. */
bool json_parse(struct json_doc *doc, const char *js, size_t len,
		jsmntok_t *toks, unsigned int maxtoks);

/* As json_parse, but allocates the tokens (freed with json_doc_free);
 * refuses documents of more than maxtoks tokens. */
bool json_parse_alloc(struct json_doc *doc, const char *js, size_t len,
		      unsigned int maxtoks);
void json_doc_free(struct json_doc *doc);

/* Find where the first complete top-level object or array in buf ends.
 * Returns 1 and sets *start and *end (exclusive) when found, 0 when more bytes
 * are needed, -1 when buf starts with something that is not JSON. Leading
 * whitespace is skipped. Strings and escapes are respected. */
int json_find_value(const char *buf, size_t len, size_t *start, size_t *end);

/* Index of the token following the whole subtree at i. */
int json_next(const struct json_doc *doc, int i);
/* Member value of object token obj, or -1. */
int json_get(const struct json_doc *doc, int obj, const char *key);
/* Element idx of array token arr, or -1. It walks from the start: in a
 * loop over an array, use json_for_each_arr instead. */
int json_at(const struct json_doc *doc, int arr, int idx);

/* Visit each element e of array token arr (i counts them), once and in
 * order; nothing when arr is not an array. */
#define json_for_each_arr(doc, arr, i, e)                                     \
	for ((i) = 0, (e) = (arr) + 1;                                         \
	     json_is_array((doc), (arr)) && (i) < (doc)->toks[(arr)].size;     \
	     (i)++, (e) = json_next((doc), (e)))

bool json_is_object(const struct json_doc *doc, int i);
bool json_is_array(const struct json_doc *doc, int i);
bool json_is_string(const struct json_doc *doc, int i);
bool json_is_null(const struct json_doc *doc, int i);

/* The raw bytes of token i (for strings, without quotes and unescaped). */
const char *json_raw(const struct json_doc *doc, int i, size_t *len);
bool json_streq(const struct json_doc *doc, int i, const char *s);
bool json_get_u64(const struct json_doc *doc, int i, uint64_t *v);
bool json_get_s64(const struct json_doc *doc, int i, int64_t *v);
bool json_get_bool(const struct json_doc *doc, int i, bool *v);
/* Unescape string token i into out (NUL-terminated). Fails if it does not
 * fit or holds a bad escape; \u0000 is refused so C strings stay whole. */
bool json_get_string(const struct json_doc *doc, int i, char *out,
		     size_t outcap, size_t *outlen);
/* String token i holding exactly 2*len hex digits. */
bool json_get_hex(const struct json_doc *doc, int i, uint8_t *out, size_t len);

#endif
