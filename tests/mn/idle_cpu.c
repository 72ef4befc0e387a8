/* An idle preloaded process uses (almost) no CPU: eight threads wait on a
 * condition variable and one sleeps in nanosleep(2 s); main, once all are
 * parked, measures its user+system CPU time (getrusage RUSAGE_SELF) across
 * a sleep(1) of its own and asserts it grew by less than 50 ms. Spinning
 * idle Ms or a busy sysmon would show up here. Then everything is woken and
 * joined.
 *
 * usage: idle_cpu [-l LIMIT_MS] */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <sys/resource.h>

#include "mnutil.h"

#define NWAITERS 8

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int parked, go;

static void *waiter(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	parked++;
	pthread_cond_broadcast(&cond);
	while (!go)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	return (void *)1;
}

static void *sleeper(void *arg)
{
	(void)arg;
	struct timespec ts = {2, 0};
	int64_t t0 = tu_now_ns(CLOCK_MONOTONIC);
	CHECK_EQ(nanosleep(&ts, NULL), 0);
	CHECK(tu_now_ns(CLOCK_MONOTONIC) - t0 >= 2000000000);
	return (void *)2;
}

static double cpu_ms(void)
{
	struct rusage ru;
	CHECK(getrusage(RUSAGE_SELF, &ru) == 0);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

int main(int argc, char **argv)
{
	double limit_ms = 50;
	if (argc == 3 && strcmp(argv[1], "-l") == 0)
		limit_ms = atof(argv[2]);
	else if (argc != 1) {
		fprintf(stderr, "usage: %s [-l LIMIT_MS]\n", argv[0]);
		return 2;
	}
	mn_watchdog(30, "the idle CPU test");

	pthread_t w[NWAITERS], s;
	for (int i = 0; i < NWAITERS; i++)
		CHECK_OK(pthread_create(&w[i], NULL, waiter, NULL));
	CHECK_OK(pthread_create(&s, NULL, sleeper, NULL));
	pthread_mutex_lock(&lock);
	while (parked < NWAITERS)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);

	double before = cpu_ms();
	CHECK_EQ(sleep(1), 0);
	double used = cpu_ms() - before;
	printf("CPU used while idle for 1 s: %.2f ms (limit %g ms)\n", used, limit_ms);
	if (used >= limit_ms) {
		fprintf(stderr, "FAIL: an idle process used %.2f ms of CPU in 1 s (limit %g ms)\n",
			used, limit_ms);
		return 1;
	}

	pthread_mutex_lock(&lock);
	go = 1;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	void *ret;
	for (int i = 0; i < NWAITERS; i++) {
		CHECK_OK(pthread_join(w[i], &ret));
		CHECK_EQ((intptr_t)ret, 1);
	}
	CHECK_OK(pthread_join(s, &ret));
	CHECK_EQ((intptr_t)ret, 2);
	printf("all threads woken and joined\n");
	return 0;
}
