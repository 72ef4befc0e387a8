/* shim/process_exit.c - _exit and _Exit end the process without running
 * atexit handlers: GMPT_TRACE's file is finished first, so a program that
 * leaves that way (from any thread) still gets a complete trace. exit()
 * needs nothing here: sched registers an atexit handler. */
#include "shim/thread.h"
#include "sched/real.h"

typedef void (*exit_fn)(int);

EXPORT _Noreturn void _exit(int status)
{
	STEP_ASIDE_FORWARD_NORETURN(_exit, status);
	sched_trace_finish();
	REAL(exit_fn, _exit)(status);
	__builtin_unreachable();
}

EXPORT _Noreturn void _Exit(int status)
{
	STEP_ASIDE_FORWARD_NORETURN(_Exit, status);
	sched_trace_finish();
	REAL(exit_fn, _Exit)(status);
	__builtin_unreachable();
}
