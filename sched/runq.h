/* sched/runq.h - a P's local run queue: a 256-slot ring plus runnext.
 *
 * One producer (the P's owner) and many consumers (the owner and thieves).
 * head and tail are free-running uint32 counters; the ring index is the
 * counter mod 256, so tail - head is always the length even across wrap.
 * Only the owner writes tail; everyone advances head with a CAS, after
 * reading the slots it claims, so a slot is never read after it is freed
 * for reuse. This is Go's runqput/runqget/runqgrab/runqsteal, in C11 atomics. */
#ifndef GMPT_RUNQ_H
#define GMPT_RUNQ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "sched/gqueue.h"

#define RUNQ_SIZE 256u

struct g;

struct runq {
	_Atomic uint32_t head;
	_Atomic uint32_t tail;
	struct g *_Atomic runnext;
	struct g *_Atomic ring[RUNQ_SIZE];
};

/* Owner only. Puts g in runnext when next is true (the old runnext, if any,
 * goes to the ring tail), else at the ring tail. Returns true when it fit.
 * When the ring is full, half of it plus the G that did not fit are moved
 * to *spill, in order, and false is returned: the caller must append *spill
 * to the global run queue. */
bool runq_put(struct runq *q, struct g *g, bool next, struct gqueue *spill);

/* Owner only. Takes runnext first, then the ring head. *inherit is set when
 * the G came from runnext (it inherits the current time slice). */
struct g *runq_get(struct runq *q, bool *inherit);

/* Any thread. Moves about half of victim's Gs to the thief's ring (owned by
 * the caller) and returns one of them to run, or NULL. runnext is taken only
 * when steal_runnext is set and the ring was empty; spin_before_runnext is
 * called first so the victim's owner gets a chance to run its own runnext. */
struct g *runq_steal(struct runq *thief, struct runq *victim, bool steal_runnext,
		     void (*spin_before_runnext)(void));

/* Approximate length (exact for the owner). */
uint32_t runq_len(struct runq *q);
bool runq_empty(struct runq *q);

/* Owner only: move everything (ring and runnext) out to *out, emptying q. */
void runq_drain(struct runq *q, struct gqueue *out);

#endif
