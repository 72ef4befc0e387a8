/* sched/lock.c - runtime locks and notes on raw SYS_futex.
 *
 * The scheduler cannot use pthread_mutex_lock: the shim interposes it, and
 * a runtime lock must put the kernel thread to sleep, not a G. */
#include "arch/syscall.h"
#include "sched/lock.h"

#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "arch/arch.h"

int futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline)
{
	struct timespec ts, *tsp = NULL;
	int op = FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG;
	if (deadline > 0) {
		ts.tv_sec = deadline / 1000000000;
		ts.tv_nsec = deadline % 1000000000;
		tsp = &ts;
	}
	/* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline. */
	long r = raw_syscall(SYS_futex, addr, op, val, tsp, NULL, FUTEX_BITSET_MATCH_ANY);
	return r == 0 ? 0 : (int)-r;
}

void futex_wake(_Atomic uint32_t *addr, int n)
{
	raw_syscall(SYS_futex, addr, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, n, NULL, NULL, 0);
}

bool rtlock_trylock(struct rtlock *l)
{
	uint32_t z = 0;
	return atomic_compare_exchange_strong_explicit(&l->v, &z, 1, memory_order_acquire,
						       memory_order_relaxed);
}

void rtlock_lock(struct rtlock *l)
{
	if (rtlock_trylock(l))
		return;
	/* Runtime critical sections are a few dozen instructions: spin a little
	 * before paying two system calls (~1 us each here). */
	for (int i = 0; i < 100; i++) {
		arch_cpu_relax();
		if (atomic_load_explicit(&l->v, memory_order_relaxed) == 0 && rtlock_trylock(l))
			return;
	}
	/* Once we have set 2 we may have been the one who made it contended,
	 * so we must take it as 2 too, or an unlock could skip the wake. */
	while (atomic_exchange_explicit(&l->v, 2, memory_order_acquire) != 0)
		futex_wait(&l->v, 2, 0);
}

void rtlock_unlock(struct rtlock *l)
{
	if (atomic_exchange_explicit(&l->v, 0, memory_order_release) == 2)
		futex_wake(&l->v, 1);
}

/* Note states: 0 clear, 1 woken, 2 a sleeper is (or is about to be) in
 * futex_wait. The waker only makes a system call when it sees 2. */
void note_wakeup(struct note *n)
{
	uint32_t old = atomic_exchange_explicit(&n->key, 1, memory_order_release);
	if (old == 2)
		futex_wake(&n->key, 1);
}

bool note_sleep_until(struct note *n, int64_t deadline)
{
	uint32_t z = 0;
	if (!atomic_compare_exchange_strong_explicit(&n->key, &z, 2, memory_order_acquire,
						     memory_order_acquire))
		return true; /* already woken */
	for (;;) {
		int e = futex_wait(&n->key, 2, deadline);
		if (atomic_load_explicit(&n->key, memory_order_acquire) == 1)
			return true;
		if (e == ETIMEDOUT) {
			/* Race with a late wakeup: whoever moves the key off 2 decides. */
			uint32_t two = 2;
			if (atomic_compare_exchange_strong_explicit(
				&n->key, &two, 0, memory_order_acquire, memory_order_acquire))
				return false;
			return true;
		}
	}
}

void note_sleep(struct note *n)
{
	note_sleep_until(n, 0);
}
