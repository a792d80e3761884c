/* The JSON Canonicalization Scheme (RFC 8785) for the documents the
 * Payment scheme encodes (its request, opaque, receipt and credential
 * objects): members sorted by the UTF-16 code units of their names, no
 * whitespace, strings escaped as ECMAScript's JSON.stringify does. Values
 * are strings, objects of the same, or whole numbers below 2^53 (a
 * session's refundSats, which the draft says is a number): written as
 * their decimal digits, which is how ECMAScript writes them. */
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
	bool number;			/* str holds a whole number's digits */
};

struct jcs_object {
	struct jcs_member m[JCS_MAX_MEMBERS];
	size_t n;
};

/* Add a member (nothing when str is NULL: an absent optional field). */
void jcs_add(struct jcs_object *o, const char *key, const char *str);
void jcs_add_object(struct jcs_object *o, const char *key, const struct jcs_object *obj);
/* A whole number: digits must outlive o (nothing when digits is NULL;
 * jcs_write refuses anything but 1 to 16 digits without a leading 0,
 * or "0"). */
void jcs_add_number(struct jcs_object *o, const char *key, const char *digits);

/* Append o's canonical form. False (and nothing usable) when a key or
 * string is not valid UTF-8, two keys are equal, or o has too many
 * members. */
bool jcs_write(struct strbuf *out, const struct jcs_object *o);

/* Canonical form, then base64url without padding, into out. */
bool jcs_b64url(struct strbuf *out, const struct jcs_object *o);

#endif
