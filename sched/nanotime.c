/* sched/nanotime.c - the runtime's clock and per-M random numbers. */
#include "sched/runtime.h"
#include "sched/real.h"

#include <errno.h>
#include <time.h>

/* glibc's clock_gettime, called directly: the shim interposes one
 * (thread CPU clocks) that gmpt's own calls need not pass through. */
typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);

/* CLOCK_MONOTONIC through the vDSO: no system call with kvm-clock/tsc. */
int64_t nanotime(void)
{
	struct timespec ts;
	REAL(clock_gettime_fn, clock_gettime)(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CLOCK_MONOTONIC_COARSE: the last tick's time, read from the vDSO page
 * without the TSC (a few loads); good to a few ms, enough for how long a
 * thread has waited. */
int64_t nanotime_coarse(void)
{
	struct timespec ts;
	REAL(clock_gettime_fn, clock_gettime)(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* xorshift64*: fast, per-M state, good enough for victim order. */
uint32_t fastrand(struct m *m)
{
	uint64_t x = m->rand;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	m->rand = x;
	return (uint32_t)((x * 0x2545F4914F6CDD1DULL) >> 32);
}

/* errno is declared through a const function, so a caller could reuse an
 * address computed before a G switch (and so another kernel thread's
 * errno). An out-of-line call computes it afresh. */
void sched_set_errno(int e)
{
	errno = e;
}
