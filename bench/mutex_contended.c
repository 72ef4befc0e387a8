/* mutex_contended: T threads (default 64) each do M iterations of
 * lock / increment a shared counter / unlock on one mutex.  All threads are
 * released together through a mutex/condvar gate.  ns_per_op = wall time /
 * (T * M).  The final counter must equal T * M; the program exits 1 if not.
 *
 * usage: mutex_contended [M] [T]    (defaults 20000, 64) */
#include <pthread.h>

#include "bench_common.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static volatile long counter;
static long iterations;

static void *worker(void *arg)
{
	(void)arg;

	for (long i = 0; i < iterations; i++) {
		pthread_mutex_lock(&mu);
		counter = counter + 1;
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	bench_usage(argc, argv, 2, "[iterations-per-thread] [threads]");
	iterations = bench_arg(argc, argv, 1, 20000, "iterations-per-thread");
	long nthreads = bench_arg(argc, argv, 2, 64, "threads");
	if (nthreads < 1 || nthreads > 4096) {
		fprintf(stderr, "mutex_contended: threads must be in 1..4096\n");
		return 2;
	}

	long unused;
	uint64_t ns = bench_run_gated(nthreads, worker, &unused);

	long expect = iterations * nthreads;
	if (counter != expect) {
		fprintf(stderr, "mutex_contended: counter=%ld, expected %ld\n", (long)counter,
			expect);
		return 1;
	}
	char extra[64];
	snprintf(extra, sizeof extra, "threads=%ld count=%ld", nthreads, expect);
	bench_result("mutex_contended", ns, expect, extra);
	return 0;
}
