/* Many threads alive at once: every thread checks in under a mutex and
 * waits on a condition variable until main, having seen all of them
 * arrive, broadcasts once; then all are joined and their results checked.
 * With -k MAX, the process must have fewer than MAX kernel threads while
 * all the threads are alive (the M:N proof).
 *
 * usage: many_threads [-n THREADS] [-s STACKSIZE] [-k MAX_KERNEL_THREADS] [-w SECONDS]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "mnutil.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t all_arrived = PTHREAD_COND_INITIALIZER;
static pthread_cond_t go_cond = PTHREAD_COND_INITIALIZER;
static long nthreads, arrived, departed;
static int go;
static long *results;

static void *worker(void *arg)
{
	intptr_t i = (intptr_t)arg;
	char local[256]; /* some stack use */
	memset(local, (int)(i & 0x7f), sizeof local);

	pthread_mutex_lock(&lock);
	if (++arrived == nthreads)
		pthread_cond_signal(&all_arrived);
	while (!go)
		pthread_cond_wait(&go_cond, &lock);
	departed++;
	pthread_mutex_unlock(&lock);

	for (size_t k = 0; k < sizeof local; k++)
		if (local[k] != (char)(i & 0x7f))
			return (void *)-1;
	results[i] = i * 3 + 1;
	return (void *)(i ^ 0x5a5a);
}

int main(int argc, char **argv)
{
	long stacksize = 0, max_kthreads = 0;
	unsigned wait_s = 240;
	int opt;
	nthreads = 10000;
	while ((opt = getopt(argc, argv, "n:s:k:w:")) != -1) {
		switch (opt) {
		case 'n':
			nthreads = atol(optarg);
			break;
		case 's':
			stacksize = atol(optarg);
			break;
		case 'k':
			max_kthreads = atol(optarg);
			break;
		case 'w':
			wait_s = (unsigned)atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: %s [-n N] [-s STACKSIZE] [-k MAXK] [-w SECONDS]\n",
				argv[0]);
			return 2;
		}
	}
	CHECK(nthreads > 0);
	mn_watchdog(wait_s, "creating, parking and joining the threads");

	pthread_t *t = calloc((size_t)nthreads, sizeof *t);
	results = calloc((size_t)nthreads, sizeof *results);
	CHECK(t && results);
	pthread_attr_t attr, *ap = NULL;
	if (stacksize) {
		CHECK_OK(pthread_attr_init(&attr));
		CHECK_OK(pthread_attr_setstacksize(&attr, (size_t)stacksize));
		ap = &attr;
	}

	int64_t t0 = tu_now_ns(CLOCK_MONOTONIC);
	for (long i = 0; i < nthreads; i++) {
		int rc = pthread_create(&t[i], ap, worker, (void *)(intptr_t)i);
		if (rc != 0) {
			pthread_mutex_lock(&lock);
			long a = arrived;
			pthread_mutex_unlock(&lock);
			fprintf(
			    stderr,
			    "FAIL: pthread_create #%ld of %ld: %s (%ld threads had arrived, %ld "
			    "kernel threads)\n",
			    i, nthreads, strerror(rc), a, mn_kernel_threads());
			return 1;
		}
	}
	int64_t t1 = tu_now_ns(CLOCK_MONOTONIC);

	pthread_mutex_lock(&lock);
	while (arrived < nthreads)
		pthread_cond_wait(&all_arrived, &lock);
	/* Everyone is parked on go_cond now: none can leave before go. */
	CHECK_EQ(arrived, nthreads);
	CHECK_EQ(departed, 0);
	long kthreads = mn_kernel_threads();
	pthread_mutex_unlock(&lock);
	int64_t t2 = tu_now_ns(CLOCK_MONOTONIC);

	if (stacksize)
		printf(
		    "%ld threads alive and parked at once (stack size %ld), %ld kernel threads\n",
		    nthreads, stacksize, kthreads);
	else
		printf("%ld threads alive and parked at once (default stack), %ld kernel threads\n",
		       nthreads, kthreads);
	if (max_kthreads) {
		CHECK(kthreads > 0);
		if (kthreads >= max_kthreads) {
			fprintf(
			    stderr,
			    "FAIL: %ld kernel threads for %ld live threads; expected fewer than "
			    "%ld (threads are not multiplexed)\n",
			    kthreads, nthreads, max_kthreads);
			return 1;
		}
	}

	pthread_mutex_lock(&lock);
	go = 1;
	pthread_cond_broadcast(&go_cond);
	pthread_mutex_unlock(&lock);

	for (long i = 0; i < nthreads; i++) {
		void *ret;
		CHECK_OK(pthread_join(t[i], &ret));
		if ((intptr_t)ret != (i ^ 0x5a5a)) {
			fprintf(stderr, "FAIL: thread %ld returned %ld, expected %ld\n", i,
				(long)(intptr_t)ret, (long)(i ^ 0x5a5a));
			return 1;
		}
		CHECK_EQ(results[i], i * 3 + 1);
	}
	int64_t t3 = tu_now_ns(CLOCK_MONOTONIC);
	CHECK_EQ(departed, nthreads);
	printf("all %ld joined with the right results; create %.0f ms, park %.0f ms, wake+join "
	       "%.0f ms\n",
	       nthreads, (t1 - t0) / 1e6, (t2 - t1) / 1e6, (t3 - t2) / 1e6);
	if (ap)
		pthread_attr_destroy(ap);
	free(t);
	free(results);
	return 0;
}
