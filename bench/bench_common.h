/* Shared helpers for the gmpt microbenchmarks.
 *
 * Every benchmark is an ordinary, unmodified pthread program: it is built
 * without any knowledge of gmpt and is run both natively and with
 * LD_PRELOAD=libgmpt.so by scripts/bench.  Each prints exactly one line
 *
 *     RESULT name=<bench> ns_per_op=<float> ops=<int> [key=value ...]
 *
 * on stdout, which scripts/bench parses.  Anything else goes to stderr.
 * Only the interposed pthread surface is used (create/join, mutex, cond,
 * sched_yield): no barriers, no spinlocks, no atomics for synchronisation. */
#ifndef GMPT_BENCH_COMMON_H
#define GMPT_BENCH_COMMON_H

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Parse argv[idx] as a non-negative count, or return def when absent.
 * Exits with status 2 and one line on stderr when it is not a number. */
static inline long bench_arg(int argc, char **argv, int idx, long def, const char *what)
{
	if (idx >= argc)
		return def;
	char *end = NULL;
	errno = 0;
	long v = strtol(argv[idx], &end, 10);
	if (errno != 0 || end == argv[idx] || *end != '\0' || v < 0) {
		fprintf(stderr, "%s: %s must be a non-negative integer, got '%s'\n", argv[0], what,
			argv[idx]);
		exit(2);
	}
	return v;
}

/* Print usage and exit 0 for -h/--help; reject more than max_args arguments. */
static inline void bench_usage(int argc, char **argv, int max_args, const char *usage)
{
	if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		printf("usage: %s %s\n", argv[0], usage);
		exit(0);
	}
	if (argc - 1 > max_args) {
		fprintf(stderr, "%s: too many arguments (usage: %s %s)\n", argv[0], argv[0], usage);
		exit(2);
	}
}

/* Report a pthread call that failed (they return the error number) and exit. */
#define BENCH_CHECK(call)                                                                          \
	do {                                                                                       \
		int bench_rc_ = (call);                                                            \
		if (bench_rc_ != 0) {                                                              \
			fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call,       \
				strerror(bench_rc_));                                              \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

static inline void bench_result(const char *name, uint64_t elapsed_ns, long ops, const char *extra)
{
	double per = ops > 0 ? (double)elapsed_ns / (double)ops : 0.0;
	printf("RESULT name=%s ns_per_op=%.1f ops=%ld elapsed_ns=%" PRIu64 "%s%s\n", name, per, ops,
	       elapsed_ns, extra && *extra ? " " : "", extra ? extra : "");
	fflush(stdout);
}

#include <pthread.h>

/* The start gate of the many-thread benchmarks: workers wait behind it so
 * thread creation is not timed. */
static pthread_mutex_t bench_gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bench_gate_cv = PTHREAD_COND_INITIALIZER;
static int bench_gate_open;
static void *(*bench_gated_body)(void *);

static void *bench_gated_start(void *arg)
{
	pthread_mutex_lock(&bench_gate_mu);
	while (!bench_gate_open)
		pthread_cond_wait(&bench_gate_cv, &bench_gate_mu);
	pthread_mutex_unlock(&bench_gate_mu);
	return bench_gated_body(arg);
}

/* Starts nthreads threads running body, opens the gate, joins them all.
 * Returns the wall time from the gate opening to the last join, and the sum
 * of the threads' return values (as longs) in *sum. Exits on failure. */
static inline uint64_t bench_run_gated(long nthreads, void *(*body)(void *), long *sum)
{
	pthread_t *tids = calloc((size_t)nthreads, sizeof *tids);
	if (!tids) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	bench_gated_body = body;
	for (long i = 0; i < nthreads; i++) {
		int err = pthread_create(&tids[i], NULL, bench_gated_start, (void *)i);
		if (err) {
			fprintf(stderr, "pthread_create: %s\n", strerror(err));
			exit(1);
		}
	}
	uint64_t t0 = bench_now_ns();
	pthread_mutex_lock(&bench_gate_mu);
	bench_gate_open = 1;
	pthread_cond_broadcast(&bench_gate_cv);
	pthread_mutex_unlock(&bench_gate_mu);
	*sum = 0;
	for (long i = 0; i < nthreads; i++) {
		void *ret;
		pthread_join(tids[i], &ret);
		*sum += (long)ret;
	}
	uint64_t t1 = bench_now_ns();
	free(tids);
	return t1 - t0;
}

#endif
