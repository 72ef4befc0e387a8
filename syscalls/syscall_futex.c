/* syscalls/syscall_futex.c - syscall(3), for the futex waits programs make
 * themselves.
 *
 * libstdc++ (std::future, std::atomic::wait, std::latch...) and many
 * lock-free libraries wait with syscall(SYS_futex, FUTEX_WAIT...). The
 * kernel thread sleeps there, so the G hands its P off first
 * (entersyscallblock): other Gs keep running, including the one that will
 * do the FUTEX_WAKE. Calls about a thread by its id (gettid, tgkill, ...)
 * go to the shim's hook (syscall_hook.h), which answers them for gmpt's
 * threads. Every other system call goes straight to the kernel. */
#include "arch/syscall.h"
#include "sched/sched.h"
#include "sched/header_gaps.h"
#include "sched/step_aside.h"
#include "syscalls/syscall_hook.h"

#include <errno.h>
#include <stdatomic.h>
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

static _Atomic syscall_thread_hook thread_hook;

void syscall_set_thread_hook(syscall_thread_hook hook)
{
	atomic_store(&thread_hook, hook);
}

EXPORT long syscall(long nr, ...)
{
	va_list ap;
	long a[6];
	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	STEP_ASIDE_FORWARD(syscall, nr, a[0], a[1], a[2], a[3], a[4], a[5]);

	long r;
	syscall_thread_hook hook = atomic_load_explicit(&thread_hook, memory_order_relaxed);
	if (nr != SYS_futex && hook && hook(nr, a, &r)) {
		/* answered for one of gmpt's threads */
	} else {
		bool blocks = nr == SYS_futex && futex_op_blocks(a[1]);
		sched_async_cancel_point();
		if (blocks)
			sched_enter_blocking_syscall();
		r = raw_syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
		if (blocks)
			sched_exit_blocking_syscall();
		sched_async_cancel_point();
	}
	if (r < 0 && r > -4096) {
		sched_set_errno((int)-r);
		return -1;
	}
	return r;
}
