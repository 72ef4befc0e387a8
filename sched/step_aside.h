/* sched/step_aside.h - gmpt stepping aside for a whole process.
 *
 * Some programs bring a scheduler of their own that gmpt cannot host: the
 * Go runtime multiplexes goroutines onto its Ms, inspects the signal stack
 * (gmpt's sigaltstack is per kernel thread, not per thread), blocks in raw
 * futex calls and expects each M to be a kernel thread. For such a process
 * gmpt does nothing at all: one notice on stderr, and every function it
 * exports forwards to the next definition (glibc's), so the program runs
 * exactly as without gmpt: no runtime, no sysmon, no signal handlers, no
 * non-blocking fds underneath.
 *
 * The decision depends only on what is loaded before the first constructor
 * runs (sched/runtime_detect.c), so it is the same whenever it is made: the
 * constructor makes it, and an export called even earlier (another
 * library's constructor) makes it on the spot. A child the program execs
 * decides again for its own executable: LD_PRELOAD is still in its
 * environment, and a C program run by a Go one gets gmpt back. */
#ifndef GMPT_STEP_ASIDE_H
#define GMPT_STEP_ASIDE_H

#include "sched/real.h"

#include <stdatomic.h>
#include <stdbool.h>

enum step_aside_state {
	STEP_ASIDE_UNDECIDED,
	STEP_ASIDE_NO,
	STEP_ASIDE_YES,
	STEP_ASIDE_DECIDING, /* the first decider is at work */
};

/* enum step_aside_state; decided once, by the first caller, before any
 * thread gmpt would create exists. */
extern _Atomic int step_aside_state;

/* Decides if not yet decided (printing the notice if gmpt steps aside);
 * true if gmpt steps aside for this process. Cold: it runs for the
 * first call only, except in a process gmpt steps aside for. */
__attribute__((cold)) bool step_aside_decide(void);

/* On the path of every export: one load and one branch, taken the same
 * way for the life of the process once decided. */
static inline bool step_aside(void)
{
	if (__builtin_expect(
		atomic_load_explicit(&step_aside_state, memory_order_relaxed) == STEP_ASIDE_NO, 1))
		return false;
	return step_aside_decide();
}

/* First statement of an exported function: when gmpt steps aside, the
 * call goes to the definition gmpt hides, with the same arguments. name
 * is the function being defined (its own type gives the pointer's).
 *
 * Not as a tail call: gdb shows an export that tail-calls its
 * implementation (pthread_cond_wait -> wait_common) from the DWARF
 * call-site records only when every tail call in it has a known target,
 * and an indirect jump to glibc's would drop the export from every
 * backtrace (the thread dumps of scripts/gmpt-gdb.py name the call a
 * thread waits in). The empty asm after the call keeps it a call. */
#define STEP_ASIDE_FORWARD(name, ...) STEP_ASIDE_FORWARD_AS(name, name, __VA_ARGS__)

/* The same for a function whose exported symbol is not its C name
 * (defined with an __asm__ label). */
#define STEP_ASIDE_FORWARD_AS(name, symbol, ...)                                                   \
	do {                                                                                       \
		if (step_aside()) {                                                                \
			__typeof__(name(__VA_ARGS__)) r_ =                                         \
			    REAL(__typeof__(&name), symbol)(__VA_ARGS__);                          \
			__asm__ volatile("");                                                      \
			return r_;                                                                 \
		}                                                                                  \
	} while (0)

/* The same for a function returning void. */
#define STEP_ASIDE_FORWARD_VOID(name, ...)                                                         \
	do {                                                                                       \
		if (step_aside()) {                                                                \
			REAL(__typeof__(&name), name)(__VA_ARGS__);                                \
			__asm__ volatile("");                                                      \
			return;                                                                    \
		}                                                                                  \
	} while (0)

/* The same for a function that does not return (pthread_exit, _exit). */
#define STEP_ASIDE_FORWARD_NORETURN(name, ...)                                                     \
	do {                                                                                       \
		if (step_aside()) {                                                                \
			REAL(__typeof__(&name), name)(__VA_ARGS__);                                \
			__builtin_unreachable();                                                   \
		}                                                                                  \
	} while (0)

/* The same as a tail call, for a glibc function that reads its caller's
 * address: dlopen expands $ORIGIN and picks the namespace from it, which
 * must be the program's, not gmpt's (gcc makes this a sibling call from
 * -O2, as the build is). */
#define STEP_ASIDE_FORWARD_TAIL(name, ...)                                                         \
	do {                                                                                       \
		if (step_aside())                                                                  \
			return REAL(__typeof__(&name), name)(__VA_ARGS__);                         \
	} while (0)

#endif
