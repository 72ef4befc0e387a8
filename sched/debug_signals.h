/* sched/debug_signals.h - the signals gmpt handles to show what went wrong:
 * the thread dump signal (GMPT_DUMP_SIGNAL, dump_signal.c) and SIGSEGV for
 * stacks that overflow into their guard page (stack_overflow.c).
 *
 * Both end up the program's: the shim's sigaction asks *_owns first and
 * lets these functions decide. */
#ifndef GMPT_DEBUG_SIGNALS_H
#define GMPT_DEBUG_SIGNALS_H

#include <stdbool.h>

/* From now on sig writes a thread dump to stderr (0: nothing). A signal
 * the program already handles or ignores stays the program's (one notice
 * says so). */
void sched_dump_signal_init(int sig);
bool sched_dump_signal_owns(int sig);
/* The program installs an action for the dump signal: it is the program's
 * from now on, and one notice says so. */
void sched_dump_signal_give_up(int sig);

/* Installs the SIGSEGV handler that reports stack overflows, and a signal
 * stack on the calling (main) kernel thread. Not with AddressSanitizer,
 * which has its own. The program's actions for SIGSEGV are recorded
 * (sched_segv_user_action) and reported back by sigaction; at the first
 * SIGSEGV, after the overflow report if it is one, the recorded action is
 * installed in the kernel and the signal is delivered to it as natively:
 * from then on SIGSEGV is the program's. */
void sched_stack_overflow_init(void);
bool sched_segv_owns(int sig);
struct sigaction;
void sched_segv_user_action(const struct sigaction *act, struct sigaction *old);

#endif
