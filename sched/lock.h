/* sched/lock.h - the runtime's own locks and one-shot notes.
 *
 * Both block kernel threads (Ms) on raw SYS_futex, never on anything the
 * shim interposes, so the scheduler can use them while it is rescheduling. */
#ifndef GMPT_LOCK_H
#define GMPT_LOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* 0 unlocked, 1 locked, 2 locked and somebody may sleep on it (Drepper's
 * "Futexes are tricky", mutex #3). Spins briefly before sleeping. */
struct rtlock {
	_Atomic uint32_t v;
};

void rtlock_lock(struct rtlock *l);
void rtlock_unlock(struct rtlock *l);
bool rtlock_trylock(struct rtlock *l);

/* A note is a one-shot wakeup: note_wakeup may come before or after
 * note_sleep and is never lost. note_clear rearms it; only the sleeper
 * clears. */
struct note {
	_Atomic uint32_t key;
};

static inline void note_clear(struct note *n)
{
	atomic_store_explicit(&n->key, 0, memory_order_relaxed);
}
void note_wakeup(struct note *n);
void note_sleep(struct note *n);
/* Sleeps until woken or until the CLOCK_MONOTONIC deadline (ns). Returns
 * true if woken. */
bool note_sleep_until(struct note *n, int64_t deadline);

/* Raw futex helpers. */
int futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline_mono_ns);
void futex_wake(_Atomic uint32_t *addr, int n);

#endif
