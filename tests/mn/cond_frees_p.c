/* A thread parked on a condition variable does not hold its P. Run with
 * GMPT_PROCS=1: thread A waits on a condition; thread B, created after A
 * has parked, computes, sets the predicate and signals; main joins both.
 * If A's wait kept the only P, B would never run: the watchdog fails the
 * test after 10 s. A second round parks several waiters (and main, in
 * pthread_join) while one thread does the work. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>

#include "mnutil.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static long predicate;
static int a_waiting;

static void *waiter(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	a_waiting++;
	pthread_cond_broadcast(&cond);
	while (predicate == 0)
		pthread_cond_wait(&cond, &lock);
	long seen = predicate;
	pthread_mutex_unlock(&lock);
	return (void *)seen;
}

static void *signaller(void *arg)
{
	long n = (long)(intptr_t)arg;
	/* Some work without blocking calls, then publish the result. */
	volatile long x = 0;
	for (long i = 1; i <= n; i++)
		x += i;
	pthread_mutex_lock(&lock);
	predicate = x;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	return NULL;
}

int main(void)
{
	mn_watchdog(10, "a thread waiting on a condition variable let another run");
	pthread_t a, b;
	void *ret;

	/* Round 1: one waiter, then the signaller. */
	CHECK_OK(pthread_create(&a, NULL, waiter, NULL));
	pthread_mutex_lock(&lock);
	while (a_waiting < 1)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	usleep(20000); /* A is parked in pthread_cond_wait by now */
	CHECK_OK(pthread_create(&b, NULL, signaller, (void *)(intptr_t)1000));
	CHECK_OK(pthread_join(a, &ret));
	CHECK_OK(pthread_join(b, NULL));
	CHECK_EQ((long)(intptr_t)ret, 1000L * 1001 / 2);
	printf("round 1: waiter woke with %ld\n", (long)(intptr_t)ret);

	/* Round 2: eight waiters parked, main parked in join on the first. */
	enum { NW = 8 };
	pthread_t w[NW];
	predicate = 0;
	a_waiting = 0;
	for (int i = 0; i < NW; i++)
		CHECK_OK(pthread_create(&w[i], NULL, waiter, NULL));
	pthread_mutex_lock(&lock);
	while (a_waiting < NW)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	CHECK_OK(pthread_create(&b, NULL, signaller, (void *)(intptr_t)5000000));
	for (int i = 0; i < NW; i++) {
		CHECK_OK(pthread_join(w[i], &ret));
		CHECK_EQ((long)(intptr_t)ret, 5000000L * 5000001 / 2);
	}
	CHECK_OK(pthread_join(b, NULL));
	printf("round 2: %d waiters woke with %ld\n", NW, (long)(intptr_t)ret);
	return 0;
}
