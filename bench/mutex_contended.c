/* mutex_contended: T threads (default 64) each do M iterations of
 * lock / increment a shared counter / unlock on one mutex.  All threads are
 * released together through a mutex/condvar gate.  ns_per_op = wall time /
 * (T * M).  The final counter must equal T * M; the program exits 1 if not.
 *
 * usage: mutex_contended [M] [T]    (defaults 20000, 64) */
#include <pthread.h>

#include "bench_common.h"

static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_open;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static volatile long counter;
static long iterations;

static void *worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&gate_mu);
    while (!gate_open)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);

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
    for (long i = 0; i < nthreads; i++)
        BENCH_CHECK(pthread_join(tids[i], NULL));
    uint64_t t1 = bench_now_ns();
    free(tids);

    long expect = iterations * nthreads;
    if (counter != expect) {
        fprintf(stderr, "mutex_contended: counter=%ld, expected %ld\n",
                (long)counter, expect);
        return 1;
    }
    char extra[64];
    snprintf(extra, sizeof extra, "threads=%ld count=%ld", nthreads, expect);
    bench_result("mutex_contended", t1 - t0, expect, extra);
    return 0;
}
