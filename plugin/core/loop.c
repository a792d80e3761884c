#include "core/loop.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_FDS 64
/* Timers grow with what is in flight (a deadline per RPC call, a timer
 * per waiting challenge), never with history; this only stops a runaway. */
#define MAX_TIMERS (1u << 20)

struct fd_entry {
	int fd;
	short events;
	loop_fd_cb cb;
	void *arg;
};

struct timer {
	uint64_t id;
	int64_t when;
	loop_timer_cb cb;
	void *arg;
};

/* The loop's lock: the plugin's state that has no lock of its own (the
 * stores' tables, sessions, RPC calls in flight, timers, the table of
 * waiting requests) belongs to whoever holds it. The loop thread holds it
 * except while it waits in poll(); libmicrohttpd's threads take it for the
 * steps that read or change that state. The outermost lock: the others
 * (leaves, each guarding its own module's data) may be taken inside it. */
static pthread_mutex_t big = PTHREAD_MUTEX_INITIALIZER;
static pthread_t loop_thread;
static bool have_loop_thread;
static int wakefd = -1;

/* How long threads other than the loop's hold the lock: measured only
 * when L402_LOCK_STATS is set in the environment (for the benchmarks),
 * so that the clock is not read twice a request otherwise. */
static bool measure_lock;
static uint64_t lock_acquisitions, lock_held_ns;
static _Thread_local int64_t locked_at_ns;

int64_t loop_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static bool measured(void)
{
	return measure_lock && have_loop_thread && !pthread_equal(pthread_self(), loop_thread);
}

void loop_measure_lock(bool on)
{
	measure_lock = on;
}

void loop_lock_stats(uint64_t *acquisitions, uint64_t *held_ns)
{
	*acquisitions = lock_acquisitions;
	*held_ns = lock_held_ns;
}

/* Not recursive: nothing takes it twice, and http_stop() relies on one
 * unlock releasing it while libmicrohttpd's threads are joined. */
void loop_lock(void)
{
	pthread_mutex_lock(&big);
	if (measured())
		locked_at_ns = loop_now_ns();
}

void loop_unlock(void)
{
	if (measured()) {
		lock_held_ns += (uint64_t)(loop_now_ns() - locked_at_ns);
		lock_acquisitions++;
	}
	pthread_mutex_unlock(&big);
}

/* Another thread changed fds or timers: make poll() look again. */
static void wake(void)
{
	uint64_t one = 1;
	if (wakefd >= 0 && have_loop_thread && !pthread_equal(pthread_self(), loop_thread))
		(void)!write(wakefd, &one, sizeof(one));
}

static struct fd_entry fds[MAX_FDS];
static size_t nfds;
static struct timer *timers;
static size_t ntimers, timers_cap;
static uint64_t next_timer_id = 1;
static bool stopping;
/* Set by loop_stop so that the fds of the current round are not served. */
static bool stopping_round;

int64_t loop_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool loop_add_fd(int fd, short events, loop_fd_cb cb, void *arg)
{
	if (nfds == MAX_FDS)
		return false;
	fds[nfds++] = (struct fd_entry){ fd, events, cb, arg };
	wake();
	return true;
}

void loop_set_events(int fd, short events)
{
	for (size_t i = 0; i < nfds; i++)
		if (fds[i].fd == fd)
			fds[i].events = events;
	wake();
}

void loop_del_fd(int fd)
{
	for (size_t i = 0; i < nfds; i++)
		if (fds[i].fd == fd) {
			fds[i] = fds[--nfds];
			return;
		}
}

uint64_t loop_add_timer(int64_t delay_ms, loop_timer_cb cb, void *arg)
{
	if (ntimers == timers_cap) {
		size_t nc = timers_cap ? timers_cap * 2 : 256;
		struct timer *nt = nc > MAX_TIMERS ? NULL : realloc(timers, nc * sizeof(*nt));
		if (!nt)
			return 0;
		timers = nt;
		timers_cap = nc;
	}
	uint64_t id = next_timer_id++;
	timers[ntimers++] = (struct timer){ id, loop_now_ms() + delay_ms, cb, arg };
	wake();
	return id;
}

void loop_cancel_timer(uint64_t id)
{
	for (size_t i = 0; i < ntimers; i++)
		if (timers[i].id == id) {
			timers[i] = timers[--ntimers];
			return;
		}
}

void loop_stop(void)
{
	stopping = true;
	stopping_round = true;
}

/* Fire every due timer once; timers added by callbacks wait for the next
 * round, so a callback that re-arms itself cannot starve the fds. */
static void run_timers(void)
{
	int64_t now = loop_now_ms();
	uint64_t limit = next_timer_id;
	for (size_t i = 0; i < ntimers;) {
		if (timers[i].when <= now && timers[i].id < limit) {
			struct timer t = timers[i];
			timers[i] = timers[--ntimers];
			t.cb(t.arg);
			i = 0;
			continue;
		}
		i++;
	}
}

static bool one_round(int max_timeout)
{
	struct pollfd pfd[MAX_FDS + 1];
	struct fd_entry snap[MAX_FDS];
	if (wakefd < 0)
		wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	loop_thread = pthread_self();
	have_loop_thread = true;
	{
		int timeout = max_timeout;
		int64_t now = loop_now_ms();
		for (size_t i = 0; i < ntimers; i++) {
			int64_t d = timers[i].when - now;
			if (d < 0)
				d = 0;
			if (timeout < 0 || d < timeout)
				timeout = (int)(d > 60000 ? 60000 : d);
		}
		if (max_timeout >= 0 && (timeout < 0 || timeout > max_timeout))
			timeout = max_timeout;
		size_t n = nfds;
		memcpy(snap, fds, n * sizeof(fds[0]));
		for (size_t i = 0; i < n; i++)
			pfd[i] = (struct pollfd){ snap[i].fd, snap[i].events, 0 };
		pfd[n] = (struct pollfd){ wakefd, POLLIN, 0 };
		loop_unlock();
		int r = poll(pfd, n + 1, timeout);
		loop_lock();
		if (r < 0 && errno != EINTR)
			return false;
		if (r > 0 && pfd[n].revents) {
			uint64_t v;
			(void)!read(wakefd, &v, sizeof(v));
			r--;
		}
		stopping_round = false;
		for (size_t i = 0; r > 0 && i < n && !stopping_round; i++) {
			if (!pfd[i].revents)
				continue;
			/* The callback of an earlier fd may have removed this one. */
			bool live = false;
			for (size_t k = 0; k < nfds; k++)
				if (fds[k].fd == snap[i].fd && fds[k].cb == snap[i].cb)
					live = true;
			if (live)
				snap[i].cb(snap[i].arg, pfd[i].revents);
		}
		run_timers();
	}
	return true;
}

bool loop_run(void)
{
	stopping = false;
	while (!stopping)
		if (!one_round(-1))
			return false;
	return true;
}

void loop_run_once(int timeout_ms)
{
	one_round(timeout_ms);
}
