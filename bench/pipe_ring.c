/* pipe_ring: T threads (default 64) in a ring of pipes pass a 1-byte token
 * around N times in all (hops).  Thread i does a blocking read(2) of one
 * byte from pipe i and writes it to pipe i+1 (the last thread to pipe 0).
 * main writes the token into pipe 0 and waits for it on a separate "done"
 * pipe, which the thread making hop N writes to instead of its successor.
 * Hop k (0-based) is made by thread k % T, so every thread knows in
 * advance how many hops it makes and exits after the last one.
 *
 * One hop = one blocking read that has to wait for the previous thread's
 * write, plus one write that wakes the next thread: natively a kernel
 * wakeup and a context switch per hop; under gmpt (issue 3) the read parks
 * the G until the fd is readable and the write readies the next G.
 * ns_per_op = wall time from the injection to the token's arrival on the
 * done pipe / N.
 *
 * usage: pipe_ring [hops] [threads]     (default 100000 hops, 64 threads) */
#include <pthread.h>
#include <unistd.h>
#include <fcntl.h>

#include "bench_common.h"

static long nthreads, nhops;
static int (*pipes)[2]; /* pipes[i]: read by thread i, written by thread i-1 */
static int done_pipe[2];

static void rw_fail(const char *what, ssize_t r)
{
	if (r < 0)
		fprintf(stderr, "pipe_ring: %s: %s\n", what, strerror(errno));
	else
		fprintf(stderr, "pipe_ring: %s: short transfer (%zd)\n", what, r);
	exit(1);
}

static void *hopper(void *arg)
{
	long me = (long)arg;
	long mine = nhops / nthreads + (me < nhops % nthreads ? 1 : 0);
	int in = pipes[me][0];
	int out = pipes[(me + 1) % nthreads][1];
	char tok;
	for (long k = 0; k < mine; k++) {
		ssize_t r = read(in, &tok, 1);
		if (r != 1)
			rw_fail("read", r);
		/* The hop numbered nhops - 1 is the last: it goes to main. */
		int last = me + k * nthreads == nhops - 1;
		r = write(last ? done_pipe[1] : out, &tok, 1);
		if (r != 1)
			rw_fail("write", r);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	bench_usage(argc, argv, 2, "[hops] [threads]");
	nhops = bench_arg(argc, argv, 1, 100000, "hops");
	nthreads = bench_arg(argc, argv, 2, 64, "threads");
	if (nthreads < 1) {
		fprintf(stderr, "pipe_ring: threads must be at least 1\n");
		return 2;
	}

	pipes = calloc((size_t)nthreads, sizeof *pipes);
	pthread_t *tids = calloc((size_t)nthreads, sizeof *tids);
	if (!pipes || !tids) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	for (long i = 0; i < nthreads; i++) {
		if (pipe2(pipes[i], O_CLOEXEC) != 0) {
			fprintf(stderr, "pipe_ring: pipe2: %s (raise ulimit -n?)\n",
				strerror(errno));
			return 1;
		}
	}
	if (pipe2(done_pipe, O_CLOEXEC) != 0) {
		fprintf(stderr, "pipe_ring: pipe2: %s\n", strerror(errno));
		return 1;
	}
	/* Every thread blocks in its first read until the token comes round,
	 * so no start gate is needed. */
	for (long i = 0; i < nthreads; i++)
		BENCH_CHECK(pthread_create(&tids[i], NULL, hopper, (void *)i));

	char tok = 'x';
	uint64_t t0 = bench_now_ns();
	if (nhops > 0) {
		ssize_t r = write(pipes[0][1], &tok, 1);
		if (r != 1)
			rw_fail("inject", r);
		tok = 0;
		r = read(done_pipe[0], &tok, 1);
		if (r != 1)
			rw_fail("read done", r);
	}
	uint64_t t1 = bench_now_ns();
	for (long i = 0; i < nthreads; i++)
		BENCH_CHECK(pthread_join(tids[i], NULL));
	if (nhops > 0 && tok != 'x') {
		fprintf(stderr, "pipe_ring: token came back as %d, expected 'x'\n", tok);
		return 1;
	}

	char extra[64];
	snprintf(extra, sizeof extra, "hops=%ld threads=%ld", nhops, nthreads);
	bench_result("pipe_ring", t1 - t0, nhops, extra);
	return 0;
}
