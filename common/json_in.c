#define L402_JSON_IN_IMPLEMENTATION
#include "json_in.h"

#include <stdlib.h>
#include <string.h>

#include "encoding.h"

static bool valid_number(const char *p, size_t n)
{
	size_t i = 0;
	if (i < n && p[i] == '-')
		i++;
	if (i == n || p[i] < '0' || p[i] > '9')
		return false;
	if (p[i] == '0' && i + 1 < n && p[i + 1] >= '0' && p[i + 1] <= '9')
		return false;
	while (i < n && p[i] >= '0' && p[i] <= '9')
		i++;
	if (i < n && p[i] == '.') {
		size_t d = ++i;
		while (i < n && p[i] >= '0' && p[i] <= '9')
			i++;
		if (i == d)
			return false;
	}
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		size_t d = i;
		while (i < n && p[i] >= '0' && p[i] <= '9')
			i++;
		if (i == d)
			return false;
	}
	return i == n;
}

/* jsmn tokenises but does not validate: check that objects are key/value
 * pairs with string keys and that primitives are literals or numbers. */
static bool json_validate(const struct json_doc *doc)
{
	for (int i = 0; i < doc->ntoks; i++) {
		const jsmntok_t *t = &doc->toks[i];
		size_t len;
		const char *p = json_raw(doc, i, &len);
		if (t->type == JSMN_OBJECT) {
			int j = i + 1;
			for (int k = 0; k < t->size; k++) {
				if (j + 1 >= doc->ntoks
				    || doc->toks[j].type != JSMN_STRING
				    || doc->toks[j].size != 1
				    || doc->toks[j + 1].start >= t->end)
					return false;
				j = json_next(doc, j + 1);
			}
		} else if (t->type == JSMN_STRING) {
			if (t->size > 1)
				return false;
		} else if (t->type == JSMN_PRIMITIVE) {
			if (!(len == 4 && memcmp(p, "true", 4) == 0)
			    && !(len == 5 && memcmp(p, "false", 5) == 0)
			    && !(len == 4 && memcmp(p, "null", 4) == 0)
			    && !valid_number(p, len))
				return false;
		}
	}
	return true;
}

static bool json_parse_into(struct json_doc *doc, const char *js, size_t len,
			    jsmntok_t *toks, unsigned int maxtoks)
{
	jsmn_parser p;
	int n;

	doc->js = js;
	doc->len = len;
	doc->toks = toks;
	doc->ntoks = 0;
	jsmn_init(&p);
	n = jsmn_parse(&p, js, len, toks, maxtoks);
	if (n <= 0)
		return false;
	/* Exactly one top-level value, with only whitespace after it. */
	if ((size_t)toks[0].end > len)
		return false;
	if (toks[0].type != JSMN_OBJECT && toks[0].type != JSMN_ARRAY
	    && n != 1)
		return false;
	for (size_t i = (size_t)toks[0].end; i < len; i++)
		if (!strchr(" \t\r\n", js[i]))
			return false;
	doc->ntoks = n;
	if (json_next(doc, 0) != n || !json_validate(doc)) {
		doc->ntoks = 0;
		return false;
	}
	return true;
}

bool json_parse(struct json_doc *doc, const char *js, size_t len,
		jsmntok_t *toks, unsigned int maxtoks)
{
	return json_parse_into(doc, js, len, toks, maxtoks);
}

bool json_parse_alloc(struct json_doc *doc, const char *js, size_t len,
		      unsigned int maxtoks)
{
	jsmn_parser p;
	int n;

	doc->toks = NULL;
	doc->ntoks = 0;
	jsmn_init(&p);
	n = jsmn_parse(&p, js, len, NULL, 0);
	if (n <= 0 || (unsigned int)n > maxtoks)
		return false;
	jsmntok_t *toks = calloc((size_t)n, sizeof(*toks));
	if (!toks)
		return false;
	if (!json_parse_into(doc, js, len, toks, (unsigned int)n)) {
		free(toks);
		doc->toks = NULL;
		return false;
	}
	return true;
}

void json_doc_free(struct json_doc *doc)
{
	free(doc->toks);
	doc->toks = NULL;
	doc->ntoks = 0;
}

int json_find_value(const char *buf, size_t len, size_t *start, size_t *end)
{
	size_t i = 0;
	int depth = 0;
	bool in_str = false, esc = false;

	while (i < len && strchr(" \t\r\n", buf[i]))
		i++;
	if (i == len)
		return 0;
	if (buf[i] != '{' && buf[i] != '[')
		return -1;
	*start = i;
	for (; i < len; i++) {
		char c = buf[i];
		if (in_str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"') {
			in_str = true;
		} else if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			if (--depth == 0) {
				*end = i + 1;
				return 1;
			}
		}
	}
	return 0;
}

static bool json_valid_index(const struct json_doc *doc, int i)
{
	return i >= 0 && i < doc->ntoks;
}

int json_next(const struct json_doc *doc, int i)
{
	if (!json_valid_index(doc, i))
		return doc->ntoks;
	int end = doc->toks[i].end;
	int j = i + 1;
	while (j < doc->ntoks && doc->toks[j].start < end)
		j++;
	return j;
}

int json_get(const struct json_doc *doc, int obj, const char *key)
{
	if (!json_is_object(doc, obj))
		return -1;
	int n = doc->toks[obj].size;
	int i = obj + 1;
	for (int k = 0; k < n && i + 1 < doc->ntoks; k++) {
		if (json_streq(doc, i, key))
			return i + 1;
		i = json_next(doc, i + 1);
	}
	return -1;
}

int json_at(const struct json_doc *doc, int arr, int idx)
{
	if (!json_is_array(doc, arr) || idx < 0 || idx >= doc->toks[arr].size)
		return -1;
	int i = arr + 1;
	for (int k = 0; k < idx && i < doc->ntoks; k++)
		i = json_next(doc, i);
	return i < doc->ntoks ? i : -1;
}

bool json_is_object(const struct json_doc *doc, int i)
{
	return json_valid_index(doc, i) && doc->toks[i].type == JSMN_OBJECT;
}

bool json_is_array(const struct json_doc *doc, int i)
{
	return json_valid_index(doc, i) && doc->toks[i].type == JSMN_ARRAY;
}

bool json_is_string(const struct json_doc *doc, int i)
{
	return json_valid_index(doc, i) && doc->toks[i].type == JSMN_STRING;
}

bool json_is_null(const struct json_doc *doc, int i)
{
	size_t len;
	const char *p = json_raw(doc, i, &len);
	return json_valid_index(doc, i) && doc->toks[i].type == JSMN_PRIMITIVE
	       && len == 4 && memcmp(p, "null", 4) == 0;
}

const char *json_raw(const struct json_doc *doc, int i, size_t *len)
{
	if (!json_valid_index(doc, i)) {
		*len = 0;
		return "";
	}
	*len = (size_t)(doc->toks[i].end - doc->toks[i].start);
	return doc->js + doc->toks[i].start;
}

bool json_streq(const struct json_doc *doc, int i, const char *s)
{
	size_t len;
	const char *p;
	if (!json_is_string(doc, i))
		return false;
	p = json_raw(doc, i, &len);
	return strlen(s) == len && memcmp(p, s, len) == 0;
}

bool json_get_u64(const struct json_doc *doc, int i, uint64_t *v)
{
	size_t len;
	const char *p;
	uint64_t x = 0;

	if (!json_valid_index(doc, i) || doc->toks[i].type != JSMN_PRIMITIVE)
		return false;
	p = json_raw(doc, i, &len);
	if (len == 0 || len > 20)
		return false;
	for (size_t k = 0; k < len; k++) {
		if (p[k] < '0' || p[k] > '9')
			return false;
		uint64_t d = (uint64_t)(p[k] - '0');
		if (x > (UINT64_MAX - d) / 10)
			return false;
		x = x * 10 + d;
	}
	*v = x;
	return true;
}

bool json_get_s64(const struct json_doc *doc, int i, int64_t *v)
{
	size_t len;
	const char *p = json_raw(doc, i, &len);
	uint64_t x;
	struct json_doc sub = *doc;

	if (!json_valid_index(doc, i) || doc->toks[i].type != JSMN_PRIMITIVE)
		return false;
	if (len > 0 && p[0] == '-') {
		/* Reuse the unsigned reader on the digits after the sign. */
		jsmntok_t t = doc->toks[i];
		t.start++;
		sub.toks = &t;
		sub.ntoks = 1;
		if (!json_get_u64(&sub, 0, &x) || x > (uint64_t)INT64_MAX + 1)
			return false;
		*v = x == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)x;
		return true;
	}
	if (!json_get_u64(doc, i, &x) || x > INT64_MAX)
		return false;
	*v = (int64_t)x;
	return true;
}

bool json_get_bool(const struct json_doc *doc, int i, bool *v)
{
	if (!json_valid_index(doc, i) || doc->toks[i].type != JSMN_PRIMITIVE)
		return false;
	size_t len;
	const char *p = json_raw(doc, i, &len);
	if (len == 4 && memcmp(p, "true", 4) == 0)
		*v = true;
	else if (len == 5 && memcmp(p, "false", 5) == 0)
		*v = false;
	else
		return false;
	return true;
}

static bool read_u16(const char *p, size_t left, uint32_t *v)
{
	if (left < 4)
		return false;
	*v = 0;
	for (int k = 0; k < 4; k++) {
		int h = hex_digit(p[k]);
		if (h < 0)
			return false;
		*v = (*v << 4) | (uint32_t)h;
	}
	return true;
}

static size_t utf8_put(uint32_t cp, char *o)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

bool json_get_string(const struct json_doc *doc, int i, char *out,
		     size_t outcap, size_t *outlen)
{
	size_t len, o = 0;
	const char *p;

	if (!json_is_string(doc, i) || outcap == 0)
		return false;
	p = json_raw(doc, i, &len);
	for (size_t k = 0; k < len;) {
		char tmp[4];
		size_t n;
		if (p[k] != '\\') {
			tmp[0] = p[k++];
			n = 1;
		} else {
			if (++k >= len)
				return false;
			char e = p[k++];
			uint32_t cp;
			switch (e) {
			case '"': case '\\': case '/':
				tmp[0] = e; n = 1; break;
			case 'b': tmp[0] = '\b'; n = 1; break;
			case 'f': tmp[0] = '\f'; n = 1; break;
			case 'n': tmp[0] = '\n'; n = 1; break;
			case 'r': tmp[0] = '\r'; n = 1; break;
			case 't': tmp[0] = '\t'; n = 1; break;
			case 'u':
				if (!read_u16(p + k, len - k, &cp))
					return false;
				k += 4;
				if (cp >= 0xD800 && cp <= 0xDBFF) {
					uint32_t lo;
					if (k + 2 > len || p[k] != '\\'
					    || p[k + 1] != 'u'
					    || !read_u16(p + k + 2, len - k - 2, &lo)
					    || lo < 0xDC00 || lo > 0xDFFF)
						return false;
					k += 6;
					cp = 0x10000 + ((cp - 0xD800) << 10)
					     + (lo - 0xDC00);
				} else if (cp >= 0xDC00 && cp <= 0xDFFF) {
					return false;
				}
				if (cp == 0)
					return false;
				n = utf8_put(cp, tmp);
				break;
			default:
				return false;
			}
		}
		if (o + n >= outcap)
			return false;
		memcpy(out + o, tmp, n);
		o += n;
	}
	out[o] = '\0';
	if (outlen)
		*outlen = o;
	return true;
}

bool json_get_hex(const struct json_doc *doc, int i, uint8_t *out, size_t len)
{
	size_t n, got;
	const char *p;
	if (!json_is_string(doc, i))
		return false;
	p = json_raw(doc, i, &n);
	return n == len * 2 && hex_decode(p, n, out, len, &got) && got == len;
}
