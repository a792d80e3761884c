/* Following the node's payments: the notification, the catch-up from the
 * persisted pay index, counting each payment of ours exactly once. */
#include "../../plugin/lightningd/datastore.c"
#include "../../plugin/store/label.c"
#include "../../plugin/store/payments.c"

#include <sodium.h>

#include "fakes.h"
#include "test.h"

static int payments_counted, unpaid_marked, preimages_noted;
static uint64_t revenue;
static char counted_tag[9];

void unpaid_paid(const uint8_t hash[32])
{
	unpaid_marked++;
}

/* What the checkout page may hand a browser: L402 tokens' preimages. */
void preimages_note(const uint8_t hash[32], const uint8_t preimage[32])
{
	preimages_noted++;
}

void routes_count_payment(const char *tag, uint64_t msat)
{
	payments_counted++;
	revenue += msat;
	snprintf(counted_tag, sizeof(counted_tag), "%s", tag);
}

/* The observer plugin.c sets: each sale, once. */
static int sales_told;
static struct sale last_sale;
static uint8_t last_hash[32];
static char last_tag[9];

static void sold(const struct sale *s)
{
	sales_told++;
	last_sale = *s;
	memcpy(last_hash, s->payment_hash, 32);
	snprintf(last_tag, sizeof(last_tag), "%s", s->tag);
	last_sale.payment_hash = last_hash;
	last_sale.tag = last_tag;
	last_sale.token_id = NULL;	/* the caller's */
}

static const char *ours =
	"l402-cafe0002-0-0-0000000000000000000000000000000000000000000000000000000000000000";

/* A waitanyinvoice result. */
static const char *paid_invoice(const char *label, int index, int msat)
{
	static char buf[512];
	snprintf(buf, sizeof(buf), "{\"label\":\"%s\",\"pay_index\":%d,\"amount_received_msat\":%d,"
		 "\"payment_hash\":\"%064d\"}", label, index, msat, index);
	return buf;
}

static void test_notification(void)
{
	uint8_t pre[32] = { 1 };
	char pre_hex[65];
	hex_encode(pre, 32, pre_hex, sizeof(pre_hex));
	/* It frees the unpaid place, counts nothing, writes nothing. */
	payments_on_notification(ours, pre_hex);
	CHECK_EQ_INT(unpaid_marked, 1);
	CHECK_EQ_INT(preimages_noted, 1);
	CHECK_EQ_INT(payments_counted, 0);
	/* A Payment charge's preimage is never kept for the checkout. */
	payments_on_notification("l402-cafe0002-0-1-"
				 "0000000000000000000000000000000000000000000000000000000000000000-charge",
				 pre_hex);
	CHECK_EQ_INT(unpaid_marked, 2);
	CHECK_EQ_INT(preimages_noted, 1);
	unpaid_marked = 1;
	CHECK(fake_pending() == NULL);
	/* Other invoices on the node are not ours; bad preimages are logged. */
	payments_on_notification("someone-elses", pre_hex);
	CHECK_EQ_INT(unpaid_marked, 1);
	int unusual = fake_logs[LOG_UNUSUAL];
	payments_on_notification(ours, "zz");
	payments_on_notification(ours, "00");
	CHECK_EQ_INT(fake_logs[LOG_UNUSUAL], unusual + 2);
	CHECK_EQ_INT(unpaid_marked, 1);
}

static void test_catch_up_and_follow(void)
{
	struct fake_call *c;
	payments_sync();
	c = fake_pending();
	CHECK(c && strcmp(c->method, "listdatastore") == 0 && strstr(c->params, "\"pay-index\""));
	fake_answer(c, "{\"datastore\":[{\"key\":[\"l402\",\"pay-index\"],\"string\":\"41\"}]}", 0);
	/* From the persisted index: one of ours, one of another plugin's. */
	c = fake_pending();
	CHECK(c && strcmp(c->method, "waitanyinvoice") == 0
	      && strstr(c->params, "\"lastpay_index\":41,\"timeout\":0"));
	fake_answer(c, paid_invoice(ours, 42, 3000), 0);
	c = fake_pending();
	CHECK(c && strstr(c->params, "\"lastpay_index\":42,\"timeout\":0"));
	fake_answer(c, paid_invoice("other", 43, 5000), 0);
	c = fake_pending();
	CHECK(c && strstr(c->params, "\"lastpay_index\":43,\"timeout\":0"));
	struct payments_status st;
	payments_status(&st);
	CHECK(!st.caught_up);
	fake_answer(c, NULL, INVOICE_WAIT_TIMED_OUT);
	payments_status(&st);
	CHECK(st.caught_up && st.pay_index == 43 && st.counted == 1);
	CHECK_EQ_INT(payments_counted, 1);
	CHECK_EQ_INT(revenue, 3000);
	CHECK_STREQ(counted_tag, "cafe0002");
	/* The observer heard of ours, not of the other plugin's. */
	CHECK_EQ_INT(sales_told, 1);
	CHECK(strcmp(last_sale.tag, "cafe0002") == 0 && last_sale.msat == 3000
	      && last_sale.pay_index == 42 && !last_sale.charge && !last_sale.session);
	CHECK(last_hash[31] == 0x42 && last_hash[30] == 0);
	/* The index is saved, and a long poll waits for the next payment. */
	c = fake_pending();
	CHECK(c && strcmp(c->method, "datastore") == 0 && strstr(c->params, "\"string\":\"43\""));
	fake_answer(c, "{}", 0);
	c = fake_pending();
	CHECK(c && strcmp(c->method, "waitanyinvoice") == 0
	      && strstr(c->params, "{\"lastpay_index\":43}"));
	fake_answer(c, paid_invoice(ours, 44, 1000), 0);
	CHECK_EQ_INT(payments_counted, 2);
	/* A payment seen twice (a reconnection replays it) counts once. */
	fake_answer(fake_pending(), "{}", 0);	/* the index write */
	c = fake_pending();
	CHECK(c && strstr(c->params, "{\"lastpay_index\":44}"));
	fake_answer(c, paid_invoice(ours, 44, 1000), 0);
	CHECK_EQ_INT(payments_counted, 2);
	CHECK_EQ_INT(sales_told, 2);
	fake_drain("-");
}

static void test_failures_retry(void)
{
	struct fake_call *c;
	/* The last long poll got a reply it could not read: it starts over. */
	CHECK_EQ_INT(fake_ntimers, 1);
	fake_advance(2000);
	c = fake_pending();
	CHECK(c && strcmp(c->method, "listdatastore") == 0);
	fake_answer(c, NULL, -1);
	CHECK(fake_pending() == NULL);
	fake_advance(1000);
	c = fake_pending();
	CHECK(c && strcmp(c->method, "listdatastore") == 0);
	fake_answer(c, "{\"datastore\":[]}", 0);
	c = fake_pending();
	CHECK(c && strcmp(c->method, "waitanyinvoice") == 0);
	/* A dropped connection: the reconnection starts again, not a timer. */
	fake_disconnect(c);
	CHECK(fake_pending() == NULL && fake_ntimers == 0);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	payments_set_observer(sold);
	test_notification();
	test_catch_up_and_follow();
	test_failures_retry();
	return test_done("test_payments");
}
