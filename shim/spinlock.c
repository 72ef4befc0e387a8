/* shim/spinlock.c - pthread_spin_*: spin a little, then yield the P.
 *
 * glibc's spin loop burns its CPU until the holder lets go. A holder that
 * is a G may not be running at all (parked, or queued behind the spinner
 * on the same P), so after a short spin the waiter yields its P to the
 * other runnable Gs and tries again. The lock word is glibc's (0 free, 1
 * held), so a process-shared spin lock works with processes without gmpt. */
#include "shim/thread.h"

#include <errno.h>
#include <sched.h>

#define SPINS_BEFORE_YIELD 100

EXPORT int pthread_spin_init(pthread_spinlock_t *lock, int pshared)
{
	STEP_ASIDE_FORWARD(pthread_spin_init, lock, pshared);
	(void)pshared; /* the same word works in shared memory */
	__atomic_store_n(lock, 0, __ATOMIC_RELAXED);
	return 0;
}

EXPORT int pthread_spin_destroy(pthread_spinlock_t *lock)
{
	STEP_ASIDE_FORWARD(pthread_spin_destroy, lock);
	(void)lock;
	return 0;
}

EXPORT int pthread_spin_trylock(pthread_spinlock_t *lock)
{
	STEP_ASIDE_FORWARD(pthread_spin_trylock, lock);
	return __atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE) == 0 ? 0 : EBUSY;
}

EXPORT int pthread_spin_lock(pthread_spinlock_t *lock)
{
	STEP_ASIDE_FORWARD(pthread_spin_lock, lock);
	for (;;) {
		if (__atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE) == 0)
			return 0;
		for (int i = 0; i < SPINS_BEFORE_YIELD; i++) {
			if (__atomic_load_n(lock, __ATOMIC_RELAXED) == 0)
				break;
			__builtin_ia32_pause();
		}
		if (__atomic_load_n(lock, __ATOMIC_RELAXED) != 0)
			sched_yield(); /* gmpt's: the G goes behind the others */
	}
}

EXPORT int pthread_spin_unlock(pthread_spinlock_t *lock)
{
	STEP_ASIDE_FORWARD(pthread_spin_unlock, lock);
	__atomic_store_n(lock, 0, __ATOMIC_RELEASE);
	return 0;
}
