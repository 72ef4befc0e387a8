/* sched/timers.c - per-P timers: sleeps and timed waits.
 *
 * Each P keeps a heap of {when, g, seq}. A G arms a timer with its current
 * timer_seq; anything that ends the wait early bumps timer_seq, which turns
 * the heap entry stale without touching the heap (it may belong to another
 * P). Stale entries are dropped when they surface, or all at once when a
 * heap is more than a quarter stale. Heaps are run by their P's owner in
 * findrunnable and by spinning Ms of other Ps (stolen with work), so an
 * idle P's timers still fire; the M that sleeps for timers sleeps until the
 * earliest deadline over all Ps. */
#include "sched/runtime.h"
#include "sched/sched.h"
#include "sched/waitq.h"

static void update_timer0(struct p *pp)
{
	struct timer_entry top;
	atomic_store(&pp->timer0_when, timerheap_peek(&pp->timers, &top) ? top.when : 0);
}

static bool entry_live(const struct timer_entry *e, void *ctx)
{
	(void)ctx;
	return atomic_load_explicit(&e->g->timer_seq, memory_order_relaxed) == e->seq;
}

static void timer_push(struct p *pp, struct g *g, int64_t when, uint64_t seq, bool sleep)
{
	rtlock_lock(&pp->timers_lock);
	uint32_t stale = atomic_load_explicit(&pp->timers_stale, memory_order_relaxed);
	if (pp->timers.len >= 64 && stale > pp->timers.len / 4) {
		timerheap_filter(&pp->timers, entry_live, NULL);
		atomic_store(&pp->timers_stale, 0);
	}
	if (timerheap_push(&pp->timers, (struct timer_entry){when, g, seq}) != 0)
		sched_fatal("out of memory growing a timer heap");
	g->timer_p = pp->id;
	/* Under the lock, so before this timer can fire: the G is parked in
	 * this sleep and nothing else can ready it yet, so the store is never
	 * a late one from a sleep the G already left. */
	if (sleep)
		atomic_store(&g->sleep_seq, seq);
	update_timer0(pp);
	rtlock_unlock(&pp->timers_lock);
	/* The M sleeping for timers may be sleeping past this one. */
	poll_break_if_later(when);
}

void timer_add(struct p *pp, struct g *g, int64_t when, uint64_t seq)
{
	timer_push(pp, g, when, seq, false);
}

void timer_add_interruptible_sleep(struct p *pp, struct g *g, int64_t when, uint64_t seq)
{
	timer_push(pp, g, when, seq, true);
}

/* sched_interrupt's side of an interruptible sleep: the CAS on timer_seq
 * that timer_fire makes too, so exactly one of them readies the G. The
 * sleep is published (sleep_seq) only once its timer is in a heap and
 * the G is G_WAITING, so a G readied here is parked; a stale sleep_seq
 * (the G woke, and waits or runs now) no longer equals timer_seq and the
 * CAS fails. A sleep published after the caller looked sees the caller's
 * interrupt flag itself (sleep_unlock in proc.c). */
bool timer_interrupt_sleep(struct g *g)
{
	uint64_t s = atomic_load(&g->sleep_seq);
	if (s == 0 || !atomic_compare_exchange_strong(&g->timer_seq, &s, s + 1))
		return false;
	int32_t pid = g->timer_p;
	if (pid >= 0)
		atomic_fetch_add_explicit(&sched.allp[pid]->timers_stale, 1, memory_order_relaxed);
	ready(g);
	return true;
}

/* A timed wait ended early. The G owns its timer_seq while it runs, so a
 * plain increment is enough; the atomic keeps timer runners' reads clean. */
void timer_cancelled(struct g *g)
{
	atomic_fetch_add(&g->timer_seq, 1);
	int32_t pid = g->timer_p;
	if (pid >= 0)
		atomic_fetch_add_explicit(&sched.allp[pid]->timers_stale, 1, memory_order_relaxed);
}

/* Runs pp's expired timers; readied Gs go to the caller's P. Returns the
 * next deadline on pp (0 if none). */
int64_t timers_run(struct p *pp, int64_t now)
{
	struct timer_entry e;
	rtlock_lock(&pp->timers_lock);
	while (timerheap_peek(&pp->timers, &e) && e.when <= now) {
		timerheap_pop(&pp->timers, &e);
		if (!entry_live(&e, NULL))
			continue;
		update_timer0(pp);
		/* Fire outside the lock: readying takes run-queue locks, and
		 * a waitq timeout takes a bucket lock. */
		rtlock_unlock(&pp->timers_lock);
		timer_fire(e.g, e.seq);
		rtlock_lock(&pp->timers_lock);
	}
	update_timer0(pp);
	int64_t next = atomic_load(&pp->timer0_when);
	rtlock_unlock(&pp->timers_lock);
	return next;
}

/* The earliest deadline over all Ps (0 if none), from the lock-free hints. */
int64_t timers_earliest(void)
{
	int64_t best = 0;
	for (int i = 0; i < sched.procs; i++) {
		int64_t w = atomic_load(&sched.allp[i]->timer0_when);
		if (w != 0 && (best == 0 || w < best))
			best = w;
	}
	return best;
}

/* Exactly one of the timer and the early wakeup may ready the G. For a
 * sleep the CAS on timer_seq decides; for a wait queue the bucket lock
 * does (waitq_timeout re-checks under it). */
void timer_fire(struct g *g, uint64_t seq)
{
	if (atomic_load(&g->wait_bucket) >= 0) {
		waitq_timeout(g, seq);
		return;
	}
	uint64_t s = seq;
	if (atomic_compare_exchange_strong(&g->timer_seq, &s, seq + 1))
		ready(g);
}
