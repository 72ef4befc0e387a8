/* yield: T threads (default 2) each call sched_yield() N times.  The two
 * threads start together behind a mutex/condvar gate; the clock runs from
 * the gate opening to the last join.  ns_per_op = wall time / (T * N), i.e.
 * the cost of one yield as seen by the whole process.
 *
 * usage: yield [N] [T]          (defaults 200000, 2) */
#include <pthread.h>
#include <sched.h>

#include "bench_common.h"

static long iterations;

static void *worker(void *arg)
{
	(void)arg;

	long fails = 0;
	for (long i = 0; i < iterations; i++)
		if (sched_yield() != 0)
			fails++;
	return (void *)fails;
}

int main(int argc, char **argv)
{
	bench_usage(argc, argv, 2, "[yields-per-thread] [threads]");
	iterations = bench_arg(argc, argv, 1, 200000, "yields-per-thread");
	long nthreads = bench_arg(argc, argv, 2, 2, "threads");
	if (nthreads < 1 || nthreads > 4096) {
		fprintf(stderr, "yield: threads must be in 1..4096\n");
		return 2;
	}

	long fails;
	uint64_t ns = bench_run_gated(nthreads, worker, &fails);

	if (fails) {
		fprintf(stderr, "yield: sched_yield failed %ld times\n", fails);
		return 1;
	}
	char extra[64];
	snprintf(extra, sizeof extra, "threads=%ld", nthreads);
	bench_result("yield", ns, iterations * nthreads, extra);
	return 0;
}
