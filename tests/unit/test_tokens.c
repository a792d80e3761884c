/* Use counting with reservations persisted ahead of the uses, and
 * revocations: what is written, when a request waits, and the load. */
#include "../../plugin/datastore.c"
#include "../../plugin/tokens.c"

#include "fakes.h"
#include "test.h"

static enum use_result last_result;
static int callbacks;

static void done(void *arg, enum use_result r)
{
	last_result = r;
	callbacks++;
}

/* The value a reservation write sets, or -1. */
static long long reserved_value(const struct fake_call *c)
{
	const char *s = c ? strstr(c->params, "\"string\":\"") : NULL;
	return c && strcmp(c->method, "datastore") == 0 && strstr(c->params, "\"uses\"") && s
		       ? atoll(s + 10) : -1;
}

static void test_reservations(void)
{
	uint8_t id[32] = { 1 };
	/* The first use waits for a reservation written ahead of it. */
	CHECK_EQ_INT(token_use(id, 25, done, NULL), USE_WAIT);
	struct fake_call *c = fake_pending();
	CHECK_EQ_INT(reserved_value(c), USE_BLOCK);
	CHECK_EQ_INT(callbacks, 0);
	/* Others arriving meanwhile queue behind the same write. */
	CHECK_EQ_INT(token_use(id, 25, done, NULL), USE_WAIT);
	fake_answer(c, "{}", 0);
	CHECK_EQ_INT(callbacks, 2);
	CHECK_EQ_INT(last_result, USE_OK);
	CHECK_EQ_INT(token_used(id), 2);
	/* Inside the reservation: at once, nothing written. */
	for (int i = 2; i < USE_BLOCK; i++)
		CHECK_EQ_INT(token_use(id, 25, done, NULL), USE_OK);
	CHECK(fake_pending() == NULL);
	/* The next block; the last one stops at the limit. */
	CHECK_EQ_INT(token_use(id, 25, done, NULL), USE_WAIT);
	c = fake_pending();
	CHECK_EQ_INT(reserved_value(c), 2 * USE_BLOCK);
	fake_answer(c, "{}", 0);
	while (token_used(id) < 20)
		CHECK_EQ_INT(token_use(id, 25, done, NULL), USE_OK);
	CHECK_EQ_INT(token_use(id, 25, done, NULL), USE_WAIT);
	c = fake_pending();
	CHECK_EQ_INT(reserved_value(c), 25);
	fake_answer(c, "{}", 0);
	while (token_used(id) < 25)
		CHECK_EQ_INT(token_use(id, 25, done, NULL), USE_OK);
	/* Never more than the limit; a lower limit (an attenuated token)
	 * is already used up. */
	CHECK_EQ_INT(token_use(id, 25, done, NULL), USE_EXHAUSTED);
	CHECK_EQ_INT(token_use(id, 10, done, NULL), USE_EXHAUSTED);
	CHECK(fake_pending() == NULL);
}

static void test_failed_reservation(void)
{
	uint8_t id[32] = { 2 };
	int before = callbacks;
	CHECK_EQ_INT(token_use(id, 5, done, NULL), USE_WAIT);
	fake_answer(fake_pending(), NULL, -1);
	CHECK_EQ_INT(callbacks, before + 1);
	CHECK_EQ_INT(last_result, USE_FAIL);
	CHECK_EQ_INT(token_used(id), 0);
	/* Without lightningd nothing can be reserved: fail at once. */
	fake_connected = false;
	CHECK_EQ_INT(token_use(id, 5, done, NULL), USE_FAIL);
	fake_connected = true;
	/* Too many waiting on one token: the rest fail rather than queue. */
	for (int i = 0; i < MAX_WAITERS; i++)
		CHECK_EQ_INT(token_use(id, 5, done, NULL), USE_WAIT);
	CHECK_EQ_INT(token_use(id, 5, done, NULL), USE_FAIL);
	fake_answer(fake_pending(), "{}", 0);
	/* 5 were served, the others found it used up, and no more writes. */
	CHECK_EQ_INT(token_used(id), 5);
	CHECK_EQ_INT(last_result, USE_EXHAUSTED);
	CHECK(fake_pending() == NULL);
}

static void test_revoke(void)
{
	uint8_t id[32] = { 3 };
	CHECK(!token_revoked(id));
	CHECK(token_revoke(id));
	CHECK(!token_revoke(id));
	CHECK(token_revoked(id));
	struct fake_call *c = fake_pending();
	CHECK(c && strcmp(c->method, "datastore") == 0 && strstr(c->params, "\"revoked\""));
	fake_drain("datastore");
}

static void test_load(void)
{
	tokens_free();
	tokens_sync();
	CHECK(!tokens_synced());
	struct fake_call *c = fake_pending();
	CHECK(c && strcmp(c->method, "listdatastore") == 0 && strstr(c->params, "revoked"));
	fake_answer(c, "{\"datastore\":[{\"key\":[\"l402\",\"revoked\",\""
		       "0404040404040404040404040404040404040404040404040404040404040404\"],"
		       "\"string\":\"1700000000\"},{\"key\":[\"l402\",\"revoked\",\"short\"],"
		       "\"string\":\"1\"}]}", 0);
	c = fake_pending();
	CHECK(c && strstr(c->params, "\"uses\""));
	fake_answer(c, "{\"datastore\":[{\"key\":[\"l402\",\"uses\",\""
		       "0505050505050505050505050505050505050505050505050505050505050505\"],"
		       "\"string\":\"30\"}]}", 0);
	CHECK(tokens_synced());
	uint8_t revoked[32], used[32];
	memset(revoked, 4, 32);
	memset(used, 5, 32);
	CHECK(token_revoked(revoked));
	CHECK_EQ_INT(tokens_revoked_count(), 1);
	/* A reservation read back counts as used: never more than paid for. */
	CHECK_EQ_INT(token_used(used), 30);
	CHECK_EQ_INT(token_use(used, 30, done, NULL), USE_EXHAUSTED);
	/* A failed load is tried again a second later. */
	load.done = false;
	tokens_sync();
	fake_answer(fake_pending(), NULL, -1);
	CHECK(!tokens_synced() && fake_pending() == NULL);
	fake_advance(1000);
	CHECK(fake_pending() != NULL);
	fake_drain("-");
}

int main(void)
{
	test_reservations();
	test_failed_reservation();
	test_revoke();
	test_load();
	tokens_free();
	return test_done("test_tokens");
}
