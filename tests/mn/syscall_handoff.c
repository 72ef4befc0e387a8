/* A thread blocked in a system call does not keep its P. Run with
 * GMPT_PROCS=1: thread A blocks in read() on an empty pipe; thread B,
 * created after A has blocked, computes a value and writes it into the
 * pipe; main joins both. If A's read kept the only P, B would never run:
 * the watchdog fails the test after 10 s. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>

#include "mnutil.h"

static int fds[2];

static void *reader(void *arg)
{
	(void)arg;
	long v = 0;
	ssize_t n = read(fds[0], &v, sizeof v);
	CHECK_EQ(n, (ssize_t)sizeof v);
	return (void *)(intptr_t)v;
}

static void *writer(void *arg)
{
	long n = (long)(intptr_t)arg;
	volatile long x = 0;
	for (long i = 1; i <= n; i++)
		x += i;
	long v = x;
	CHECK_EQ(write(fds[1], &v, sizeof v), (ssize_t)sizeof v);
	return NULL;
}

int main(void)
{
	mn_watchdog(10, "a thread blocked in read() let another run");
	CHECK(pipe(fds) == 0);
	for (int round = 0; round < 3; round++) {
		pthread_t a, b;
		void *ret;
		CHECK_OK(pthread_create(&a, NULL, reader, NULL));
		usleep(20000); /* A is blocked in read() by now */
		CHECK_OK(pthread_create(&b, NULL, writer, (void *)(intptr_t)100000));
		CHECK_OK(pthread_join(a, &ret));
		CHECK_OK(pthread_join(b, NULL));
		CHECK_EQ((long)(intptr_t)ret, 100000L * 100001 / 2);
		printf("round %d: reader got %ld\n", round, (long)(intptr_t)ret);
	}
	return 0;
}
