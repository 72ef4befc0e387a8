/* Other threads keep running while one thread is inside a long system call
 * that no poller can wait for. Meant for GMPT_PROCS=1, where only the
 * runtime's system monitor taking the P back from the blocked thread lets
 * the others run:
 *
 *   read  one thread read()s a sparse 256 MiB file in 64 MiB chunks (each
 *         read copies 64 MiB of zeros in the kernel into a buffer whose
 *         pages were dropped before, faulting them back in: 10 ms or more
 *         per call) for about a second, setting a flag around each call,
 *         while another
 *         thread counts short loop iterations (each ends with
 *         sched_yield(), so that only the P of the blocked thread
 *         matters, not preemption of this one); some iterations must
 *         happen while the flag is set;
 *   wait  one thread fork()s a child that sleeps 300 ms and exits with 5,
 *         and waitpid()s it (status 5 checked); the counting thread must
 *         make progress while waitpid() blocks.
 *
 * Natively both hold trivially (and still do on one CPU: the kernel
 * preempts). Counts and timings go to stderr, facts to stdout.
 *
 * usage: blocking_progress [-s FILE_MIB] [-c CHUNK_MIB] [-t MS] [read] [wait]
 * (no case named: both) */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "../mn/mnutil.h"
#include "netutil.h"

static atomic_int stop, in_call;
static atomic_long iterations, during_call;

/* About a microsecond of arithmetic. */
static uint64_t work(uint64_t x)
{
	for (int i = 0; i < 300; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		__asm__ volatile("" : "+r"(x));
	}
	return x;
}

static void *counter(void *arg)
{
	(void)arg;
	uint64_t x = 1;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		x = work(x);
		/* Yield, so that the test depends on the P being taken back from
		 * the blocked thread, not on preemption of this one
		 * (preempt_latency tests that). */
		sched_yield();
		atomic_fetch_add_explicit(&iterations, 1, memory_order_relaxed);
		if (atomic_load_explicit(&in_call, memory_order_relaxed))
			atomic_fetch_add_explicit(&during_call, 1, memory_order_relaxed);
	}
	return (void *)(uintptr_t)(x & 1);
}

static pthread_t start_counter(void)
{
	pthread_t t;
	atomic_store(&stop, 0);
	atomic_store(&in_call, 0);
	atomic_store(&iterations, 0);
	atomic_store(&during_call, 0);
	CHECK_OK(pthread_create(&t, NULL, counter, NULL));
	return t;
}

static void stop_counter(pthread_t t)
{
	atomic_store(&stop, 1);
	CHECK_OK(pthread_join(t, NULL));
}

static long file_mib = 256, chunk_mib = 64, run_ms = 1000;

struct reader_result {
	long reads;
	int64_t ns_in_read;
};

static void *reader(void *arg)
{
	struct reader_result *r = arg;
	size_t chunk = (size_t)chunk_mib << 20;
	int fd = nu_tmpfile();
	SYS_OK(ftruncate(fd, (off_t)file_mib << 20));
	char *buf = mmap(NULL, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(buf != MAP_FAILED);
	/* 4 KiB pages, so that refaulting the buffer takes long everywhere. */
	SYS_OK(madvise(buf, chunk, MADV_NOHUGEPAGE));
	/* One pass first, so the page cache holds the file's zero pages. */
	while (SYS_OK(read(fd, buf, chunk)) > 0)
		;
	int64_t t0 = tu_now_ns(CLOCK_MONOTONIC);
	while (tu_now_ns(CLOCK_MONOTONIC) - t0 < run_ms * 1000000) {
		SYS_EQ(lseek(fd, 0, SEEK_SET), 0);
		for (long off = 0; off < file_mib << 20; off += (long)chunk) {
			/* Drop the buffer's pages: read() faults them back in
			 * while it copies, which makes each call last 10 ms or
			 * more, long enough for any system monitor to notice. */
			SYS_OK(madvise(buf, chunk, MADV_DONTNEED));
			int64_t s = tu_now_ns(CLOCK_MONOTONIC);
			atomic_store(&in_call, 1);
			ssize_t n = read(fd, buf, chunk);
			atomic_store(&in_call, 0);
			r->ns_in_read += tu_now_ns(CLOCK_MONOTONIC) - s;
			SYS_EQ(n, (ssize_t)chunk);
			CHECK(buf[0] == 0 && buf[chunk - 1] == 0);
			r->reads++;
		}
	}
	SYS_OK(munmap(buf, chunk));
	SYS_OK(close(fd));
	return NULL;
}

static void case_read(void)
{
	struct reader_result r = {0};
	pthread_t c = start_counter();
	pthread_t t;
	CHECK_OK(pthread_create(&t, NULL, reader, &r));
	CHECK_OK(pthread_join(t, NULL));
	stop_counter(c);
	long it = atomic_load(&iterations), during = atomic_load(&during_call);
	fprintf(stderr,
		"read: %ld reads of %ld MiB, %.2f ms each; %ld iterations, %ld of them "
		"during a read\n",
		r.reads, chunk_mib, r.ns_in_read / 1e6 / (double)r.reads, it, during);
	CHECK(r.reads > 0);
	if (during == 0) {
		fflush(stdout);
		fprintf(stderr,
			"FAIL: no other thread ran while a thread was in read() (%ld reads "
			"of %ld MiB, %.1f ms in all)\n",
			r.reads, chunk_mib, r.ns_in_read / 1e6);
		_exit(1);
	}
	printf("read: another thread ran while one read() %ld MiB chunks of a sparse file\n",
	       chunk_mib);
}

static void *waiter(void *arg)
{
	int64_t *ns = arg;
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		/* Only async-signal-safe, raw calls in the child of a threaded
		 * process. */
		struct timespec ts = {0, 300 * 1000000};
		syscall(SYS_nanosleep, &ts, NULL);
		_exit(5);
	}
	int status = 0;
	int64_t t0 = tu_now_ns(CLOCK_MONOTONIC);
	atomic_store(&in_call, 1);
	pid_t w = waitpid(pid, &status, 0);
	atomic_store(&in_call, 0);
	*ns = tu_now_ns(CLOCK_MONOTONIC) - t0;
	SYS_EQ(w, pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 5);
	return NULL;
}

static void case_wait(void)
{
	int64_t ns = 0;
	pthread_t c = start_counter();
	pthread_t t;
	CHECK_OK(pthread_create(&t, NULL, waiter, &ns));
	CHECK_OK(pthread_join(t, NULL));
	stop_counter(c);
	long it = atomic_load(&iterations), during = atomic_load(&during_call);
	fprintf(stderr, "wait: waitpid blocked %.1f ms; %ld iterations, %ld of them meanwhile\n",
		ns / 1e6, it, during);
	CHECK(ns >= 250 * 1000000LL);
	if (during == 0) {
		fflush(stdout);
		fprintf(stderr,
			"FAIL: no other thread ran while a thread waited %.1f ms in "
			"waitpid()\n",
			ns / 1e6);
		_exit(1);
	}
	printf("wait: the child exited with status 5; another thread ran during waitpid()\n");
}

int main(int argc, char **argv)
{
	int opt;
	while ((opt = getopt(argc, argv, "s:c:t:")) != -1) {
		switch (opt) {
		case 's':
			file_mib = atol(optarg);
			break;
		case 'c':
			chunk_mib = atol(optarg);
			break;
		case 't':
			run_ms = atol(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (chunk_mib < 1 || file_mib < chunk_mib || file_mib % chunk_mib != 0)
		goto usage;
	int do_read = optind == argc, do_wait = optind == argc;
	for (int i = optind; i < argc; i++) {
		if (strcmp(argv[i], "read") == 0)
			do_read = 1;
		else if (strcmp(argv[i], "wait") == 0)
			do_wait = 1;
		else
			goto usage;
	}
	if (do_read) {
		mn_watchdog(10, "blocking_progress: the read case");
		case_read();
	}
	if (do_wait) {
		mn_watchdog(5, "blocking_progress: the waitpid case");
		case_wait();
	}
	return 0;

usage:
	fprintf(stderr, "usage: blocking_progress [-s FILE_MIB] [-c CHUNK_MIB] [-t MS] [read] "
			"[wait]\n");
	return 2;
}
