/* Token buckets: a burst, the refill, and who shares a bucket. */
#include "../../plugin/store/rate.c"

#include "fakes.h"
#include "test.h"

int main(void)
{
	/* 2 per 10 s with a burst of 3: three at once, then a wait. */
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(rate_take('i', 1, "1.2.3.4", strlen("1.2.3.4"), 2, 10, 3), 0);
	unsigned wait = rate_take('i', 1, "1.2.3.4", strlen("1.2.3.4"), 2, 10, 3);
	CHECK(wait >= 5 && wait <= 6);
	/* Other subjects, routes and kinds have their own buckets. */
	CHECK_EQ_INT(rate_take('i', 1, "1.2.3.5", strlen("1.2.3.5"), 2, 10, 3), 0);
	CHECK_EQ_INT(rate_take('i', 2, "1.2.3.4", strlen("1.2.3.4"), 2, 10, 3), 0);
	CHECK_EQ_INT(rate_take('t', 1, "1.2.3.4", strlen("1.2.3.4"), 2, 10, 3), 0);
	/* Refill at the rate: 5 s give one back, not more. */
	fake_now_ms += 5000;
	CHECK_EQ_INT(rate_take('i', 1, "1.2.3.4", strlen("1.2.3.4"), 2, 10, 3), 0);
	CHECK(rate_take('i', 1, "1.2.3.4", strlen("1.2.3.4"), 2, 10, 3) > 0);
	/* A long pause refills to the burst, never beyond. */
	fake_now_ms += 3600 * 1000;
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(rate_take('i', 1, "1.2.3.4", strlen("1.2.3.4"), 2, 10, 3), 0);
	CHECK(rate_take('i', 1, "1.2.3.4", strlen("1.2.3.4"), 2, 10, 3) > 0);
	/* A slow rate says how long to wait: 1 per hour. */
	CHECK_EQ_INT(rate_take('c', 0, "9.9.9.9", strlen("9.9.9.9"), 1, 3600, 1), 0);
	wait = rate_take('c', 0, "9.9.9.9", strlen("9.9.9.9"), 1, 3600, 1);
	CHECK(wait > 3500 && wait <= 3601);
	/* Memory is fixed: a flood of subjects never fails, it evicts. */
	char subj[32];
	for (int i = 0; i < 200000; i++) {
		snprintf(subj, sizeof(subj), "10.0.%d.%d", i / 256, i % 256);
		rate_take('i', 7, subj, strlen(subj), 1, 60, 1);
	}
	CHECK_EQ_INT(rate_take('i', 7, "fresh", strlen("fresh"), 1, 60, 1), 0);
	return test_done("test_rate");
}
