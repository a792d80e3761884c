/* The invoice label format: what lightningd keeps for every invoice the
 * paywall made, read back to count payments and list tokens. */
#include "../../plugin/store/label.c"

#include "test.h"

int main(void)
{
	struct invoice_label l = { "0a1b2c3d", 1900000000, 5, { 0 }, false, false, 0 }, back;
	char s[LABEL_MAX];
	for (int i = 0; i < 32; i++)
		l.token_id[i] = (uint8_t)(i * 7);

	CHECK(label_make(s, sizeof(s), &l));
	CHECK(strncmp(s, "l402-0a1b2c3d-1900000000-5-00070e15", 35) == 0);
	CHECK(label_is_ours(s));
	CHECK(label_parse(s, &back));
	CHECK_STREQ(back.tag, "0a1b2c3d");
	CHECK_EQ_INT(back.valid_until, 1900000000);
	CHECK_EQ_INT(back.uses, 5);
	CHECK(memcmp(back.token_id, l.token_id, 32) == 0);

	/* No expiry, no use limit: zeros, and the longest label fits. */
	l.valid_until = 0;
	l.uses = 0;
	CHECK(label_make(s, sizeof(s), &l) && label_parse(s, &back));
	CHECK(back.valid_until == 0 && back.uses == 0);
	l.valid_until = INT64_MAX;
	l.uses = UINT64_MAX;
	CHECK(label_make(s, sizeof(s), &l) && label_parse(s, &back));
	CHECK(back.uses == UINT64_MAX && back.valid_until == INT64_MAX);
	CHECK(!label_make(s, 40, &l));

	/* Labels of other invoices on the node, and damaged ones. */
	const char *bad[] = {
		"", "invoice-1", "l402-", "l402-0a1b2c3d", "l402-0a1b2c3d-",
		"l402-0a1b2c3d-x-0-" "0000000000000000000000000000000000000000000000000000000000000000",
		"l402-0a1b2c3d-0-x-" "0000000000000000000000000000000000000000000000000000000000000000",
		"l402-0a1b2c3d-0-0-" "000000000000000000000000000000000000000000000000000000000000000",
		"l402-0a1b2c3d-0-0-" "000000000000000000000000000000000000000000000000000000000000000g",
		"l402-0a1b2c3d-0-0-" "00000000000000000000000000000000000000000000000000000000000000000",
		"l402-0a1b2c3d_0-0-" "0000000000000000000000000000000000000000000000000000000000000000",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bool ok = label_parse(bad[i], &back);
		if (ok)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		CHECK(!ok);
	}
	CHECK(!label_is_ours("L402-x") && !label_is_ours("l40"));
	/* A Payment charge's invoice: the same fields, marked. */
	l.valid_until = 0;
	l.uses = 1;
	l.charge = true;
	CHECK(label_make(s, sizeof(s), &l));
	CHECK(strlen(s) > 7 && strcmp(s + strlen(s) - 7, "-charge") == 0);
	CHECK(label_parse(s, &back) && back.charge && back.uses == 1);
	CHECK(memcmp(back.token_id, l.token_id, 32) == 0);
	l.charge = false;
	CHECK(label_make(s, sizeof(s), &l) && label_parse(s, &back) && !back.charge);
	strcat(s, "-chargeX");
	CHECK(!label_parse(s, &back));
	/* A session's deposit. */
	l.session = true;
	CHECK(label_make(s, sizeof(s), &l) && label_parse(s, &back) && back.session && !back.charge);
	CHECK(strcmp(s + strlen(s) - 8, "-session") == 0);
	l.session = false;
	/* A balance token: its balance in the label. */
	l.uses = 0;
	l.balance_msat = 20000000;
	CHECK(label_make(s, sizeof(s), &l));
	CHECK(strlen(s) > 10 && strcmp(s + strlen(s) - 10, "-b20000000") == 0);
	CHECK(label_parse(s, &back) && back.balance_msat == 20000000 && !back.charge);
	static const char *const bad_kinds[] = { "-b", "-b0", "-b01", "-b1x", "-bb", "-c",
						 "-b99999999999999999999" };
	for (size_t i = 0; i < sizeof(bad_kinds) / sizeof(bad_kinds[0]); i++) {
		char t[LABEL_MAX + 32];
		l.balance_msat = 0;
		label_make(s, sizeof(s), &l);
		snprintf(t, sizeof(t), "%s%s", s, bad_kinds[i]);
		CHECK(!label_parse(t, &back));
	}
	return test_done("test_label");
}
