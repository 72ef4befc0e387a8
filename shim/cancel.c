/* shim/cancel.c - thread cancellation.
 *
 * Deferred cancellation as glibc does it: pthread_cancel marks the target
 * and cuts short the wait it is in, if it waits at a cancellation point
 * (sched_interrupt); the target acts at its next cancellation point by
 * ending as pthread_exit(PTHREAD_CANCELED) does, cleanup handlers and C++
 * destructors included (glibc's forced unwind; see pthread_exit.c).
 * Cancellation points: pthread_testcancel, pthread_cond_wait/timedwait/
 * clockwait, pthread_join/timedjoin/clockjoin, sem_wait/timedwait/
 * clockwait, the sleeps, and every interposed call that waits for an fd
 * (read, write, recv, send, accept, connect, poll, select, epoll_wait
 * ...). PTHREAD_CANCEL_ASYNCHRONOUS acts at once when the thread cancels
 * itself or enables it with a cancellation pending; another thread's
 * asynchronous cancellation is acted on at the target's next cancellation
 * point or wait (gmpt does not interrupt a G at an arbitrary
 * instruction). Threads gmpt did not create go to glibc. */
#include "shim/thread.h"
#include "sched/real.h"
#include "sched/sched.h"

#include <errno.h>

enum {
	CANCEL_PENDING = 1,
	CANCEL_DISABLED = 2,
	CANCEL_ASYNC = 4,
	CANCEL_ACTING = 8,
};

/* The hook sched_cancel_point calls: ends the thread if it must. */
static void act_if_cancelled(void)
{
	struct thread *t = thread_self();
	uint32_t f = atomic_load(&t->cancel);
	if ((f & (CANCEL_PENDING | CANCEL_DISABLED | CANCEL_ACTING)) != CANCEL_PENDING)
		return;
	/* glibc disables cancellation while the thread unwinds, so the
	 * cleanup handlers' own cancellation points do not act again. */
	atomic_fetch_or(&t->cancel, CANCEL_ACTING | CANCEL_DISABLED);
	pthread_exit(PTHREAD_CANCELED);
}

void cancel_init(void)
{
	sched_set_cancel_hook(act_if_cancelled);
}

typedef int (*cancel_fn)(pthread_t);

EXPORT int pthread_cancel(pthread_t th)
{
	struct thread *t = thread_from_handle(th);
	if (!t || !t->g)
		return REAL(cancel_fn, pthread_cancel)(thread_glibc_handle(t, th));
	atomic_store(&sched_cancel_used, 1);
	uint32_t f = atomic_fetch_or(&t->cancel, CANCEL_PENDING);
	if (f & (CANCEL_DISABLED | CANCEL_ACTING))
		return 0; /* acted on when it enables cancellation */
	if (t == thread_self()) {
		if (f & CANCEL_ASYNC)
			act_if_cancelled();
		return 0;
	}
	sched_interrupt(t->g);
	return 0;
}

EXPORT int pthread_setcancelstate(int state, int *old)
{
	if (state != PTHREAD_CANCEL_ENABLE && state != PTHREAD_CANCEL_DISABLE)
		return EINVAL;
	struct thread *t = thread_self();
	if (!t->g) {
		typedef int (*state_fn)(int, int *);
		return REAL(state_fn, pthread_setcancelstate)(state, old);
	}
	uint32_t f = state == PTHREAD_CANCEL_DISABLE
			 ? atomic_fetch_or(&t->cancel, CANCEL_DISABLED)
			 : atomic_fetch_and(&t->cancel, ~(uint32_t)CANCEL_DISABLED);
	if (f & CANCEL_ACTING)
		atomic_fetch_or(&t->cancel, CANCEL_DISABLED); /* stays off while unwinding */
	if (old)
		*old = (f & CANCEL_DISABLED) ? PTHREAD_CANCEL_DISABLE : PTHREAD_CANCEL_ENABLE;
	if (state == PTHREAD_CANCEL_ENABLE && (f & CANCEL_ASYNC))
		act_if_cancelled();
	return 0;
}

EXPORT int pthread_setcanceltype(int type, int *old)
{
	if (type != PTHREAD_CANCEL_DEFERRED && type != PTHREAD_CANCEL_ASYNCHRONOUS)
		return EINVAL;
	struct thread *t = thread_self();
	if (!t->g) {
		typedef int (*type_fn)(int, int *);
		return REAL(type_fn, pthread_setcanceltype)(type, old);
	}
	uint32_t f = type == PTHREAD_CANCEL_ASYNCHRONOUS
			 ? atomic_fetch_or(&t->cancel, CANCEL_ASYNC)
			 : atomic_fetch_and(&t->cancel, ~(uint32_t)CANCEL_ASYNC);
	if (old)
		*old = (f & CANCEL_ASYNC) ? PTHREAD_CANCEL_ASYNCHRONOUS : PTHREAD_CANCEL_DEFERRED;
	if (type == PTHREAD_CANCEL_ASYNCHRONOUS)
		act_if_cancelled();
	return 0;
}

EXPORT void pthread_testcancel(void)
{
	struct thread *t = thread_self();
	if (!t->g) {
		typedef void (*test_fn)(void);
		REAL(test_fn, pthread_testcancel)();
		return;
	}
	act_if_cancelled();
}
