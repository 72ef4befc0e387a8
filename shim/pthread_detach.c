/* shim/pthread_detach.c */
#include "shim/thread.h"
#include "sched/sched.h"

#include <errno.h>

EXPORT int pthread_detach(pthread_t handle)
{
	STEP_ASIDE_FORWARD(pthread_detach, handle);
	struct thread *t = thread_from_handle(handle);
	if (!t || !t->g)
		return ESRCH;
	uint32_t s = JOIN_JOINABLE;
	if (atomic_compare_exchange_strong(&t->join, &s, JOIN_DETACHED)) {
		/* A joiner already waiting wakes and gets EINVAL. */
		if (atomic_load(&t->joiners))
			waitq_wake(&t->join, 1);
		return 0;
	}
	if (s == JOIN_EXITED) {
		/* It already ended and waited for a joiner: reap it now. */
		t->magic = 0;
		sched_free(t->g);
		return 0;
	}
	return EINVAL; /* already detached */
}
