/* Streaming JSON writer into a strbuf: commas and nesting are tracked for
 * the caller, and every string is escaped (invalid UTF-8 becomes U+FFFD),
 * so whatever goes in, what comes out is valid JSON. */
#ifndef L402_JSON_OUT_H
#define L402_JSON_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

#define JSON_OUT_MAX_DEPTH 32

struct json_out {
	struct strbuf *sb;
	int depth;
	bool overflow;
	bool need_comma[JSON_OUT_MAX_DEPTH + 1];
};

void json_out_init(struct json_out *j, struct strbuf *sb);
/* The usual start of a document: sb made empty (cap as strbuf_init's),
 * j writing to it, the top-level object opened. */
void json_out_object(struct json_out *j, struct strbuf *sb, size_t cap);
/* true if nothing went wrong (no cap hit, nesting balanced so far). */
bool json_out_ok(const struct json_out *j);

/* key is the member name inside an object, NULL inside an array or at top. */
void json_object_start(struct json_out *j, const char *key);
void json_object_end(struct json_out *j);
void json_array_start(struct json_out *j, const char *key);
void json_array_end(struct json_out *j);
void json_add_string(struct json_out *j, const char *key, const char *val);
void json_add_stringn(struct json_out *j, const char *key, const char *val,
		      size_t n);
void json_add_u64(struct json_out *j, const char *key, uint64_t v);
void json_add_s64(struct json_out *j, const char *key, int64_t v);
void json_add_bool(struct json_out *j, const char *key, bool v);
void json_add_null(struct json_out *j, const char *key);
void json_add_hex(struct json_out *j, const char *key, const uint8_t *p,
		  size_t n);
/* An array of n strings. */
void json_add_strings(struct json_out *j, const char *key, const char *const *v, size_t n);
/* A value that is already JSON, copied as it is. */
void json_add_raw(struct json_out *j, const char *key, const char *json,
		  size_t n);

/* Append s as a quoted, escaped JSON string. */
bool json_escape_string(struct strbuf *sb, const char *s, size_t n);

#endif
