/* The JSON Canonicalization Scheme (RFC 8785) for the documents the
 * Payment scheme encodes (its request, opaque, receipt and credential
 * objects): members sorted by the UTF-16 code units of their names, no
 * whitespace, strings escaped as ECMAScript's JSON.stringify does. Values
 * are strings or objects of the same: those documents hold no numbers,
 * and a writer that cannot write a number cannot write one wrong. */
#ifndef L402_JCS_H
#define L402_JCS_H

#include <stdbool.h>
#include <stddef.h>

#include "strbuf.h"

#define JCS_MAX_MEMBERS 16

struct jcs_object;

struct jcs_member {
	const char *key;
	const char *str;		/* a string value, or NULL ... */
	const struct jcs_object *obj;	/* ... for an object */
};

struct jcs_object {
	struct jcs_member m[JCS_MAX_MEMBERS];
	size_t n;
};

/* Add a member (nothing when str is NULL: an absent optional field). */
void jcs_add(struct jcs_object *o, const char *key, const char *str);
void jcs_add_object(struct jcs_object *o, const char *key, const struct jcs_object *obj);

/* Append o's canonical form. False (and nothing usable) when a key or
 * string is not valid UTF-8, two keys are equal, or o has too many
 * members. */
bool jcs_write(struct strbuf *out, const struct jcs_object *o);

/* Canonical form, then base64url without padding, into out. */
bool jcs_b64url(struct strbuf *out, const struct jcs_object *o);

#endif
