/* shim/barrier.c - pthread_barrier_* inside the program's own
 * pthread_barrier_t (gmpt's layout: all barrier calls are gmpt's).
 *
 * The last thread of a round resets the arrival count and then bumps the
 * round; the others park until the round moves. No thread of the next
 * round can arrive between the reset and the bump: every thread of this
 * round is still waiting for the bump.
 *
 * POSIX lets the serial thread destroy (and re-initialise, or free) the
 * barrier as soon as it returns, while the others may not have woken yet
 * to see the round move. So, as glibc's does, destroy waits until they
 * have left: the serial thread counts them in `leaving` before the bump,
 * each takes itself off after its last look at the barrier, and the last
 * one wakes a destroyer. */
#include "shim/thread.h"
#include "sched/sched.h"
#include "syscalls/futex_shared.h"

#include <errno.h>
#include <limits.h>

struct barrier {
	_Atomic uint32_t in;
	uint32_t count;
	_Atomic uint32_t round;
	uint32_t pshared;
	_Atomic uint32_t leaving; /* woken waiters still to leave */
};

_Static_assert(sizeof(struct barrier) <= sizeof(pthread_barrier_t), "barrier does not fit");

#define B(b) ((struct barrier *)(b))

EXPORT int pthread_barrier_init(pthread_barrier_t *restrict b,
				const pthread_barrierattr_t *restrict attr, unsigned count)
{
	STEP_ASIDE_FORWARD(pthread_barrier_init, b, attr, count);
	if (count == 0 || count > INT_MAX)
		return EINVAL;
	int pshared = PTHREAD_PROCESS_PRIVATE;
	if (attr)
		pthread_barrierattr_getpshared(attr, &pshared);
	*B(b) = (struct barrier){.count = count, .pshared = pshared == PTHREAD_PROCESS_SHARED};
	return 0;
}

static void barrier_sleep(struct barrier *b, _Atomic uint32_t *word, uint32_t val,
			  const struct wait_reason *why)
{
	if (b->pshared)
		futex_shared_wait((uint32_t *)word, val, 0);
	else
		waitq_wait_reason(word, val, 0, why);
}

static void barrier_wake(struct barrier *b, _Atomic uint32_t *word)
{
	if (b->pshared)
		futex_shared_wake((uint32_t *)word, INT_MAX);
	else
		waitq_wake(word, INT_MAX);
}

EXPORT int pthread_barrier_destroy(pthread_barrier_t *bar)
{
	STEP_ASIDE_FORWARD(pthread_barrier_destroy, bar);
	struct barrier *b = B(bar);
	if (atomic_load(&b->in))
		return EBUSY;
	uint32_t n;
	while ((n = atomic_load(&b->leaving)) != 0)
		barrier_sleep(b, &b->leaving, n, &WAIT_BARRIER);
	return 0;
}

EXPORT int pthread_barrier_wait(pthread_barrier_t *bar)
{
	STEP_ASIDE_FORWARD(pthread_barrier_wait, bar);
	struct barrier *b = B(bar);
	uint32_t round = atomic_load(&b->round);
	if (atomic_fetch_add(&b->in, 1) + 1 == b->count) {
		/* Before the bump: no waiter can leave before it is counted. */
		atomic_fetch_add(&b->leaving, b->count - 1);
		atomic_store(&b->in, 0);
		atomic_fetch_add(&b->round, 1);
		barrier_wake(b, &b->round);
		return PTHREAD_BARRIER_SERIAL_THREAD;
	}
	while (atomic_load(&b->round) == round)
		barrier_sleep(b, &b->round, round, &WAIT_BARRIER);
	/* The last look at *b, unless this is the last leaver: a destroyer
	 * may then return, and the barrier be re-initialised or freed, as
	 * soon as the count reads 0. The wake after it only uses the
	 * address as a key (a stray wake of a later waiter there re-checks
	 * its word and sleeps again; the kernel's futex wake on an unmapped
	 * address fails harmlessly), and pshared is read before. */
	bool pshared = b->pshared;
	if (atomic_fetch_sub(&b->leaving, 1) == 1) {
		if (pshared)
			futex_shared_wake((uint32_t *)&b->leaving, INT_MAX);
		else
			waitq_wake(&b->leaving, INT_MAX);
	}
	return 0;
}
