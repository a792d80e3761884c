/* A small event loop over poll(2), with one-shot timers: stdin from
 * lightningd, the RPC socket and the proxy's events run here. The HTTP
 * server's threads enter the plugin through the same lock (loop.c says
 * what it guards); data that HTTP threads read on every request without
 * it has small locks of its own, each named where it is declared. */
#ifndef L402_LOOP_H
#define L402_LOOP_H

#include <stdbool.h>
#include <stdint.h>

typedef void (*loop_fd_cb)(void *arg, short revents);
typedef void (*loop_timer_cb)(void *arg);

/* The lock over all plugin state; held by the loop except in poll().
 * Threads other than the loop's take it before touching anything. */
void loop_lock(void);
void loop_unlock(void);

/* For benchmarks: count the acquisitions of the lock by threads other
 * than the loop's, and the nanoseconds they held it (read holding it). */
void loop_measure_lock(bool on);
void loop_lock_stats(uint64_t *acquisitions, uint64_t *held_ns);

/* Milliseconds, and nanoseconds, on the monotonic clock. */
int64_t loop_now_ms(void);
int64_t loop_now_ns(void);

bool loop_add_fd(int fd, short events, loop_fd_cb cb, void *arg);
void loop_set_events(int fd, short events);
void loop_del_fd(int fd);

/* Returns a timer id (never 0), or 0 when memory runs out: then cb will
 * never run, and the caller must do without it. */
uint64_t loop_add_timer(int64_t delay_ms, loop_timer_cb cb, void *arg);
void loop_cancel_timer(uint64_t id);

/* Run until loop_stop(). Returns false if poll itself failed. */
bool loop_run(void);
void loop_stop(void);
/* One round: wait at most timeout_ms, run what is ready. */
void loop_run_once(int timeout_ms);

#endif
