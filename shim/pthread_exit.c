/* shim/pthread_exit.c - how every thread gmpt created ends. */
#include "shim/thread.h"
#include "sched/sched.h"

#include <dlfcn.h>

_Noreturn void thread_finish(struct thread *t, void *retval)
{
	t->retval = retval;
	keys_run_destructors(t);
	sched_exit();
}

EXPORT _Noreturn void pthread_exit(void *retval)
{
	struct g *g = sched_current();
	if (g)
		thread_finish(sched_g_ext(g), retval);
	/* A thread gmpt did not create ends the glibc way. */
	void (*real)(void *) = (void (*)(void *))dlsym(RTLD_NEXT, "pthread_exit");
	if (real)
		real(retval);
	sched_fatal("pthread_exit outside a gmpt thread, and glibc's cannot be found");
}
