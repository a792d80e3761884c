/* libFuzzer target: invoice labels, as lightningd hands them back in
 * listinvoices, waitanyinvoice and notifications (another plugin's, or
 * anything a node runner labelled by hand, are outside bytes). A label
 * that parses must make again into the same text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugin/store/label.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct invoice_label l, back;
	char again[LABEL_MAX];
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	memset(&l, 0, sizeof(l));
	memset(&back, 0, sizeof(back));
	if (label_parse(s, &l)) {
		if (strlen(l.tag) != 8 || !label_make(again, sizeof(again), &l))
			abort();
		if (!label_parse(again, &back) || memcmp(&back, &l, sizeof(l)) != 0)
			abort();
	}
	free(s);
	return 0;
}
