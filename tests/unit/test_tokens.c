/* Use counting: counts read lazily, reservations sized to the token and
 * persisted ahead of the uses, waiting and failing, eviction; and
 * revocations. */
#define MAX_ENTRIES 64
#include "../../plugin/lightningd/datastore.c"
#include "../../plugin/store/tokens.c"

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

static bool is_read(const struct fake_call *c)
{
	return c && strcmp(c->method, "listdatastore") == 0 && strstr(c->params, "\"uses\",\"");
}

static void test_block_size(void)
{
	CHECK_EQ_INT(token_use_block(1), 1);
	CHECK_EQ_INT(token_use_block(5), 1);
	CHECK_EQ_INT(token_use_block(25), 2);
	CHECK_EQ_INT(token_use_block(100), 10);
	CHECK_EQ_INT(token_use_block(1000000), USE_BLOCK_MAX);
}

static void test_reservations(void)
{
	uint8_t id[32] = { 1 };
	/* The first use reads the count, then reserves ahead of itself. */
	CHECK_EQ_INT(token_use(id, 25, done, NULL), USE_WAIT);
	struct fake_call *c = fake_pending();
	CHECK(is_read(c));
	/* Others arriving meanwhile queue behind the same read and write. */
	CHECK_EQ_INT(token_use(id, 25, done, NULL), USE_WAIT);
	fake_answer(c, "{\"datastore\":[]}", 0);
	c = fake_pending();
	CHECK_EQ_INT(reserved_value(c), 2);
	CHECK_EQ_INT(callbacks, 0);
	fake_answer(c, "{}", 0);
	CHECK_EQ_INT(callbacks, 2);
	CHECK_EQ_INT(last_result, USE_OK);
	uint64_t used = 0;
	CHECK(token_used(id, &used, NULL, NULL) == USE_OK && used == 2);
	/* Block after block of 2, each written before its uses, to the limit. */
	int writes = 1;
	while (used < 25) {
		enum use_result r = token_use(id, 25, done, NULL);
		if (r == USE_WAIT) {
			c = fake_pending();
			CHECK_EQ_INT(reserved_value(c), (long long)(used + 2 > 25 ? 25 : used + 2));
			fake_answer(c, "{}", 0);
			writes++;
		} else {
			CHECK_EQ_INT(r, USE_OK);
		}
		token_used(id, &used, NULL, NULL);
	}
	CHECK_EQ_INT(writes, 13);
	/* Never more than the limit; a lower limit (an attenuated token)
	 * is already used up. */
	CHECK_EQ_INT(token_use(id, 25, done, NULL), USE_EXHAUSTED);
	CHECK_EQ_INT(token_use(id, 10, done, NULL), USE_EXHAUSTED);
	CHECK(fake_pending() == NULL);
}

static void test_read_after_restart(void)
{
	/* A reservation read back counts as used: a crash after 2 uses of a
	 * 5-use token with blocks of 1 left 2 reserved, so 3 remain. */
	uint8_t id[32] = { 7 };
	CHECK_EQ_INT(token_use(id, 5, done, NULL), USE_WAIT);
	fake_answer(fake_pending(), "{\"datastore\":[{\"key\":[\"l402\",\"uses\",\"07\"],"
				    "\"generation\":3,\"string\":\"2\"}]}", 0);
	struct fake_call *c = fake_pending();
	CHECK_EQ_INT(reserved_value(c), 3);
	fake_answer(c, "{}", 0);
	CHECK_EQ_INT(last_result, USE_OK);
	uint64_t used;
	CHECK(token_used(id, &used, NULL, NULL) == USE_OK && used == 3);
	/* A lookup of a token not read yet waits for the read. */
	uint8_t other[32] = { 8 };
	int before = callbacks;
	CHECK_EQ_INT(token_used(other, &used, NULL, NULL), USE_FAIL);
	CHECK_EQ_INT(token_used(other, &used, done, NULL), USE_WAIT);
	CHECK_EQ_INT(callbacks, before);
	fake_answer(fake_pending(), "{\"datastore\":[{\"key\":[\"l402\",\"uses\",\"08\"],"
				    "\"string\":\"4\"}]}", 0);
	CHECK_EQ_INT(callbacks, before + 1);
	CHECK(token_used(other, &used, NULL, NULL) == USE_OK && used == 4);
	CHECK(fake_pending() == NULL);
}

static void test_failures(void)
{
	uint8_t id[32] = { 2 };
	int before = callbacks;
	/* A failed read fails the waiters; the next use reads again. */
	CHECK_EQ_INT(token_use(id, 5, done, NULL), USE_WAIT);
	fake_answer(fake_pending(), NULL, -1);
	CHECK_EQ_INT(callbacks, before + 1);
	CHECK_EQ_INT(last_result, USE_FAIL);
	CHECK_EQ_INT(token_use(id, 5, done, NULL), USE_WAIT);
	CHECK(is_read(fake_pending()));
	fake_answer(fake_pending(), "{\"datastore\":[]}", 0);
	/* A failed reservation fails them too, and counts nothing. */
	fake_answer(fake_pending(), NULL, -1);
	CHECK_EQ_INT(last_result, USE_FAIL);
	uint64_t used;
	CHECK(token_used(id, &used, NULL, NULL) == USE_OK && used == 0);
	/* Without lightningd nothing can be reserved: fail at once. */
	fake_connected = false;
	CHECK_EQ_INT(token_use(id, 5, done, NULL), USE_FAIL);
	fake_connected = true;
	/* Too many waiting on one token: the rest fail rather than queue. */
	for (int i = 0; i < MAX_WAITERS; i++)
		CHECK_EQ_INT(token_use(id, 5, done, NULL), USE_WAIT);
	CHECK_EQ_INT(token_use(id, 5, done, NULL), USE_FAIL);
	while (fake_pending())
		fake_answer(fake_pending(), "{}", 0);
	/* 5 were served, the others found it used up. */
	CHECK(token_used(id, &used, NULL, NULL) == USE_OK && used == 5);
	CHECK_EQ_INT(last_result, USE_EXHAUSTED);
}

static void test_revoke_and_evict(void)
{
	uint8_t id[32] = { 3 };
	CHECK(!token_revoked(id));
	CHECK(token_revoke(id));
	CHECK(!token_revoke(id));
	CHECK(token_revoked(id));
	struct fake_call *c = fake_pending();
	CHECK(c && strcmp(c->method, "datastore") == 0 && strstr(c->params, "\"revoked\""));
	fake_drain("-");
	/* Past the cap, idle entries go (and are read again); revoked ones stay. */
	for (int i = 0; i < 3 * MAX_ENTRIES; i++) {
		uint8_t t[32] = { 0x40 };
		uint64_t used;
		memcpy(t + 1, &i, sizeof(i));
		if (token_used(t, &used, done, NULL) == USE_WAIT)
			fake_answer(fake_pending(), "{\"datastore\":[]}", 0);
		fake_drain("-");
	}
	CHECK(nentries <= MAX_ENTRIES);
	CHECK(token_revoked(id));
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
	CHECK(tokens_synced());
	CHECK(fake_pending() == NULL);	/* no use counts read at start */
	uint8_t revoked[32];
	memset(revoked, 4, 32);
	CHECK(token_revoked(revoked));
	CHECK_EQ_INT(tokens_revoked_count(), 1);
	/* A failed load is tried again a second later. */
	tokens_free();
	tokens_sync();
	fake_answer(fake_pending(), NULL, -1);
	CHECK(!tokens_synced() && fake_pending() == NULL);
	fake_advance(1000);
	CHECK(fake_pending() != NULL);
	fake_drain("-");
}

/* A balance of 10000 msat spent 3000 at a time, blocks of 3000 (a tenth
 * is less than one request), a metered request settled below and above
 * what it held, and never past the balance. */
static void test_balance(void)
{
	uint8_t id[32] = { 9 };
	uint64_t used = 0;
	CHECK_EQ_INT(token_balance_block(10000, 3000), 3000);
	CHECK_EQ_INT(token_balance_block(1000000, 3000), 100000);
	CHECK_EQ_INT(token_spend(id, 10000, 3000, 3000, done, NULL), USE_WAIT);
	fake_answer(fake_pending(), "{\"datastore\":[]}", 0);
	struct fake_call *c = fake_pending();
	CHECK_EQ_INT(reserved_value(c), 3000);
	fake_answer(c, "{}", 0);
	CHECK_EQ_INT(last_result, USE_OK);
	/* It cost 1000 of the 3000 held: 2000 back, and that much spends
	 * again without a write. */
	token_settle(id, 10000, 3000, 1000);
	CHECK(token_used(id, &used, NULL, NULL) == USE_OK && used == 1000);
	CHECK_EQ_INT(token_spend(id, 10000, 2000, 3000, done, NULL), USE_OK);
	/* It cost 5000 of 2000 held: taken (the answer is out), and the
	 * reservation follows without anyone waiting. */
	token_settle(id, 10000, 2000, 5000);
	token_used(id, &used, NULL, NULL);
	CHECK_EQ_INT(used, 6000);
	c = fake_pending();
	CHECK_EQ_INT(reserved_value(c), 6000);
	fake_answer(c, "{}", 0);
	/* 4000 left: one more at 3000, then 1000 is not enough for 3000. */
	CHECK_EQ_INT(token_spend(id, 10000, 3000, 3000, done, NULL), USE_WAIT);
	c = fake_pending();
	CHECK_EQ_INT(reserved_value(c), 9000);
	fake_answer(c, "{}", 0);
	CHECK_EQ_INT(last_result, USE_OK);
	CHECK_EQ_INT(token_spend(id, 10000, 3000, 3000, done, NULL), USE_EXHAUSTED);
	/* A cost beyond what is left stops at the balance. */
	token_settle(id, 10000, 3000, 99999);
	token_used(id, &used, NULL, NULL);
	CHECK_EQ_INT(used, 10000);
	c = fake_pending();
	CHECK_EQ_INT(reserved_value(c), 10000);
	fake_answer(c, "{}", 0);
	CHECK_EQ_INT(token_spend(id, 10000, 1, 1, done, NULL), USE_EXHAUSTED);
	CHECK(fake_pending() == NULL);
}

int main(void)
{
	test_block_size();
	test_reservations();
	test_read_after_restart();
	test_failures();
	test_revoke_and_evict();
	test_load();
	tokens_free();
	test_balance();
	return test_done("test_tokens");
}
