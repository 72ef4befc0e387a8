/* shim/yield.c - sched_yield and pthread_yield.
 *
 * A yielding G goes to the tail of its P's run queue (Go puts it on the
 * global queue; the local tail costs no lock, and the global queue is still
 * checked every 61st schedule so nothing starves). Outside a G, the kernel
 * yields. */
#include "arch/syscall.h"
#include "shim/thread.h"
#include "sched/sched.h"

#include <sys/syscall.h>
#include <unistd.h>

EXPORT int sched_yield(void)
{
	STEP_ASIDE_FORWARD(sched_yield);
	if (sched_current())
		sched_gosched();
	else
		raw_syscall(SYS_sched_yield);
	return 0;
}

/* glibc's header redirects pthread_yield to sched_yield; the symbol is
 * still exported (binaries built before 2.34 call it), so define it under
 * its own name. */
EXPORT int gmpt_pthread_yield(void) __asm__("pthread_yield");
EXPORT int gmpt_pthread_yield(void)
{
	STEP_ASIDE_FORWARD_AS(gmpt_pthread_yield, pthread_yield);
	return sched_yield();
}
