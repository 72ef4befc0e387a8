/* Waking N waiters costs O(N): one pthread_cond_broadcast to N threads
 * parked on one condition variable, and the N joins, take no longer per
 * thread for 100,000 waiters than for 1,000, within a wide factor.
 *
 * The same round runs small first (1,000 waiters, best of three: the
 * bound is derived from this machine, now, not from a constant), then
 * large; each round also keeps IDLE threads (a quarter as many) parked on
 * another condition variable, untouched, the way a real program's other
 * threads wait while it works. A wait queue that walks other waiters on a
 * wakeup costs per thread in proportion to the waiters around (a bucket
 * scanned on every wakeup, a thread exit's wakeup of its join word that
 * scans a bucket holding all the idle ones under
 * GMPT_DEBUG=waitqbuckets=1): per thread 100 times as much in the large
 * round (measured: 50x for the single list per bucket gmpt had), which
 * the bound catches: FACTOR (15) times the small round's time per thread,
 * plus a second in all for noise. A linear one measured 1.2-1.5x on a
 * quiet machine, 3-4x with the load average at 70. The large round stops
 * at the bound (a watchdog thread), so a failure is quick too.
 *
 * usage: wake_linear [-n LARGE] [-s SMALL] [-f FACTOR] [-S STACKSIZE] */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "mnutil.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t parked_cv = PTHREAD_COND_INITIALIZER; /* main waits here */
static pthread_cond_t gate = PTHREAD_COND_INITIALIZER;	    /* the N waiters */
static pthread_cond_t idle_cv = PTHREAD_COND_INITIALIZER;   /* the idle ones */
static long parked;					    /* under mu */
static int released;					    /* under mu */
static int idle_released;				    /* under mu */
static long woke; /* under mu: waiters that saw released */

static atomic_int round_done;
static int64_t watchdog_deadline; /* CLOCK_MONOTONIC ns, 0: none */

static void *waiter(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	parked++;
	pthread_cond_signal(&parked_cv);
	while (!released)
		pthread_cond_wait(&gate, &mu);
	woke++;
	pthread_mutex_unlock(&mu);
	return NULL;
}

static void *idler(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	parked++;
	pthread_cond_signal(&parked_cv);
	while (!idle_released)
		pthread_cond_wait(&idle_cv, &mu);
	pthread_mutex_unlock(&mu);
	return NULL;
}

/* Fails the test if a round is still running at its deadline (set before
 * the broadcast), instead of waiting for a quadratic wakeup to end. */
static void *watchdog(void *arg)
{
	(void)arg;
	while (!atomic_load(&round_done)) {
		if (watchdog_deadline && tu_now_ns(CLOCK_MONOTONIC) > watchdog_deadline) {
			fprintf(stderr,
				"FAIL: the wakeup of the large round is still running at its "
				"bound\n");
			fflush(stderr);
			_exit(1);
		}
		usleep(20000);
	}
	return NULL;
}

static pthread_attr_t attr;

static void start_all(pthread_t *t, long n, void *(*fn)(void *))
{
	for (long i = 0; i < n; i++) {
		int err = pthread_create(&t[i], &attr, fn, NULL);
		if (err) {
			fprintf(stderr, "FAIL: pthread_create after %ld threads: %s\n", i,
				strerror(err));
			exit(1);
		}
	}
}

/* One round: n waiters and n / 4 idle threads parked; returns the ns from
 * the broadcast to the last waiter joined. limit_ns: the bound for the
 * watchdog (0: none). */
static int64_t round_ns(long n, int64_t limit_ns)
{
	long nidle = n / 4;
	pthread_t *w = calloc((size_t)n, sizeof *w);
	pthread_t *idle = calloc((size_t)nidle + 1, sizeof *idle);
	CHECK(w && idle);
	pthread_mutex_lock(&mu);
	parked = 0;
	released = 0;
	idle_released = 0;
	woke = 0;
	pthread_mutex_unlock(&mu);

	start_all(idle, nidle, idler);
	start_all(w, n, waiter);
	pthread_mutex_lock(&mu);
	while (parked < n + nidle)
		pthread_cond_wait(&parked_cv, &mu);
	pthread_mutex_unlock(&mu);

	int64_t t0 = tu_now_ns(CLOCK_MONOTONIC);
	watchdog_deadline = limit_ns ? t0 + limit_ns : 0;
	pthread_mutex_lock(&mu);
	released = 1;
	pthread_cond_broadcast(&gate);
	pthread_mutex_unlock(&mu);
	for (long i = 0; i < n; i++)
		CHECK_OK(pthread_join(w[i], NULL));
	int64_t t1 = tu_now_ns(CLOCK_MONOTONIC);
	watchdog_deadline = 0;
	CHECK_EQ(woke, n);

	pthread_mutex_lock(&mu);
	idle_released = 1;
	pthread_cond_broadcast(&idle_cv);
	pthread_mutex_unlock(&mu);
	for (long i = 0; i < nidle; i++)
		CHECK_OK(pthread_join(idle[i], NULL));
	free(w);
	free(idle);
	return t1 - t0;
}

int main(int argc, char **argv)
{
	long large = 100000, small = 1000, stacksize = 65536;
	double factor = 15;
	int opt;
	while ((opt = getopt(argc, argv, "n:s:f:S:")) != -1) {
		switch (opt) {
		case 'n':
			large = atol(optarg);
			break;
		case 's':
			small = atol(optarg);
			break;
		case 'f':
			factor = atof(optarg);
			break;
		case 'S':
			stacksize = atol(optarg);
			break;
		default:
			fprintf(stderr, "usage: %s [-n LARGE] [-s SMALL] [-f FACTOR] [-S STACK]\n",
				argv[0]);
			return 2;
		}
	}
	CHECK(small > 0 && large >= small && factor >= 1);
	mn_watchdog(280, "wake_linear");
	CHECK_OK(pthread_attr_init(&attr));
	CHECK_OK(pthread_attr_setstacksize(&attr, (size_t)stacksize));
	pthread_t wd;
	CHECK_OK(pthread_create(&wd, NULL, watchdog, NULL));

	/* Best of three small rounds (the first also warms the thread and
	 * stack caches for the large round's first threads). */
	int64_t best = INT64_MAX;
	for (int i = 0; i < 3; i++) {
		int64_t t = round_ns(small, 0);
		if (t < best)
			best = t;
	}
	double per_small = (double)best / (double)small;
	int64_t limit = (int64_t)(factor * per_small * (double)large) + 1000000000;
	int64_t t = round_ns(large, limit);
	double per_large = (double)t / (double)large;
	atomic_store(&round_done, 1);
	CHECK_OK(pthread_join(wd, NULL));
	fprintf(stderr,
		"wake_linear: %ld waiters: %.0f ns per thread; %ld waiters: %.0f ns per thread "
		"(%.1fx; bound %.1f s, took %.2f s)\n",
		small, per_small, large, per_large, per_large / per_small, (double)limit / 1e9,
		(double)t / 1e9);
	if (t > limit) {
		fprintf(stderr,
			"FAIL: waking %ld waiters took longer than %.0fx per thread as "
			"waking %ld\n",
			large, factor, small);
		return 1;
	}
	printf("woke and joined %ld and %ld waiters in linear time\n", small, large);
	return 0;
}
