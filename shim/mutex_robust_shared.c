/* shim/mutex_robust_shared.c - robust mutexes shared between processes.
 *
 * Only the kernel sees a process die, so these use its robust-futex
 * protocol (Documentation/locking/robust-futex-ABI): the lock word holds
 * the owner's kernel thread id, FUTEX_WAITERS when someone sleeps on it,
 * FUTEX_OWNER_DIED once its owner is gone; each kernel thread registers a
 * list of the robust mutexes it holds, and the kernel walks it when the
 * thread exits, marking every mutex whose word still names that thread.
 *
 * A G moves between kernel threads, so gmpt keeps one list for the whole
 * process, registered by the main kernel thread (M0, whose id is the
 * process id), and a held mutex's word names the process id, whichever
 * thread locked it. M0 exits only with the process (gmpt never ends it
 * alone), so the kernel marks the mutexes when, and only when, the
 * process dies. Which thread of the process owns it is in __owner, as for
 * the other kinds; a thread that ends holding one marks it itself
 * (robust_shared_owner_died). The protected data's state (consistent,
 * inconsistent, not recoverable) is in __elision, as for private robust
 * mutexes, so every process sees it.
 *
 * The list is changed under list_lock, one operation at a time, with the
 * entry in list_op_pending around it: if the process dies in the middle,
 * the kernel still finds the mutex (the ABI's purpose for that field).
 * Each change is one store of a next pointer, so the kernel never walks a
 * broken list. */
#include "shim/thread.h"
#include "sched/header_gaps.h"
#include "sched/sched.h"
#include "syscalls/futex_shared.h"

#include <errno.h>
#include <linux/futex.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "arch/syscall.h"

#define RSTATE(m) MUTEX_SPARE_SHORT(&(m)->__data)
enum { CONSISTENT, OWNER_DIED, INCONSISTENT, NOTRECOVERABLE }; /* as in mutex.c */

#define WORD(m)	 ((_Atomic uint32_t *)&(m)->__data.__lock)
#define OWNER(m) ((_Atomic int *)&(m)->__data.__owner)
/* The list entry is glibc's own place for it, __list.__next. */
#define ENTRY(m) ((struct robust_list *)&(m)->__data.__list.__next)

static struct robust_list_head head = {
    .list = {&head.list},
    .futex_offset = (long)offsetof(pthread_mutex_t, __data.__lock) -
		    (long)offsetof(pthread_mutex_t, __data.__list.__next),
    .list_op_pending = NULL,
};
static atomic_flag list_lock = ATOMIC_FLAG_INIT;
static uint32_t self_pid;

static void list_acquire(void)
{
	while (atomic_flag_test_and_set_explicit(&list_lock, memory_order_acquire))
		sched_gosched(); /* held for a few stores only */
}

static void list_release(void)
{
	atomic_flag_clear_explicit(&list_lock, memory_order_release);
}

static pthread_mutex_t *mutex_of(struct robust_list *e)
{
	return (pthread_mutex_t *)((char *)e - offsetof(pthread_mutex_t, __data.__list.__next));
}

/* On the main kernel thread at start-up, and in a fork's child (whose one
 * thread is its process's main one): the child holds none of the
 * parent's mutexes. */
void robust_shared_init(void)
{
	head.list.next = &head.list;
	head.list_op_pending = NULL;
	atomic_flag_clear(&list_lock);
	self_pid = (uint32_t)getpid();
	raw_syscall(SYS_set_robust_list, &head, sizeof head);
}

static void list_add(pthread_mutex_t *m)
{
	ENTRY(m)->next = head.list.next;
	head.list.next = ENTRY(m); /* the one store that publishes it */
}

static void list_remove(pthread_mutex_t *m)
{
	for (struct robust_list *p = &head.list; p->next != &head.list; p = p->next)
		if (p->next == ENTRY(m)) {
			p->next = ENTRY(m)->next;
			return;
		}
}

/* The word is free (possibly marked dead): take it, as the process.
 * Under list_lock. Returns whether it did, with *died set if the owner
 * had died. */
static bool try_take(pthread_mutex_t *m, uint32_t waiters, bool *died)
{
	uint32_t v = atomic_load(WORD(m));
	if (v & FUTEX_TID_MASK)
		return false;
	head.list_op_pending = ENTRY(m);
	if (!atomic_compare_exchange_strong(WORD(m), &v,
					    self_pid | (v & FUTEX_WAITERS) | waiters)) {
		head.list_op_pending = NULL;
		return false;
	}
	list_add(m);
	head.list_op_pending = NULL;
	*died = (v & FUTEX_OWNER_DIED) != 0;
	return true;
}

static int acquired(pthread_mutex_t *m, bool died)
{
	if (died && RSTATE(m) != NOTRECOVERABLE)
		RSTATE(m) = OWNER_DIED;
	if (RSTATE(m) == NOTRECOVERABLE) {
		robust_shared_unlock(m);
		return ENOTRECOVERABLE;
	}
	atomic_store_explicit(OWNER(m), (int)thread_self_id(), memory_order_relaxed);
	m->__data.__count = 1;
	if (RSTATE(m) == OWNER_DIED) {
		RSTATE(m) = INCONSISTENT;
		return EOWNERDEAD;
	}
	return 0;
}

/* Held by this process: by the calling thread? */
static bool held_by_self(pthread_mutex_t *m)
{
	return (atomic_load(WORD(m)) & FUTEX_TID_MASK) == self_pid &&
	       atomic_load_explicit(OWNER(m), memory_order_relaxed) == (int)thread_self_id();
}

int robust_shared_lock(pthread_mutex_t *m, int64_t deadline, bool try)
{
	int type = m->__data.__kind & 3;
	if (held_by_self(m)) {
		if (type == PTHREAD_MUTEX_RECURSIVE) {
			if (m->__data.__count == UINT32_MAX)
				return EAGAIN;
			m->__data.__count++;
			return 0;
		}
		if (type == PTHREAD_MUTEX_ERRORCHECK || try)
			return try ? EBUSY : EDEADLK;
		/* A normal mutex locked twice deadlocks, as with glibc. */
	}
	/* After one wait, take it with the waiters bit: others may sleep. */
	uint32_t waiters = 0;
	for (;;) {
		bool died = false;
		list_acquire();
		bool took = try_take(m, waiters, &died);
		list_release();
		if (took)
			return acquired(m, died);
		if (try)
			return EBUSY;
		uint32_t v = atomic_load(WORD(m));
		if (!(v & FUTEX_TID_MASK))
			continue;
		if (!(v & FUTEX_WAITERS) &&
		    !atomic_compare_exchange_strong(WORD(m), &v, v | FUTEX_WAITERS))
			continue;
		if (futex_shared_wait((uint32_t *)WORD(m), v | FUTEX_WAITERS, deadline) ==
		    ETIMEDOUT)
			return ETIMEDOUT;
		waiters = FUTEX_WAITERS;
	}
}

int robust_shared_unlock(pthread_mutex_t *m)
{
	if (!held_by_self(m))
		return EPERM;
	if ((m->__data.__kind & 3) == PTHREAD_MUTEX_RECURSIVE && --m->__data.__count > 0)
		return 0;
	/* Unlocked without pthread_mutex_consistent: unusable for good. */
	if (RSTATE(m) == INCONSISTENT)
		RSTATE(m) = NOTRECOVERABLE;
	atomic_store_explicit(OWNER(m), 0, memory_order_relaxed);
	m->__data.__count = 0;
	list_acquire();
	head.list_op_pending = ENTRY(m);
	list_remove(m);
	uint32_t v = atomic_exchange(WORD(m), 0);
	head.list_op_pending = NULL;
	list_release();
	if (v & FUTEX_WAITERS)
		futex_shared_wake((uint32_t *)WORD(m), 1);
	return 0;
}

/* Thread t ends: the mutexes it holds are marked as the kernel marks a
 * dead thread's, for the next locker in any process. */
void robust_shared_owner_died(uint32_t id)
{
	/* Racy peek: entries the dying thread holds were added by itself. */
	if (__atomic_load_n(&head.list.next, __ATOMIC_RELAXED) == &head.list)
		return;
	list_acquire();
	struct robust_list *p = &head.list;
	while (p->next != &head.list) {
		pthread_mutex_t *m = mutex_of(p->next);
		if (atomic_load_explicit(OWNER(m), memory_order_relaxed) != (int)id) {
			p = p->next;
			continue;
		}
		head.list_op_pending = ENTRY(m);
		p->next = ENTRY(m)->next;
		atomic_store_explicit(OWNER(m), 0, memory_order_relaxed);
		m->__data.__count = 0;
		uint32_t v = atomic_exchange(WORD(m), FUTEX_OWNER_DIED);
		head.list_op_pending = NULL;
		if (v & FUTEX_WAITERS)
			futex_shared_wake((uint32_t *)WORD(m), 1);
	}
	list_release();
}
