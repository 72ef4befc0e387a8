/* sched/cancel_syscall.c - system calls at cancellation points, and
 * asynchronous cancellation of a G by another thread.
 *
 * The shim arms a G (sched_cancel_arm) when a cancellation is pending and
 * enabled, then calls sched_interrupt, which pokes the G's kernel thread
 * if the G runs there. The poke's handler (preempt.c) stops a G inside
 * arch_syscall_cp, and for asynchronous cancellation sends a G running
 * user code to the cancel hook, through the preemption trampoline (whose
 * CFI lets glibc's forced unwind go on into the interrupted frames). */
#include "arch/syscall.h"
#include "arch/syscall_cp.h"
#include "sched/runtime.h"

#include <errno.h>

void sched_cancel_arm(struct g *g, enum sched_cancel_arm how)
{
	/* Seq_cst, before the caller's sched_interrupt sends its poke: the
	 * handler that poke runs sees the flag. The sigwait bit beside it is
	 * another thread's to set: keep it. */
	uint8_t old = atomic_load(&g->cancel_armed);
	while (!atomic_compare_exchange_weak(&g->cancel_armed, &old,
					     (uint8_t)((old & ~SCHED_CANCEL_ARM_MASK) | how)))
		;
}

long sched_syscall_cancelable(bool handoff, long nr, long a1, long a2, long a3, long a4, long a5,
			      long a6)
{
	struct g *g = sched_current();
	if (!g)
		return raw_syscall6(nr, a1, a2, a3, a4, a5, a6);
	const long call[7] = {nr, a1, a2, a3, a4, a5, a6};
	for (;;) {
		sched_cancel_point();
		if (handoff)
			sched_enter_blocking_syscall();
		else
			sched_enter_syscall();
		/* g is pinned to this kernel thread until the exit below, so
		 * the handler that may redirect it tests this same flag. */
		long r = arch_syscall_cp(&g->cancel_armed, call);
		if (handoff)
			sched_exit_blocking_syscall();
		else
			sched_exit_syscall();
		if (r == -EINTR) {
			/* A call the kernel does not restart after a handler
			 * (msgrcv, sigtimedwait ...): the poke made it fail.
			 * Act if that poke was a cancellation; else EINTR is
			 * what the program gets, as from any handler. */
			sched_cancel_point();
			return r;
		}
		if (r != ARCH_SYSCALL_CANCELED)
			return r;
		/* The call was not made. A signal a sigwait waits for: EINTR,
		 * and the caller takes it (a stale wake bit outside sigwait,
		 * left by a sender that raced with sched_sigwait_end, is
		 * dropped). A cancellation: act, now that the G holds a P
		 * again (glibc's unwind runs the program's cleanup handlers).
		 * If the hook does not act, the hint was stale (cancellation
		 * disabled meanwhile): disarm and make the call. A
		 * cancellation that arms the G again after the disarm set its
		 * pending state first, so the next sched_cancel_point acts. */
		uint8_t was = atomic_fetch_and(&g->cancel_armed, (uint8_t)~SCHED_SIGWAIT_WAKE);
		if (was & SCHED_CANCEL_ARM_MASK) {
			sched_cancel_point_slow();
			atomic_fetch_and(&g->cancel_armed, (uint8_t)~SCHED_CANCEL_ARM_MASK);
		}
		if ((was & SCHED_SIGWAIT_WAKE) && atomic_load(&g->sigwait_set))
			return -EINTR;
	}
}

long sched_syscall_interruptible(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	struct g *g = sched_current();
	if (!g)
		return raw_syscall6(nr, a1, a2, a3, a4, a5, a6);
	const long call[7] = {nr, a1, a2, a3, a4, a5, a6};
	sched_enter_blocking_syscall();
	long r = arch_syscall_cp(&g->cancel_armed, call);
	sched_exit_blocking_syscall();
	if (r != ARCH_SYSCALL_CANCELED)
		return r;
	/* Not made: a cancellation (the caller acts or disarms), or a
	 * sigwait wake bit, stale outside sigwait: dropped, as
	 * sched_syscall_cancelable drops it. */
	atomic_fetch_and(&g->cancel_armed, (uint8_t)~SCHED_SIGWAIT_WAKE);
	return -ECANCELED;
}

void sched_cancel_point_or_disarm(void)
{
	struct g *g = sched_current();
	if (!g)
		return;
	sched_cancel_point_slow();
	atomic_fetch_and(&g->cancel_armed, (uint8_t)~SCHED_CANCEL_ARM_MASK);
}

/* Where an asynchronously cancelled G resumes (arch_preempt_inject): the
 * hook ends the thread; if it does not act after all, the G goes on. */
void cancel_async_act(void)
{
	sched_cancel_point_or_disarm();
}

/* A system call gmpt makes for the program without it being a
 * cancellation point (syscall(2)): natively an asynchronous cancellation
 * acts as soon as its signal lands, also in the kernel, where it cuts the
 * call short. The poke that stands for that signal acts only where the G
 * runs the program's own code, so it only made the call fail with EINTR
 * here: the G acts now, on its way back to the program. */
void sched_async_cancel_point(void)
{
	struct g *g = sched_current();
	if (g && (atomic_load_explicit(&g->cancel_armed, memory_order_relaxed) &
		  SCHED_CANCEL_ARM_MASK) == SCHED_CANCEL_ASYNC)
		sched_cancel_point_slow();
}

bool sched_cancel_is_armed(void)
{
	struct g *g = sched_current();
	return g && (atomic_load(&g->cancel_armed) & SCHED_CANCEL_ARM_MASK) != SCHED_CANCEL_OFF;
}

/* As sched_syscall_cancelable does with a call it did not make: the hook
 * acts, or the hint was stale (cancellation disabled meanwhile) and is
 * dropped; a cancellation that arms again after the drop set its pending
 * state first, so the next cancellation point acts. */
void sched_cancel_act_armed(void)
{
	struct g *g = sched_current();
	if (!g)
		return;
	sched_cancel_point_slow();
	atomic_fetch_and(&g->cancel_armed, (uint8_t)~SCHED_CANCEL_ARM_MASK);
}
