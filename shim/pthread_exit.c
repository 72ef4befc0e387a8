/* shim/pthread_exit.c - how every thread gmpt created ends. */
#include "shim/thread.h"
#include "sched/real.h"
#include "sched/sched.h"

#include <stdlib.h>

typedef void (*exit_fn)(void *) __attribute__((noreturn));

_Noreturn void thread_finish(struct thread *t, void *retval)
{
	t->retval = retval;
	/* glibc's order: thread_local destructors, then key destructors. */
	sched_tls_thread_exit();
	keys_run_destructors(t);
	free(t->affinity);
	t->affinity = NULL;
	sched_exit();
}

EXPORT _Noreturn void pthread_exit(void *retval)
{
	struct g *g = sched_current();
	if (g)
		thread_finish(sched_g_ext(g), retval);
	/* A thread gmpt did not create ends the glibc way. */
	REAL(exit_fn, pthread_exit)(retval);
	__builtin_unreachable();
}
