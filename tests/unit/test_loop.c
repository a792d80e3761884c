/* The event loop's timers: thousands in flight (one per RPC call and per
 * waiting challenge) all fire, once; cancelled ones never. */
#include "../../plugin/core/loop.c"

#include "test.h"

#define N 5000

static int fired[N];

static void cb(void *arg)
{
	fired[(intptr_t)arg]++;
}

int main(void)
{
	uint64_t ids[N];
	loop_lock();
	int added = 0;
	for (int i = 0; i < N; i++)
		added += (ids[i] = loop_add_timer(i / 1000, cb, (void *)(intptr_t)i)) != 0;
	CHECK_EQ_INT(added, N);
	for (int i = 0; i < N; i += 7)
		loop_cancel_timer(ids[i]);
	int64_t until = loop_now_ms() + 2000;
	while (loop_now_ms() < until && ntimers > 0)
		loop_run_once(5);
	int wrong = 0;
	for (int i = 0; i < N; i++)
		wrong += fired[i] != (i % 7 == 0 ? 0 : 1);
	CHECK_EQ_INT(wrong, 0);
	CHECK_EQ_INT(ntimers, 0);
	loop_unlock();
	free(timers);
	return test_done("test_loop");
}
