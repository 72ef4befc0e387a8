/* shim/barrier.c - pthread_barrier_* inside the program's own
 * pthread_barrier_t (gmpt's layout: all barrier calls are gmpt's).
 *
 * The last thread of a round resets the arrival count and then bumps the
 * round; the others park until the round moves. No thread of the next
 * round can arrive between the reset and the bump: every thread of this
 * round is still waiting for the bump. */
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

EXPORT int pthread_barrier_destroy(pthread_barrier_t *b)
{
	STEP_ASIDE_FORWARD(pthread_barrier_destroy, b);
	return atomic_load(&B(b)->in) ? EBUSY : 0;
}

EXPORT int pthread_barrier_wait(pthread_barrier_t *bar)
{
	STEP_ASIDE_FORWARD(pthread_barrier_wait, bar);
	struct barrier *b = B(bar);
	uint32_t round = atomic_load(&b->round);
	if (atomic_fetch_add(&b->in, 1) + 1 == b->count) {
		atomic_store(&b->in, 0);
		atomic_fetch_add(&b->round, 1);
		if (b->pshared)
			futex_shared_wake((uint32_t *)&b->round, INT_MAX);
		else
			waitq_wake(&b->round, INT_MAX);
		return PTHREAD_BARRIER_SERIAL_THREAD;
	}
	while (atomic_load(&b->round) == round) {
		if (b->pshared)
			futex_shared_wait((uint32_t *)&b->round, round, 0);
		else
			waitq_wait_reason(&b->round, round, 0, &WAIT_BARRIER);
	}
	return 0;
}
