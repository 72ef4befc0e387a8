/* shim/once.c - pthread_once on the program's own int.
 *
 * 0 not run, 1 running, 2 running with waiters, 3 done. PTHREAD_ONCE_INIT
 * is 0. Waiters park on the word; the runner wakes them all when done. */
#include "shim/thread.h"
#include "sched/sched.h"

#include <limits.h>

enum { ONCE_INIT, ONCE_RUNNING, ONCE_WAITED, ONCE_DONE };

/* The routine's thread was cancelled (or called pthread_exit) inside it,
 * or the routine threw (std::call_once's contract, which glibc's
 * pthread_once keeps): as glibc does, the once goes back to "not run", and
 * waiters try again. pthread_cleanup_push is the -fexceptions kind here
 * (shim/meson.build), so both unwinds run it. */
static void once_abandoned(void *arg)
{
	_Atomic uint32_t *w = arg;
	if (atomic_exchange(w, ONCE_INIT) == ONCE_WAITED)
		waitq_wake(w, INT_MAX);
}

EXPORT int pthread_once(pthread_once_t *once, void (*fn)(void))
{
	STEP_ASIDE_FORWARD(pthread_once, once, fn);
	_Atomic uint32_t *w = (_Atomic uint32_t *)once;
	uint32_t s = atomic_load_explicit(w, memory_order_acquire);
	if (s == ONCE_DONE)
		return 0;
	for (;;) {
		s = ONCE_INIT;
		if (atomic_compare_exchange_strong(w, &s, ONCE_RUNNING)) {
			pthread_cleanup_push(once_abandoned, (void *)w);
			fn();
			pthread_cleanup_pop(0);
			if (atomic_exchange(w, ONCE_DONE) == ONCE_WAITED)
				waitq_wake(w, INT_MAX);
			return 0;
		}
		if (s == ONCE_DONE)
			return 0;
		/* Somebody runs it: say we wait, then wait for the change. */
		if (s == ONCE_RUNNING && !atomic_compare_exchange_strong(w, &s, ONCE_WAITED) &&
		    s != ONCE_WAITED)
			continue;
		waitq_wait_reason(w, ONCE_WAITED, 0, &WAIT_ONCE);
	}
}
