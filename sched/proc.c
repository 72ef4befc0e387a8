/* sched/proc.c - the scheduler: G creation and exit, park/ready, schedule,
 * findrunnable with work stealing, spinning Ms, startm/stopm/handoffp.
 *
 * This follows Go's runtime/proc.go closely; the comments name the Go
 * function each piece mirrors. The invariant that keeps wakeups from being
 * lost is Go's: a G made runnable while a P is idle either finds a spinning
 * M (which will find the G), or starts one (wakep); and an M that stops
 * spinning re-checks every run queue after it has published that it is no
 * longer spinning (see findrunnable's "drop P" step). */
#include "arch/syscall.h"
#include "sched/runtime.h"
#include "sched/sched.h"
#include "sched/stack.h"
#include "sched/gfree.h"
#include "sched/header_gaps.h"
#include "sched/osthread.h"
#include "sched/fiber.h"
#include "sched/tcb.h"
#include "sched/waitq.h"
#include "sched/stats.h"
#include "sched/checkdead.h"
#include "sched/trace.h"

#include <errno.h>
#include <gnu/libc-version.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct sched sched;

__thread struct m *gmpt_tls_m __attribute__((tls_model("initial-exec"), visibility("hidden")));

void m_set_self(struct m *m)
{
	gmpt_tls_m = m;
}

static bool sched_is_ready;

/* How long an M with nothing to do keeps looking before it gives its P
 * back and sleeps. Go tries four rounds; on a machine where waking an M
 * costs a futex system call (~1 us) and a cross-CPU wakeup, looking for a
 * little while longer means a G readied moments later is picked up without
 * any system call. Bounded, so an idle process still burns nothing. */
#define SPIN_NS 20000
/* Before taking a running P's runnext, give its owner this long to run it
 * itself (Go's usleep(3) in runqgrab, without the system call). */
#define RUNNEXT_GRACE_NS 3000

/* One line on stderr, with one write (no stdio: any thread, any state). */
static void write_line(const char *prefix, const char *fmt, va_list ap)
{
	char buf[512];
	int n = snprintf(buf, sizeof buf, "%s", prefix);
	n += vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
	if (n > (int)sizeof buf - 2)
		n = (int)sizeof buf - 2;
	buf[n++] = '\n';
	ssize_t w = write(2, buf, (size_t)n);
	(void)w;
}

_Noreturn void sched_fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	write_line("gmpt: fatal: ", fmt, ap);
	va_end(ap);
	trace_fatal();
	abort();
}

void sched_notice(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	write_line("gmpt: ", fmt, ap);
	va_end(ap);
}

bool sched_ready(void)
{
	return sched_is_ready;
}

int sched_procs(void)
{
	return sched.procs;
}

void *sched_g_ext(struct g *g)
{
	return g->ext;
}

void sched_g_stack(struct g *g, void **lo, size_t *size, size_t *guard)
{
	*lo = g->stack_lo;
	*size = (size_t)(g->stack_hi - g->stack_lo) + g->stack_reserve;
	*guard = g->stack_guard;
}

/* ---- P and M bookkeeping (Go: acquirep, releasep, pidleput, mput) ---- */

static void acquirep(struct m *m, struct p *pp)
{
	if (m->p_lost) {
		m->p_lost = false;
		atomic_fetch_sub(&sched.nlost, 1);
	}
	m->p = pp;
	pp->m = m;
	pp->slice_start = nanotime();
	atomic_store_explicit(&pp->status, P_RUNNING, memory_order_relaxed);
	trace_acquirep(m, pp);
}

/* p_pin saw sysmon at work on this M's P (kblock.c). Wait for its
 * verdict: it backs off once it sees our pin, or has already taken the P,
 * which is then no longer ours: the G goes on without one until a point
 * where it can get one back (exitsyscall_no_p, schedule_loop). The wait
 * is for sysmon's next few instructions, not for anything we hold. */
void p_take_notice(struct m *m)
{
	uint32_t t;
	while ((t = atomic_load_explicit(&m->p_take, memory_order_acquire)) == P_TAKE_DECIDING)
		arch_cpu_relax();
	if (t != P_TAKE_DONE)
		return;
	m->p = NULL;
	m->p_lost = true;
	trace_p_taken(m, m->p_taken_at);
	atomic_store_explicit(&m->p_take, P_TAKE_NONE, memory_order_relaxed);
}

static struct p *releasep(struct m *m)
{
	struct p *pp = m->p;
	pp->m = NULL;
	m->p = NULL;
	atomic_store_explicit(&pp->status, P_IDLE, memory_order_relaxed);
	return pp;
}

/* sched.lock held. */
static void pidleput(struct p *pp)
{
	pp->link = sched.pidle;
	sched.pidle = pp;
	atomic_fetch_add(&sched.npidle, 1);
}

/* sched.lock held. The first P to leave an all-idle process wakes sysmon
 * from its deep sleep (a system call, but only on that transition). */
static struct p *pidleget(void)
{
	struct p *pp = sched.pidle;
	if (pp) {
		sched.pidle = pp->link;
		atomic_fetch_sub(&sched.npidle, 1);
		if (atomic_load_explicit(&sched.sysmon_sleeping, memory_order_relaxed))
			sysmon_wake();
	}
	return pp;
}

/* sched.lock held. */
static void mput(struct m *m)
{
	m->schedlink = sched.midle;
	sched.midle = m;
	atomic_fetch_add(&sched.nmidle, 1);
}

/* sched.lock held. */
static struct m *mget(void)
{
	struct m *m = sched.midle;
	if (m) {
		sched.midle = m->schedlink;
		atomic_fetch_sub(&sched.nmidle, 1);
		sched.mget_gen++;
	}
	return m;
}

/* ---- run queues ---- */

void globrunq_put_batch(struct gqueue *batch)
{
	uint32_t n = batch->len;
	rtlock_lock(&sched.lock);
	gqueue_append(&sched.runq, batch);
	atomic_fetch_add(&sched.runqsize, n);
	rtlock_unlock(&sched.lock);
}

static void globrunq_put(struct g *g)
{
	struct gqueue one = {0};
	gqueue_push(&one, g);
	globrunq_put_batch(&one);
}

/* Go's globrunqget: take a fair share of the global queue (at most max when
 * max > 0, and at most half the local ring), run one, queue the rest
 * locally. sched.lock held. */
static struct g *globrunq_get(struct p *pp, uint32_t max)
{
	uint32_t size = atomic_load(&sched.runqsize);
	if (size == 0)
		return NULL;
	uint32_t n = size / (uint32_t)sched.procs + 1;
	if (n > size)
		n = size;
	if (max > 0 && n > max)
		n = max;
	if (n > RUNQ_SIZE / 2)
		n = RUNQ_SIZE / 2;
	atomic_fetch_sub(&sched.runqsize, n);
	struct g *g = gqueue_pop(&sched.runq);
	struct gqueue spill = {0};
	while (--n > 0) {
		/* The ring is normally empty here (we only come when the
		 * local queue ran dry), but the fairness path may find it
		 * full: then the spill goes straight back. */
		struct g *g1 = gqueue_pop(&sched.runq);
		if (!runq_put(&pp->runq, g1, false, &spill)) {
			uint32_t k = spill.len;
			gqueue_append(&sched.runq, &spill);
			atomic_fetch_add(&sched.runqsize, k);
		}
	}
	return g;
}

static void runqput(struct p *pp, struct g *g, bool next)
{
	bool fence = false;
	if (sched.stress_seed) {
		uint32_t r = fastrand(m_self());
		if ((r & 7) == 0) {
			globrunq_put(g);
			return;
		}
		next = r & 8;
		/* A ring put is only a release store, and ready() follows with
		 * wakep: see the barrier rule there. */
		fence = !next;
	}
	struct gqueue spill = {0};
	if (!runq_put(&pp->runq, g, next, &spill))
		globrunq_put_batch(&spill);
	else if (fence)
		atomic_thread_fence(memory_order_seq_cst);
}

/* ---- starting and stopping Ms ---- */

static void m_thread_main(void *arg);

static struct m *newm_alloc(void)
{
	struct m *m = calloc(1, sizeof *m);
	if (!m)
		sched_fatal("out of memory allocating an M");
	m->id = atomic_fetch_add(&sched.mnext_id, 1);
	m->p_pin = 1; /* it starts on g0 */
	m->rand = 0x9E3779B97F4A7C15ULL * (uint64_t)(m->id + 1) ^ (uint64_t)nanotime();
	if (m->rand == 0)
		m->rand = 1;
	/* Published head-first, as sched.allg (gfree.c): a reader that sees
	 * m sees its link and id. */
	struct m *head = atomic_load_explicit(&sched.allm, memory_order_relaxed);
	do
		m->alllink = head;
	while (!atomic_compare_exchange_weak_explicit(&sched.allm, &head, m, memory_order_release,
						      memory_order_relaxed));
	return m;
}

/* Go's newm: a new kernel thread that will run with P pp. */
static void newm(struct p *pp, bool spinning)
{
	struct m *m = newm_alloc();
	m->nextp = pp;
	m->spinning = spinning;
	rtlock_lock(&sched.lock);
	/* Go's checkmcount: each thread blocked in a system call holds an
	 * M, and a program that blocks without bound would otherwise take
	 * the whole machine's thread limit with it. */
	if (sched.maxmcount > 0 && sched.mcount >= sched.maxmcount)
		sched_fatal("thread exhaustion: the program needs more than "
			    "GMPT_MAXTHREADS=%d kernel threads (threads blocked in "
			    "system calls each hold one)",
			    sched.maxmcount);
	sched.mcount++;
	rtlock_unlock(&sched.lock);
	stat_ms_created();
	int err = os_thread_create(m_thread_main, m);
	if (err)
		sched_fatal("cannot create a kernel thread for an M (%s); %d Ms exist",
			    strerror(err), sched.mcount);
}

/* Go's startm: run some M with pp (or an idle P if pp is NULL). If there is
 * no P, undo the caller's spinning increment and do nothing. */
static void startm(struct p *pp, bool spinning)
{
	rtlock_lock(&sched.lock);
	if (pp == NULL) {
		pp = pidleget();
		if (pp == NULL) {
			rtlock_unlock(&sched.lock);
			if (spinning)
				atomic_fetch_sub(&sched.nmspinning, 1);
			return;
		}
	}
	struct m *m = mget();
	rtlock_unlock(&sched.lock);
	if (m == NULL) {
		newm(pp, spinning);
		return;
	}
	/* m sleeps in stopm and reads nextp/spinning only after the note. */
	m->spinning = spinning;
	m->nextp = pp;
	note_wakeup(&m->park);
}

/* Go's wakep: start a spinning M if there is an idle P and nobody is
 * already looking for work. Called whenever a G becomes runnable. */
void wakep(void)
{
	/* Callers must have published their G with a full barrier before we
	 * read npidle/nmspinning (StoreLoad). An M going idle publishes npidle
	 * and nmspinning with locked read-modify-writes and then re-reads every
	 * queue; if our loads below could pass the store that published the G,
	 * both sides would miss each other and the G would wait for its P's
	 * current G to block. ready() and sched_spawn() publish into runnext
	 * with an exchange (a locked instruction), the global queue is
	 * published under sched.lock; the one ring-tail put (a release store
	 * only) that precedes a wakep, under GMPT_STRESS, adds a fence. Go gets
	 * the same from its atomic store on amd64, which is an XCHG. */
	if (atomic_load(&sched.npidle) == 0)
		return;
	/* Be conservative: one spinning M at a time is enough to find the new
	 * work; when it finds some it wakes another (resetspinning). */
	if (atomic_load(&sched.nmspinning) != 0)
		return;
	int32_t z = 0;
	if (!atomic_compare_exchange_strong(&sched.nmspinning, &z, 1))
		return;
	startm(NULL, true);
}

/* Go's handoffp: the M is giving up pp (blocking system call, exit). Start
 * an M for it if there is work it could do, else put it on the idle list. */
void handoffp(struct p *pp)
{
	trace_handoff(pp);
	P_STAT_ADD(pp, handoffs, 1); /* ours until it is idle or started */
	if (!runq_empty(&pp->runq) || atomic_load(&sched.runqsize) != 0) {
		startm(pp, false);
		return;
	}
	/* No local work: make sure somebody is spinning if there is any. */
	int32_t z = 0;
	if (atomic_load(&sched.nmspinning) + atomic_load(&sched.npidle) == 0 &&
	    atomic_compare_exchange_strong(&sched.nmspinning, &z, 1)) {
		startm(pp, true);
		return;
	}
	rtlock_lock(&sched.lock);
	if (atomic_load(&sched.runqsize) != 0) {
		rtlock_unlock(&sched.lock);
		startm(pp, false);
		return;
	}
	pidleput(pp);
	rtlock_unlock(&sched.lock);
	/* Its timers still need an M: the poller's deadline may be later. */
	int64_t w = atomic_load(&pp->timer0_when);
	if (w != 0)
		poll_break_if_later(w);
}

/* Go's stopm: park this M until startm hands it a P. */
static void tls_release(struct m *m);

static void stopm(struct m *m)
{
	tls_release(m);
	rtlock_lock(&sched.lock);
	mput(m);
	bool last = checkdead_all_ms_idle();
	rtlock_unlock(&sched.lock);
	if (last)
		checkdead_request();
	note_sleep(&m->park);
	note_clear(&m->park);
	acquirep(m, m->nextp);
	m->nextp = NULL;
}

/* Go's resetspinning: this M found work; if it was the last spinner,
 * another one should look for more. */
static void resetspinning(struct m *m)
{
	m->spinning = false;
	atomic_fetch_sub(&sched.nmspinning, 1);
	wakep();
}

/* ---- the poller role ---- */

static void poll_break(int32_t kind);

/* Wake the M sleeping until the earliest timer if it would sleep past
 * `when`; if nobody sleeps for timers, make sure some M will (Go:
 * wakeNetPoller). */
void poll_break_if_later(int64_t when)
{
	int32_t kind = atomic_load(&sched.polling);
	if (kind != POLL_NONE) {
		int64_t until = atomic_load(&sched.poll_until);
		if (until == 0 || until > when)
			poll_break(kind);
		return;
	}
	wakep();
}

/* Ends the poller's current sleep, whichever kind it is. */
static void poll_break(int32_t kind)
{
	if (kind == POLL_NETPOLL) {
		atomic_load(&sched.poller)->wake();
		return;
	}
	atomic_fetch_add(&sched.poll_word, 1);
	futex_wake(&sched.poll_word, 1);
}

/* The syscalls layer sets the netpoller up on first use. An M may be
 * sleeping on the futex with no timer at all: break that sleep so the
 * next idle M blocks in the netpoller instead. */
void sched_set_poller(const struct sched_poller *poller)
{
	atomic_store(&sched.lastpoll, nanotime());
	atomic_store(&sched.poller, poller);
	if (atomic_load(&sched.polling) == POLL_FUTEX)
		poll_break(POLL_FUTEX);
}

/* Polls (or blocks in) the netpoller on behalf of m. The Gs it readies
 * collect in m->netpoll_batch (ready) for injectglist. */
static int netpoll_run(struct m *m, const struct sched_poller *np, int64_t until)
{
	m->in_netpoll = true;
	int n = np->poll(until);
	m->in_netpoll = false;
	return n;
}

/* Go's injectglist: the Gs a poll readied. Some go to the global queue
 * with an M started for each idle P, the rest to this M's own P, where
 * they run next after what is queued there. Without a P, all go to the
 * global queue. Not all to the global queue: with every P busy, a P
 * looks there only every 61st schedule, and a ready connection would
 * wait behind that cadence. Two completions are one hand-off in a chain
 * of threads (a write done, and the read it satisfied): starting an M
 * for the second costs a futex call and a cross-CPU migration that take
 * longer than running both here, so only from a third on are idle Ps
 * started. */
#define NETPOLL_WAKE_MIN 3
static void injectglist(struct m *m)
{
	struct gqueue batch = m->netpoll_batch;
	m->netpoll_batch = (struct gqueue){0};
	uint32_t n = batch.len;
	if (n == 0)
		return;
	if (!m->p) {
		/* npidle is read after the Gs are published (under
		 * sched.lock), as wakep reads it: an M that drops its P after
		 * our read found them in its re-check of the queues. */
		globrunq_put_batch(&batch);
		for (uint32_t i = 0; i < n && atomic_load(&sched.npidle) > 0; i++)
			startm(NULL, false);
		return;
	}
	/* Our own P runs what is not spread, so a stale count of idle Ps
	 * only spreads less. */
	int32_t idle = atomic_load(&sched.npidle);
	uint32_t spread = 0;
	if (n >= NETPOLL_WAKE_MIN && idle > 0)
		spread = n - 1 < (uint32_t)idle ? n - 1 : (uint32_t)idle;
	if (spread) {
		struct gqueue out = {0};
		for (uint32_t i = 0; i < spread; i++)
			gqueue_push(&out, gqueue_pop(&batch));
		globrunq_put_batch(&out);
		for (uint32_t i = 0; i < spread; i++)
			startm(NULL, false);
	}
	struct g *g;
	while ((g = gqueue_pop(&batch)) != NULL) {
		struct gqueue spill = {0};
		if (!runq_put(&m->p->runq, g, false, &spill))
			globrunq_put_batch(&spill);
	}
}

/* Non-blocking netpoll, by an M holding a P. */
static bool netpoll_nonblock(struct m *m)
{
	const struct sched_poller *np = atomic_load_explicit(&sched.poller, memory_order_acquire);
	if (!np)
		return false;
	int n = netpoll_run(m, np, 0);
	injectglist(m);
	return n > 0;
}

/* ---- stealing (Go: stealWork, randomOrder) ---- */

static void spin_runnext_grace(void)
{
	int64_t until = nanotime() + RUNNEXT_GRACE_NS;
	while (nanotime() < until)
		for (int i = 0; i < 32; i++)
			arch_cpu_relax();
}

static uint32_t coprimes[64];
static uint32_t ncoprimes;

static uint32_t gcd(uint32_t a, uint32_t b)
{
	while (b) {
		uint32_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

static void random_order_init(uint32_t n)
{
	for (uint32_t i = 1; i <= n && ncoprimes < 64; i++)
		if (gcd(i, n) == 1)
			coprimes[ncoprimes++] = i;
}

/* One pass over the other Ps in random order. On the last passes also run
 * their expired timers (onto our P) and take their runnext. */
static struct g *steal_pass(struct m *m, bool last, int64_t *now)
{
	struct p *pp = m->p;
	uint32_t n = (uint32_t)sched.procs;
	uint32_t r = fastrand(m);
	uint32_t pos = r % n, inc = coprimes[(r >> 8) % ncoprimes];
	bool inherit;
	for (uint32_t i = 0; i < n; i++, pos = (pos + inc) % n) {
		struct p *victim = sched.allp[pos];
		if (victim == pp)
			continue;
		if (last) {
			int64_t w = atomic_load(&victim->timer0_when);
			if (w != 0) {
				if (*now == 0 || w > *now)
					*now = nanotime();
				if (w <= *now) {
					timers_run(victim, *now);
					struct g *g = runq_get(&pp->runq, &inherit);
					if (g)
						return g;
				}
			}
		}
		if (runq_empty(&victim->runq) && !last)
			continue;
		struct g *g = runq_steal(
		    &pp->runq, &victim->runq, last,
		    atomic_load_explicit(&victim->status, memory_order_relaxed) == P_RUNNING
			? spin_runnext_grace
			: NULL);
		trace_steal(m, victim, g);
		if (g) {
			P_STAT_ADD(pp, steals, 1);
			return g;
		}
	}
	return NULL;
}

static struct g *steal_work(struct m *m)
{
	int64_t now = 0, start = nanotime();
	for (int i = 0;; i++) {
		bool last = i >= 3;
		struct g *g = steal_pass(m, last, &now);
		if (g)
			return g;
		/* Work may also arrive in the global queue or our own ring
		 * (a timer we ran readied it). */
		if (atomic_load(&sched.runqsize) != 0)
			return NULL;
		if (last) {
			if (!now)
				now = nanotime();
			if (now - start >= SPIN_NS)
				return NULL;
			now = 0;
		}
		for (int k = 0; k < 64; k++)
			arch_cpu_relax();
	}
}

static bool any_runq_nonempty(void)
{
	for (int i = 0; i < sched.procs; i++)
		if (!runq_empty(&sched.allp[i]->runq))
			return true;
	return false;
}

static bool acquire_idle_p(struct m *m)
{
	rtlock_lock(&sched.lock);
	struct p *pp = pidleget();
	rtlock_unlock(&sched.lock);
	if (pp)
		acquirep(m, pp);
	return pp != NULL;
}

/* Go's findRunnable. Returns a G with m->p held; *inherit tells whether it
 * came from runnext. */
static struct g *findrunnable(struct m *m, bool *inherit)
{
	struct g *g;
top:;
	struct p *pp = m->p;
	*inherit = false;

	int64_t w = atomic_load_explicit(&pp->timer0_when, memory_order_relaxed);
	if (w != 0) {
		int64_t now = nanotime();
		if (w <= now)
			timers_run(pp, now);
	}

	/* Fairness: every 61st schedule looks at the global queue first, so
	 * two Gs readying each other locally cannot starve it. */
	uint32_t tick = atomic_load_explicit(&pp->schedtick, memory_order_relaxed);
	bool global_first = tick % 61 == 0;
	if (sched.stress_seed && (fastrand(m) & 3) == 0)
		global_first = true;
	if (global_first && atomic_load(&sched.runqsize) > 0) {
		rtlock_lock(&sched.lock);
		g = globrunq_get(pp, 1);
		rtlock_unlock(&sched.lock);
		if (g)
			return g;
	}

	g = runq_get(&pp->runq, inherit);
	if (g)
		return g;

	if (atomic_load(&sched.runqsize) > 0) {
		rtlock_lock(&sched.lock);
		g = globrunq_get(pp, 0);
		rtlock_unlock(&sched.lock);
		if (g)
			return g;
	}

	/* Go's non-blocking netpoll before stealing. With io_uring this
	 * submits what Gs queued and reads the shared completion ring; the
	 * backends make a system call for readiness only when some G waits
	 * for it and no M is blocked in the poller (which will see it). */
	if (netpoll_nonblock(m)) {
		g = runq_get(&pp->runq, inherit);
		if (g)
			return g;
		if (atomic_load(&sched.runqsize) > 0)
			goto top;
	}

	/* Steal. Limit spinning Ms to half the busy Ps: when GMPT_PROCS is
	 * large and the program has little parallelism, Ms would otherwise
	 * burn CPU looking for work that is not there. */
	int32_t busy = sched.procs - atomic_load(&sched.npidle);
	if (m->spinning || 2 * atomic_load(&sched.nmspinning) < busy) {
		if (!m->spinning) {
			m->spinning = true;
			atomic_fetch_add(&sched.nmspinning, 1);
		}
		g = steal_work(m);
		if (g)
			return g;
		g = runq_get(&pp->runq, inherit);
		if (g)
			return g;
		if (atomic_load(&sched.runqsize) > 0)
			goto top;
	}

	/* Nothing anywhere: give the P back. */
	rtlock_lock(&sched.lock);
	if (atomic_load(&sched.runqsize) != 0) {
		g = globrunq_get(pp, 0);
		rtlock_unlock(&sched.lock);
		return g;
	}
	releasep(m);
	pidleput(pp);
	rtlock_unlock(&sched.lock);

	/* Delicate: a G readied after our last look but before the pidleput
	 * above found npidle == 0 or nmspinning != 0 (us) and did not wakep.
	 * So after we stop spinning we must look again at every queue. The
	 * seq_cst decrement orders our publication before the re-check, and
	 * the readier's queue store before its nmspinning/npidle load. */
	bool was_spinning = m->spinning;
	if (m->spinning) {
		m->spinning = false;
		atomic_fetch_sub(&sched.nmspinning, 1);
	}
	if (atomic_load(&sched.runqsize) != 0 || any_runq_nonempty()) {
		if (acquire_idle_p(m)) {
			if (was_spinning) {
				m->spinning = true;
				atomic_fetch_add(&sched.nmspinning, 1);
			}
			goto top;
		}
	}

	/* One M at a time blocks in the netpoller until the earliest timer
	 * on any P (or until an fd is ready, or a break). Its P-less wait is
	 * what wakes the process for I/O. */
	const struct sched_poller *np = atomic_load(&sched.poller);
	int32_t none = POLL_NONE;
	if (np && atomic_compare_exchange_strong(&sched.polling, &none, POLL_NETPOLL)) {
		int64_t until = timers_earliest();
		atomic_store(&sched.poll_until, until);
		/* lastpoll = 0 tells sysmon not to poll: we will see the
		 * events. The seq_cst stores above order the re-check below
		 * after our publication: a G readied after it wakes another M
		 * (wakep), a sooner timer breaks us (poll_break_if_later). */
		atomic_store(&sched.lastpoll, 0);
		if (atomic_load(&sched.runqsize) == 0 && !any_runq_nonempty()) {
			tls_release(m);
			if (!until)
				checkdead_maybe_last_m();
			netpoll_run(m, np, until ? until : -1);
		} else
			netpoll_run(m, np, 0);
		atomic_store(&sched.lastpoll, nanotime());
		atomic_store(&sched.poll_until, 0);
		atomic_store(&sched.polling, POLL_NONE);
		/* A P first, so what the poll readied runs here (Go's
		 * findRunnable after its blocking netpoll). */
		bool got_p = acquire_idle_p(m);
		injectglist(m);
		if (got_p)
			goto top;
		stopm(m);
		goto top;
	}
	none = POLL_NONE;
	if (!np && atomic_compare_exchange_strong(&sched.polling, &none, POLL_FUTEX)) {
		uint32_t word = atomic_load(&sched.poll_word);
		int64_t until = timers_earliest();
		if (until != 0) {
			atomic_store(&sched.poll_until, until);
			if (atomic_load(&sched.runqsize) == 0 && !any_runq_nonempty()) {
				tls_release(m);
				futex_wait(&sched.poll_word, word, until);
			}
			atomic_store(&sched.poll_until, 0);
			atomic_store(&sched.polling, POLL_NONE);
			if (acquire_idle_p(m))
				goto top;
		} else {
			atomic_store(&sched.polling, POLL_NONE);
			/* A timer added between our scan and the store above saw
			 * polling == 1 and broke a sleep that never happened: look
			 * again before sleeping without a deadline. */
			if (timers_earliest() != 0 && acquire_idle_p(m))
				goto top;
		}
	}
	stopm(m);
	goto top;
}

/* ---- switching ---- */

static inline void check_stack(struct g *g)
{
	if (g->stack_kind == STACK_CANARY && *g->stack_canary != STACK_CANARY_VALUE)
		sched_fatal(
		    "stack overflow in thread %lu (stack of %zu bytes without a guard page)",
		    (unsigned long)g->id, (size_t)(g->stack_hi - g->stack_lo) + g->stack_reserve);
}

/* ---- the fs base (per-G TLS) ----
 *
 * Without FSGSBASE each change of the fs base is a system call (1-3.5 us
 * on the machines measured), so it changes once per G switch, not twice
 * (with FSGSBASE, a wrfsbase of tens of ns, the same scheme saves one): when a G switches
 * away, g0 goes on running on the G's TCB (the M "holds" it: m->fs_lender,
 * g->tls_holder), and the next G's switch-in moves the fs base straight
 * from one G's TCB to the other's. The scheduler may use TLS meanwhile
 * (errno, malloc's cache, m_self): the TCB is the held G's, and nobody
 * else runs on it because
 *  - an M about to run a G whose TCB another M holds first lets go of the
 *    one it holds itself (tls_release), then waits for the holder to let
 *    go (tls_wait_free). The holder is in its scheduler and lets go at its
 *    next switch-in or before it sleeps, so the wait is short, and it
 *    cannot be circular because a waiting M holds nothing (two Ms that
 *    swapped Gs would otherwise each wait for the other's);
 *  - a pooled G's TCB is re-initialised only after the same wait.
 * The G's errno, which the scheduler may have overwritten, is saved when
 * it switches away and written back at its switch-in (mark_running). */

/* The fs base a G runs with: its own TCB, or its M's (shared TLS). */
static inline void *g_tls(struct m *m, struct g *g)
{
	return g->tls_base ? g->tls_base : m->tls_base;
}

void tls_wait_free(struct g *g)
{
	/* Acquire: the holder's last use of the TCB happens before. */
	for (uint32_t spins = 0; atomic_load_explicit(&g->tls_holder, memory_order_acquire) != NULL;
	     spins++) {
		if (spins < 1000)
			arch_cpu_relax();
		else
			raw_syscall(SYS_sched_yield); /* the holder may be descheduled */
	}
}

/* This M's scheduler stops running on the TCB it held. */
static inline void tls_drop_lender(struct m *m)
{
	struct g *l = m->fs_lender;
	if (l) {
		m->fs_lender = NULL;
		atomic_store_explicit(&l->tls_holder, NULL, memory_order_release);
	}
}

/* Before this M sleeps: back on its own TCB, so the G it held can run. */
static void tls_release(struct m *m)
{
	if (m->fs_now != m->tls_base) {
		arch_tls_set_base(m->tls_base);
		m->fs_now = m->tls_base;
		tls_drop_lender(m);
	}
}

static void tls_switch_in(struct m *m, struct g *g)
{
	void *to = g_tls(m, g);
	if (to != m->fs_now) {
		if (g->tls_base && atomic_load_explicit(&g->tls_holder, memory_order_acquire)) {
			tls_release(m);
			tls_wait_free(g);
		}
		arch_tls_set_base(to);
		m->fs_now = to;
		tls_drop_lender(m);
	} else if (m->fs_lender == g) {
		/* The G comes back to the M that held its TCB. */
		m->fs_lender = NULL;
		atomic_store_explicit(&g->tls_holder, NULL, memory_order_relaxed);
	}
	/* Now on the G's TCB (or the M's, shared). */
	errno = g->saved_errno;
	if (g->tls_base) {
		m_set_self(m);
		if (g->tls_base != sched.main_tp)
			tcb_set_tid(g->tls_base, m->tid);
	}
}

static void mark_running(struct m *m, struct g *g)
{
	atomic_store_explicit(&g->status, G_RUNNING, memory_order_relaxed);
	atomic_store_explicit(&g->preempt, false, memory_order_relaxed);
	g->m = m;
	m->curg = g;
	m->curext = g->ext;
	/* One load while no thread CPU clock was used (cpuclock.c). */
	if (__builtin_expect(atomic_load_explicit(&cpuclock_on, memory_order_relaxed), 0))
		cpuclock_switch_in(m, g);
	trace_run_start(m, g); /* before errno is the G's again */
	sig_switch_in(m, g);
	tls_switch_in(m, g);
}

/* The part of Go's mcall callees (park_m, gosched_m, goexit0) that runs on
 * g0 right after g switched away. Returns true if g must run again. */
static bool finish_switch(struct m *m, struct g *g)
{
	g->saved_errno = errno;
	if (__builtin_expect(atomic_load_explicit(&g->cpu_tid, memory_order_relaxed) != 0, 0))
		cpuclock_switch_out(g);
	trace_run_end(m, g, m->after);
	if (g->tls_base) {
		/* Still on g's TCB; held until the next switch-in or sleep.
		 * Published before g is (status, queue or unlock below). */
		m->fs_lender = g;
		atomic_store_explicit(&g->tls_holder, m, memory_order_relaxed);
	}
	check_stack(g);
	m->curg = NULL;
	m->curext = NULL;
	g->m = NULL;

	switch (m->after) {
	case AFTER_PARK:
		/* The G is off its stack now, so once the unlock callback
		 * releases whatever lock the G was queued under, anyone may
		 * ready it. */
		atomic_store_explicit(&g->status, G_WAITING, memory_order_release);
		if (m->park_unlock && !m->park_unlock(g, m->park_arg)) {
			mark_running(m, g); /* the callback changed its mind */
			return true;
		}
		return false;
	case AFTER_YIELD:
		atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
		if (m->p)
			runqput(m->p, g, false);
		else
			globrunq_put(g); /* sysmon took the P (kblock.c) */
		return false;
	case AFTER_PREEMPT:
		/* Go's gopreempt_m: to the global queue, behind everything that
		 * waited while it ran. */
		atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
		globrunq_put(g);
		return false;
	case AFTER_SLICE: {
		/* Its time slice is over at a system call's exit (see
		 * sched_exit_syscall); m still holds the P it took back. Gs the
		 * netpoller has ready count as waiting: nobody else may poll
		 * while every P runs such a G. If something waits, g goes
		 * behind it as a preempted G does; else it goes on with a new
		 * slice. */
		atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
		int64_t now = nanotime();
		if (!p_has_work(m->p, now))
			netpoll_nonblock(m);
		if (p_has_work(m->p, now)) {
			P_STAT_ADD(m->p, preempts, 1);
			globrunq_put(g);
			return false;
		}
		m->p->slice_start = now;
		mark_running(m, g);
		return true;
	}
	case AFTER_EXIT:
		stat_g_alive(-1);
		atomic_store_explicit(&g->status, G_DEAD, memory_order_relaxed);
		stack_release(m->p, g);
		if (sched.on_g_dead)
			sched.on_g_dead(g);
		return false;
	case AFTER_SYSCALL_NO_P:
		/* Go's exitsyscall0: this M has no P. Take an idle one if one
		 * appeared, else queue g for any M and sleep until needed. */
		atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
		rtlock_lock(&sched.lock);
		struct p *pp = pidleget();
		if (!pp) {
			gqueue_push(&sched.runq, g);
			atomic_fetch_add(&sched.runqsize, 1);
		}
		rtlock_unlock(&sched.lock);
		if (pp) {
			acquirep(m, pp);
			mark_running(m, g);
			return true;
		}
		stopm(m);
		return false;
	case AFTER_NONE:
		break;
	}
	sched_fatal("G %lu switched to its M without saying why", (unsigned long)g->id);
}

/* Switch into g (already marked running on m) until it parks, yields or
 * exits for good. */
static void run_g(struct m *m, struct g *g)
{
	do {
		fiber_switch_to_g(m, g);
		arch_context_switch(&m->g0ctx, &g->ctx);
		fiber_back_on_g0(m);
		/* g switched to this M's g0, so m is still ours even though g
		 * may resume on another M later. */
	} while (finish_switch(m, g));
}

/* Go's execute. */
static void execute(struct m *m, struct g *g, bool inherit)
{
	P_STAT_ADD(m->p, switches, 1);
	if (!inherit) {
		m->p->slice_start = nanotime();
		atomic_store_explicit(&m->p->schedtick,
				      atomic_load_explicit(&m->p->schedtick, memory_order_relaxed) +
					  1,
				      memory_order_relaxed);
	}
	mark_running(m, g);
	run_g(m, g);
}

/* The pin taken here is g0's (it uses the P from now on); the G's own
 * count goes back on whatever M it resumes on, which was on g0 until then
 * and so pinned: one store moves the count from g0's to the G's, never
 * through zero. */
static void switch_to_g0(struct m *m, struct g *g, enum m_after why)
{
	p_pin(m);
	g->pin_saved = atomic_load_explicit(&m->p_pin, memory_order_relaxed) - 1;
	m->after = why;
	fiber_switch_to_g0(m, g, why == AFTER_EXIT);
	arch_context_switch(&g->ctx, &m->g0ctx);
	fiber_back_on_g(g);
	atomic_store_explicit(&g->m->p_pin, g->pin_saved, memory_order_release);
	/* Signals sent to g while it was away (gsignal.c). */
	if (atomic_load_explicit(&g->sig_pending, memory_order_relaxed))
		sig_deliver(g);
}

/* Go's schedule(): the g0 loop of every M. */
static _Noreturn void schedule_loop(struct m *m)
{
	for (;;) {
		/* sysmon took the P while the last G was blocked in the
		 * kernel (kblock.c): there are more Ms running than Ps until
		 * this one gets a P back or sleeps. */
		if (!m->p && !acquire_idle_p(m))
			stopm(m);
		bool inherit;
		struct g *g = findrunnable(m, &inherit);
		if (m->spinning)
			resetspinning(m);
		execute(m, g, inherit);
	}
}

/* M0's g0 starts the first time the main G switches away: finish that
 * switch before scheduling like any other M. */
static void m0_g0_entry(void *arg)
{
	struct m *m = arg;
	fiber_first_on_g0(m);
	struct g *g = m->curg;
	if (finish_switch(m, g))
		run_g(m, g);
	schedule_loop(m);
}

static void m_thread_main(void *arg)
{
	struct m *m = arg;
	m_set_self(m);
	m->tid = (pid_t)raw_syscall(SYS_gettid);
	m->tls_base = arch_thread_pointer();
	m->fs_now = m->tls_base;
	m->glibc_tcb = m->tls_base;
	m->sigmask_now = sig_thread_mask();
	fiber_m_init(m);
	acquirep(m, m->nextp);
	m->nextp = NULL;
	schedule_loop(m);
}

/* ---- the G side ---- */

void park(bool (*unlock)(struct g *, void *), void *arg, const char *reason)
{
	struct m *m = m_self();
	struct g *g = m->curg;
	g->wait_reason = reason;
	g->wait_since = atomic_load_explicit(&sched.coarse_now, memory_order_relaxed);
	m->park_unlock = unlock;
	m->park_arg = arg;
	switch_to_g0(m, g, AFTER_PARK);
}

/* Go's ready/goready: g goes to our P's runnext (it runs next and inherits
 * the time slice) and an idle P gets an M if none is looking for work. */
void ready(struct g *g)
{
	uint32_t s = G_WAITING;
	if (!atomic_compare_exchange_strong_explicit(&g->status, &s, G_RUNNABLE,
						     memory_order_acq_rel, memory_order_relaxed))
		sched_fatal("ready of G %lu in state %u", (unsigned long)g->id, s);
	struct m *m = m_self();
	trace_ready(m, g); /* before g is queued: its next run starts after */
	if (m)
		p_pin(m);
	if (m && m->in_netpoll)
		gqueue_push(&m->netpoll_batch, g); /* injectglist places it */
	else if (m && m->p)
		runqput(m->p, g, true);
	else
		globrunq_put(g);
	if (m)
		p_unpin(m);
	if (!(m && m->in_netpoll))
		wakep();
}

void sched_gosched(void)
{
	struct m *m = m_self();
	if (!m || !m->curg)
		return;
	switch_to_g0(m, m->curg, AFTER_YIELD);
}

/* The preemption signal acts only where the interrupted code is the
 * program's own (preempt.c): a G that spends nearly all its time inside
 * gmpt or libc, as a loop retrying a failing pthread_create does, would
 * never be preempted, and the threads it waits for (those whose exit
 * would free the memory it lacks) never run. A gmpt call that may switch
 * calls this on its way out: a request sysmon made and the signal could
 * not act on is honoured there, as preempt_park does. */
void sched_preempt_point(void)
{
	struct m *m = m_self();
	struct g *g = m ? m->curg : NULL;
	if (!g || !atomic_load_explicit(&g->preempt, memory_order_relaxed))
		return;
	atomic_store_explicit(&g->preempt, false, memory_order_relaxed);
	p_pin(m);
	if (m->p)
		P_STAT_ADD(m->p, preempts, 1);
	switch_to_g0(m, g, AFTER_PREEMPT);
	p_unpin(m_self());
}

_Noreturn void sched_exit(void)
{
	struct m *m = m_self();
	switch_to_g0(m, m->curg, AFTER_EXIT);
	sched_fatal("a dead G was resumed");
}

/* Go's entersyscall. The P stays with this M, marked P_SYSCALL, so that
 * leaving a short system call costs one CAS; sysmon retakes it if the call
 * lasts a whole tick and there is other work (retake in sysmon.c).
 *
 * m->p is cleared and pp->m too before the status store: from then on the
 * P belongs to whoever wins the CAS out of P_SYSCALL, this M on the way
 * out or sysmon. Nothing on this M may touch the P until it wins it back.
 * The release store publishes the cleared fields to the sysmon that wins. */
void sched_enter_syscall(void)
{
	struct m *m = m_self();
	if (!m || m->syscall_depth++ != 0 || !m->curg)
		return;
	p_pin(m);
	struct p *pp = m->p;
	if (!pp) {
		p_unpin(m);
		return;
	}
	trace_syscall_enter(m, false);
	atomic_store_explicit(&pp->syscalltick,
			      atomic_load_explicit(&pp->syscalltick, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	m->p = NULL;
	pp->m = NULL;
	atomic_store_explicit(&m->oldp, pp, memory_order_relaxed);
	atomic_store_explicit(&pp->status, P_SYSCALL, memory_order_release);
	p_unpin(m);
}

/* Go's exitsyscall slow path: this M has no P. Take an idle one if there
 * is one, else queue the G for any M and sleep (exitsyscall0). */
static void exitsyscall_no_p(struct m *m)
{
	int e = errno;
	if (atomic_load(&sched.npidle) > 0 && acquire_idle_p(m)) {
		errno = e;
		return;
	}
	/* errno travels with the G through the switch. */
	switch_to_g0(m, m->curg, AFTER_SYSCALL_NO_P);
}

/* Go's exitsyscall. Fast path: our old P is still P_SYSCALL, take it back.
 * Otherwise sysmon handed it on: take any idle P, or queue the G and stop
 * the M (exitsyscall0).
 *
 * A signal may arrive anywhere in here or between enter and exit, and its
 * handler may make interposed calls too (write() is async-signal-safe):
 * syscall_depth makes those no-ops, except in the window where this exit
 * already dropped the depth to 0; then the exchange on oldp lets exactly
 * one of the two exits take the P back. Unlike Go, no preemption is taken
 * here: we may be inside the program's signal handler.
 *
 * The one exception is the time slice: a G whose system calls never
 * block (a server thread whose recv always finds the client's next
 * request, because the client ran while the reply was sent) never parks
 * and so never schedules; the Gs the netpoller has readied for other
 * connections wait behind it until sysmon's 10 ms preemption, which
 * sysmon's own backed-off rounds stretch to 10-30 ms. With 16 such
 * connections on 2 Ps that was MariaDB's p99 (14-16 ms against 3 ms
 * natively, where the kernel switches at every wake-up). So a G whose
 * slice (since its P last scheduled, shared with the Gs it hands
 * runnext to) is over yields here if anything else waits: queued Gs,
 * the global queue, a due timer, or a G the netpoller has ready
 * (AFTER_SLICE in finish_switch polls). The slice trades throughput
 * (each G's burst of requests) for the tail: with MariaDB at 16 clients,
 * 100 us gave p99 1.6x native's at 0.8x its throughput, 200 us 1.9x at
 * 0.9x, 1 ms 4x at 1.1x; 200 us keeps a switch per slice (about a
 * microsecond) cheap and bounds the wait behind N busy connections at
 * about N/procs slices. Yielding here is as safe as the
 * slow path below, which already switches the G out at this point (a
 * retaken P); only not when gmpt code of this M is under us
 * (p_pin > 1: a runtime lock may be held). */
#define SLICE_NS 200000
void sched_exit_syscall(void)
{
	struct m *m = m_self();
	if (!m || --m->syscall_depth != 0)
		return;
	p_pin(m);
	struct p *pp = atomic_exchange_explicit(&m->oldp, NULL, memory_order_relaxed);
	if (!pp) {
		/* Not a system call this M entered with a P: its P may have
		 * been taken while its G was blocked where gmpt could not see
		 * (kblock.c); this is a point where it may get one back. */
		if (m->curg && !m->p && m->p_lost)
			exitsyscall_no_p(m);
		p_unpin(m);
		return;
	}
	uint32_t s = P_SYSCALL;
	if (atomic_compare_exchange_strong_explicit(&pp->status, &s, P_RUNNING,
						    memory_order_acquire, memory_order_relaxed)) {
		m->p = pp;
		pp->m = m;
		trace_acquirep(m, pp);
		if (atomic_load_explicit(&m->p_pin, memory_order_relaxed) == 1 &&
		    nanotime() - pp->slice_start >= SLICE_NS) {
			switch_to_g0(m, m->curg, AFTER_SLICE); /* errno travels with the G */
			m = m_self();
		}
		p_unpin(m);
		return;
	}
	exitsyscall_no_p(m);
	p_unpin(m_self());
}

/* The preemption trampoline's call: on the G's own stack, every register
 * saved by arch's trampoline. */
void preempt_park(void)
{
	struct m *m = m_self();
	p_pin(m);
	/* Asynchronously cancelled while it ran (the poke found it at an
	 * unsafe point): a safe point is where it acts. */
	if ((atomic_load_explicit(&m->curg->cancel_armed, memory_order_relaxed) &
	     SCHED_CANCEL_ARM_MASK) == SCHED_CANCEL_ASYNC) {
		cancel_async_act();
		m = m_self();
	}
	if (m->p)
		P_STAT_ADD(m->p, preempts, 1);
	switch_to_g0(m, m->curg, AFTER_PREEMPT);
	p_unpin(m_self());
}

/* Whether pp has something other than its current G to run: queued Gs,
 * the global queue, or a timer that is due. Racy reads; sysmon uses it
 * only to decide whether retaking or preempting is worth it. */
bool p_has_work(struct p *pp, int64_t now)
{
	if (!runq_empty(&pp->runq) || atomic_load(&sched.runqsize) != 0)
		return true;
	int64_t w = atomic_load_explicit(&pp->timer0_when, memory_order_relaxed);
	return w != 0 && w <= now;
}

/* Go's entersyscallblock: give the P away before the kernel thread
 * blocks, so the Gs queued on it keep running. */
void sched_enter_blocking_syscall(void)
{
	struct m *m = m_self();
	if (!m || !m->curg)
		return;
	p_pin(m);
	if (m->p) {
		int e = errno;
		trace_syscall_enter(m, true);
		handoffp(releasep(m));
		errno = e;
	}
	p_unpin(m);
}

/* Go's exitsyscall, slow path only (there is no fast path to take the same
 * P back while nothing retakes Ps from system calls). */
void sched_exit_blocking_syscall(void)
{
	struct m *m = m_self();
	if (!m || !m->curg)
		return;
	p_pin(m);
	if (!m->p)
		exitsyscall_no_p(m);
	p_unpin(m_self());
}

static bool sleep_unlock(struct g *g, void *arg)
{
	int64_t deadline = *(int64_t *)arg;
	uint64_t seq = atomic_load(&g->timer_seq);
	if (!g->cancelable) {
		timer_add(timer_home(m_self()), g, deadline, seq);
		return true;
	}
	/* Interruptible: published in the heap, then the interrupt flag is
	 * read (seq_cst both, as sched_interrupt's store of intr and its read
	 * of sleep_seq): either this sees the interrupt, or the interrupter
	 * sees the sleep. If both do, the CAS on timer_seq picks one; the
	 * loser does nothing (the timer entry goes stale). */
	timer_add_interruptible_sleep(timer_home(m_self()), g, deadline, seq);
	if (atomic_load(&g->intr) && atomic_compare_exchange_strong(&g->timer_seq, &seq, seq + 1))
		return false; /* do not park: the G goes on at once */
	return true;
}

_Atomic int sched_interrupts_used;
static void (*cancel_hook)(void);

void sched_set_cancel_hook(void (*act_if_cancelled)(void))
{
	cancel_hook = act_if_cancelled;
}

void sched_cancel_point_slow(void)
{
	struct g *g = sched_current();
	if (!g || !cancel_hook)
		return;
	cancel_hook(); /* returns only if the thread does not act now */
	atomic_store(&g->intr, false);
}

bool sched_cancelable(bool on)
{
	struct g *g = sched_current();
	if (!g)
		return false;
	g->cancelable = on;
	return true;
}

int sched_sleep_until(int64_t deadline)
{
	struct g *g = sched_current();
	if (!g)
		return 0;
	atomic_store(&g->wait_bucket, -1);
	atomic_fetch_add(&g->timer_seq, 1);
	park(sleep_unlock, &deadline, "sleep");
	/* At an interruption point (g->cancelable), sched_interrupt may
	 * have ended the sleep early (timer_interrupt_sleep): the
	 * interruption is used up here, as by a wait queue's EINTR. One that
	 * came as the sleep ended anyway is left for the next wait. */
	if (g->cancelable && atomic_load(&g->intr) && nanotime() < deadline) {
		atomic_store(&g->intr, false);
		if (atomic_load_explicit(&g->sig_pending, memory_order_relaxed))
			sig_deliver(g);
		return EINTR;
	}
	return 0;
}

static void g_main(void *arg)
{
	struct g *g = arg;
	fiber_first_on_g(g);
	/* g0 switched here pinned; the G's own code starts with no pin. */
	atomic_store_explicit(&g->m->p_pin, 0, memory_order_release);
	if (g->tls_base)
		tcb_thread_start();
	if (atomic_load_explicit(&g->sig_pending, memory_order_relaxed))
		sig_deliver(g);
	g->entry(g->entry_arg);
	sched_exit();
}

/* A second thread of execution exists from now on: glibc must take its
 * locking and atomic paths (malloc's main arena and the single-threaded
 * fast paths check these) in the main thread's TCB too, which only
 * glibc's own pthread_create would set. */
static void clear_single_threaded(void)
{
	if (sched.single_threaded_cleared)
		return;
	sched.single_threaded_cleared = true; /* benign race: same stores */
	if (&__libc_single_threaded)	      /* glibc 2.32 and later */
		__libc_single_threaded = 0;
	tcb_mark_multithreaded(sched.main_tp);
}

/* A new thread's TCB: the pooled G's own, reset, or a new one. */
static bool g_tls_prepare(struct g *g)
{
	if (g->tls_base)
		tcb_reset(g->tls_base);
	else if (!(g->tls_base = tcb_create()))
		return false;
	void *lo;
	size_t size, guard;
	sched_g_stack(g, &lo, &size, &guard);
	tcb_set_stack(g->tls_base, lo, size, guard);
	return true;
}

bool sched_tls_per_g(void)
{
	return sched.tls_per_g;
}

void sched_tls_thread_exit(void)
{
	struct g *g = sched_current();
	if (g && g->tls_base)
		tcb_thread_exit();
}

void *sched_tls_cleanup_chain(void)
{
	struct g *g = sched_current();
	return g && g->tls_base ? tcb_cleanup_chain() : NULL;
}

bool sched_tls_chain_end_lands(__pthread_unwind_buf_t *copy, void (*landing)(void))
{
	struct g *g = sched_current();
	return g && g->tls_base && tcb_chain_end_lands(copy, landing);
}

void **sched_tls_cleanup_list(void)
{
	struct g *g = sched_current();
	return g && g->tls_base ? tcb_cleanup_list() : NULL;
}

void sched_tls_after_dlopen(void)
{
	if (sched.tls_per_g)
		tcb_after_dlopen();
}

void sched_tls_after_dlclose(void)
{
	if (sched.tls_per_g)
		tcb_after_dlclose();
}

void *sched_tls_enter_kernel_thread(void)
{
	struct m *m = m_self();
	struct g *g = m ? m->curg : NULL;
	if (!g || !g->tls_base || g->tls_base != sched.main_tp || m->glibc_tcb == sched.main_tp)
		return NULL;
	/* No switch can happen until leave: glibc's set*id does not park,
	 * and preemption never stops code in libc. */
	arch_tls_set_base(m->glibc_tcb);
	return g->tls_base;
}

void sched_tls_leave_kernel_thread(void *token)
{
	if (!token)
		return;
	int e = errno; /* the M's TCB's */
	arch_tls_set_base(token);
	errno = e;
}

static struct g *spawn_pinned(struct m *m, void (*entry)(void *), void *arg,
			      const struct stack_spec *spec, void (*prepare)(struct g *, void *),
			      void *prepare_ctx);

/* Go's newproc. */
struct g *sched_spawn(void (*entry)(void *), void *arg, const struct stack_spec *spec,
		      void (*prepare)(struct g *, void *), void *prepare_ctx)
{
	struct m *m = m_self();
	if (m)
		p_pin(m); /* stacks and TLS come from the P's caches */
	struct g *g = spawn_pinned(m, entry, arg, spec, prepare, prepare_ctx);
	if (m)
		p_unpin(m);
	return g;
}

static struct g *spawn_pinned(struct m *m, void (*entry)(void *), void *arg,
			      const struct stack_spec *spec, void (*prepare)(struct g *, void *),
			      void *prepare_ctx)
{
	struct p *pp = m ? m->p : NULL;
	clear_single_threaded();
	struct g *g = gfree_get(pp);
	if (stack_acquire(pp, g, spec) != 0) {
		gfree_put(pp, g);
		return NULL;
	}
	if (sched.tls_per_g && !g_tls_prepare(g)) {
		stack_release(pp, g);
		gfree_put(pp, g);
		return NULL;
	}
	g->id = atomic_fetch_add(&sched.goid_gen, 1) + 1;
	if (pp)
		P_STAT_ADD(pp, gs_created, 1);
	else
		stat_gs_created_no_p();
	stat_g_alive(1);
	g->entry = entry;
	g->entry_arg = arg;
	/* A new thread starts with its creator's signal mask. */
	g->sigmask = m && m->curg ? m->curg->sigmask : sig_thread_mask();
	/* A pooled G's signals were its last thread's: a signal pending for
	 * a thread that exits goes with it, as in the kernel. */
	atomic_store(&g->sig_pending, 0);
	atomic_store(&g->sig_delivering, 0);
	atomic_store(&g->sig_handled, 0);
	atomic_store(&g->sig_suspending, false);
	atomic_store(&g->sigwait_set, 0);
	g->saved_errno = 0;
	g->wait_reason = NULL;
	cpuclock_reset(g, NULL);
	atomic_store(&g->wait_bucket, -1);
	atomic_store(&g->wait_node, NULL);
	g->timer_p = -1;
	arch_context_make(&g->ctx, g->stack_hi, g_main, g);
	if (prepare)
		prepare(g, prepare_ctx);
	trace_spawn(m, g);
	atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_release);
	if (pp)
		runqput(pp, g, true);
	else
		globrunq_put(g);
	wakep();
	return g;
}

void sched_free(struct g *g)
{
	struct m *m = m_self();
	if (m)
		p_pin(m);
	gfree_put(m ? m->p : NULL, g);
	if (m)
		p_unpin(m);
}

/* ---- fork: the child's runtime ----
 *
 * The child of fork() has one kernel thread, the one that called fork,
 * running the G that called it; everything else in the parent's runtime
 * (its Ms, their locks, the other Gs queued, parked or timed, sysmon) is a
 * copy of state that no longer exists. Like Go's runtime after fork, the
 * child starts over around the calling G: one M (this one), its P, the
 * other Ps idle, empty queues, unlocked locks, a new sysmon (and, on first
 * use, a new netpoller: syscalls/netpoll.c forgets the parent's). Runs as
 * the first pthread_atfork child handler (registered in sched_init, before
 * the program can register its own), so the program's child handlers may
 * create threads. The other threads' records stay behind unreachable, as
 * their memory does in a glibc child. */
static void fork_child_reset_ps(struct m *m)
{
	sched.pidle = NULL;
	atomic_store(&sched.npidle, 0);
	for (int i = 0; i < sched.procs; i++) {
		struct p *pp = sched.allp[i];
		memset(&pp->runq, 0, sizeof pp->runq);
		memset(&pp->timers_lock, 0, sizeof pp->timers_lock);
		pp->timers.len = 0;
		atomic_store(&pp->timer0_when, 0);
		atomic_store(&pp->timers_stale, 0);
		if (pp == m->p)
			continue;
		pp->m = NULL;
		atomic_store(&pp->status, P_IDLE);
		pidleput(pp);
	}
}

/* A TCB for an M's scheduler of its own (per-G TLS): M0's, whose glibc
 * TCB stays with the main G, and a forked child's M, whose glibc TCB
 * glibc reclaimed. */
static void *m_own_tcb(struct m *m, void *stack_lo, size_t stack_size)
{
	void *own = tcb_create();
	if (!own)
		sched_fatal("out of memory allocating a scheduler's TLS");
	tcb_set_stack(own, stack_lo, stack_size, 0);
	tcb_set_tid(own, m->tid);
	*(struct m **)((char *)own + sched.m_tls_off) = m;
	return own;
}

static void fork_child_new_g0(struct m *m, struct g *g)
{
	/* With per-G TLS, glibc's fork took the G's TCB as the child's
	 * thread and put the parent's threads' stacks, this M's own (its
	 * scheduler stack and TCB) among them, in its cache for reuse: this
	 * M's scheduler gets a new stack and TCB, and starts afresh when the
	 * G next switches away (as M0's does at start-up). */
	if (!g->tls_base)
		return;
	void *lo;
	size_t size;
	stack_alloc_g0(&lo, &size);
	m->g0_stack_lo = lo;
	m->g0_stack_size = size;
	arch_context_make(&m->g0ctx, (char *)lo + size, m0_g0_entry, m);
	m->tls_base = m_own_tcb(m, lo, size);
	m->fs_now = g->tls_base;
	m->fs_lender = NULL;
	m->glibc_tcb = g->tls_base;
	if (g->tls_base != sched.main_tp)
		tcb_set_tid(g->tls_base, m->tid);
}

static void sched_after_fork_child(void)
{
	trace_after_fork_child();
	struct m *m = m_self();
	struct g *g = m ? m->curg : NULL;
	if (g && !m->p && m->p_lost) {
		/* sysmon had taken this M's P (kblock.c): the child's one M
		 * takes P0, whoever had it in the parent. */
		m->p_lost = false;
		m->p = sched.allp[0];
		m->p->m = m;
		atomic_store(&m->p->status, P_RUNNING);
	}
	if (!g || !m->p)
		return; /* fork from a thread gmpt does not run: nothing to keep */
	m->tid = (pid_t)raw_syscall(SYS_gettid);
	/* A new kernel thread: its CPU time starts at zero, as the kernel's. */
	cpuclock_reset(g, m);
	/* The forking thread is the child's main thread: its id is the
	 * child's process id, as the kernel makes it. */
	atomic_store(&sched.main_g, g);
	atomic_store(&sched.pid, (pid_t)raw_syscall(SYS_getpid));
	memset(&sched.lock, 0, sizeof sched.lock);
	memset(&sched.gfree_lock, 0, sizeof sched.gfree_lock);
	sched.midle = NULL;
	atomic_store(&sched.nmidle, 0);
	sched.mcount = 1;
	/* The parent's other Ms do not exist here: the lists that name every
	 * M and G for the thread dump keep only what does (Gs are checked by
	 * status, so the parent's stay listed, as G_IDLE pooled ones are). */
	m->alllink = NULL;
	atomic_store(&sched.allm, m);
	atomic_store(&sched.gcount, 1);
	/* The parent's other threads are gone: they must not look queued,
	 * running or waiting to the thread dump and the deadlock check. */
	for (struct g *o = atomic_load(&sched.allg); o; o = o->allg_link)
		if (o != g && atomic_load(&o->status) != G_IDLE)
			atomic_store(&o->status, G_DEAD);
	m->schedlink = NULL;
	m->spinning = false;
	m->in_netpoll = false;
	m->syscall_depth = 0;
	atomic_store(&m->oldp, NULL);
	/* A parent's sysmon may have been deciding about this M's P: the
	 * child has no sysmon of that time, and the P is this M's. */
	atomic_store(&m->p_take, P_TAKE_NONE);
	m->p_lost = false;
	atomic_store(&sched.nlost, 0);
	atomic_store(&sched.nmspinning, 0);
	memset(&sched.runq, 0, sizeof sched.runq);
	atomic_store(&sched.runqsize, 0);
	atomic_store(&sched.polling, POLL_NONE);
	atomic_store(&sched.poll_until, 0);
	atomic_store(&sched.lastpoll, nanotime());
	/* The parent's netpoller is not the child's (its io_uring rings are
	 * not even mapped here): nobody polls until the syscalls layer's own
	 * fork handler has forgotten it and a wait sets a new one up. */
	atomic_store(&sched.poller, NULL);
	atomic_store(&sched.sysmon_sleeping, 0);
	fork_child_reset_ps(m);
	/* Pooled Gs whose TCB a parent M's scheduler still held. */
	for (int i = 0; i < sched.procs; i++)
		for (struct g *f = sched.allp[i]->gfree; f; f = f->schedlink)
			atomic_store(&f->tls_holder, NULL);
	for (struct g *f = sched.gfree; f; f = f->schedlink)
		atomic_store(&f->tls_holder, NULL);
	waitq_after_fork();
	stack_after_fork();
	os_threads_after_fork();
	fork_child_new_g0(m, g);
	m->sigmask_now = sig_thread_mask();
	sysmon_start();
	sigroute_after_fork(g);
}

/* ---- bootstrap (Go: schedinit + the main goroutine) ---- */

/* The TCB glibc's thread list has for the calling kernel thread (see
 * tcb_wrap_setxid); NULL on threads that are not Ms. A signal handler:
 * m_self reads this M through whatever TCB is installed, and every TCB an
 * M runs on names that M. */
static void *listed_tcb_of_this_thread(void)
{
	struct m *m = m_self();
	return m ? m->glibc_tcb : NULL;
}

void sched_init(const struct sched_config *cfg)
{
	sched.procs = cfg->procs;
	sched.g_ext_size = cfg->g_ext_size;
	sched.on_g_dead = cfg->on_g_dead;
	sched.stress_seed = cfg->stress_seed;
	sched.maxmcount = cfg->max_threads;
	sched.preempt_on = cfg->preempt;
	sched.preempt_signal = cfg->preempt_signal;
	sched.start = nanotime();
	atomic_store(&sched.coarse_now, nanotime_coarse());
	sched.schedtrace_ms = cfg->schedtrace_ms;
	sched.scheddetail = cfg->scheddetail;
	sched.deadlock_mode = cfg->deadlock;
	if (cfg->waitq_buckets)
		waitq_configure(cfg->waitq_buckets);
	random_order_init((uint32_t)sched.procs);
	stack_init();

	sched.allp = calloc((size_t)sched.procs, sizeof *sched.allp);
	if (!sched.allp)
		sched_fatal("out of memory allocating %d Ps", sched.procs);
	for (int i = 0; i < sched.procs; i++) {
		struct p *pp = aligned_alloc(64, (sizeof *pp + 63) & ~(size_t)63);
		if (!pp)
			sched_fatal("out of memory allocating a P");
		memset(pp, 0, sizeof *pp);
		pp->id = i;
		sched.allp[i] = pp;
	}

	struct m *m0 = newm_alloc();
	m_set_self(m0);
	m0->tid = (pid_t)raw_syscall(SYS_gettid);
	m0->tls_base = arch_thread_pointer();
	m0->glibc_tcb = m0->tls_base;
	m0->fs_now = m0->tls_base;
	sched.main_tp = m0->tls_base;
	const char *why = NULL;
	if (cfg->tls_per_g && !tcb_init(&why)) {
		if (cfg->tls_required)
			sched_fatal("GMPT_TLS=per-thread: not available on glibc %s (%s)",
				    gnu_get_libc_version(), why);
		sched_notice("per-thread TLS is not available on glibc %s (%s): threads share "
			     "their kernel thread's TLS, as with GMPT_TLS=shared: errno stays "
			     "per thread, but __thread and thread_local variables, C++ exception "
			     "state and glibc's per-thread state do not, which breaks programs "
			     "such as the JVM, MariaDB and node",
			     gnu_get_libc_version(), why);
	}
	sched.tls_per_g = cfg->tls_per_g && !why;
	if (cfg->stress_seed)
		m0->rand = cfg->stress_seed | 1;
	sched.mcount = 1;

	/* M0's scheduler needs a stack of its own: the process stack stays
	 * with the main G, which may later run on any M. */
	void *lo;
	size_t size;
	stack_alloc_g0(&lo, &size);
	m0->g0_stack_lo = lo;
	m0->g0_stack_size = size;
	arch_context_make(&m0->g0ctx, (char *)lo + size, m0_g0_entry, m0);
	if (sched.tls_per_g) {
		/* The main G keeps glibc's main TCB wherever it runs, so M0's
		 * scheduler gets a TCB of its own. */
		sched.m_tls_off = tcb_offset_of(&gmpt_tls_m);
		m0->tls_base = m_own_tcb(m0, lo, size);
		tcb_adopt_main(sched.main_tp);
	}

	acquirep(m0, sched.allp[0]);
	for (int i = sched.procs - 1; i >= 1; i--)
		pidleput(sched.allp[i]);

	struct g *g = gfree_get(m0->p);
	g->id = atomic_fetch_add(&sched.goid_gen, 1) + 1;
	stat_g_alive(1);
	g->stack_kind = STACK_NONE;
	g->tls_base = sched.tls_per_g ? sched.main_tp : NULL;
	g->sigmask = sig_thread_mask();
	m0->sigmask_now = g->sigmask;
	atomic_store(&g->wait_bucket, -1);
	g->timer_p = -1;
	stack_describe_main(g);
	atomic_store(&g->status, G_RUNNING);
	atomic_store(&sched.main_g, g);
	atomic_store(&sched.pid, (pid_t)raw_syscall(SYS_getpid));
	g->m = m0;
	m0->curg = g;
	m0->curext = g->ext;
	atomic_store(&m0->p_pin, 0); /* the main G runs its own code */
	sched_is_ready = true;
	if (cfg->trace_open)
		trace_init(cfg->trace_open, m0, g);
	preempt_init();
	kblock_init();
	sched_vfork_init();
	sysmon_start();
	sig_main_g = g;
	sigroute_init();
	pthread_atfork(NULL, NULL, sched_after_fork_child);
	if (sched.tls_per_g)
		tcb_wrap_setxid(listed_tcb_of_this_thread);
}
