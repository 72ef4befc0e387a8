/* sleepers: T threads (default 1000) each loop nanosleep(S) (default 1 ms)
 * for D milliseconds (default 5000).  Every wake-up is one op; the lateness
 * of a wake-up is the time nanosleep took minus the time asked for.
 *
 * 1000 threads asking for 1000 wake-ups per second each is 1M timer
 * expiries per second, more than two CPUs can deliver natively (each one
 * is a timer interrupt, a wakeup and a context switch), so the threads
 * fall behind and are late; under gmpt a sleep is a timer on the P's heap
 * and a wake-up a user-level switch.  ns_per_op = wall time / wake-ups.
 *
 * With H hogs, H more threads compute without pause for as long: a sleep
 * that ends must then take a CPU from one of them, which natively the
 * kernel does at once (it preempts for the wakeup) and a user-level
 * scheduler only when it preempts the hog.
 *
 * The RESULT line adds wakes_per_s and the lateness percentiles in us:
 *   RESULT name=sleepers ... wakes_per_s=... p50_us=... p99_us=... max_us=...
 *
 * usage: sleepers [duration-ms] [threads] [sleep-us] [hogs] */
#include <pthread.h>
#include <time.h>

#include "bench_common.h"
#include "bench_hist.h"

static long nthreads, duration_ms, sleep_us, nhogs;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int gate_open;
static uint64_t t_end; /* written under mu before the gate opens */
static struct bench_hist *total;

static void *sleeper(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	while (!gate_open)
		pthread_cond_wait(&cv, &mu);
	uint64_t end = t_end;
	pthread_mutex_unlock(&mu);

	struct bench_hist *h = hist_new();
	const uint64_t want = (uint64_t)sleep_us * 1000u;
	const struct timespec req = {.tv_sec = (time_t)(want / 1000000000u),
				     .tv_nsec = (long)(want % 1000000000u)};
	uint64_t now = bench_now_ns();
	while (now < end) {
		uint64_t before = now;
		if (nanosleep(&req, NULL) != 0) {
			fprintf(stderr, "sleepers: nanosleep: %s\n", strerror(errno));
			exit(1);
		}
		now = bench_now_ns();
		uint64_t took = now - before;
		hist_add(h, took > want ? took - want : 0);
	}

	pthread_mutex_lock(&mu);
	hist_merge(total, h);
	pthread_mutex_unlock(&mu);
	free(h);
	return NULL;
}

/* Computes until the end; its count keeps the loop from being optimised
 * away. */
static void *hog(void *arg)
{
	pthread_mutex_lock(&mu);
	while (!gate_open)
		pthread_cond_wait(&cv, &mu);
	uint64_t end = t_end;
	pthread_mutex_unlock(&mu);
	volatile uint64_t spins = 0;
	while (bench_now_ns() < end)
		for (int i = 0; i < 1000; i++)
			spins = spins + 1;
	*(uint64_t *)arg = spins;
	return NULL;
}

int main(int argc, char **argv)
{
	bench_usage(argc, argv, 4, "[duration-ms] [threads] [sleep-us] [hogs]");
	duration_ms = bench_arg(argc, argv, 1, 5000, "duration-ms");
	nthreads = bench_arg(argc, argv, 2, 1000, "threads");
	sleep_us = bench_arg(argc, argv, 3, 1000, "sleep-us");
	nhogs = bench_arg(argc, argv, 4, 0, "hogs");

	total = hist_new();
	pthread_t *tids = calloc((size_t)(nthreads + nhogs), sizeof *tids);
	uint64_t *hog_spins = calloc((size_t)nhogs + 1, sizeof *hog_spins);
	if ((!tids && nthreads + nhogs > 0) || !hog_spins) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	for (long i = 0; i < nthreads; i++)
		BENCH_CHECK(pthread_create(&tids[i], NULL, sleeper, NULL));
	for (long i = 0; i < nhogs; i++)
		BENCH_CHECK(pthread_create(&tids[nthreads + i], NULL, hog, &hog_spins[i]));

	pthread_mutex_lock(&mu);
	uint64_t t0 = bench_now_ns();
	t_end = t0 + (uint64_t)duration_ms * 1000000u;
	gate_open = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	for (long i = 0; i < nthreads + nhogs; i++)
		BENCH_CHECK(pthread_join(tids[i], NULL));
	uint64_t t1 = bench_now_ns();

	long wakes = (long)total->n;
	double secs = (double)(t1 - t0) / 1e9;
	char extra[256];
	snprintf(extra, sizeof extra,
		 "wakes_per_s=%.0f p50_us=%.1f p99_us=%.1f max_us=%.1f threads=%ld sleep_us=%ld "
		 "duration_ms=%ld hogs=%ld",
		 secs > 0 ? (double)wakes / secs : 0.0, hist_quantile(total, 0.50) / 1e3,
		 hist_quantile(total, 0.99) / 1e3, (double)total->max / 1e3, nthreads, sleep_us,
		 duration_ms, nhogs);
	bench_result("sleepers", t1 - t0, wakes, extra);
	free(tids);
	free(hog_spins);
	free(total);
	return 0;
}
