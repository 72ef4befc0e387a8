/* shim/cond.c - pthread_cond_* inside the program's own pthread_cond_t.
 *
 * All cond functions are gmpt's, so the 48 bytes use gmpt's layout; all
 * zeros (PTHREAD_COND_INITIALIZER) is a valid CLOCK_REALTIME condvar:
 *
 *   seq      bumped by every signal/broadcast; waiters sleep on it
 *   waiters  threads between "decided to wait" and "woken or gave up"
 *   clock    the clockid of pthread_condattr_setclock
 *   pshared  1 for PTHREAD_PROCESS_SHARED
 *
 * A waiter reads seq while it still holds the mutex, so a signal sent
 * after the waiter released the mutex changes seq and the waiter's sleep
 * returns at once: no lost wakeup. waiters lets signal skip the wait queue
 * when nobody waits; a waker subtracts exactly the number it dequeued, a
 * waiter that was not dequeued (seq moved, timeout) subtracts itself. */
#include "shim/thread.h"
#include "sched/sched.h"
#include "syscalls/deadline.h"
#include "syscalls/futex_shared.h"

#include <errno.h>
#include <limits.h>

struct cond {
	_Atomic uint32_t seq;
	_Atomic uint32_t waiters;
	uint32_t clock;
	uint32_t pshared;
};

_Static_assert(sizeof(struct cond) <= sizeof(pthread_cond_t), "cond does not fit");

#define C(c) ((struct cond *)(c))

EXPORT int pthread_cond_init(pthread_cond_t *restrict c, const pthread_condattr_t *restrict attr)
{
	STEP_ASIDE_FORWARD(pthread_cond_init, c, attr);
	*c = (pthread_cond_t){0};
	if (attr) {
		clockid_t clock = CLOCK_REALTIME;
		int pshared = PTHREAD_PROCESS_PRIVATE;
		pthread_condattr_getclock(attr, &clock);
		pthread_condattr_getpshared(attr, &pshared);
		C(c)->clock = (uint32_t)clock;
		C(c)->pshared = pshared == PTHREAD_PROCESS_SHARED;
	}
	return 0;
}

static void pshared_destroy(struct cond *c);

EXPORT int pthread_cond_destroy(pthread_cond_t *c)
{
	STEP_ASIDE_FORWARD(pthread_cond_destroy, c);
	if (C(c)->pshared)
		pshared_destroy(C(c));
	return 0;
}

/* Process-shared: pthread_cond_destroy may come right after a broadcast
 * (POSIX allows it once no thread is blocked), and the memory be reused
 * at once, while a woken waiter still has to read seq (or had not gone to
 * sleep yet: a condvar initialised again would give seq back the value it
 * waits on, and it would sleep for good). So destroy marks the count and
 * waits until every waiter has left (pshared_leave), as glibc's does; a
 * waiter touches nothing of the condvar after leaving but a futex wake
 * of the address, which is harmless on reused memory (a spurious wakeup
 * at most). */
#define WAITERS_DESTROYING 0x80000000u

static void pshared_leave(struct cond *c)
{
	uint32_t old = atomic_fetch_sub(&c->waiters, 1);
	if (old == (WAITERS_DESTROYING | 1))
		futex_shared_wake((uint32_t *)&c->waiters, INT_MAX);
}

static void pshared_destroy(struct cond *c)
{
	uint32_t w = atomic_fetch_or(&c->waiters, WAITERS_DESTROYING) | WAITERS_DESTROYING;
	while (w != WAITERS_DESTROYING) {
		futex_shared_wait((uint32_t *)&c->waiters, w, 0);
		w = atomic_load(&c->waiters);
	}
}

static int wait_common(struct cond *c, pthread_mutex_t *m, int64_t deadline)
{
	sched_cancel_point(); /* a cancellation point, on entry ... */
	uint32_t seq = atomic_load(&c->seq);
	atomic_fetch_add(&c->waiters, 1);
	int err = mutex_unlock_for_wait(m);
	if (err) {
		atomic_fetch_sub(&c->waiters, 1);
		return err;
	}
	int r;
	if (c->pshared) {
		r = futex_shared_wait_cancelable((uint32_t *)&c->seq, seq, deadline);
		pshared_leave(c);
	} else {
		bool cancelable = sched_cancelable(true);
		r = waitq_wait_reason(&c->seq, seq, deadline, &WAIT_COND);
		if (cancelable)
			sched_cancelable(false);
		if (r != 0) /* not dequeued by a waker: account for ourselves */
			atomic_fetch_sub(&c->waiters, 1);
	}
	/* A robust mutex whose owner died meanwhile: EOWNERDEAD (or
	 * ENOTRECOVERABLE) is the wait's result, as in glibc. */
	int relock = mutex_relock_after_wait(m);
	/* ... and after the wait, with the mutex held again, as POSIX wants
	 * it for the cleanup handlers. A wait a cancellation cut short and
	 * that does not act now is a spurious wakeup (and its stale hint is
	 * cleared, or the next wait would end at once). */
	if (r == EINTR)
		sched_cancel_point_or_disarm();
	else
		sched_cancel_point();
	if (relock)
		return relock;
	return r == ETIMEDOUT ? ETIMEDOUT : 0;
}

EXPORT int pthread_cond_wait(pthread_cond_t *restrict c, pthread_mutex_t *restrict m)
{
	STEP_ASIDE_FORWARD(pthread_cond_wait, c, m);
	return wait_common(C(c), m, 0);
}

EXPORT int pthread_cond_clockwait(pthread_cond_t *restrict c, pthread_mutex_t *restrict m,
				  clockid_t clock, const struct timespec *restrict abs)
{
	STEP_ASIDE_FORWARD(pthread_cond_clockwait, c, m, clock, abs);
	if (!deadline_clock_supported(clock) || !timespec_valid(abs))
		return EINVAL;
	return wait_common(C(c), m, deadline_from_abstime(clock, abs));
}

EXPORT int pthread_cond_timedwait(pthread_cond_t *restrict c, pthread_mutex_t *restrict m,
				  const struct timespec *restrict abs)
{
	STEP_ASIDE_FORWARD(pthread_cond_timedwait, c, m, abs);
	if (!timespec_valid(abs))
		return EINVAL;
	return wait_common(C(c), m, deadline_from_abstime((clockid_t)C(c)->clock, abs));
}

static void wake(struct cond *c, int n)
{
	if (atomic_load(&c->waiters) == 0)
		return;
	atomic_fetch_add(&c->seq, 1);
	if (c->pshared) {
		futex_shared_wake((uint32_t *)&c->seq, n);
		return;
	}
	int woken = waitq_wake(&c->seq, n);
	if (woken)
		atomic_fetch_sub(&c->waiters, (uint32_t)woken);
}

EXPORT int pthread_cond_signal(pthread_cond_t *c)
{
	STEP_ASIDE_FORWARD(pthread_cond_signal, c);
	wake(C(c), 1);
	return 0;
}

EXPORT int pthread_cond_broadcast(pthread_cond_t *c)
{
	STEP_ASIDE_FORWARD(pthread_cond_broadcast, c);
	wake(C(c), INT_MAX);
	return 0;
}
