/* shim/semaphore.c - POSIX unnamed semaphores, and waits on named ones.
 *
 * The layout is glibc's own (struct new_sem, 64-bit atomics): the low
 * 32 bits of the first word are the value, the high 32 bits the number of
 * waiters, and `private` says whether the semaphore is process-private
 * (0) or shared (128), as glibc writes it: glibc's futex calls take
 * FUTEX_PRIVATE_FLAG ^ private, so its FUTEX_PRIVATE is 0 and FUTEX_SHARED
 * 128 (sem_open's semaphores are 128). Keeping it means a
 * semaphore sem_open made (glibc's, shared memory) works with these waits,
 * and a process-shared one interoperates with processes without gmpt,
 * which wait and wake on the value word with the kernel futex as glibc
 * does.
 *
 * Waits: a post adds to the value, then wakes one waiter if the waiter
 * count says there may be one. A waiter counts itself in before it checks
 * the value and sleeps on the value word while it reads 0, so a post after
 * the check changes the word (no lost wakeup). Private semaphores park the
 * G (waitq); shared ones sleep on the kernel futex with the P handed off. */
#include "shim/thread.h"
#include "sched/sched.h"
#include "syscalls/deadline.h"
#include "syscalls/futex_shared.h"

#include <errno.h>
#include <limits.h>
#include <semaphore.h>

struct gsem {
	_Atomic uint64_t data; /* value | nwaiters << 32 */
	int private;
	int pad;
};

_Static_assert(sizeof(struct gsem) <= sizeof(sem_t), "sem does not fit");

#define SEM_PRIVATE_FUTEX 0
#define SEM_SHARED_FUTEX  128
#define NWAITERS_ONE	  (1ULL << 32)
#define VALUE(d)	  ((uint32_t)(d))

#define S(s) ((struct gsem *)(s))

static _Atomic uint32_t *value_word(struct gsem *s)
{
	return (_Atomic uint32_t *)&s->data; /* little-endian: the low half */
}

EXPORT int sem_init(sem_t *sem, int pshared, unsigned int value)
{
	STEP_ASIDE_FORWARD(sem_init, sem, pshared, value);
	if (value > SEM_VALUE_MAX) {
		errno = EINVAL;
		return -1;
	}
	struct gsem *s = S(sem);
	atomic_store(&s->data, value);
	s->private = pshared ? SEM_SHARED_FUTEX : SEM_PRIVATE_FUTEX;
	s->pad = 0;
	return 0;
}

EXPORT int sem_destroy(sem_t *sem)
{
	STEP_ASIDE_FORWARD(sem_destroy, sem);
	(void)sem;
	return 0;
}

EXPORT int sem_getvalue(sem_t *restrict sem, int *restrict sval)
{
	STEP_ASIDE_FORWARD(sem_getvalue, sem, sval);
	*sval = (int)VALUE(atomic_load(&S(sem)->data));
	return 0;
}

static bool try_take(struct gsem *s)
{
	uint64_t d = atomic_load(&s->data);
	while (VALUE(d) > 0)
		if (atomic_compare_exchange_weak(&s->data, &d, d - 1))
			return true;
	return false;
}

EXPORT int sem_trywait(sem_t *sem)
{
	STEP_ASIDE_FORWARD(sem_trywait, sem);
	if (try_take(S(sem)))
		return 0;
	errno = EAGAIN;
	return -1;
}

EXPORT int sem_post(sem_t *sem)
{
	STEP_ASIDE_FORWARD(sem_post, sem);
	struct gsem *s = S(sem);
	uint64_t d = atomic_load(&s->data);
	do {
		if (VALUE(d) == SEM_VALUE_MAX) {
			errno = EOVERFLOW;
			return -1;
		}
	} while (!atomic_compare_exchange_weak(&s->data, &d, d + 1));
	if (d >> 32) {
		if (s->private == SEM_SHARED_FUTEX)
			futex_shared_wake((uint32_t *)value_word(s), 1);
		else
			waitq_wake(value_word(s), 1);
	}
	return 0;
}

/* deadline: CLOCK_MONOTONIC ns, 0 for none. Returns 0 or an errno. */
static int sem_wait_once(struct gsem *s, int64_t deadline)
{
	sched_cancel_point(); /* sem_wait and friends are cancellation points */
	if (try_take(s))
		return 0;
	atomic_fetch_add(&s->data, NWAITERS_ONE);
	int err = 0;
	bool cancelable = sched_cancelable(true);
	for (;;) {
		/* Take a unit and leave the waiters in one step. */
		uint64_t d = atomic_load(&s->data);
		while (VALUE(d) > 0)
			if (atomic_compare_exchange_weak(&s->data, &d, d - 1 - NWAITERS_ONE)) {
				if (cancelable)
					sched_cancelable(false);
				return 0;
			}
		int r = s->private == SEM_SHARED_FUTEX
			    ? futex_shared_wait((uint32_t *)value_word(s), 0, deadline)
			    : waitq_wait_reason(value_word(s), 0, deadline, &WAIT_SEMAPHORE);
		if (r == ETIMEDOUT || r == EINTR) {
			err = r;
			break;
		}
	}
	if (cancelable)
		sched_cancelable(false);
	/* A post may have woken us just as we timed out: pass its unit's
	 * wakeup on, or another waiter could sleep beside a non-zero value. */
	uint64_t d = atomic_fetch_sub(&s->data, NWAITERS_ONE) - NWAITERS_ONE;
	if (VALUE(d) > 0 && (d >> 32)) {
		if (s->private == SEM_SHARED_FUTEX)
			futex_shared_wake((uint32_t *)value_word(s), 1);
		else
			waitq_wake(value_word(s), 1);
	}
	if (err == EINTR)
		sched_cancel_point(); /* not acted on: interrupted, as by a signal */
	return err;
}

/* A wait cut short by a handler fails with EINTR unless the handler has
 * SA_RESTART (glibc's futex wait is restarted by the kernel then); one
 * cut short by a cancellation the thread does not act on, or by an
 * ignored signal, goes on. */
static int sem_wait_until(struct gsem *s, int64_t deadline)
{
	sched_sig_handled_clear();
	for (;;) {
		int err = sem_wait_once(s, deadline);
		if (err != EINTR || (sched_sig_handled_take() & SCHED_SIG_NORESTART))
			return err;
	}
}

static int wait_result(int err)
{
	if (!err)
		return 0;
	errno = err;
	return -1;
}

EXPORT int sem_wait(sem_t *sem)
{
	STEP_ASIDE_FORWARD(sem_wait, sem);
	return wait_result(sem_wait_until(S(sem), 0));
}

EXPORT int sem_clockwait(sem_t *restrict sem, clockid_t clock, const struct timespec *restrict abs)
{
	STEP_ASIDE_FORWARD(sem_clockwait, sem, clock, abs);
	/* glibc checks the clock and the timespec first, even when a unit
	 * is there to take. */
	if (!deadline_clock_supported(clock) || !timespec_valid(abs))
		return wait_result(EINVAL);
	return wait_result(sem_wait_until(S(sem), deadline_from_abstime(clock, abs)));
}

EXPORT int sem_timedwait(sem_t *restrict sem, const struct timespec *restrict abs)
{
	STEP_ASIDE_FORWARD(sem_timedwait, sem, abs);
	return sem_clockwait(sem, CLOCK_REALTIME, abs);
}
