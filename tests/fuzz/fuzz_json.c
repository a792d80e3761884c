/* libFuzzer target: the jsmn-based reader that parses everything
 * lightningd sends, and the stream framer in front of it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_in.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *js = (const char *)data;
	struct json_doc doc;
	size_t st, en;
	char s[256];
	uint64_t u;
	int64_t i64;
	bool b;
	uint8_t h[32];

	(void)json_find_value(js, size, &st, &en);
	if (!json_parse_alloc(&doc, js, size, 4096))
		return 0;
	for (int i = 0; i < doc.ntoks; i++) {
		(void)json_get_string(&doc, i, s, sizeof(s), NULL);
		(void)json_get_u64(&doc, i, &u);
		(void)json_get_s64(&doc, i, &i64);
		(void)json_get_bool(&doc, i, &b);
		(void)json_get_hex(&doc, i, h, sizeof(h));
		(void)json_get(&doc, i, "id");
		(void)json_at(&doc, i, 1);
	}
	json_doc_free(&doc);
	return 0;
}
