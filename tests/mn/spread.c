/* Work spreads to all Ps. Run with GMPT_PROCS=2: two threads hand a token
 * back and forth 1000 times by busy-waiting on shared flags, with no
 * blocking call and no yield. That completes only if both run at the same
 * time on two Ps (on one P each round would need a 10 ms preemption, far
 * beyond the watchdog). In the middle of the handshake, while both are
 * spinning, each thread records its kernel thread id (gettid): they must
 * differ.
 *
 * usage: spread [-r ROUNDS] [-w WATCHDOG_SECONDS] */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>

#include "mnutil.h"

static atomic_long flag1, flag2;
static long rounds = 1000; /* at least 2 */
static long tid_a, tid_b;

static long gettid_raw(void)
{
	return syscall(SYS_gettid);
}

static void *thread_a(void *arg)
{
	(void)arg;
	for (long r = 1; r <= rounds; r++) {
		atomic_store(&flag1, r);
		while (atomic_load(&flag2) != r)
			;
		if (r == rounds / 2)
			tid_a = gettid_raw(); /* B is spinning for round r+1 */
	}
	return NULL;
}

static void *thread_b(void *arg)
{
	(void)arg;
	for (long r = 1; r <= rounds; r++) {
		while (atomic_load(&flag1) != r)
			;
		if (r == rounds / 2)
			tid_b = gettid_raw(); /* A is spinning for round r */
		atomic_store(&flag2, r);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	unsigned wait_s = 10;
	int opt;
	while ((opt = getopt(argc, argv, "r:w:")) != -1) {
		if (opt == 'r')
			rounds = atol(optarg);
		else if (opt == 'w')
			wait_s = (unsigned)atoi(optarg);
		else {
			fprintf(stderr, "usage: %s [-r ROUNDS] [-w SECONDS]\n", argv[0]);
			return 2;
		}
	}
	CHECK(rounds >= 2);
	mn_watchdog(wait_s, "the busy-wait handshake (needs two Ps running at once)");
	pthread_t a, b;
	int64_t t0 = tu_now_ns(CLOCK_MONOTONIC);
	CHECK_OK(pthread_create(&a, NULL, thread_a, NULL));
	CHECK_OK(pthread_create(&b, NULL, thread_b, NULL));
	CHECK_OK(pthread_join(a, NULL));
	CHECK_OK(pthread_join(b, NULL));
	int64_t t1 = tu_now_ns(CLOCK_MONOTONIC);
	CHECK_EQ(atomic_load(&flag1), rounds);
	CHECK_EQ(atomic_load(&flag2), rounds);
	printf("%ld busy-wait handshakes in %.1f ms\n", rounds, (t1 - t0) / 1e6);
	CHECK(tid_a > 0 && tid_b > 0);
	if (tid_a == tid_b) {
		fprintf(stderr, "FAIL: both spinning threads ran on kernel thread %ld\n", tid_a);
		return 1;
	}
	printf("the two threads ran on different kernel threads\n");
	return 0;
}
