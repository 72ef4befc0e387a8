/* parked: start N threads (default 10000) that each block on one condition
 * variable, and measure what a parked thread costs: the time to create it
 * and get it to its wait, and the memory it holds while it waits.  Then wake
 * them all (one broadcast) and join them, unless WAKE is 0: then the
 * process exits with them still waiting (wake_ns_per_thread=-1).
 *
 * Each thread takes the mutex, counts itself and waits on the condition
 * variable until main releases them; the last to arrive tells main.  The
 * threads use the default attributes (glibc's default stack size, which is
 * RLIMIT_STACK: 8 MiB of address space here, of which only the touched
 * pages count).
 *
 * Memory is read from /proc: the process's VmRSS and VmPTE (page tables)
 * before the first create and once all N wait, and the machine's
 * KernelStack from /proc/meminfo (system wide, so other activity adds
 * noise; it is what a kernel task costs that RSS does not show).  The
 * thread id array is allocated and touched before the first reading.
 *
 *   RESULT name=parked ns_per_op=<create+park ns per thread> ops=N
 *          threads=N rss_kib_per_thread=... pte_kib_per_thread=...
 *          kstack_kib_per_thread=... rss_mib=... wake_ns_per_thread=...
 *
 * A failing pthread_create (the kernel's thread, pid or map-count limits)
 * prints how many threads were started and exits 1.
 *
 * usage: parked [threads] [wake]      (defaults 10000, 1) */
#include <pthread.h>

#include "bench_common.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t all_parked = PTHREAD_COND_INITIALIZER;
static pthread_cond_t gate = PTHREAD_COND_INITIALIZER;
static long nthreads;
static long parked;  /* under mu */
static int released; /* under mu */

static void *waiter(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	if (++parked == nthreads)
		pthread_cond_signal(&all_parked);
	while (!released)
		pthread_cond_wait(&gate, &mu);
	pthread_mutex_unlock(&mu);
	return NULL;
}

/* The value in kB of the line "KEY: value kB" of a /proc file, -1 if none. */
static long proc_kib(const char *path, const char *key)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char line[256];
	size_t klen = strlen(key);
	long v = -1;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

struct mem {
	long rss, pte, kstack;
};

static struct mem mem_now(void)
{
	struct mem m = {proc_kib("/proc/self/status", "VmRSS"),
			proc_kib("/proc/self/status", "VmPTE"),
			proc_kib("/proc/meminfo", "KernelStack")};
	return m;
}

static double per_thread(long before, long after, long n)
{
	if (before < 0 || after < 0 || n <= 0)
		return -1.0;
	return (double)(after - before) / (double)n;
}

int main(int argc, char **argv)
{
	bench_usage(argc, argv, 2, "[threads] [wake]");
	nthreads = bench_arg(argc, argv, 1, 10000, "threads");
	long wake = bench_arg(argc, argv, 2, 1, "wake");

	pthread_t *tids = calloc(nthreads > 0 ? (size_t)nthreads : 1, sizeof *tids);
	if (!tids) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	memset(tids, 0, (nthreads > 0 ? (size_t)nthreads : 1) * sizeof *tids);

	struct mem m0 = mem_now();
	uint64_t t0 = bench_now_ns();
	for (long i = 0; i < nthreads; i++) {
		int err = pthread_create(&tids[i], NULL, waiter, NULL);
		if (err) {
			fprintf(stderr, "parked: pthread_create failed after %ld threads: %s\n", i,
				strerror(err));
			exit(1);
		}
	}
	pthread_mutex_lock(&mu);
	while (parked < nthreads)
		pthread_cond_wait(&all_parked, &mu);
	pthread_mutex_unlock(&mu);
	uint64_t t1 = bench_now_ns();
	struct mem m1 = mem_now();

	uint64_t t2 = t1;
	if (wake) {
		pthread_mutex_lock(&mu);
		released = 1;
		pthread_cond_broadcast(&gate);
		pthread_mutex_unlock(&mu);
		for (long i = 0; i < nthreads; i++)
			BENCH_CHECK(pthread_join(tids[i], NULL));
		t2 = bench_now_ns();
	}

	char extra[320];
	snprintf(extra, sizeof extra,
		 "threads=%ld rss_kib_per_thread=%.2f pte_kib_per_thread=%.3f "
		 "kstack_kib_per_thread=%.2f rss_mib=%.1f wake_ns_per_thread=%.1f",
		 nthreads, per_thread(m0.rss, m1.rss, nthreads),
		 per_thread(m0.pte, m1.pte, nthreads), per_thread(m0.kstack, m1.kstack, nthreads),
		 m1.rss / 1024.0,
		 !wake		? -1.0
		 : nthreads > 0 ? (double)(t2 - t1) / (double)nthreads
				: 0.0);
	bench_result("parked", t1 - t0, nthreads, extra);
	if (!wake)
		exit(0); /* with the threads still waiting */
	free(tids);
	return 0;
}
