/* syscalls/sigpause.c - sigpause in its three spellings, through gmpt's
 * sigsuspend.
 *
 * glibc's sigpause calls its internal sigsuspend, which interposition
 * does not reach: the kernel thread would wait with the mask the program
 * gave, so gmpt's own pokes (the preemption signal, the one that delivers
 * a thread's signals or its cancellation) would end the wait with EINTR
 * where no signal of the program's came, and a cancellation would not
 * act. gmpt's sigsuspend keeps its pokes out of the wait and is a
 * cancellation point, as sigpause is. */
#include "sched/step_aside.h"

#include <signal.h>
#include <stddef.h>

#define EXPORT __attribute__((visibility("default")))

/* glibc's __sigpause: is_sig, the X/Open form (remove one signal from the
 * thread's mask); else the BSD form (the mask of signals 1-32 to wait
 * with, as sigblock takes it). */
EXPORT int __sigpause(int sig_or_mask, int is_sig)
{
	STEP_ASIDE_FORWARD(__sigpause, sig_or_mask, is_sig);
	sigset_t set;
	if (is_sig) {
		if (pthread_sigmask(SIG_BLOCK, NULL, &set) != 0 || sigdelset(&set, sig_or_mask) < 0)
			return -1;
	} else {
		sigemptyset(&set);
		for (int sig = 1; sig <= 32 && sig < NSIG; sig++)
			if ((unsigned)sig_or_mask & (1u << (sig - 1)))
				sigaddset(&set, sig);
	}
	return sigsuspend(&set);
}

/* The BSD function (what a program compiled without X/Open gets). */
EXPORT int gmpt_sigpause(int mask) __asm__("sigpause");
EXPORT int gmpt_sigpause(int mask)
{
	STEP_ASIDE_FORWARD_AS(gmpt_sigpause, sigpause, mask);
	return __sigpause(mask, 0);
}

/* What <signal.h> names sigpause under X/Open. */
EXPORT int __xpg_sigpause(int sig)
{
	STEP_ASIDE_FORWARD(__xpg_sigpause, sig);
	return __sigpause(sig, 1);
}
