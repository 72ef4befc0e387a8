/* shim/rwlock.c - pthread_rwlock_* inside the program's own
 * pthread_rwlock_t. All rwlock calls are gmpt's, so the 56 bytes use
 * gmpt's layout, except where glibc's static initialisers put data: all
 * zeros is a default (reader-preferring) lock, and the kind of
 * PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP sits at byte 48 as in
 * glibc.
 *
 *   state     readers holding it (low 30 bits), WRITER when a writer does
 *   wwaiting  writers waiting (readers yield to them in the writer-
 *             preferring kind)
 *   sleepers  threads in the slow path, about to sleep on seq or asleep
 *   seq       bumped by every release that could let a sleeper in; waiters
 *             read it before they check the state, so a release after the
 *             check changes it and their sleep returns at once
 *   writer    the id of the thread holding it for writing (EDEADLK)
 *
 * Releases wake every sleeper (readers may all get in at once; a writer
 * that loses the race sleeps again): simple and correct, at the price of
 * a herd when many writers wait. */
#include "shim/thread.h"
#include "sched/sched.h"
#include "syscalls/deadline.h"
#include "syscalls/futex_shared.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>

#define WRITER	    0x80000000u
#define READERS_MAX 0x3fffffffu

struct rwlock {
	_Atomic uint32_t state;
	_Atomic uint32_t wwaiting;
	_Atomic uint32_t sleepers;
	_Atomic uint32_t seq;
	uint32_t pad0;
	uint32_t pad1;
	_Atomic uint32_t writer;
	uint32_t pshared;
	char pad2[16];
	uint32_t kind; /* glibc's __flags: PTHREAD_RWLOCK_PREFER_* */
};

_Static_assert(sizeof(struct rwlock) <= sizeof(pthread_rwlock_t), "rwlock does not fit");
_Static_assert(offsetof(struct rwlock, kind) == 48, "glibc keeps the kind at byte 48");

#define RW(l) ((struct rwlock *)(l))

EXPORT int pthread_rwlock_init(pthread_rwlock_t *restrict l,
			       const pthread_rwlockattr_t *restrict attr)
{
	STEP_ASIDE_FORWARD(pthread_rwlock_init, l, attr);
	*l = (pthread_rwlock_t){0};
	if (attr) {
		int kind = PTHREAD_RWLOCK_PREFER_READER_NP, pshared = PTHREAD_PROCESS_PRIVATE;
		pthread_rwlockattr_getkind_np(attr, &kind);
		pthread_rwlockattr_getpshared(attr, &pshared);
		RW(l)->kind = (uint32_t)kind;
		RW(l)->pshared = pshared == PTHREAD_PROCESS_SHARED;
	}
	return 0;
}

EXPORT int pthread_rwlock_destroy(pthread_rwlock_t *l)
{
	STEP_ASIDE_FORWARD(pthread_rwlock_destroy, l);
	(void)l;
	return 0;
}

static bool writers_first(struct rwlock *l)
{
	/* glibc honours writer preference only in the non-recursive kind: a
	 * reader that already holds the lock would deadlock otherwise. */
	return l->kind == PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP;
}

static int try_read(struct rwlock *l)
{
	uint32_t s = atomic_load(&l->state);
	for (;;) {
		if ((s & WRITER) || (writers_first(l) && atomic_load(&l->wwaiting)))
			return EBUSY;
		if ((s & READERS_MAX) == READERS_MAX)
			return EAGAIN;
		if (atomic_compare_exchange_weak(&l->state, &s, s + 1))
			return 0;
	}
}

static int try_write(struct rwlock *l)
{
	uint32_t s = 0;
	if (!atomic_compare_exchange_strong(&l->state, &s, WRITER))
		return EBUSY;
	atomic_store_explicit(&l->writer, thread_self_id(), memory_order_relaxed);
	return 0;
}

static void wake_sleepers(struct rwlock *l)
{
	if (!atomic_load(&l->sleepers))
		return;
	atomic_fetch_add(&l->seq, 1);
	if (l->pshared)
		futex_shared_wake((uint32_t *)&l->seq, INT_MAX);
	else
		waitq_wake(&l->seq, INT_MAX);
}

/* Sleeps until the state may have changed since seq, or the deadline.
 * The caller counted itself in sleepers before it read seq and tried the
 * lock: a release that its try missed then sees the sleeper and bumps seq
 * (both sides order their store before their load, seq_cst). */
static int sleep_on(struct rwlock *l, uint32_t seq, int64_t deadline)
{
	int r = l->pshared ? futex_shared_wait((uint32_t *)&l->seq, seq, deadline)
			   : waitq_wait_reason(&l->seq, seq, deadline, &WAIT_RWLOCK);
	return r == ETIMEDOUT ? ETIMEDOUT : 0;
}

static int lock(struct rwlock *l, bool write, int64_t deadline)
{
	uint32_t self = thread_self_id();
	if (atomic_load_explicit(&l->writer, memory_order_relaxed) == self &&
	    (atomic_load(&l->state) & WRITER))
		return EDEADLK;
	int r = write ? try_write(l) : try_read(l);
	if (r != EBUSY)
		return r;
	if (write)
		atomic_fetch_add(&l->wwaiting, 1);
	atomic_fetch_add(&l->sleepers, 1);
	for (;;) {
		uint32_t seq = atomic_load(&l->seq);
		r = write ? try_write(l) : try_read(l);
		if (r != EBUSY)
			break;
		if (sleep_on(l, seq, deadline) == ETIMEDOUT) {
			r = write ? try_write(l) : try_read(l);
			if (r == EBUSY)
				r = ETIMEDOUT;
			break;
		}
	}
	atomic_fetch_sub(&l->sleepers, 1);
	if (write) {
		atomic_fetch_sub(&l->wwaiting, 1);
		/* Readers held back for this writer may go in now. */
		if (r != 0 && writers_first(l))
			wake_sleepers(l);
	}
	return r;
}

/* EINVAL for a clock or timespec a timed wait cannot use, checked before
 * anything else as glibc does; otherwise the deadline. */
static int timed_deadline(clockid_t clock, const struct timespec *abs, int64_t *deadline)
{
	if (!deadline_clock_supported(clock) || !timespec_valid(abs))
		return EINVAL;
	*deadline = deadline_from_abstime(clock, abs);
	return 0;
}

EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t *l)
{
	STEP_ASIDE_FORWARD(pthread_rwlock_rdlock, l);
	return lock(RW(l), false, 0);
}

EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t *l)
{
	STEP_ASIDE_FORWARD(pthread_rwlock_wrlock, l);
	return lock(RW(l), true, 0);
}

EXPORT int pthread_rwlock_tryrdlock(pthread_rwlock_t *l)
{
	STEP_ASIDE_FORWARD(pthread_rwlock_tryrdlock, l);
	return try_read(RW(l));
}

EXPORT int pthread_rwlock_trywrlock(pthread_rwlock_t *l)
{
	STEP_ASIDE_FORWARD(pthread_rwlock_trywrlock, l);
	return try_write(RW(l));
}

EXPORT int pthread_rwlock_clockrdlock(pthread_rwlock_t *restrict l, clockid_t clock,
				      const struct timespec *restrict abs)
{
	STEP_ASIDE_FORWARD(pthread_rwlock_clockrdlock, l, clock, abs);
	int64_t deadline;
	int e = timed_deadline(clock, abs, &deadline);
	return e ? e : lock(RW(l), false, deadline);
}

EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t *restrict l, clockid_t clock,
				      const struct timespec *restrict abs)
{
	STEP_ASIDE_FORWARD(pthread_rwlock_clockwrlock, l, clock, abs);
	int64_t deadline;
	int e = timed_deadline(clock, abs, &deadline);
	return e ? e : lock(RW(l), true, deadline);
}

EXPORT int pthread_rwlock_timedrdlock(pthread_rwlock_t *restrict l,
				      const struct timespec *restrict abs)
{
	STEP_ASIDE_FORWARD(pthread_rwlock_timedrdlock, l, abs);
	return pthread_rwlock_clockrdlock(l, CLOCK_REALTIME, abs);
}

EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t *restrict l,
				      const struct timespec *restrict abs)
{
	STEP_ASIDE_FORWARD(pthread_rwlock_timedwrlock, l, abs);
	return pthread_rwlock_clockwrlock(l, CLOCK_REALTIME, abs);
}

EXPORT int pthread_rwlock_unlock(pthread_rwlock_t *rw)
{
	STEP_ASIDE_FORWARD(pthread_rwlock_unlock, rw);
	struct rwlock *l = RW(rw);
	uint32_t s = atomic_load(&l->state);
	if (s & WRITER) {
		atomic_store_explicit(&l->writer, 0, memory_order_relaxed);
		atomic_store(&l->state, 0);
		wake_sleepers(l);
		return 0;
	}
	if (s == 0)
		return EPERM; /* not locked: glibc's behaviour is undefined here */
	if ((atomic_fetch_sub(&l->state, 1) & READERS_MAX) == 1)
		wake_sleepers(l); /* the last reader: a writer may go in */
	return 0;
}
