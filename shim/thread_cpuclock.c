/* shim/thread_cpuclock.c - per-thread CPU-time clocks:
 * pthread_getcpuclockid, and clock_gettime/clock_getres on
 * CLOCK_THREAD_CPUTIME_ID and on the ids pthread_getcpuclockid gives.
 *
 * A G's CPU time is counted at switches (sched/cpuclock.c), from the first
 * use of a thread CPU clock on; the kernel's clock of an M's kernel thread
 * would mix every G that M ran. pthread_getcpuclockid names a G by its
 * thread id (sched_g_tid) in a clock id no kernel clock has: Linux's CPU
 * clock ids are negative, ~pid << 3 above three low bits that say "per
 * thread" (4) and which clock (0-2; 3 without the thread bit is a
 * dynamic posix clock), so the low bits 7 are never a valid kernel clock
 * (the kernel answers EINVAL for them). Only 28 bits of the id fit; ids
 * above 2^28 are found by their low 28 bits, as a kernel clock names
 * whichever task has its pid. A clock whose thread has exited is invalid:
 * EINVAL, as the kernel says for an exited task's.
 *
 * clock_gettime is called in hot loops through glibc's vDSO-backed
 * function: the realtime and monotonic clocks (and the process CPU clock)
 * pass with one compare and a tail call to glibc's. Threads gmpt did not
 * create keep the kernel's clocks. */
#include "shim/thread.h"
#include "sched/real.h"

#include <errno.h>
#include <time.h>

#define GMPT_CLOCK_BITS	   7
#define GMPT_CLOCK_ID_MASK ((1u << 28) - 1)

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);
typedef int (*clock_getres_fn)(clockid_t, struct timespec *);
typedef int (*cpuclock_fn)(pthread_t, clockid_t *);

static clockid_t clock_of_tid(pid_t tid)
{
	return (clockid_t)((~((uint32_t)tid & GMPT_CLOCK_ID_MASK) << 3) | GMPT_CLOCK_BITS);
}

static bool is_gmpt_clock(clockid_t c)
{
	return c < 0 && (c & 7) == GMPT_CLOCK_BITS;
}

/* The live G clock c names, or NULL. */
static struct g *g_of_clock(clockid_t c)
{
	uint32_t low = ~((uint32_t)c >> 3) & GMPT_CLOCK_ID_MASK;
	for (uint64_t tid = low; tid <= INT_MAX; tid += GMPT_CLOCK_ID_MASK + 1) {
		struct g *g = sched_g_by_tid((pid_t)tid);
		if (g)
			return g;
	}
	return NULL;
}

static void ns_to_ts(int64_t ns, struct timespec *ts)
{
	ts->tv_sec = ns / 1000000000;
	ts->tv_nsec = ns % 1000000000;
}

EXPORT int pthread_getcpuclockid(pthread_t th, clockid_t *clock)
{
	STEP_ASIDE_FORWARD(pthread_getcpuclockid, th, clock);
	struct thread *t = thread_from_handle(th);
	if (!t || !t->g)
		return REAL(cpuclock_fn, pthread_getcpuclockid)(thread_glibc_handle(t, th), clock);
	sched_cpuclock_use();
	*clock = clock_of_tid(sched_g_tid(t->g));
	return 0;
}

__attribute__((noinline)) static int thread_clock_gettime(clockid_t c, struct timespec *ts)
{
	struct g *g;
	if (c == CLOCK_THREAD_CPUTIME_ID) {
		g = sched_current();
		if (!g)
			return REAL(clock_gettime_fn, clock_gettime)(c, ts);
		sched_cpuclock_use();
	} else if (is_gmpt_clock(c)) {
		g = g_of_clock(c);
		if (!g) {
			errno = EINVAL;
			return -1;
		}
	} else {
		return REAL(clock_gettime_fn, clock_gettime)(c, ts);
	}
	ns_to_ts(sched_g_cpu_ns(g), ts);
	return 0;
}

EXPORT int clock_gettime(clockid_t c, struct timespec *ts)
{
	STEP_ASIDE_FORWARD(clock_gettime, c, ts);
	/* CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID. */
	if (__builtin_expect((unsigned)c < CLOCK_THREAD_CPUTIME_ID, 1))
		return REAL(clock_gettime_fn, clock_gettime)(c, ts);
	return thread_clock_gettime(c, ts);
}

EXPORT int clock_getres(clockid_t c, struct timespec *res)
{
	STEP_ASIDE_FORWARD(clock_getres, c, res);
	if (!is_gmpt_clock(c))
		return REAL(clock_getres_fn, clock_getres)(c, res);
	if (!g_of_clock(c)) {
		errno = EINVAL;
		return -1;
	}
	/* The kernel's resolution for every CPU-time clock. */
	if (res)
		ns_to_ts(1, res);
	return 0;
}
