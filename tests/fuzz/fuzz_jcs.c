/* libFuzzer target: the JCS writer. The input is split at NUL bytes into
 * keys and values of one object (the last pair nested one level down);
 * whatever it writes must be one JSON object that jsmn reads back with its
 * members in strictly increasing order, and writing again what was read
 * must give the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jcs.h"
#include "json_in.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Longer inputs teach nothing shorter ones do not. */
#define MAX_INPUT 8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jcs_object o = { .n = 0 }, inner = { .n = 0 }, again = { .n = 0 };
	char *s = malloc(size + 2), *parts[2 * JCS_MAX_MEMBERS + 4];
	size_t np = 0;
	if (!s || size > MAX_INPUT) {
		free(s);
		return 0;
	}
	memcpy(s, data, size);
	s[size] = s[size + 1] = '\0';
	for (char *p = s; p <= s + size && np < sizeof(parts) / sizeof(parts[0]); p += strlen(p) + 1)
		parts[np++] = p;
	for (size_t i = 0; i + 1 < np; i += 2)
		if (i + 3 >= np && i >= 2)
			jcs_add(&inner, parts[i], parts[i + 1]);
		else
			jcs_add(&o, parts[i], parts[i + 1]);
	if (inner.n)
		jcs_add_object(&o, "\x7f" "nested", &inner);

	struct strbuf out;
	strbuf_init(&out, 1 << 20);
	if (jcs_write(&out, &o)) {
		struct json_doc d;
		static char keys[2 * JCS_MAX_MEMBERS + 4][MAX_INPUT + 1];
		static char vals[2 * JCS_MAX_MEMBERS + 4][MAX_INPUT + 1];
		if (!json_parse_alloc(&d, out.data, out.len, 256) || !json_is_object(&d, 0))
			abort();
		int k = 1;
		for (int i = 0; i < d.toks[0].size; i++) {
			size_t kl;
			if (!json_get_string(&d, k, keys[i], sizeof(keys[i]), &kl))
				abort();
			if (json_is_string(&d, k + 1)) {
				if (!json_get_string(&d, k + 1, vals[i], sizeof(vals[i]), NULL))
					abort();
				jcs_add(&again, keys[i], vals[i]);
			} else {
				jcs_add_object(&again, keys[i], &inner);
			}
			k = json_next(&d, k + 1);
		}
		struct strbuf out2;
		strbuf_init(&out2, 1 << 20);
		if (!jcs_write(&out2, &again) || out2.len != out.len
		    || memcmp(out2.data, out.data, out.len) != 0)
			abort();
		strbuf_free(&out2);
		json_doc_free(&d);
	}
	strbuf_free(&out);
	free(s);
	return 0;
}
