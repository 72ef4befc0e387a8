/* sched/waitq.c - an address-keyed parking lot: a futex for Gs.
 *
 * Every blocking primitive of the shim (mutex, condvar, once, join) keeps
 * its state in the program's own object and sleeps here keyed by the
 * address of a 32-bit word, exactly as glibc sleeps in the kernel with
 * futex(2). The difference: a waiting G is parked, so its P runs other Gs,
 * and waking it costs no system call. Go's runtime/sema.go plays the same
 * role for sync.Mutex.
 *
 * Addresses hash to buckets, each under its own lock; inside a bucket
 * each address has its own FIFO of waiters, found through a small tree
 * of the bucket's addresses (sched/addrqueue.h). Why both: the buckets
 * spread unrelated addresses over many locks, and the tree keeps a wakeup
 * from ever looking at another address's waiters. A single list per
 * bucket did: a wakeup scanned every waiter queued before the ones it
 * wanted, and a wakeup of an address nobody waited on (every thread exit
 * wakes its join word) scanned them all, so while many threads waited in
 * a bucket (a million on one condvar, or on addresses that collide) every
 * other wakeup there cost as much as all of them, and waking them all
 * one by one grew with the square of their number. Now waking n waiters
 * costs O(n) plus finding the address, O(log k) for k distinct addresses
 * in the bucket (k is almost always 1 or 2 with 1024 buckets; a tree
 * rather than a list keeps k colliding addresses cheap too, which
 * GMPT_DEBUG=waitqbuckets=1 tests).
 *
 * Waiters that are not Gs (threads gmpt did not create, an M's scheduler
 * running an exit handler) queue the same way and block in the kernel on
 * a word of their waiter record, so every thread can use every primitive. */
#include "sched/runtime.h"
#include "sched/sched.h"
#include "sched/waitq.h"
#include "sched/addrqueue.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#define NBUCKETS_LOG2 10
#define NBUCKETS      (1 << NBUCKETS_LOG2)

struct waiter {
	struct aq_node node; /* first: a node is its waiter */
	struct g *g;	     /* NULL: a kernel thread waiting on kwoken */
	/* The address and bucket it is queued on. A requeue may move it
	 * (under the locks of both buckets), so the bucket is read again
	 * under the lock; the address is read by the deadlock check only,
	 * which runs when no thread can move it. */
	const void *_Atomic addr;
	_Atomic int32_t bucket;
	_Atomic uint32_t kwoken;
	int result; /* 0 woken, ETIMEDOUT, EINTR (sched_interrupt), SIGNALLED */
	bool timed;
	bool cancelable; /* its G waits at a cancellation point */
	/* For another thread only (a lock, a condition, a join ...), with
	 * nothing in flight that could outlive the wait (unlike an
	 * io_uring operation's): asynchronous cancellation may end it. */
	bool async_stops;
};

/* A wait that no signal ends (a mutex, a barrier, a rwlock, a join ...):
 * a signal sent to the G takes it out of the queue to run the handler,
 * and the wait goes on afterwards, as a handler runs in the middle of
 * glibc's futex wait, which then goes on waiting. Never returned. */
#define SIGNALLED (-1)

struct bucket {
	struct rtlock lock;
	struct aq_root q;
} __attribute__((aligned(64)));

static struct bucket buckets[NBUCKETS];

/* NBUCKETS - 1, or fewer bits with GMPT_DEBUG=waitqbuckets=N: set once
 * before any thread exists. */
static int32_t bucket_mask = NBUCKETS - 1;

void waitq_configure(int nbuckets)
{
	if (nbuckets >= 1 && nbuckets <= NBUCKETS && (nbuckets & (nbuckets - 1)) == 0)
		bucket_mask = nbuckets - 1;
}

static int32_t bucket_index(const void *addr)
{
	uintptr_t a = (uintptr_t)addr >> 2;
	a ^= a >> 17;
	a *= 0x9E3779B97F4A7C15ULL;
	return (int32_t)(a >> (64 - NBUCKETS_LOG2)) & bucket_mask;
}

static struct waiter *waiter_of(struct aq_node *n)
{
	return (struct waiter *)(void *)n;
}

struct park_ctx {
	struct bucket *b;
	int64_t deadline;
	uint64_t seq;
};

/* Runs on g0 once the G is off its stack: arm the timer, then publish the
 * G to wakers by dropping the bucket lock. A waker that takes the lock
 * after this sees a parked G with status G_WAITING, so ready() is legal. */
static bool park_unlock(struct g *g, void *arg)
{
	struct park_ctx *pc = arg;
	if (pc->deadline)
		timer_add(timer_home(m_self()), g, pc->deadline, pc->seq);
	rtlock_unlock(&pc->b->lock);
	return true;
}

/* Locks the bucket w is queued in now. A requeue moves a waiter only
 * under the locks of both its buckets, so the index read again under the
 * lock is stable until the unlock; a stale first read just retries. */
static struct bucket *lock_bucket_of(struct waiter *w)
{
	for (;;) {
		int32_t bi = atomic_load(&w->bucket);
		rtlock_lock(&buckets[bi].lock);
		if (atomic_load(&w->bucket) == bi)
			return &buckets[bi];
		rtlock_unlock(&buckets[bi].lock);
	}
}

static int wait_kernel(struct bucket *b, struct waiter *w, int64_t deadline)
{
	rtlock_unlock(&b->lock);
	for (;;) {
		if (atomic_load(&w->kwoken))
			return 0;
		int e = futex_wait(&w->kwoken, 0, deadline);
		if (e == ETIMEDOUT) {
			/* A waker dequeues and sets kwoken under the lock: seen
			 * unset here, w is still queued and nobody else will
			 * touch it once it is taken off. */
			b = lock_bucket_of(w);
			bool woken = atomic_load(&w->kwoken);
			if (!woken)
				aq_remove(&b->q, &w->node);
			rtlock_unlock(&b->lock);
			return woken ? 0 : ETIMEDOUT;
		}
	}
}

/* A wait cut short by sched_interrupt (a cancellation or a signal): the
 * interruption is used up here, so the caller's next wait parks again,
 * and signals sent to the G are delivered before the caller sees EINTR
 * (a G that was not parked yet had no switch to deliver them). */
static int interrupted(struct g *g)
{
	atomic_store(&g->intr, false);
	if (atomic_load_explicit(&g->sig_pending, memory_order_relaxed))
		sig_deliver(g);
	return EINTR;
}

/* g has an asynchronous cancellation to act on: every wait ends for it,
 * as glibc's SIGCANCEL handler ends any futex wait, not only those at
 * cancellation points (sched_interrupt). */
static bool async_cancelled(struct g *g)
{
	return (atomic_load(&g->cancel_armed) & SCHED_CANCEL_ARM_MASK) == SCHED_CANCEL_ASYNC;
}

/* An interrupted wait. An asynchronous cancellation acts here (act_now)
 * for a wait that is no cancellation point, where the G holds no lock of
 * gmpt's (the caller's word may be left marked contended: one spare
 * wakeup later, as glibc's leaves it). At a cancellation point (a cond
 * wait must take its mutex again first) the caller sees EINTR and acts
 * at its cancellation point, as it does for a deferred one. */
static int interrupted_wait(struct g *g, bool act_now)
{
	int r = interrupted(g);
	if (act_now && async_cancelled(g))
		cancel_async_act();
	return r;
}

/* The reasons each caller gives (sched.h). Only waits that no event from
 * outside the program's threads can end say WAKERS_THREADS: a mutex is
 * unlocked, a condition signalled, a barrier completed, a rwlock released,
 * a once routine finished, a thread joined ends, only by another thread.
 * sem_post is async-signal-safe, so a semaphore may also be posted by a
 * signal handler. Waits for fds, I/O, sleeps and anything unnamed can end
 * without any thread. */
const struct wait_reason WAIT_MUTEX = {"mutex", WAKERS_THREADS};
const struct wait_reason WAIT_COND = {"cond", WAKERS_THREADS};
const struct wait_reason WAIT_JOIN = {"join", WAKERS_THREADS};
const struct wait_reason WAIT_SEMAPHORE = {"semaphore", WAKERS_THREADS_OR_SIGNAL};
const struct wait_reason WAIT_BARRIER = {"barrier", WAKERS_THREADS};
const struct wait_reason WAIT_RWLOCK = {"rwlock", WAKERS_THREADS};
const struct wait_reason WAIT_ONCE = {"once", WAKERS_THREADS};
const struct wait_reason WAIT_FD_READ = {"fd read", WAKERS_ANYONE};
const struct wait_reason WAIT_FD_WRITE = {"fd write", WAKERS_ANYONE};
const struct wait_reason WAIT_POLL = {"poll", WAKERS_ANYONE};
const struct wait_reason WAIT_IO = {"io", WAKERS_ANYONE};
const struct wait_reason WAIT_OTHER = {"waitq", WAKERS_ANYONE};

/* Threads gmpt does not run, blocked here without a deadline, by
 * enum wait_wakers (checkdead.c: such a thread is as stuck as a G). */
_Atomic int32_t waitq_foreign_blocked[3];

const void *waitq_parked_addr(struct g *g)
{
	const struct waiter *w = atomic_load(&g->wait_node);
	return w ? w->addr : NULL;
}

int waitq_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline)
{
	return waitq_wait_reason(addr, val, deadline, &WAIT_OTHER);
}

int waitq_wait_reason(_Atomic uint32_t *addr, uint32_t val, int64_t deadline,
		      const struct wait_reason *why)
{
	int32_t bi = bucket_index(addr);
	struct bucket *b = &buckets[bi];
	struct m *m = m_self();
	struct g *g = m ? m->curg : NULL;

again:
	/* Seq_cst, before the pending signals are read below: a sender
	 * (signal_g) sets its bit first and then reads wait_bucket, so either
	 * it finds the bucket and takes its lock, or the test below sees the
	 * bit. */
	if (g)
		atomic_store(&g->wait_bucket, bi);
	rtlock_lock(&b->lock);
	/* Checked under the bucket lock that wakers take too: a waker that
	 * changed *addr before this load is seen here; one that changes it
	 * after will find us queued. */
	if (atomic_load(addr) != val) {
		rtlock_unlock(&b->lock);
		return EAGAIN;
	}
	if (deadline && deadline <= nanotime()) {
		rtlock_unlock(&b->lock);
		return ETIMEDOUT;
	}
	/* Under the lock sched_interrupt takes too: an interrupt that came
	 * before we queued is seen here, one after finds us queued. */
	bool cancelable = g && g->cancelable;
	bool async_stops = why->wakers != WAKERS_ANYONE;
	if (g && atomic_load(&g->intr) && (cancelable || (async_stops && async_cancelled(g)))) {
		rtlock_unlock(&b->lock);
		return interrupted_wait(g, async_stops && !cancelable);
	}
	/* A signal sent to the G that it lets through runs before it
	 * parks: its poke may have come while it was on its way here, and a
	 * wait no signal ends would hold the handler back until the wait
	 * ends. */
	if (g && (atomic_load(&g->sig_pending) & ~g->sigmask)) {
		rtlock_unlock(&b->lock);
		sig_deliver(g);
		goto again;
	}
	struct waiter w = {.g = g,
			   .addr = addr,
			   .bucket = bi,
			   .timed = deadline != 0,
			   .cancelable = cancelable,
			   .async_stops = async_stops};
	aq_push(&b->q, &w.node, addr);
	/* A deadline ends any wait without help. */
	enum wait_wakers wakers = deadline ? WAKERS_ANYONE : why->wakers;
	if (!g) {
		/* Counted only for threads gmpt does not run (not an M's
		 * scheduler, which is busy while it waits). */
		_Atomic int32_t *blocked = m ? NULL : &waitq_foreign_blocked[wakers];
		if (blocked)
			atomic_fetch_add(blocked, 1);
		int r = wait_kernel(b, &w, deadline);
		if (blocked)
			atomic_fetch_sub(blocked, 1);
		return r;
	}

	uint64_t seq = atomic_fetch_add(&g->timer_seq, 1) + 1;
	atomic_store(&g->wait_bucket, bi);
	atomic_store(&g->wait_node, &w);
	struct park_ctx pc = {b, deadline, seq};
	/* Read by the deadlock check only once the G is G_WAITING (the
	 * status store in finish_switch publishes it) and only while every
	 * M is idle; back to "anyone" as soon as the G runs again, so a park
	 * that does not say (sched_sleep_until, a future caller of park)
	 * never counts as stuck. */
	g->wait_wakers = (uint8_t)wakers;
	park(park_unlock, &pc, why->name);
	g->wait_wakers = WAKERS_ANYONE;
	if (w.result == SIGNALLED) {
		/* The switch back delivered the signals (switch_to_g0); wait
		 * again, the word checked anew. */
		if (atomic_load_explicit(&g->sig_pending, memory_order_relaxed))
			sig_deliver(g);
		goto again;
	}
	return w.result == EINTR ? interrupted_wait(g, async_stops && !cancelable) : w.result;
}

/* Lets every waiter of a batch taken off its queue go, under the bucket
 * lock; the Gs among them go onto *woken for ready() after the unlock.
 * Returns how many. */
static int release(struct aq_batch b, struct gqueue *woken)
{
	int count = 0;
	struct aq_node *n = b.first;
	while (n) {
		/* Read before the waiter may go: a kernel waiter's record
		 * vanishes once it sees kwoken. The comparison only uses the
		 * pointer's value. */
		struct aq_node *next = n->next;
		if (next == b.first)
			next = NULL;
		struct waiter *w = waiter_of(n);
		w->result = 0;
		count++;
		struct g *g = w->g;
		if (g) {
			atomic_store(&g->wait_node, NULL);
			if (w->timed)
				timer_cancelled(g);
			gqueue_push(woken, g);
		} else {
			/* After this store the waiter may return and its
			 * record vanish; the futex wake below on a dead
			 * address is harmless (at worst a spurious wakeup,
			 * which every futex user handles). */
			atomic_store(&w->kwoken, 1);
			futex_wake(&w->kwoken, 1);
		}
		n = next;
	}
	return count;
}

/* The woken Gs are off the queue and G_WAITING: nobody else can ready
 * them (a timer or an interruption finds wait_node NULL), so they are
 * readied outside the lock. */
static void ready_all(struct gqueue *woken)
{
	struct g *g;
	while ((g = gqueue_pop(woken)))
		ready(g);
}

int waitq_wake(_Atomic uint32_t *addr, int n)
{
	if (n < 1)
		return 0;
	struct bucket *b = &buckets[bucket_index(addr)];
	struct gqueue woken = {0};
	rtlock_lock(&b->lock);
	int count = release(aq_take(&b->q, addr, n == INT_MAX ? AQ_ALL : n), &woken);
	rtlock_unlock(&b->lock);
	ready_all(&woken);
	return count;
}

int waitq_requeue(_Atomic uint32_t *from, int nwake, _Atomic uint32_t *to, int nmove)
{
	int32_t fi = bucket_index(from), ti = bucket_index(to);
	struct bucket *bf = &buckets[fi], *bt = &buckets[ti];
	/* Two buckets are locked lower index first, so two requeues the
	 * opposite ways cannot deadlock. */
	rtlock_lock(fi <= ti ? &bf->lock : &bt->lock);
	if (fi != ti)
		rtlock_lock(fi < ti ? &bt->lock : &bf->lock);
	struct gqueue woken = {0};
	int count = 0;
	if (nwake > 0)
		count = release(aq_take(&bf->q, from, nwake == INT_MAX ? AQ_ALL : nwake), &woken);
	if (nmove > 0 && from != to) {
		struct aq_batch moved = aq_take(&bf->q, from, nmove == INT_MAX ? AQ_ALL : nmove);
		/* The queue is spliced onto to's (aq_append), no waiter is
		 * queued again; but each learns its new address (the deadlock
		 * check reads it) and bucket (a timeout or an interruption
		 * locks it by that index): one store or two per waiter, as
		 * the kernel's requeue re-keys each of its waiters. */
		if (moved.first) {
			struct aq_node *n = moved.first;
			do {
				struct waiter *w = waiter_of(n);
				atomic_store(&w->addr, (const void *)to);
				if (fi != ti) {
					atomic_store(&w->bucket, ti);
					if (w->g)
						atomic_store(&w->g->wait_bucket, ti);
				}
				n = n->next;
			} while (n != moved.first);
		}
		aq_append(&bt->q, moved, to);
	}
	if (fi != ti)
		rtlock_unlock(fi < ti ? &bt->lock : &bf->lock);
	rtlock_unlock(fi <= ti ? &bf->lock : &bt->lock);
	ready_all(&woken);
	return count;
}

/* Locks the bucket of g's current wait queue wait and returns its
 * waiter, or returns NULL (nothing locked) if g waits in none. g's
 * wait_node and wait_bucket change only under the lock of the bucket it
 * is queued in (a requeue holds both buckets' locks), so what is read
 * under that lock is stable until the unlock; a first read that went
 * stale (the G was requeued, or woken and waiting again elsewhere) just
 * retries there. */
static struct waiter *lock_wait_of(struct g *g, struct bucket **bp)
{
	for (;;) {
		int32_t bi = atomic_load(&g->wait_bucket);
		if (bi < 0)
			return NULL;
		struct bucket *b = &buckets[bi];
		rtlock_lock(&b->lock);
		struct waiter *w = atomic_load(&g->wait_node);
		if (w == NULL) {
			rtlock_unlock(&b->lock);
			return NULL;
		}
		if (atomic_load(&g->wait_bucket) == bi) {
			*bp = b;
			return w;
		}
		rtlock_unlock(&b->lock);
	}
}

void waitq_timeout(struct g *g, uint64_t seq)
{
	struct bucket *b;
	struct waiter *w = lock_wait_of(g, &b);
	if (!w)
		return;
	/* The G may have been woken and be waiting again (a newer seq): this
	 * timer was for the old wait. */
	if (atomic_load(&g->timer_seq) != seq) {
		rtlock_unlock(&b->lock);
		return;
	}
	aq_remove(&b->q, &w->node);
	w->result = ETIMEDOUT;
	atomic_store(&g->wait_node, NULL);
	rtlock_unlock(&b->lock);
	ready(g);
}

/* sched_interrupt of a G that is not queued in a wait queue. */
static void interrupt_unqueued(struct g *g)
{
	/* Not parked in a wait queue: its next one sees intr. One
	 * blocked in the kernel (pause, sigsuspend) is poked: the
	 * signal's handler makes the call fail with EINTR. So is one
	 * the shim armed for cancellation: the handler stops it in a
	 * system call at a cancellation point (arch_syscall_cp), or
	 * where it runs if the cancellation is asynchronous. A racy
	 * read of g->m: at worst another G's M takes a harmless poke. */
	struct m *m = g->m;
	if (m && atomic_load(&g->status) == G_RUNNING &&
	    (!m->p || (atomic_load(&g->cancel_armed) & SCHED_CANCEL_ARM_MASK)))
		preempt_poke(m);
	/* Parked in an interruptible sleep (or about to be: then it
	 * sees intr itself, sleep_unlock). */
	timer_interrupt_sleep(g);
}

static void interrupt(struct g *g, bool signal);

void sched_interrupt(struct g *g)
{
	interrupt(g, false);
}

void sched_interrupt_signal(struct g *g)
{
	interrupt(g, true);
}

/* signal: a signal the G lets through was made pending in it, which
 * also takes it out of a wait no signal ends, for the handler to run
 * (SIGNALLED); a cancellation ends only the waits it ends natively. */
static void interrupt(struct g *g, bool signal)
{
	/* Seq_cst, before the bucket lock: a G about to queue sees it under
	 * that lock (waitq_wait), one already queued is found below. */
	atomic_store(&g->intr, true);
	int32_t bi = atomic_load(&g->wait_bucket);
	if (bi < 0) {
		interrupt_unqueued(g);
		return;
	}
	struct bucket *b;
	struct waiter *w = lock_wait_of(g, &b);
	/* As in waitq_timeout: the G may have been woken (w NULL); then,
	 * wait_bucket being left as it was after a wait, it may be blocked
	 * in the kernel now. Only waits at cancellation points are cut
	 * short: others (an io_uring operation's completion, a mutex) must
	 * see their event, unless the G is cancelled asynchronously (armed
	 * before this call, seq_cst: seen here); a signal takes the G out
	 * of those to run its handler, and it queues again (SIGNALLED). */
	if (!w) {
		interrupt_unqueued(g);
		return;
	}
	bool ends = w->cancelable || (w->async_stops && async_cancelled(g));
	if (!ends && !signal) {
		rtlock_unlock(&b->lock);
		return;
	}
	aq_remove(&b->q, &w->node);
	w->result = ends ? EINTR : SIGNALLED;
	atomic_store(&g->wait_node, NULL);
	if (w->timed)
		timer_cancelled(g);
	rtlock_unlock(&b->lock);
	ready(g);
}

/* fork's child: the waiters were the parent's other threads. */
void waitq_after_fork(void)
{
	memset(buckets, 0, sizeof buckets);
	for (int i = 0; i < 3; i++)
		atomic_store(&waitq_foreign_blocked[i], 0);
}
