/* A thread that computes without any call does not starve the others.
 * Meant for GMPT_PROCS=1 (one P), where only preemption of the spinning
 * thread lets the others run; natively it holds trivially.
 *
 *   latency   a thread runs a pure arithmetic loop for about 1 s (the
 *             iteration count is calibrated first) while another sleeps
 *             1 ms at a time and records the gaps between its wakeups.
 *             The largest gap must stay under 300 ms (gmpt preempts after
 *             10 ms; without preemption the gap is the whole second; the
 *             margin is for a loaded machine), else exit status 4.
 *   spinwait  thread A spins on an atomic flag (no call, no yield) that
 *             thread B sets after sleeping 50 ms; three rounds.
 *
 * A watchdog ends the program with status 3 after -w seconds (default 10).
 * Timings go to stderr, facts to stdout.
 *
 * usage: preempt_latency [-w SECONDS] [latency] [spinwait]
 * (no case named: both) */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#include "netutil.h"

enum { STATUS_LATENCY = 4, STATUS_WATCHDOG = 3 };

static void watchdog_fired(int sig)
{
	(void)sig;
	static const char msg[] = "FAIL: watchdog: preempt_latency did not finish in time\n";
	if (write(2, msg, sizeof msg - 1) < 0)
		_exit(STATUS_WATCHDOG);
	_exit(STATUS_WATCHDOG);
}

static uint64_t spin(uint64_t n)
{
	uint64_t x = 1;
	for (uint64_t i = 0; i < n; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		__asm__ volatile("" : "+r"(x));
	}
	return x;
}

static atomic_int spin_started, spin_done, sleeper_ready;
static uint64_t spin_iterations;

static void *spinner(void *arg)
{
	(void)arg;
	atomic_store(&spin_started, 1);
	/* At least 1 s of wall time, however slow the machine is now:
	 * short spins between clock reads (the vDSO, no system call). */
	int64_t t0 = tu_now_ns(CLOCK_MONOTONIC);
	uint64_t x = 0;
	while (tu_now_ns(CLOCK_MONOTONIC) - t0 < 1000000000LL)
		x += spin(spin_iterations);
	atomic_store(&spin_done, 1);
	return (void *)(uintptr_t)(x & 1);
}

struct gaps {
	int64_t max_ns;
	long wakeups;
};

static void *sleeper(void *arg)
{
	struct gaps *g = arg;
	atomic_store(&sleeper_ready, 1);
	while (!atomic_load(&spin_done)) {
		int64_t t0 = tu_now_ns(CLOCK_MONOTONIC);
		nu_sleep_ms(1);
		int64_t gap = tu_now_ns(CLOCK_MONOTONIC) - t0;
		if (atomic_load(&spin_started)) {
			g->wakeups++;
			if (gap > g->max_ns)
				g->max_ns = gap;
		}
	}
	return NULL;
}

static void case_latency(void)
{
	/* Calibrate: iterations for about 5 ms (one spin between clock
	 * reads, well under the 10 ms preemption slice). */
	uint64_t n = 1 << 16;
	int64_t el;
	for (;;) {
		int64_t t0 = tu_now_ns(CLOCK_MONOTONIC);
		spin(n);
		el = tu_now_ns(CLOCK_MONOTONIC) - t0;
		if (el >= 50000000)
			break;
		n *= 2;
	}
	spin_iterations = (uint64_t)((double)n * 5e6 / (double)el) + 1;

	struct gaps g = {0};
	pthread_t s, t;
	CHECK_OK(pthread_create(&t, NULL, sleeper, &g));
	while (!atomic_load(&sleeper_ready))
		nu_sleep_ms(1);
	int64_t t0 = tu_now_ns(CLOCK_MONOTONIC);
	CHECK_OK(pthread_create(&s, NULL, spinner, NULL));
	CHECK_OK(pthread_join(s, NULL));
	int64_t spun = tu_now_ns(CLOCK_MONOTONIC) - t0;
	CHECK_OK(pthread_join(t, NULL));
	fprintf(stderr,
		"latency: largest gap %.2f ms over %ld wakeups while a thread spun %.0f ms\n",
		g.max_ns / 1e6, g.wakeups, spun / 1e6);
	if (g.max_ns > 300 * 1000000LL) {
		fflush(stdout);
		fprintf(stderr,
			"FAIL: a thread sleeping 1 ms at a time went %.1f ms without waking "
			"while another spun\n",
			g.max_ns / 1e6);
		exit(STATUS_LATENCY);
	}
	CHECK(g.wakeups >= 3);
	printf("latency: a thread sleeping 1 ms at a time woke at least every 300 ms while "
	       "another spun for 1 s\n");
}

static atomic_int flag;

static void *spin_on_flag(void *arg)
{
	(void)arg;
	while (!atomic_load(&flag)) {
	}
	return NULL;
}

static void *set_flag_later(void *arg)
{
	(void)arg;
	nu_sleep_ms(50);
	atomic_store(&flag, 1);
	return NULL;
}

static void case_spinwait(void)
{
	for (int round = 0; round < 3; round++) {
		pthread_t a, b;
		atomic_store(&flag, 0);
		int64_t t0 = tu_now_ns(CLOCK_MONOTONIC);
		CHECK_OK(pthread_create(&a, NULL, spin_on_flag, NULL));
		CHECK_OK(pthread_create(&b, NULL, set_flag_later, NULL));
		CHECK_OK(pthread_join(a, NULL));
		CHECK_OK(pthread_join(b, NULL));
		fprintf(stderr, "spinwait: round %d took %.1f ms\n", round,
			(tu_now_ns(CLOCK_MONOTONIC) - t0) / 1e6);
		printf("spinwait: round %d: the spinning thread saw the flag set after 50 ms\n",
		       round);
	}
}

int main(int argc, char **argv)
{
	unsigned wait_s = 10;
	int opt;
	while ((opt = getopt(argc, argv, "w:")) != -1) {
		if (opt != 'w')
			goto usage;
		wait_s = (unsigned)atoi(optarg);
	}
	int do_latency = optind == argc, do_spinwait = optind == argc;
	for (int i = optind; i < argc; i++) {
		if (strcmp(argv[i], "latency") == 0)
			do_latency = 1;
		else if (strcmp(argv[i], "spinwait") == 0)
			do_spinwait = 1;
		else
			goto usage;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = watchdog_fired;
	sigemptyset(&sa.sa_mask);
	SYS_OK(sigaction(SIGALRM, &sa, NULL));
	alarm(wait_s);
	if (do_latency)
		case_latency();
	if (do_spinwait)
		case_spinwait();
	return 0;

usage:
	fprintf(stderr, "usage: preempt_latency [-w SECONDS] [latency] [spinwait]\n");
	return 64;
}
