/* shim/pthread_getattr_np.c - the attributes of a running thread.
 *
 * glibc's version reads its own struct pthread through the handle; a gmpt
 * handle is not one, so this must be gmpt's: stack bounds from the G (the
 * process stack for main, as glibc computes it), guard size, detach
 * state, affinity. Runtimes ask this of
 * pthread_self() to find their stack (ASan does at every noreturn call,
 * conservative GCs and JITs at thread start). */
#include "shim/thread.h"
#include "sched/sched.h"
#include "sched/real.h"

#include <errno.h>
#include <sched.h>
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
	int err;
	if (t->is_main) {
		/* The process stack, as glibc works it out at each call: its
		 * size follows RLIMIT_STACK as it is now (a program may lower
		 * it), so ask glibc about its own record of the main thread,
		 * which any kernel thread may read. */
		err = REAL(getattr_fn, pthread_getattr_np)(t->glibc_self, attr);
		if (err)
			return err;
	} else {
		void *lo;
		size_t size, guard;
		sched_g_stack(t->g, &lo, &size, &guard);
		err = pthread_attr_init(attr);
		if (err)
			return err;
		pthread_attr_setstack(attr, lo, size);
		pthread_attr_setguardsize(attr, guard);
	}
	pthread_attr_setdetachstate(attr, atomic_load(&t->join) == JOIN_DETACHED
					      ? PTHREAD_CREATE_DETACHED
					      : PTHREAD_CREATE_JOINABLE);
	/* As glibc's does: the thread's affinity, in a set as large as the
	 * kernel's mask needs. */
	for (size_t cpus = CPU_SETSIZE; cpus <= 65536; cpus *= 2) {
		size_t bytes = CPU_ALLOC_SIZE(cpus);
		cpu_set_t *set = CPU_ALLOC(cpus);
		if (!set)
			break;
		err = pthread_getaffinity_np(handle, bytes, set);
		if (err == 0)
			err = pthread_attr_setaffinity_np(attr, bytes, set);
		CPU_FREE(set);
		if (err != EINVAL)
			break;
	}
	if (err) {
		pthread_attr_destroy(attr);
		return err;
	}
	return 0;
}
