/* sched/sysmon.c - the system monitor (Go: sysmon, retake, preemptone).
 *
 * A kernel thread with no M and no P. It never runs Gs and never takes a
 * scheduler lock for long, so it keeps working when every M is stuck. Each
 * round it:
 *  - retakes a P whose M has been in one system call for a whole round,
 *    when the P has other work (or after 10 ms regardless), and hands it to
 *    another M;
 *  - takes the P of an M whose G gmpt thinks runs but whose kernel thread
 *    sleeps in a call gmpt did not see, when other work waits (kblock.c);
 *  - asks a G that has run for 3 ms without rescheduling to yield
 *    (preempt.c), when something else is waiting for its P, and sooner,
 *    a tenth of a millisecond after one of its P's timers is due: a
 *    thread whose sleep ends wakes about as promptly as a kernel thread
 *    (the kernel preempts for the wakeup at once; Go waits 10 ms). Never
 *    by signalling a thread that is in the kernel: the signal would cut
 *    its wait short where natively nothing would;
 *  - runs the overdue timers of a P whose G does not yield to preemption,
 *    when another P is idle to run the Gs they wake;
 *  - polls the network if no M has for 10 ms;
 *  - publishes the coarse clock parks stamp wait_since with
 *    (sched.coarse_now), and prints GMPT_DEBUG=schedtrace lines.
 * It sleeps 20 us between rounds, doubling after 1 ms without anything to
 * do up to 10 ms, but never past the moment it would have to preempt a G
 * that has held its P for a whole round (its P's first timer, or its
 * slice when work waits); it sleeps without a deadline while every P is
 * idle: the first P taken off the idle list wakes it (pidleget). */
#include "arch/syscall.h"
#include "sched/osthread.h"
#include "sched/runtime.h"
#include "sched/checkdead.h"
#include "sched/schedtrace.h"
#include "sched/stats.h"
#include "sched/trace.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>

#define SYSMON_MIN_DELAY_NS 20000
#define SYSMON_MAX_DELAY_NS 10000000
/* The kernel's own slices are a few ms (EEVDF's base slice times the
 * log of the CPU count); Go's 10 ms left a thread that became runnable
 * behind a computing one waiting 10-20 ms where natively it waits ~3. */
#define FORCE_PREEMPT_NS 3000000
/* How long a due timer waits for a P that does not schedule. */
#define TIMER_PREEMPT_NS  100000
#define PREEMPT_RESEND_NS 1000000
#define RETAKE_ANYWAY_NS  10000000
#define NETPOLL_STALE_NS  10000000
#define TIMER_RESCUE_NS	  1000000

/* What sysmon last saw of each P; sysmon's alone. */
struct sysmon_p {
	uint32_t schedtick;
	int64_t schedwhen;
	uint32_t syscalltick;
	int64_t syscallwhen;
	int64_t signalled;
	uint32_t signalled_tick; /* schedtick when last signalled */
	/* When to look at the kernel thread of the M that holds the P
	 * (kblock.c) again while the P does not schedule: the wait doubles
	 * with the time the P has gone without scheduling, so a G that
	 * computes costs few looks. */
	int64_t kcheck_next;
};

static struct sysmon_p *seen;

static void sysmon_sleep_ns(int64_t ns)
{
	struct timespec ts = {ns / 1000000000, ns % 1000000000};
	raw_syscall(SYS_nanosleep, &ts, NULL);
}

void sysmon_wake(void)
{
	/* Gs are about to run after a sleep of any length. */
	atomic_store_explicit(&sched.coarse_now, nanotime_coarse(), memory_order_relaxed);
	atomic_store(&sched.sysmon_sleeping, 0);
	atomic_fetch_add(&sched.sysmon_word, 1);
	futex_wake(&sched.sysmon_word, 1);
}

/* The M that made every M idle asks for the deadlock check. Always moves
 * the word, so a sysmon that read it before the check and is about to
 * sleep on it does not (sysmon_deep_sleep); the futex call only if sysmon
 * is asleep or going to be. */
void sysmon_kick(void)
{
	atomic_fetch_add(&sched.sysmon_word, 1);
	if (atomic_load(&sched.sysmon_sleeping))
		futex_wake(&sched.sysmon_word, 1);
}

/* Every P idle: nothing to retake or preempt until one is taken. The store
 * of sysmon_sleeping and pidleget's decrement of npidle are both seq_cst,
 * so either pidleget sees us sleeping and wakes us, or we see npidle
 * below procs here and do not sleep. Before sleeping, the deadlock check
 * (checkdead.c); the word is read before it, so a kick that comes after
 * the check looked ends the sleep at once and the check runs again. With
 * GMPT_DEBUG=schedtrace the sleep ends when the next line is due, so lines
 * keep coming while the process is idle. */
static bool sysmon_deep_sleep(void)
{
	if (atomic_load(&sched.npidle) != sched.procs)
		return false;
	uint32_t word = atomic_load(&sched.sysmon_word);
	checkdead();
	atomic_store(&sched.sysmon_sleeping, 1);
	if (atomic_load(&sched.npidle) == sched.procs)
		futex_wait(&sched.sysmon_word, word, schedtrace_next());
	atomic_store(&sched.sysmon_sleeping, 0);
	return true;
}

/* Go's preemptone, rate-limited: a G that sits at an unsafe point (in
 * libc, say) keeps its flag and gets another signal a millisecond later.
 * A P that has scheduled since the last signal (it was honoured) may be
 * signalled again at once: timers due one after another each need one. */
static void preempt_p(struct p *pp, struct sysmon_p *s, int64_t now)
{
	struct m *m = pp->m;
	if (!m || (now - s->signalled < PREEMPT_RESEND_NS && s->schedtick == s->signalled_tick))
		return;
	/* Racy reads: m may have moved on to another G or P since. The G
	 * flagged then yields at its next safe point, a little early; the
	 * handler checks the flag of whatever the M runs when it lands. */
	struct g *g = m->curg;
	if (!g)
		return;
	s->signalled = now;
	s->signalled_tick = s->schedtick;
	/* A thread asleep in the kernel is not running user code: a signal
	 * would only interrupt its call (kblock.c takes such Ps instead). */
	if (kstate_of(m) != KSTATE_RUNNING)
		return;
	atomic_store_explicit(&g->preempt, true, memory_order_relaxed);
	trace_preempt_request(pp, m, g);
	if (sched.preempt_on) {
		preempt_m(m, g);
		stat_preempt_sent();
	}
}

/* A G cancelled asynchronously while it was not running, or poked at a
 * point where it could not act (sched_cancel_arm): poke it again, at the
 * preemption signal's rate, until it acts. Racy reads as in preempt_p: a
 * poke that lands on another G finds it not armed and does nothing. */
static void poke_async_cancel(struct p *pp, struct sysmon_p *s, int64_t now)
{
	struct m *m = pp->m;
	struct g *g = m ? m->curg : NULL;
	if (!g || now - s->signalled < PREEMPT_RESEND_NS ||
	    (atomic_load_explicit(&g->cancel_armed, memory_order_relaxed) &
	     SCHED_CANCEL_ARM_MASK) != SCHED_CANCEL_ASYNC)
		return;
	s->signalled = now;
	preempt_poke(m);
}

/* pp has not scheduled for a whole round while its M's G "runs". Returns
 * whether sysmon took the P because the M's thread sleeps in the kernel. */
static bool running_too_long(struct p *pp, struct sysmon_p *s, int64_t now)
{
	struct m *m = pp->m; /* racy: kblock_take checks again */
	if (!m || !m->curg)
		return false; /* the M is in its scheduler */
	/* Its timers are overdue and its G has not yielded to a preemption
	 * request (it computes where it cannot be stopped): run them here, so
	 * an idle P runs the Gs they wake (they go to the global queue, with
	 * wakep). Only then: a P that schedules runs its own timers sooner,
	 * and puts their Gs in runnext, ahead of its queue, where the global
	 * queue would put them behind it. */
	int64_t w = atomic_load_explicit(&pp->timer0_when, memory_order_relaxed);
	if (w != 0 && now - w >= TIMER_RESCUE_NS &&
	    now - s->schedwhen >= FORCE_PREEMPT_NS + PREEMPT_RESEND_NS &&
	    atomic_load(&sched.npidle) > 0)
		timers_run(pp, now);
	if (!p_has_work(pp, now))
		return false;
	bool timer_overdue = w != 0 && now - w >= TIMER_PREEMPT_NS;
	if (now >= s->kcheck_next) {
		if (kblock_cpu_idle(m, now) && kstate_of(m) == KSTATE_BLOCKED && kblock_take(pp, m))
			return true;
		int64_t wait = now - s->schedwhen;
		if (wait < SYSMON_MIN_DELAY_NS)
			wait = SYSMON_MIN_DELAY_NS;
		if (wait > SYSMON_MAX_DELAY_NS)
			wait = SYSMON_MAX_DELAY_NS;
		s->kcheck_next = now + wait;
	}
	if (now - s->schedwhen >= FORCE_PREEMPT_NS ||
	    (timer_overdue && now - s->schedwhen >= TIMER_PREEMPT_NS))
		preempt_p(pp, s, now);
	return false;
}

/* When sysmon would next have to preempt the G of a running P if it does
 * not schedule meanwhile (its first timer due plus the grace, or its
 * slice when work waits), or 0. A P that schedules runs its timers
 * itself, and sysmon then finds nothing to do: a wakeup per timer due on
 * a busy P at most, at most one per SYSMON_MIN_DELAY_NS (timeouts are
 * mostly far off or reset before they are due). */
static int64_t next_preempt_due(struct p *pp, struct sysmon_p *s)
{
	int64_t due = 0;
	int64_t w = atomic_load_explicit(&pp->timer0_when, memory_order_relaxed);
	if (w != 0)
		due = (w > s->schedwhen ? w : s->schedwhen) + TIMER_PREEMPT_NS;
	if (!runq_empty(&pp->runq) || atomic_load(&sched.runqsize) != 0) {
		int64_t slice = s->schedwhen + FORCE_PREEMPT_NS;
		if (due == 0 || slice < due)
			due = slice;
	}
	return due;
}

/* Go's retake. Returns how many Ps were taken from system calls or from
 * Ms blocked in the kernel; *wake_by, when sysmon must look again at the
 * latest to preempt in time (0: no such deadline). */
static int retake(int64_t now, int64_t *wake_by)
{
	int n = 0;
	*wake_by = 0;
	for (int i = 0; i < sched.procs; i++) {
		struct p *pp = sched.allp[i];
		struct sysmon_p *s = &seen[i];
		uint32_t st = atomic_load_explicit(&pp->status, memory_order_acquire);
		if (st == P_IDLE)
			continue;

		uint32_t t = atomic_load_explicit(&pp->schedtick, memory_order_relaxed);
		if (s->schedtick != t) {
			s->schedtick = t;
			s->schedwhen = now;
			s->kcheck_next = 0;
		} else if (st == P_RUNNING && running_too_long(pp, s, now)) {
			n++;
			continue;
		}
		if (st == P_RUNNING) {
			int64_t due = next_preempt_due(pp, s);
			if (due != 0 && (*wake_by == 0 || due < *wake_by))
				*wake_by = due;
		}
		if (st == P_RUNNING)
			poke_async_cancel(pp, s, now);

		if (st != P_SYSCALL)
			continue;
		t = atomic_load_explicit(&pp->syscalltick, memory_order_relaxed);
		if (s->syscalltick != t) {
			s->syscalltick = t;
			s->syscallwhen = now;
			continue;
		}
		/* In the same system call for a whole round. Leave it alone
		 * if it has nothing queued and other Ms are looking for work
		 * anyway, unless it has been 10 ms. */
		if (!p_has_work(pp, now) &&
		    atomic_load(&sched.nmspinning) + atomic_load(&sched.npidle) > 0 &&
		    now - s->syscallwhen < RETAKE_ANYWAY_NS)
			continue;
		uint32_t want = P_SYSCALL;
		if (atomic_compare_exchange_strong(&pp->status, &want, P_IDLE)) {
			/* We own pp now; the M in the system call finds it gone
			 * and takes the slow way out (exitsyscall). */
			s->syscalltick = t + 1;
			atomic_store_explicit(&pp->syscalltick, t + 1, memory_order_relaxed);
			P_STAT_ADD(pp, retakes, 1); /* ours since the CAS */
			trace_retake(pp);
			handoffp(pp);
			n++;
		}
	}
	return n;
}

/* Nobody has polled the network for a while (every M busy with Gs that do
 * not block): poll for them. The readied Gs go to the global queue. */
static void sysmon_netpoll(int64_t now)
{
	const struct sched_poller *np = atomic_load(&sched.poller);
	if (!np)
		return;
	int64_t last = atomic_load(&sched.lastpoll);
	if (last == 0 || now - last < NETPOLL_STALE_NS)
		return;
	if (!atomic_compare_exchange_strong(&sched.lastpoll, &last, now))
		return;
	np->poll(0);
}

static void sysmon_main(void *arg)
{
	(void)arg;
	sigset_t all;
	sigfillset(&all);
	raw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, NULL, _NSIG / 8);
	trace_thread_named("sysmon");

	int64_t delay = SYSMON_MIN_DELAY_NS;
	uint32_t idle = 0;
	int64_t wake_by = 0;
	for (;;) {
		if (idle == 0)
			delay = SYSMON_MIN_DELAY_NS;
		else if (idle > 50)
			delay *= 2;
		if (delay > SYSMON_MAX_DELAY_NS)
			delay = SYSMON_MAX_DELAY_NS;
		int64_t sleep = delay;
		if (wake_by != 0) {
			int64_t until = wake_by - nanotime();
			if (until < sleep)
				sleep = until > SYSMON_MIN_DELAY_NS ? until : SYSMON_MIN_DELAY_NS;
		}
		int64_t trace_due = schedtrace_next();
		if (trace_due) {
			int64_t until = trace_due - nanotime();
			sysmon_sleep_ns(until < sleep ? (until > 0 ? until : 0) : sleep);
			schedtrace_tick(nanotime());
		} else {
			sysmon_sleep_ns(sleep);
		}
		atomic_store_explicit(&sched.coarse_now, nanotime_coarse(), memory_order_relaxed);
		if (sysmon_deep_sleep()) {
			idle = 0;
			wake_by = 0;
			continue;
		}
		int64_t now = nanotime();
		sysmon_netpoll(now);
		kblock_preempt_lost(now);
		if (retake(now, &wake_by) > 0)
			idle = 0;
		else
			idle++;
	}
}

void sysmon_start(void)
{
	seen = calloc((size_t)sched.procs, sizeof *seen);
	if (!seen)
		sched_fatal("out of memory starting sysmon");
	for (int i = 0; i < sched.procs; i++)
		seen[i].schedwhen = nanotime();
	int err = os_thread_create(sysmon_main, NULL);
	if (err)
		sched_fatal("cannot create the sysmon thread (%s)", strerror(err));
}
