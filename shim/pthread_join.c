/* shim/pthread_join.c - wait for a thread to end and take its value. */
#include "shim/thread.h"
#include "sched/sched.h"

#include <errno.h>

EXPORT int pthread_join(pthread_t handle, void **retval)
{
	struct thread *t = thread_from_handle(handle);
	if (!t || !t->g)
		return ESRCH;
	if (t == thread_self())
		return EDEADLK;
	if (atomic_load(&t->join) == JOIN_DETACHED)
		return EINVAL;
	uint32_t zero = 0;
	if (!atomic_compare_exchange_strong(&t->joiners, &zero, 1))
		return EINVAL; /* somebody else is joining it */

	uint32_t s;
	while ((s = atomic_load(&t->join)) == JOIN_JOINABLE)
		waitq_wait(&t->join, JOIN_JOINABLE, 0);
	if (s == JOIN_DETACHED) {
		/* Detached while we waited: it is not ours to reap. */
		atomic_store(&t->joiners, 0);
		return EINVAL;
	}
	/* EXITED: the G is off its stack for good (on_g_dead ran), so the
	 * record is ours to read and then release. */
	if (retval)
		*retval = t->retval;
	t->magic = 0;
	sched_free(t->g);
	return 0;
}
