/* A thread that computes without ever blocking or yielding does not keep
 * its P forever. Run with GMPT_PROCS=1: a thread spins on a flag; main
 * sleeps 50 ms and then sets the flag. main can only wake up if the
 * spinner is preempted (sysmon flags Gs that run for 10 ms). The watchdog
 * fails the test after 10 s. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "mnutil.h"

static atomic_int stop, spinning;

static void *spinner(void *arg)
{
	(void)arg;
	long n = 0;
	atomic_store(&spinning, 1);
	while (!atomic_load_explicit(&stop, memory_order_relaxed))
		n++;
	return (void *)(intptr_t)(n > 0);
}

int main(void)
{
	mn_watchdog(10, "main waking up while a thread spins on the only P");
	pthread_t t;
	void *ret;
	for (int round = 0; round < 3; round++) {
		atomic_store(&stop, 0);
		atomic_store(&spinning, 0);
		CHECK_OK(pthread_create(&t, NULL, spinner, NULL));
		while (!atomic_load(&spinning))
			usleep(1000);
		int64_t t0 = tu_now_ns(CLOCK_MONOTONIC);
		CHECK_EQ(usleep(50000), 0);
		int64_t late = tu_now_ns(CLOCK_MONOTONIC) - t0 - 50000000;
		atomic_store(&stop, 1);
		CHECK_OK(pthread_join(t, &ret));
		CHECK_EQ((intptr_t)ret, 1);
		printf("round %d: main woke %.1f ms late while the spinner ran\n", round,
		       late / 1e6);
	}
	return 0;
}
