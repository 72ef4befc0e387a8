/* create_join: create a thread that returns at once and join it, N times in
 * sequence.  Measures the full life cycle of a thread: allocation of its
 * stack and control block, first dispatch, exit and reaping by the joiner.
 *
 * usage: create_join [N]        (default 20000) */
#include <pthread.h>

#include "bench_common.h"

static void *child(void *arg)
{
	return arg;
}

int main(int argc, char **argv)
{
	bench_usage(argc, argv, 1, "[iterations]");
	long n = bench_arg(argc, argv, 1, 20000, "iterations");

	long bad = 0;
	uint64_t t0 = bench_now_ns();
	for (long i = 0; i < n; i++) {
		pthread_t t;
		void *ret = NULL;
		BENCH_CHECK(pthread_create(&t, NULL, child, (void *)(i + 1)));
		BENCH_CHECK(pthread_join(t, &ret));
		if (ret != (void *)(i + 1))
			bad++;
	}
	uint64_t t1 = bench_now_ns();

	if (bad) {
		fprintf(stderr, "create_join: %ld joins returned the wrong value\n", bad);
		return 1;
	}
	bench_result("create_join", t1 - t0, n, NULL);
	return 0;
}
