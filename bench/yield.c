/* yield: T threads (default 2) each call sched_yield() N times.  The two
 * threads start together behind a mutex/condvar gate; the clock runs from
 * the gate opening to the last join.  ns_per_op = wall time / (T * N), i.e.
 * the cost of one yield as seen by the whole process.
 *
 * usage: yield [N] [T]          (defaults 200000, 2) */
#include <pthread.h>
#include <sched.h>

#include "bench_common.h"

static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_open;
static long iterations;

static void *worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&gate_mu);
    while (!gate_open)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);

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

    pthread_t *tids = calloc((size_t)nthreads, sizeof *tids);
    if (!tids)
        return 1;
    for (long i = 0; i < nthreads; i++)
        BENCH_CHECK(pthread_create(&tids[i], NULL, worker, NULL));

    uint64_t t0 = bench_now_ns();
    pthread_mutex_lock(&gate_mu);
    gate_open = 1;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);

    long fails = 0;
    for (long i = 0; i < nthreads; i++) {
        void *ret;
        BENCH_CHECK(pthread_join(tids[i], &ret));
        fails += (long)ret;
    }
    uint64_t t1 = bench_now_ns();
    free(tids);

    if (fails) {
        fprintf(stderr, "yield: sched_yield failed %ld times\n", fails);
        return 1;
    }
    char extra[64];
    snprintf(extra, sizeof extra, "threads=%ld", nthreads);
    bench_result("yield", t1 - t0, iterations * nthreads, extra);
    return 0;
}
