/* pthread_cond_timedwait on CLOCK_REALTIME and on a condattr clock of
 * CLOCK_MONOTONIC: ETIMEDOUT after at least the requested time with the
 * mutex held again; a signal before the deadline wakes the waiter; a
 * broadcast wakes every waiter. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>

#include "testutil.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void *try_other(void *arg)
{
	return (void *)(intptr_t)pthread_mutex_trylock(arg);
}

/* The mutex must be held by the caller after a timed wait returns. */
static void check_held(pthread_mutex_t *m)
{
	pthread_t t;
	void *ret;
	CHECK_OK(pthread_create(&t, NULL, try_other, m));
	CHECK_OK(pthread_join(t, &ret));
	CHECK_EQ((intptr_t)ret, EBUSY);
}

static void timeout_checks(const char *name, pthread_cond_t *c, clockid_t clk)
{
	const long ms[] = {1, 20, 150};
	for (unsigned i = 0; i < sizeof ms / sizeof ms[0]; i++) {
		CHECK_OK(pthread_mutex_lock(&lock));
		int64_t t0 = tu_now_ns(clk);
		struct timespec dl = tu_deadline(clk, ms[i]);
		int rc;
		/* No one signals; a spurious wakeup would return 0 early, so loop. */
		do
			rc = pthread_cond_timedwait(c, &lock, &dl);
		while (rc == 0);
		CHECK_RC(rc, ETIMEDOUT);
		int64_t waited = tu_now_ns(clk) - t0;
		CHECK(waited >= ms[i] * 1000000);
		check_held(&lock);
		CHECK_OK(pthread_mutex_unlock(&lock));
		printf("%s: timedwait %ld ms -> ETIMEDOUT, waited long enough, mutex held\n", name,
		       ms[i]);
	}
	/* A deadline in the past. */
	CHECK_OK(pthread_mutex_lock(&lock));
	struct timespec past = tu_deadline(clk, -5000);
	CHECK_RC(pthread_cond_timedwait(c, &lock, &past), ETIMEDOUT);
	check_held(&lock);
	CHECK_OK(pthread_mutex_unlock(&lock));
	printf("%s: past deadline -> ETIMEDOUT\n", name);
}

/* Signalled before the deadline. */
struct wake {
	pthread_cond_t *c;
	int flag;
};

static void *waker(void *arg)
{
	struct wake *w = arg;
	usleep(30000);
	pthread_mutex_lock(&lock);
	w->flag = 1;
	pthread_cond_signal(w->c);
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void signal_checks(const char *name, pthread_cond_t *c, clockid_t clk)
{
	struct wake w = {c, 0};
	pthread_t t;
	CHECK_OK(pthread_mutex_lock(&lock));
	CHECK_OK(pthread_create(&t, NULL, waker, &w));
	struct timespec dl = tu_deadline(clk, 20000);
	int rc = 0;
	while (!w.flag && rc == 0)
		rc = pthread_cond_timedwait(c, &lock, &dl);
	CHECK_RC(rc, 0);
	CHECK(w.flag);
	CHECK_OK(pthread_mutex_unlock(&lock));
	CHECK_OK(pthread_join(t, NULL));
	printf("%s: signalled before the deadline -> 0\n", name);
}

/* Broadcast wakes every timed waiter well before its deadline. */
#define NWAITERS 8
static int go, woken, timedout;

struct waiter_arg {
	pthread_cond_t *c;
	clockid_t clk;
};

static void *timed_waiter(void *arg)
{
	struct waiter_arg *a = arg;
	pthread_mutex_lock(&lock);
	woken++; /* counts arrivals first */
	pthread_cond_broadcast(a->c);
	struct timespec dl = tu_deadline(a->clk, 20000);
	int rc = 0;
	while (!go && rc == 0)
		rc = pthread_cond_timedwait(a->c, &lock, &dl);
	if (rc == ETIMEDOUT)
		timedout++;
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void broadcast_checks(const char *name, pthread_cond_t *c, clockid_t clk)
{
	pthread_t t[NWAITERS];
	struct waiter_arg a = {c, clk};
	go = woken = timedout = 0;
	for (int i = 0; i < NWAITERS; i++)
		CHECK_OK(pthread_create(&t[i], NULL, timed_waiter, &a));
	pthread_mutex_lock(&lock);
	while (woken < NWAITERS)
		pthread_cond_wait(c, &lock);
	go = 1;
	pthread_cond_broadcast(c);
	pthread_mutex_unlock(&lock);
	for (int i = 0; i < NWAITERS; i++)
		CHECK_OK(pthread_join(t[i], NULL));
	CHECK_EQ(timedout, 0);
	printf("%s: broadcast woke %d timed waiters\n", name, NWAITERS);
}

int main(void)
{
	pthread_condattr_t attr;
	pthread_cond_t rt = PTHREAD_COND_INITIALIZER, mono;
	clockid_t clk;

	timeout_checks("realtime static", &rt, CLOCK_REALTIME);
	signal_checks("realtime static", &rt, CLOCK_REALTIME);
	broadcast_checks("realtime static", &rt, CLOCK_REALTIME);

	CHECK_OK(pthread_condattr_init(&attr));
	CHECK_OK(pthread_condattr_getclock(&attr, &clk));
	CHECK_EQ(clk, CLOCK_REALTIME);
	CHECK_RC(pthread_condattr_setclock(&attr, CLOCK_PROCESS_CPUTIME_ID), EINVAL);
	CHECK_OK(pthread_condattr_setclock(&attr, CLOCK_MONOTONIC));
	CHECK_OK(pthread_condattr_getclock(&attr, &clk));
	CHECK_EQ(clk, CLOCK_MONOTONIC);
	CHECK_OK(pthread_cond_init(&mono, &attr));
	CHECK_OK(pthread_condattr_destroy(&attr));
	timeout_checks("monotonic attr", &mono, CLOCK_MONOTONIC);
	signal_checks("monotonic attr", &mono, CLOCK_MONOTONIC);
	broadcast_checks("monotonic attr", &mono, CLOCK_MONOTONIC);
	CHECK_OK(pthread_cond_destroy(&mono));
	CHECK_OK(pthread_cond_destroy(&rt));
	return 0;
}
