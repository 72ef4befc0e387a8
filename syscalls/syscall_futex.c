/* syscalls/syscall_futex.c - syscall(3), for the futex waits programs make
 * themselves.
 *
 * libstdc++ (std::future, std::atomic::wait, std::latch...) and many
 * lock-free libraries wait with syscall(SYS_futex, FUTEX_WAIT...). The
 * kernel thread sleeps there, so the G hands its P off first
 * (entersyscallblock): other Gs keep running, including the one that will
 * do the FUTEX_WAKE. Every other system call goes straight to the kernel. */
#include "arch/syscall.h"
#include "sched/sched.h"

#include <errno.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <sys/syscall.h>

#define EXPORT __attribute__((visibility("default")))

static bool futex_op_blocks(long op)
{
	switch (op & FUTEX_CMD_MASK) {
	case FUTEX_WAIT:
	case FUTEX_WAIT_BITSET:
	case FUTEX_LOCK_PI:
	case FUTEX_LOCK_PI2:
	case FUTEX_WAIT_REQUEUE_PI:
		return true;
	default:
		return false;
	}
}

EXPORT long syscall(long nr, ...)
{
	va_list ap;
	long a[6];
	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);

	bool blocks = nr == SYS_futex && futex_op_blocks(a[1]);
	sched_async_cancel_point();
	if (blocks)
		sched_enter_blocking_syscall();
	long r = raw_syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	if (blocks)
		sched_exit_blocking_syscall();
	sched_async_cancel_point();
	if (r < 0 && r > -4096) {
		sched_set_errno((int)-r);
		return -1;
	}
	return r;
}
