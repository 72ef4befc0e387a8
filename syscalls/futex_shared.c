/* syscalls/futex_shared.c - see futex_shared.h. */
#include "syscalls/futex_shared.h"
#include "arch/syscall.h"
#include "sched/sched.h"

#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>

int futex_shared_wait(uint32_t *addr, uint32_t val, int64_t deadline)
{
	struct timespec ts, *tsp = NULL;
	if (deadline) {
		ts.tv_sec = deadline / 1000000000;
		ts.tv_nsec = deadline % 1000000000;
		tsp = &ts;
	}
	sched_enter_blocking_syscall();
	/* Absolute CLOCK_MONOTONIC deadline; no FUTEX_PRIVATE_FLAG. */
	long r =
	    raw_syscall(SYS_futex, addr, FUTEX_WAIT_BITSET, val, tsp, NULL, FUTEX_BITSET_MATCH_ANY);
	sched_exit_blocking_syscall();
	if (r == -ETIMEDOUT)
		return ETIMEDOUT;
	return r == -EAGAIN ? EAGAIN : 0;
}

int futex_shared_wait_cancelable(uint32_t *addr, uint32_t val, int64_t deadline)
{
	struct timespec ts, *tsp = NULL;
	if (deadline) {
		ts.tv_sec = deadline / 1000000000;
		ts.tv_nsec = deadline % 1000000000;
		tsp = &ts;
	}
	long r = sched_syscall_interruptible(SYS_futex, (long)addr, FUTEX_WAIT_BITSET, val,
					     (long)tsp, 0, FUTEX_BITSET_MATCH_ANY);
	if (r == -ETIMEDOUT)
		return ETIMEDOUT;
	if (r == -ECANCELED)
		return EINTR;
	return r == -EAGAIN ? EAGAIN : 0;
}

void futex_shared_wake(uint32_t *addr, int n)
{
	raw_syscall(SYS_futex, addr, FUTEX_WAKE, n, NULL, NULL, 0);
}
