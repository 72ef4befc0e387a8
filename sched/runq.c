/* sched/runq.c - a P's local run queue: a 256-slot ring plus runnext.
 *
 * The algorithm is Go's runqput/runqputslow/runqget/runqgrab/runqsteal
 * (runtime/proc.go), written with C11 atomics.
 *
 * Who touches what:
 *  - tail: written only by the owner (store-release after filling the slot
 *    it publishes); read by thieves with acquire, so a thief that sees the
 *    new tail also sees the slot contents written before it.
 *  - head: advanced by anyone with a CAS (acq_rel), always *after* the slots
 *    being claimed have been read. The owner loads head with acquire before
 *    it reuses a slot: that synchronises with the CAS of whoever freed the
 *    slot, so that consumer's read of the slot happens before our overwrite.
 *  - ring slots: written only by the owner, and only outside [head, tail);
 *    read (relaxed) by anyone. A consumer may read a slot from a stale
 *    snapshot that the owner is rewriting concurrently; such a read is
 *    always followed by a CAS on head that fails (head moved on, which is
 *    what allowed the owner to rewrite the slot), and the value is thrown
 *    away. The slots are atomics so that this benign race is not UB.
 *  - runnext: the owner swaps Gs in; the owner and thieves CAS it to NULL to
 *    take the G. Nobody but the owner ever stores a non-NULL value. */
#include "sched/runq.h"

#include "sched/runtime.h"

#define RUNQ_MASK (RUNQ_SIZE - 1u)

_Static_assert((RUNQ_SIZE & RUNQ_MASK) == 0, "RUNQ_SIZE must be a power of two");

static inline struct g *slot_load(struct runq *q, uint32_t i)
{
	return atomic_load_explicit(&q->ring[i & RUNQ_MASK], memory_order_relaxed);
}

static inline void slot_store(struct runq *q, uint32_t i, struct g *g)
{
	atomic_store_explicit(&q->ring[i & RUNQ_MASK], g, memory_order_relaxed);
}

/* Owner only: the ring is full (tail - head == RUNQ_SIZE as of head h), so
 * move its older half plus g to *spill. Returns false if a consumer moved
 * head first, in which case there is room now and the caller retries. */
static bool runq_put_slow(struct runq *q, struct g *g, uint32_t h, uint32_t t, struct gqueue *spill)
{
	struct g *batch[RUNQ_SIZE / 2 + 1];
	uint32_t n = (t - h) / 2, i;

	/* t - h == RUNQ_SIZE exactly: the owner alone adds, and the caller
	 * saw no free slot. So n == RUNQ_SIZE / 2. */
	for (i = 0; i < n; i++)
		batch[i] = slot_load(q, h + i);
	/* Claim them. A failed CAS means a thief advanced head after our
	 * load and took some of the Gs we copied; drop the copy (the slots
	 * themselves were not rewritten meanwhile, since only we write them)
	 * and let the caller use the room the thief made. */
	if (!atomic_compare_exchange_strong_explicit(&q->head, &h, h + n, memory_order_acq_rel,
						     memory_order_acquire))
		return false;
	batch[n] = g;
	for (i = 0; i <= n; i++)
		gqueue_push(spill, batch[i]);
	return true;
}

bool runq_put(struct runq *q, struct g *g, bool next, struct gqueue *spill)
{
	uint32_t h, t;

	if (next) {
		/* A thief may CAS runnext to NULL at any moment; the exchange
		 * is atomic with respect to that, so we get back either the old
		 * G (we now own it) or NULL (the thief got it). Release: the
		 * thief that takes g sees everything written to it before. */
		struct g *old = atomic_exchange_explicit(&q->runnext, g, memory_order_acq_rel);
		if (old == NULL)
			return true;
		g = old; /* kick the old runnext to the tail */
	}

	for (;;) {
		/* Acquire: synchronise with the consumer whose CAS freed the
		 * slot we are about to reuse. */
		h = atomic_load_explicit(&q->head, memory_order_acquire);
		t = atomic_load_explicit(&q->tail, memory_order_relaxed); /* ours */
		if (t - h < RUNQ_SIZE) {
			slot_store(q, t, g);
			/* Release: publishes the slot to consumers. */
			atomic_store_explicit(&q->tail, t + 1, memory_order_release);
			return true;
		}
		if (runq_put_slow(q, g, h, t, spill))
			return false;
		/* The ring is no longer full: retry the fast path. */
	}
}

struct g *runq_get(struct runq *q, bool *inherit)
{
	struct g *g = atomic_load_explicit(&q->runnext, memory_order_acquire);
	uint32_t h, t;

	/* Only thieves race with us here, and they only set runnext to NULL,
	 * so if the CAS fails the G is gone and we fall back to the ring. */
	if (g != NULL && atomic_compare_exchange_strong_explicit(
			     &q->runnext, &g, NULL, memory_order_acq_rel, memory_order_acquire)) {
		if (inherit != NULL)
			*inherit = true;
		return g;
	}
	if (inherit != NULL)
		*inherit = false;

	for (;;) {
		/* Acquire: synchronise with other consumers' head CAS. */
		h = atomic_load_explicit(&q->head, memory_order_acquire);
		t = atomic_load_explicit(&q->tail, memory_order_relaxed); /* ours */
		if (t == h)
			return NULL;
		g = slot_load(q, h);
		/* A thief may have taken slot h after our load of head; then
		 * this CAS fails and the value read is discarded. */
		if (atomic_compare_exchange_strong_explicit(
			&q->head, &h, h + 1, memory_order_acq_rel, memory_order_acquire))
			return g;
	}
}

/* Copy about half of victim's ring into thief's ring starting at slot index
 * thief_tail, claiming the copied Gs in the victim. At most max are taken
 * (max >= 1). Returns how many were taken; if the ring was empty and
 * steal_runnext is set, takes victim's runnext instead and returns it in
 * *next_out (with a return value of 0). */
static uint32_t runq_grab(struct runq *victim, struct runq *thief, uint32_t thief_tail,
			  uint32_t max, bool steal_runnext, void (*spin_before_runnext)(void),
			  struct g **next_out)
{
	for (;;) {
		/* Acquire on head: synchronise with other consumers, so the
		 * tail we load next is at least as new as the tail they saw
		 * when they claimed up to this head. Acquire on tail:
		 * synchronise with the owner's store-release, making the slots
		 * in [h, t) visible. */
		uint32_t h = atomic_load_explicit(&victim->head, memory_order_acquire);
		uint32_t t = atomic_load_explicit(&victim->tail, memory_order_acquire);
		uint32_t n = t - h, i;

		n = n - n / 2;
		if (n == 0) {
			struct g *next;

			if (!steal_runnext)
				return 0;
			next = atomic_load_explicit(&victim->runnext, memory_order_acquire);
			if (next == NULL)
				return 0;
			/* The victim's owner probably just readied next and is
			 * about to block and run it (the ping-pong pattern);
			 * give it a moment so we do not bounce next between
			 * Ps. */
			if (spin_before_runnext != NULL)
				spin_before_runnext();
			/* The owner may have run next or replaced it while we
			 * waited; then the CAS fails and we look again from
			 * the start (the replacement may be in the ring). */
			if (!atomic_compare_exchange_strong_explicit(&victim->runnext, &next, NULL,
								     memory_order_acq_rel,
								     memory_order_acquire))
				continue;
			*next_out = next;
			return 0;
		}
		/* h and t were not read as a pair: other consumers may have
		 * moved head past our h, and the owner then added more, before
		 * we read t. tail - h then exceeds the ring; the slots below
		 * the real head may already be rewritten. Read again. (The
		 * CAS below would fail anyway, since head moved; the check
		 * keeps a nonsense n from reaching the copy loop.) */
		if (n > RUNQ_SIZE / 2)
			continue;
		if (n > max)
			n = max;
		/* Copy before claiming. The thief's slots written here lie
		 * outside its [head, tail), so its own consumers ignore them
		 * until we publish the new thief tail. A victim slot may be
		 * rewritten by its owner under us if our snapshot is stale;
		 * then head has moved and the CAS below fails. */
		for (i = 0; i < n; i++)
			slot_store(thief, thief_tail + i, slot_load(victim, h + i));
		if (atomic_compare_exchange_strong_explicit(
			&victim->head, &h, h + n, memory_order_acq_rel, memory_order_acquire))
			return n;
		/* Another consumer claimed some of them first: the copies in
		 * the thief's unpublished slots are simply overwritten next
		 * time round. */
	}
}

struct g *runq_steal(struct runq *thief, struct runq *victim, bool steal_runnext,
		     void (*spin_before_runnext)(void))
{
	uint32_t t = atomic_load_explicit(&thief->tail, memory_order_relaxed); /* ours */
	/* Our own head may only grow under us (our thieves), so the room
	 * computed from it is a lower bound. */
	uint32_t h = atomic_load_explicit(&thief->head, memory_order_acquire);
	uint32_t room = RUNQ_SIZE - (t - h);
	struct g *next = NULL, *g;
	uint32_t n;

	/* Callers steal only when their own queue ran dry, so this is 0 only
	 * if a caller breaks that rule; then there is nowhere to put Gs and
	 * nothing is taken. */
	if (room == 0)
		return NULL;
	n = runq_grab(victim, thief, t, room, steal_runnext, spin_before_runnext, &next);
	if (n == 0)
		return next;
	/* Run the last G grabbed; queue the rest by publishing them. */
	n--;
	g = slot_load(thief, t + n);
	if (n > 0)
		atomic_store_explicit(&thief->tail, t + n, memory_order_release);
	return g;
}

uint32_t runq_len(struct runq *q)
{
	for (;;) {
		uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
		uint32_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
		struct g *next = atomic_load_explicit(&q->runnext, memory_order_acquire);
		uint32_t n = t - h;

		/* Not a pair (see runq_grab): retry until head and tail are
		 * plausible together. Exact for the owner, whose tail cannot
		 * move under it. */
		if (n > RUNQ_SIZE)
			continue;
		return n + (next != NULL);
	}
}

bool runq_empty(struct runq *q)
{
	/* Seeing head == tail and then runnext == NULL is not enough: between
	 * the two loads the owner may kick runnext into the ring (put with
	 * next) and then take the new runnext (get), so the ring holds a G we
	 * never saw. Such a kick moves tail, so re-reading tail catches it. */
	for (;;) {
		uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
		uint32_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
		struct g *next = atomic_load_explicit(&q->runnext, memory_order_acquire);

		if (t == atomic_load_explicit(&q->tail, memory_order_acquire))
			return h == t && next == NULL;
	}
}

void runq_drain(struct runq *q, struct gqueue *out)
{
	struct g *batch[RUNQ_SIZE];
	struct g *next = atomic_exchange_explicit(&q->runnext, NULL, memory_order_acq_rel);

	/* runnext would have run first, so it leads the batch. */
	if (next != NULL)
		gqueue_push(out, next);
	for (;;) {
		uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
		uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed); /* ours */
		uint32_t n = t - h, i;

		if (n == 0)
			return;
		for (i = 0; i < n; i++)
			batch[i] = slot_load(q, h + i);
		/* Thieves may take some first; then retry with what is left. */
		if (atomic_compare_exchange_strong_explicit(&q->head, &h, t, memory_order_acq_rel,
							    memory_order_acquire)) {
			for (i = 0; i < n; i++)
				gqueue_push(out, batch[i]);
			return;
		}
	}
}
