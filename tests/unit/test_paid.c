/* The paid set: what a notification records and persists, the table as
 * it grows, and the load at start (datastore, pay index, catch-up). */
#include "../../plugin/datastore.c"
#include "../../plugin/label.c"
#include "../../plugin/paid.c"

#include <sodium.h>

#include "fakes.h"
#include "test.h"

static int payments_counted, unpaid_marked;
static char counted_tag[9];

void unpaid_paid(const uint8_t hash[32])
{
	unpaid_marked++;
}

void routes_count_payment(const char *tag, uint64_t msat)
{
	payments_counted++;
	snprintf(counted_tag, sizeof(counted_tag), "%s", tag);
}

static void hash_of(const uint8_t pre[32], uint8_t hash[32])
{
	crypto_hash_sha256(hash, pre, 32);
}

static void test_notification(void)
{
	uint8_t pre[32] = { 1 }, hash[32];
	char pre_hex[65], label[LABEL_MAX];
	uint64_t msat = 0;
	struct invoice_label l = { "cafe0001", 0, 0, { 9 } };
	hex_encode(pre, 32, pre_hex, sizeof(pre_hex));
	hash_of(pre, hash);
	label_make(label, sizeof(label), &l);

	CHECK(!paid_lookup(hash, NULL));
	paid_on_notification(label, pre_hex, 10000);
	CHECK(paid_lookup(hash, &msat) && msat == 10000);
	CHECK_EQ_INT(payments_counted, 1);
	CHECK_STREQ(counted_tag, "cafe0001");
	CHECK_EQ_INT(unpaid_marked, 1);
	/* Persisted under ["l402","paid",HASH] before anything else. */
	struct fake_call *c = fake_pending();
	CHECK(c && strcmp(c->method, "datastore") == 0 && strstr(c->params, "\"paid\"")
	      && strstr(c->params, "\"msat\\\":10000"));
	if (c)
		fake_answer(c, "{}", 0);

	/* The same payment again (notification and poll both see it): once. */
	paid_on_notification(label, pre_hex, 10000);
	CHECK_EQ_INT(payments_counted, 1);
	CHECK(fake_pending() == NULL);

	/* Other plugins' invoices are not ours; a bad preimage is logged. */
	uint8_t pre2[32] = { 2 }, hash2[32];
	hex_encode(pre2, 32, pre_hex, sizeof(pre_hex));
	hash_of(pre2, hash2);
	paid_on_notification("someone-elses", pre_hex, 5);
	CHECK(!paid_lookup(hash2, NULL));
	int unusual = fake_logs[LOG_UNUSUAL];
	paid_on_notification(label, "zz", 5);
	paid_on_notification(label, "00", 5);
	CHECK_EQ_INT(fake_logs[LOG_UNUSUAL], unusual + 2);
	CHECK(fake_pending() == NULL);
}

static void test_growth(void)
{
	/* Thousands of hashes: every one found, others not, each persisted. */
	uint8_t h[32];
	size_t writes = 0;
	for (uint32_t i = 0; i < 20000; i++) {
		memset(h, 0, sizeof(h));
		memcpy(h, &i, sizeof(i));
		h[31] = 0xAA;
		paid_add_minted(h);
		writes += fake_drain("datastore");
	}
	bool all = true;
	for (uint32_t i = 0; i < 20000; i++) {
		memset(h, 0, sizeof(h));
		memcpy(h, &i, sizeof(i));
		h[31] = 0xAA;
		all &= paid_lookup(h, NULL);
	}
	CHECK(all);
	h[31] = 0xAB;
	CHECK(!paid_lookup(h, NULL));
	struct paid_status st;
	paid_status(&st);
	CHECK(st.count >= 20000);
	CHECK_EQ_INT(writes, 20000);
}

static void test_load(void)
{
	struct fake_call *c;
	paid_free();
	paid_sync();
	CHECK(!paid_loaded());
	c = fake_pending();
	CHECK(c && strcmp(c->method, "listdatastore") == 0 && strstr(c->params, "\"paid\""));
	fake_answer(c, "{\"datastore\":["
		       "{\"key\":[\"l402\",\"paid\",\"" "1111111111111111111111111111111111111111111111111111111111111111\"],"
		       "\"generation\":0,\"string\":\"{\\\"msat\\\":7000,\\\"at\\\":1}\"},"
		       "{\"key\":[\"l402\",\"paid\",\"nothex\"],\"string\":\"{}\"},"
		       "{\"key\":[\"l402\",\"paid\"],\"string\":\"{}\"}]}", 0);
	c = fake_pending();
	CHECK(c && strcmp(c->method, "listdatastore") == 0 && strstr(c->params, "\"pay-index\""));
	fake_answer(c, "{\"datastore\":[{\"key\":[\"l402\",\"pay-index\"],\"string\":\"41\"}]}", 0);
	/* Catch up from the persisted index: one payment, then nothing newer. */
	c = fake_pending();
	CHECK(c && strcmp(c->method, "waitanyinvoice") == 0
	      && strstr(c->params, "\"lastpay_index\":41,\"timeout\":0"));
	fake_answer(c, "{\"label\":\"l402-cafe0002-0-0-"
		       "0000000000000000000000000000000000000000000000000000000000000000\","
		       "\"pay_index\":42,\"amount_received_msat\":3000,\"payment_hash\":\""
		       "2222222222222222222222222222222222222222222222222222222222222222\"}", 0);
	c = fake_pending();
	CHECK(c && strcmp(c->method, "datastore") == 0);	/* the new payment */
	fake_answer(c, "{}", 0);
	c = fake_pending();
	CHECK(c && strstr(c->params, "\"lastpay_index\":42,\"timeout\":0"));
	fake_answer(c, NULL, INVOICE_WAIT_TIMED_OUT);
	CHECK(paid_loaded());
	uint8_t h1[32], h2[32];
	uint64_t msat = 0;
	memset(h1, 0x11, 32);
	memset(h2, 0x22, 32);
	CHECK(paid_lookup(h1, &msat) && msat == 7000);
	CHECK(paid_lookup(h2, &msat) && msat == 3000);
	struct paid_status st;
	paid_status(&st);
	CHECK_EQ_INT(st.pay_index, 42);
	/* Then the pay index is saved and a long poll waits for the next. */
	bool saved = false, long_poll = false;
	while ((c = fake_pending())) {
		saved |= strcmp(c->method, "datastore") == 0 && strstr(c->params, "pay-index");
		long_poll |= strcmp(c->method, "waitanyinvoice") == 0
			   && strstr(c->params, "\"lastpay_index\":42}");
		c->answered = true;
	}
	CHECK(saved && long_poll);
}

static void test_load_failure_retries(void)
{
	struct fake_call *c;
	paid_free();
	loaded = false;
	syncing = polling = false;
	paid_sync();
	c = fake_pending();
	CHECK(c != NULL);
	fake_answer(c, NULL, -1);
	CHECK(!paid_loaded() && fake_pending() == NULL);
	/* A second later it tries again, from the start. */
	fake_advance(1500);
	c = fake_pending();
	CHECK(c && strcmp(c->method, "listdatastore") == 0 && strstr(c->params, "\"paid\""));
	if (c)
		c->answered = true;
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_notification();
	test_growth();
	test_load();
	test_load_failure_retries();
	paid_free();
	return test_done("test_paid");
}
