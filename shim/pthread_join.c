/* shim/pthread_join.c - wait for a thread to end and take its value:
 * pthread_join and glibc's tryjoin/timedjoin/clockjoin extensions. */
#include "shim/thread.h"
#include "sched/sched.h"
#include "syscalls/deadline.h"

#include <errno.h>

/* deadline: 0 waits forever, -1 does not wait (tryjoin). */
static int join_common(pthread_t handle, void **retval, int64_t deadline)
{
	struct thread *t = thread_from_handle(handle);
	if (!t || !t->g)
		return ESRCH;
	if (t == thread_self())
		return EDEADLK;
	if (deadline >= 0)
		sched_cancel_point(); /* join and timedjoin; not tryjoin */
	if (atomic_load(&t->join) == JOIN_DETACHED)
		return EINVAL;
	if (deadline < 0 && atomic_load(&t->join) == JOIN_JOINABLE)
		return EBUSY;
	uint32_t zero = 0;
	if (!atomic_compare_exchange_strong(&t->joiners, &zero, 1))
		return EINVAL; /* somebody else is joining it */

	uint32_t s;
	while ((s = atomic_load(&t->join)) == JOIN_JOINABLE) {
		int r = EAGAIN;
		if (deadline >= 0) {
			bool cancelable = sched_cancelable(true);
			r = waitq_wait_reason(&t->join, JOIN_JOINABLE, deadline, &WAIT_JOIN);
			if (cancelable)
				sched_cancelable(false);
		}
		if (r == EINTR) {
			/* A cancellation point: a cancelled joiner leaves the
			 * thread joinable, as glibc's does. */
			atomic_store(&t->joiners, 0);
			sched_cancel_point();
			uint32_t none = 0;
			if (!atomic_compare_exchange_strong(&t->joiners, &none, 1))
				return EINVAL;
			continue;
		}
		if (deadline < 0 || r == ETIMEDOUT) {
			if (atomic_load(&t->join) != JOIN_JOINABLE)
				continue; /* ended just now: reap it */
			atomic_store(&t->joiners, 0);
			return deadline < 0 ? EBUSY : ETIMEDOUT;
		}
	}
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

EXPORT int pthread_join(pthread_t handle, void **retval)
{
	STEP_ASIDE_FORWARD(pthread_join, handle, retval);
	return join_common(handle, retval, 0);
}

EXPORT int pthread_tryjoin_np(pthread_t handle, void **retval)
{
	STEP_ASIDE_FORWARD(pthread_tryjoin_np, handle, retval);
	return join_common(handle, retval, -1);
}

EXPORT int pthread_clockjoin_np(pthread_t handle, void **retval, clockid_t clock,
				const struct timespec *abs)
{
	STEP_ASIDE_FORWARD(pthread_clockjoin_np, handle, retval, clock, abs);
	if (abs && (!deadline_clock_supported(clock) || !timespec_valid(abs)))
		return EINVAL;
	return join_common(handle, retval, abs ? deadline_from_abstime(clock, abs) : 0);
}

EXPORT int pthread_timedjoin_np(pthread_t handle, void **retval, const struct timespec *abs)
{
	STEP_ASIDE_FORWARD(pthread_timedjoin_np, handle, retval, abs);
	return pthread_clockjoin_np(handle, retval, CLOCK_REALTIME, abs);
}
