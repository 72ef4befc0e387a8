/* A thread blocked in the kernel where gmpt cannot see it must neither
 * keep its processor nor have its call cut short.
 *
 * The blocker enters the kernel inside a library, where gmpt sees no call
 * it interposes and cannot preempt (as InnoDB's aio thread in liburing,
 * another runtime's futex calls, glibc's internal ones):
 *   pipe      getc() of a pipe made with a raw pipe2 (blocking): glibc's
 *             stdio reads with its internal read
 *   futex     flockfile() of a FILE main holds: glibc's internal lock
 *   uring     io_uring_wait_cqe with nothing in flight (liburing enters
 *             the kernel with an inline syscall)
 *   nanosleep a raw 2 s nanosleep and a raw 300 ms FUTEX_WAIT timeout,
 *             while other threads compute (preemption pressure): both must
 *             last their whole time and end as natively (0, ETIMEDOUT),
 *             never EINTR
 * While it is blocked, worker threads compute a fixed amount and main joins
 * them; only then is the blocker released. With one P, a blocker that kept
 * the P would stop every other thread: the watchdog fails the test.
 * Prints the same lines natively and preloaded. */
#define _GNU_SOURCE
#include <errno.h>
#ifdef MN_RAW_BLOCK_URING /* a build with liburing 2.2 (tests/mn/meson.build) */
#include <liburing.h>
#endif
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mnutil.h"
/* The runtime's own inline syscall: no libc wrapper gmpt could see. */
#include "../../arch/syscall.h"

static const char *mode;
static int pipefd[2];
static FILE *pipe_in, *locked;
static _Atomic uint32_t word;
#ifdef MN_RAW_BLOCK_URING
static struct io_uring ring;
#endif
static atomic_int started, stop_spinning;
static long blocker_result, timeout_result;
static double slept;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *blocker(void *arg)
{
	(void)arg;
	atomic_store(&started, 1);
	if (!strcmp(mode, "pipe")) {
		blocker_result = getc(pipe_in) == 'x';
	} else if (!strcmp(mode, "futex")) {
		flockfile(locked);
		blocker_result = atomic_load(&word) == 1;
		funlockfile(locked);
#ifdef MN_RAW_BLOCK_URING
	} else if (!strcmp(mode, "uring")) {
		struct io_uring_cqe *cqe;
		int r = io_uring_wait_cqe(&ring, &cqe);
		blocker_result = r < 0 ? r : cqe->res;
#endif
	} else {
		struct timespec ts = {2, 0};
		double t0 = now_s();
		blocker_result = raw_syscall6(SYS_nanosleep, (long)&ts, 0, 0, 0, 0, 0);
		slept = now_s() - t0;
		struct timespec to = {0, 300000000};
		timeout_result =
		    raw_syscall6(SYS_futex, (long)&word, FUTEX_WAIT_PRIVATE, 0, (long)&to, 0, 0);
	}
	return NULL;
}

/* A fixed amount of arithmetic, in the program's own code (preemptible). */
static void *worker(void *arg)
{
	volatile uint64_t x = (uintptr_t)arg;
	for (long i = 0; i < 20000000; i++)
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
	return NULL;
}

static void *spinner(void *arg)
{
	(void)arg;
	volatile uint64_t x = 1;
	while (!atomic_load(&stop_spinning))
		x = x * 3 + 1;
	return NULL;
}

int main(int argc, char **argv)
{
	mode = argc > 1 ? argv[1] : "pipe";
	mn_watchdog(120, mode);
	if (!strcmp(mode, "pipe")) {
		if (raw_syscall6(SYS_pipe2, (long)pipefd, 0, 0, 0, 0, 0) != 0)
			return perror("pipe2"), 1;
		pipe_in = fdopen(pipefd[0], "r");
	}
	if (!strcmp(mode, "futex")) {
		locked = tmpfile();
		flockfile(locked);
	}
#ifdef MN_RAW_BLOCK_URING
	if (!strcmp(mode, "uring") && io_uring_queue_init(8, &ring, 0) != 0)
		return fprintf(stderr, "io_uring_queue_init failed\n"), 1;
#else
	if (!strcmp(mode, "uring"))
		return fprintf(stderr, "built without liburing\n"), 2;
#endif

	pthread_t b, w[3];
	pthread_create(&b, NULL, blocker, NULL);
	while (!atomic_load(&started))
		sched_yield();
	bool sleeping = !strcmp(mode, "nanosleep");
	for (int i = 0; i < 3; i++)
		pthread_create(&w[i], NULL, sleeping ? spinner : worker,
			       (void *)(uintptr_t)(i + 1));
	if (!sleeping) {
		for (int i = 0; i < 3; i++)
			pthread_join(w[i], NULL);
		printf("%s: workers finished while the blocker waited\n", mode);
		if (!strcmp(mode, "pipe")) {
			raw_syscall6(SYS_write, pipefd[1], (long)"x", 1, 0, 0, 0);
		} else if (!strcmp(mode, "futex")) {
			atomic_store(&word, 1);
			funlockfile(locked);
		} else {
#ifdef MN_RAW_BLOCK_URING
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
			io_uring_prep_nop(sqe);
			io_uring_submit(&ring);
#endif
		}
		pthread_join(b, NULL);
		printf("%s: blocker returned %ld\n", mode, blocker_result);
	} else {
		pthread_join(b, NULL);
		atomic_store(&stop_spinning, 1);
		for (int i = 0; i < 3; i++)
			pthread_join(w[i], NULL);
		printf("nanosleep: returned %ld, slept %s 2 s\n", blocker_result,
		       slept >= 1.999 ? "at least" : "LESS THAN");
		printf("futex timeout: returned %s\n", timeout_result == -ETIMEDOUT ? "ETIMEDOUT"
						       : timeout_result == -EINTR   ? "EINTR"
										    : "other");
	}
	int bad = blocker_result != (sleeping || !strcmp(mode, "uring") ? 0 : 1) ||
		  (sleeping && (slept < 1.999 || timeout_result != -ETIMEDOUT));
	if (bad)
		fprintf(stderr, "FAIL: %s: the blocked call did not end as natively\n", mode);
	return bad;
}
