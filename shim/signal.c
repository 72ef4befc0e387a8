/* shim/signal.c - sigaction and signal, for the signals gmpt handles.
 *
 * The preemption signal (GMPT_PREEMPT_SIGNAL, SIGURG by default): gmpt's
 * handler stays installed; what the program installs for that signal is
 * recorded and called by gmpt's handler for every instance of the signal
 * that gmpt did not send, and reported back by sigaction as if it were
 * installed. SIGSEGV (stack overflow reports) and the thread dump signal
 * (GMPT_DUMP_SIGNAL) become the program's: see sched/debug_signals.h.
 * Every other signal's handler is installed wrapped by sched_sigaction,
 * which routes signals sent to the process (sched/sigroute.c). */
#include "sched/real.h"
#include "sched/debug_signals.h"
#include "sched/sched.h"
#include "sched/step_aside.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);

/* The thread dump signal (GMPT_DUMP_SIGNAL) is gmpt's until the program
 * installs an action for it, which then goes into the kernel; until then it
 * reads as SIG_DFL. */
static int dump_signal_action(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (act) {
		sched_dump_signal_give_up(sig);
		int r = REAL(sigaction_fn, sigaction)(sig, act, NULL);
		if (r != 0)
			return r;
	}
	if (old) {
		memset(old, 0, sizeof *old);
		old->sa_handler = SIG_DFL;
	}
	return 0;
}

EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	STEP_ASIDE_FORWARD(sigaction, sig, act, old);
	if (sched_preempt_owns(sig)) {
		sched_preempt_user_action(act, old);
		return 0;
	}
	if (sched_segv_owns(sig)) {
		sched_segv_user_action(act, old);
		return 0;
	}
	if (sched_dump_signal_owns(sig))
		return dump_signal_action(sig, act, old);
	return sched_sigaction(sig, act, old);
}

EXPORT int __sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	STEP_ASIDE_FORWARD(__sigaction, sig, act, old);
	return sigaction(sig, act, old);
}

typedef void (*sighandler_fn)(int);

EXPORT sighandler_fn signal(int sig, sighandler_fn handler)
{
	STEP_ASIDE_FORWARD(signal, sig, handler);
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sa.sa_flags = SA_RESTART; /* BSD semantics, as glibc's signal() */
	sigemptyset(&sa.sa_mask);
	if (sig > 0 && sig < NSIG)
		sigaddset(&sa.sa_mask, sig);
	if (sigaction(sig, &sa, &old) < 0)
		return SIG_ERR;
	return old.sa_handler;
}

EXPORT sighandler_fn bsd_signal(int sig, sighandler_fn handler)
{
	STEP_ASIDE_FORWARD(bsd_signal, sig, handler);
	return signal(sig, handler);
}
EXPORT sighandler_fn sysv_signal(int sig, sighandler_fn handler)
{
	STEP_ASIDE_FORWARD(sysv_signal, sig, handler);
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sa.sa_flags = SA_RESETHAND | SA_NODEFER;
	sigaction(sig, &sa, &old);
	return old.sa_handler;
}
