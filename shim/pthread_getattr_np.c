/* shim/pthread_getattr_np.c - the attributes of a running thread.
 *
 * glibc's version reads its own struct pthread through the handle; a gmpt
 * handle is not one, so this must be gmpt's: stack bounds from the G (the
 * process stack for main), guard size, detach state. Runtimes ask this of
 * pthread_self() to find their stack (ASan does at every noreturn call,
 * conservative GCs and JITs at thread start). */
#include "shim/thread.h"
#include "sched/sched.h"
#include "sched/real.h"

#include <errno.h>
#include <unistd.h>

typedef int (*getattr_fn)(pthread_t, pthread_attr_t *);
typedef pthread_t (*self_fn)(void);

EXPORT int pthread_getattr_np(pthread_t handle, pthread_attr_t *attr)
{
	STEP_ASIDE_FORWARD(pthread_getattr_np, handle, attr);
	struct thread *t = thread_from_handle(handle);
	if (!t)
		return REAL(getattr_fn, pthread_getattr_np)(handle, attr);
	if (!t->g) {
		/* A thread gmpt did not create, known by its TLS record. */
		pthread_t self = REAL(self_fn, pthread_self)();
		return REAL(getattr_fn, pthread_getattr_np)(self, attr);
	}
	void *lo;
	size_t size, guard;
	sched_g_stack(t->g, &lo, &size, &guard);
	int err = pthread_attr_init(attr);
	if (err)
		return err;
	pthread_attr_setstack(attr, lo, size);
	pthread_attr_setguardsize(attr, guard);
	pthread_attr_setdetachstate(attr, atomic_load(&t->join) == JOIN_DETACHED
					      ? PTHREAD_CREATE_DETACHED
					      : PTHREAD_CREATE_JOINABLE);
	return 0;
}
