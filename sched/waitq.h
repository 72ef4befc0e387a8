/* sched/waitq.h - internal side of the address-keyed parking lot. */
#ifndef GMPT_WAITQ_H
#define GMPT_WAITQ_H

#include <stdint.h>

struct g;

/* A timer armed by waitq_wait fired: time the G out if it still waits. */
void waitq_timeout(struct g *g, uint64_t seq);

/* Threads gmpt does not run blocked in waitq_wait without a deadline,
 * indexed by enum wait_wakers. */
extern _Atomic int32_t waitq_foreign_blocked[3];

/* The address the parked G g waits on, or NULL if it is not in a wait
 * queue. For the deadlock check only: with every M idle the G cannot
 * leave the wait, so its waiter record (on its stack) stays put. */
const void *waitq_parked_addr(struct g *g);

/* Hashes wait queue addresses into nbuckets buckets (a power of 2 up to
 * the default, 1024) instead of the default: fewer make addresses collide
 * (GMPT_DEBUG=waitqbuckets=N, for tests). Before any thread waits. */
void waitq_configure(int nbuckets);

/* The child of fork: no waiter of the parent exists any more. */
void waitq_after_fork(void);

#endif
