/* shim/mutex.c - pthread_mutex_* inside the program's own pthread_mutex_t.
 *
 * The fields are glibc's, used the way glibc uses them, so every static
 * initialiser works unchanged: __lock is the lock word (0 free, 1 locked,
 * 2 locked and somebody may wait), __owner the owner's thread id, __count
 * the recursion depth, __kind the type (0 normal, 1 recursive,
 * 2 errorcheck, 3 adaptive) plus glibc's flag bits. The lock is Drepper's
 * three-state futex mutex with the G wait queue in place of the kernel
 * futex, so a waiting thread parks and its P runs something else.
 *
 * Process-shared mutexes (PTHREAD_PROCESS_SHARED) must be woken from
 * another process, which only the kernel can do: they wait on the real
 * futex, handing the P to another M while it sleeps. Robust ones that are
 * also process-shared follow the kernel's robust-futex protocol instead,
 * so a process that dies holding one is seen (mutex_robust_shared.c). */
#include "shim/thread.h"
#include "sched/header_gaps.h"
#include "sched/sched.h"
#include "syscalls/deadline.h"
#include "syscalls/futex_shared.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>

#define KIND_TYPE_MASK	  3
#define KIND_ROBUST	  16
#define KIND_PRIO_PROTECT 64 /* PTHREAD_PRIO_PROTECT: a ceiling, recorded */
#define KIND_PSHARED	  128
/* The priority ceiling of a PTHREAD_PRIO_PROTECT mutex, recorded without
 * effect (gmpt's scheduler has no priorities) in __spins, which gmpt does
 * not use (glibc keeps it in the lock word's high bits, which gmpt's lock
 * uses whole). */
#define CEILING(m) ((m)->__data.__spins)

#define LOCKW(m) ((_Atomic uint32_t *)&(m)->__data.__lock)
#define OWNER(m) ((_Atomic int *)&(m)->__data.__owner)
/* A process-shared mutex may be held by a thread of another process with
 * the same gmpt thread id (a fork's child keeps the forking thread's id,
 * and its new threads count on from the parent's counter): its owner is
 * the pair (thread id, process id), the process id in __list.__prev,
 * which glibc uses only for robust mutexes (robust process-shared ones
 * take mutex_robust_shared.c's path instead). */
#define OWNER_PID(m) ((_Atomic int *)&(m)->__data.__list.__prev)

static bool owned_by(const pthread_mutex_t *m, int self)
{
	if (atomic_load_explicit(OWNER((pthread_mutex_t *)m), memory_order_relaxed) != self)
		return false;
	return !(m->__data.__kind & KIND_PSHARED) ||
	       atomic_load_explicit(OWNER_PID((pthread_mutex_t *)m), memory_order_relaxed) ==
		   (int)sched_pid();
}

static void set_owner(pthread_mutex_t *m, int self)
{
	atomic_store_explicit(OWNER(m), self, memory_order_relaxed);
	if (m->__data.__kind & KIND_PSHARED)
		atomic_store_explicit(OWNER_PID(m), (int)sched_pid(), memory_order_relaxed);
}

/* Robust mutexes (between gmpt's threads): the state of the protected
 * data in the mutex's __elision field (unused for them; unnamed from glibc
 * 2.43), the mutexes a
 * thread holds listed through __list.__next from its record. */
#define RSTATE(m)	      MUTEX_SPARE_SHORT(&(m)->__data)
#define ROBUST_CONSISTENT     0
#define ROBUST_OWNER_DIED     1 /* the next locker gets EOWNERDEAD */
#define ROBUST_INCONSISTENT   2 /* locked after EOWNERDEAD, not made consistent */
#define ROBUST_NOTRECOVERABLE 3
#define NEXT_HELD(m)	      ((pthread_mutex_t *)(m)->__data.__list.__next)

static bool robust_private(const pthread_mutex_t *m)
{
	return (m->__data.__kind & (KIND_ROBUST | KIND_PSHARED)) == KIND_ROBUST;
}

static void held_add(pthread_mutex_t *m)
{
	struct thread *t = thread_self();
	m->__data.__list.__next = (struct __pthread_internal_list *)t->robust_held;
	t->robust_held = m;
}

static void held_remove(pthread_mutex_t *m)
{
	struct thread *t = thread_self();
	for (pthread_mutex_t **p = (pthread_mutex_t **)&t->robust_held; *p;
	     p = (pthread_mutex_t **)&(*p)->__data.__list.__next)
		if (*p == m) {
			*p = NEXT_HELD(m);
			m->__data.__list.__next = NULL;
			return;
		}
}

static void release_word(pthread_mutex_t *m);

/* Just took the lock word of a robust mutex: 0, EOWNERDEAD (the caller
 * owns it, inconsistent), or ENOTRECOVERABLE (released again). */
static int robust_acquired(pthread_mutex_t *m, int self)
{
	if (RSTATE(m) == ROBUST_NOTRECOVERABLE) {
		release_word(m);
		return ENOTRECOVERABLE;
	}
	held_add(m);
	atomic_store_explicit(OWNER(m), self, memory_order_relaxed);
	m->__data.__count = 1;
	if (RSTATE(m) == ROBUST_OWNER_DIED) {
		RSTATE(m) = ROBUST_INCONSISTENT;
		return EOWNERDEAD;
	}
	return 0;
}

static int type_of(const pthread_mutex_t *m)
{
	return m->__data.__kind & KIND_TYPE_MASK;
}

EXPORT int pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *attr)
{
	STEP_ASIDE_FORWARD(pthread_mutex_init, m, attr);
	int kind = PTHREAD_MUTEX_NORMAL;
	if (attr) {
		int type, pshared, robust;
		if (pthread_mutexattr_gettype(attr, &type) != 0)
			return EINVAL;
		kind = type;
		if (pthread_mutexattr_getpshared(attr, &pshared) == 0 &&
		    pshared == PTHREAD_PROCESS_SHARED)
			kind |= KIND_PSHARED;
		if (pthread_mutexattr_getrobust(attr, &robust) == 0 &&
		    robust == PTHREAD_MUTEX_ROBUST)
			kind |= KIND_ROBUST;
		int protocol, ceiling = 0;
		if (pthread_mutexattr_getprotocol(attr, &protocol) == 0 &&
		    protocol == PTHREAD_PRIO_PROTECT) {
			kind |= KIND_PRIO_PROTECT;
			pthread_mutexattr_getprioceiling(attr, &ceiling);
		}
		*m = (pthread_mutex_t){0};
		m->__data.__kind = kind;
		CEILING(m) = (short)ceiling;
		return 0;
	}
	*m = (pthread_mutex_t){0};
	m->__data.__kind = kind;
	return 0;
}

EXPORT int pthread_mutex_getprioceiling(const pthread_mutex_t *restrict m, int *restrict ceiling)
{
	STEP_ASIDE_FORWARD(pthread_mutex_getprioceiling, m, ceiling);
	if (!(m->__data.__kind & KIND_PRIO_PROTECT))
		return EINVAL;
	*ceiling = CEILING(m);
	return 0;
}

EXPORT int pthread_mutex_setprioceiling(pthread_mutex_t *restrict m, int ceiling, int *restrict old)
{
	STEP_ASIDE_FORWARD(pthread_mutex_setprioceiling, m, ceiling, old);
	if (!(m->__data.__kind & KIND_PRIO_PROTECT) ||
	    ceiling < sched_get_priority_min(SCHED_FIFO) ||
	    ceiling > sched_get_priority_max(SCHED_FIFO))
		return EINVAL;
	/* POSIX: changed with the mutex held, so it is locked around it. */
	int err = pthread_mutex_lock(m);
	if (err && err != EDEADLK)
		return err;
	*old = CEILING(m);
	CEILING(m) = (short)ceiling;
	if (!err)
		pthread_mutex_unlock(m);
	return 0;
}

EXPORT int pthread_mutex_destroy(pthread_mutex_t *m)
{
	STEP_ASIDE_FORWARD(pthread_mutex_destroy, m);
	if (atomic_load(LOCKW(m)) != 0)
		return EBUSY;
	return 0;
}

static int wait_locked(pthread_mutex_t *m, int64_t deadline)
{
	if (m->__data.__kind & KIND_PSHARED)
		return futex_shared_wait((uint32_t *)LOCKW(m), 2, deadline);
	return waitq_wait_reason(LOCKW(m), 2, deadline, &WAIT_MUTEX);
}

static void wake_one(pthread_mutex_t *m)
{
	if (m->__data.__kind & KIND_PSHARED)
		futex_shared_wake((uint32_t *)LOCKW(m), 1);
	else
		waitq_wake(LOCKW(m), 1);
}

static void release_word(pthread_mutex_t *m)
{
	if (atomic_exchange_explicit(LOCKW(m), 0, memory_order_release) == 2)
		wake_one(m);
}

/* A thread ends (thread_finish): every robust mutex it holds is released
 * with its owner marked dead, for the next locker's EOWNERDEAD. */
void mutex_owner_died(struct thread *t)
{
	pthread_mutex_t *m = t->robust_held;
	t->robust_held = NULL;
	while (m) {
		pthread_mutex_t *next = NEXT_HELD(m);
		m->__data.__list.__next = NULL;
		if (RSTATE(m) != ROBUST_NOTRECOVERABLE)
			RSTATE(m) = ROBUST_OWNER_DIED;
		atomic_store_explicit(OWNER(m), 0, memory_order_relaxed);
		m->__data.__count = 0;
		release_word(m);
		m = next;
	}
}

EXPORT int pthread_mutex_consistent(pthread_mutex_t *m)
{
	STEP_ASIDE_FORWARD(pthread_mutex_consistent, m);
	if (!(m->__data.__kind & KIND_ROBUST) || RSTATE(m) != ROBUST_INCONSISTENT)
		return EINVAL;
	RSTATE(m) = ROBUST_CONSISTENT;
	return 0;
}

/* The old name (pthread.h redirects it to the new one for new programs). */
EXPORT int mutex_consistent_np(pthread_mutex_t *m) __asm__("pthread_mutex_consistent_np");
EXPORT int mutex_consistent_np(pthread_mutex_t *m)
{
	STEP_ASIDE_FORWARD_AS(mutex_consistent_np, pthread_mutex_consistent_np, m);
	return pthread_mutex_consistent(m);
}

/* The contended path, apart from the fast path so that stays small. */
static int lock_slow(pthread_mutex_t *m, int64_t deadline, const struct timespec *abs)
{
	_Atomic uint32_t *w = LOCKW(m);
	/* Spin briefly when another P may be running the owner: a critical
	 * section is usually shorter than a park and a wakeup. */
	if (sched_procs() > 1) {
		for (int i = 0; i < 4; i++) {
			for (int k = 0; k < 30; k++)
				__asm__ volatile("pause" ::: "memory");
			uint32_t z = 0;
			if (atomic_load_explicit(w, memory_order_relaxed) == 0 &&
			    atomic_compare_exchange_strong(w, &z, 1))
				return 0;
		}
	}
	if (abs && !timespec_valid(abs))
		return EINVAL;
	while (atomic_exchange(w, 2) != 0) {
		if (wait_locked(m, deadline) == ETIMEDOUT)
			return ETIMEDOUT;
	}
	return 0;
}

/* Robust and process-shared: the kernel's protocol (mutex_robust_shared.c). */
static bool robust_shared(const pthread_mutex_t *m)
{
	return (m->__data.__kind & (KIND_ROBUST | KIND_PSHARED)) == (KIND_ROBUST | KIND_PSHARED);
}

static int lock_common(pthread_mutex_t *m, int64_t deadline, const struct timespec *abs)
{
	if (robust_shared(m)) {
		if (abs && !timespec_valid(abs))
			return EINVAL;
		return robust_shared_lock(m, deadline, false);
	}
	int type = type_of(m);
	int self = (int)thread_self_id();
	bool robust = robust_private(m);
	if (type == PTHREAD_MUTEX_RECURSIVE || type == PTHREAD_MUTEX_ERRORCHECK) {
		if (owned_by(m, self)) {
			if (type == PTHREAD_MUTEX_ERRORCHECK)
				return EDEADLK;
			if (m->__data.__count == UINT_MAX)
				return EAGAIN;
			m->__data.__count++;
			return 0;
		}
	}
	uint32_t z = 0;
	if (!atomic_compare_exchange_strong_explicit(LOCKW(m), &z, 1, memory_order_acquire,
						     memory_order_relaxed)) {
		int err = lock_slow(m, deadline, abs);
		if (err)
			return err;
	}
	if (robust)
		return robust_acquired(m, self);
	set_owner(m, self);
	m->__data.__count = 1;
	return 0;
}

EXPORT int pthread_mutex_lock(pthread_mutex_t *m)
{
	STEP_ASIDE_FORWARD(pthread_mutex_lock, m);
	return lock_common(m, 0, NULL);
}

EXPORT int pthread_mutex_trylock(pthread_mutex_t *m)
{
	STEP_ASIDE_FORWARD(pthread_mutex_trylock, m);
	if (robust_shared(m))
		return robust_shared_lock(m, 0, true);
	int type = type_of(m);
	int self = (int)thread_self_id();
	if (owned_by(m, self)) {
		if (type == PTHREAD_MUTEX_RECURSIVE) {
			if (m->__data.__count == UINT_MAX)
				return EAGAIN;
			m->__data.__count++;
			return 0;
		}
		return EBUSY;
	}
	uint32_t z = 0;
	if (!atomic_compare_exchange_strong_explicit(LOCKW(m), &z, 1, memory_order_acquire,
						     memory_order_relaxed))
		return EBUSY;
	if (robust_private(m))
		return robust_acquired(m, self);
	set_owner(m, self);
	m->__data.__count = 1;
	return 0;
}

EXPORT int pthread_mutex_clocklock(pthread_mutex_t *restrict m, clockid_t clock,
				   const struct timespec *restrict abs)
{
	STEP_ASIDE_FORWARD(pthread_mutex_clocklock, m, clock, abs);
	if (!deadline_clock_supported(clock))
		return EINVAL;
	int64_t deadline = timespec_valid(abs) ? deadline_from_abstime(clock, abs) : 1;
	return lock_common(m, deadline, abs);
}

EXPORT int pthread_mutex_timedlock(pthread_mutex_t *restrict m, const struct timespec *restrict abs)
{
	STEP_ASIDE_FORWARD(pthread_mutex_timedlock, m, abs);
	return pthread_mutex_clocklock(m, CLOCK_REALTIME, abs);
}

static int unlock_common(pthread_mutex_t *m, bool full)
{
	if (robust_shared(m)) {
		if (full && type_of(m) == PTHREAD_MUTEX_RECURSIVE)
			m->__data.__count = 1;
		return robust_shared_unlock(m);
	}
	int type = type_of(m);
	bool robust = robust_private(m);
	if (type == PTHREAD_MUTEX_RECURSIVE || type == PTHREAD_MUTEX_ERRORCHECK || robust) {
		if (!owned_by(m, (int)thread_self_id()) || atomic_load(LOCKW(m)) == 0)
			return EPERM;
		if (type == PTHREAD_MUTEX_RECURSIVE && !full && --m->__data.__count > 0)
			return 0;
	}
	if (robust) {
		held_remove(m);
		/* Unlocked without pthread_mutex_consistent: glibc makes it
		 * unusable for good. */
		if (RSTATE(m) == ROBUST_INCONSISTENT)
			RSTATE(m) = ROBUST_NOTRECOVERABLE;
	}
	atomic_store_explicit(OWNER(m), 0, memory_order_relaxed);
	m->__data.__count = 0;
	release_word(m);
	return 0;
}

EXPORT int pthread_mutex_unlock(pthread_mutex_t *m)
{
	STEP_ASIDE_FORWARD(pthread_mutex_unlock, m);
	return unlock_common(m, false);
}

/* pthread_cond_wait unlocks and relocks as pthread_mutex_unlock and
 * pthread_mutex_lock do, as glibc's does: a recursive mutex held more
 * than once loses one level and stays held through the wait (only a
 * signal or the deadline ends it), then gets the level back. */
int mutex_unlock_for_wait(pthread_mutex_t *m)
{
	return unlock_common(m, false);
}

int mutex_relock_after_wait(pthread_mutex_t *m)
{
	return lock_common(m, 0, NULL);
}
