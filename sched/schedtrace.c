/* sched/schedtrace.c - GMPT_DEBUG=schedtrace=MS and scheddetail=1 (Go's
 * schedtrace), printed by sysmon on stderr:
 *
 *   SCHED 1004ms: gomaxprocs=4 idleprocs=3 threads=6 spinningthreads=0
 *     idlethreads=3 runqueue=0 [0 0 0 0] gs=5 runnable=0 running=1
 *     syscall=0 waiting=4                                  (one line)
 *
 * Nms since start-up; gomaxprocs: Ps; idleprocs: idle Ps; threads: Ms
 * (kernel threads that run threads; sysmon not counted); spinningthreads:
 * Ms looking for work; idlethreads: Ms asleep on the idle list; runqueue:
 * the global queue; [...]: each P's local queue (runnext included); gs:
 * live threads by state (syscall: running, in a system call). With
 * scheddetail=1 a line per P, per M and per live G follows:
 *
 *     P0: status=running schedtick=812 syscalltick=3 m=1 runqsize=0 runnext=-
 *         gfreecnt=2 timers=1
 *     M1: p=0 curg=7 state=running spinning=0 tid=4242
 *     G7: status=waiting(mutex) m=- waited=1203ms name="worker"
 *
 * Everything is read without locks, as Go's schedtrace without
 * scheddetail does: the numbers are a snapshot taken while the scheduler
 * runs, each value real but not all from the same instant. P, M and G
 * structs are never freed, so following a pointer read racily is safe;
 * at worst a line mixes two states. Nothing is written to scheduler
 * state, so the hot path does not notice the printer. */
#include "sched/schedtrace.h"
#include "sched/runtime.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static int64_t next_due;

int64_t schedtrace_next(void)
{
	if (sched.schedtrace_ms <= 0)
		return 0;
	if (next_due == 0)
		next_due = sched.start + (int64_t)sched.schedtrace_ms * 1000000;
	return next_due;
}

struct out {
	size_t len;
	char buf[2048];
};

static void out_flush(struct out *o)
{
	size_t off = 0;
	while (off < o->len) {
		ssize_t n = write(2, o->buf + off, o->len - off);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	o->len = 0;
}

static void __attribute__((format(printf, 2, 3))) out_printf(struct out *o, const char *fmt, ...)
{
	if (sizeof o->buf - o->len < 256)
		out_flush(o);
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->len, sizeof o->buf - o->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len +=
		    (size_t)n < sizeof o->buf - o->len ? (size_t)n : sizeof o->buf - o->len - 1;
}

#define RELAXED(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

/* A running G whose M holds no P is in a system call. */
static bool g_in_syscall(struct g *g)
{
	struct m *m = RELAXED(g->m);
	return m && RELAXED(m->p) == NULL;
}

struct g_counts {
	int live, runnable, running, syscall, waiting;
};

static void count_gs(struct g_counts *c)
{
	*c = (struct g_counts){0};
	for (struct g *g = atomic_load_explicit(&sched.allg, memory_order_acquire); g;
	     g = g->allg_link) {
		switch (atomic_load_explicit(&g->status, memory_order_relaxed)) {
		case G_RUNNABLE:
			c->runnable++;
			break;
		case G_RUNNING:
			if (g_in_syscall(g))
				c->syscall++;
			else
				c->running++;
			break;
		case G_WAITING:
			c->waiting++;
			break;
		default:
			continue;
		}
		c->live++;
	}
}

static uint32_t p_queued(struct p *pp)
{
	return runq_len(&pp->runq) +
	       (atomic_load_explicit(&pp->runq.runnext, memory_order_relaxed) ? 1 : 0);
}

static const char *p_status_name(uint32_t st)
{
	return st == P_RUNNING ? "running" : st == P_SYSCALL ? "syscall" : "idle";
}

static void detail_ps(struct out *o)
{
	for (int i = 0; i < sched.procs; i++) {
		struct p *pp = sched.allp[i];
		struct m *m = RELAXED(pp->m);
		struct g *next = atomic_load_explicit(&pp->runq.runnext, memory_order_relaxed);
		out_printf(o, "  P%d: status=%s schedtick=%u syscalltick=%u m=", i,
			   p_status_name(atomic_load_explicit(&pp->status, memory_order_relaxed)),
			   atomic_load_explicit(&pp->schedtick, memory_order_relaxed),
			   atomic_load_explicit(&pp->syscalltick, memory_order_relaxed));
		if (m)
			out_printf(o, "%d", m->id);
		else
			out_printf(o, "-");
		out_printf(o, " runqsize=%u runnext=", runq_len(&pp->runq));
		if (next)
			out_printf(o, "%llu", (unsigned long long)next->id);
		else
			out_printf(o, "-");
		out_printf(o, " gfreecnt=%u timers=%u\n", RELAXED(pp->ngfree),
			   RELAXED(pp->timers.len));
	}
}

static const char *m_state(struct m *m, struct p *pp, struct g *curg)
{
	if (curg)
		return pp ? "running" : "syscall";
	if (RELAXED(m->in_netpoll))
		return "netpoll";
	if (pp)
		return RELAXED(m->spinning) ? "spinning" : "scheduling";
	return "idle";
}

static void detail_ms(struct out *o)
{
	for (struct m *m = atomic_load_explicit(&sched.allm, memory_order_acquire); m;
	     m = m->alllink) {
		struct p *pp = RELAXED(m->p);
		struct g *curg = RELAXED(m->curg);
		out_printf(o, "  M%d: p=", m->id);
		if (pp)
			out_printf(o, "%d", pp->id);
		else
			out_printf(o, "-");
		out_printf(o, " curg=");
		if (curg)
			out_printf(o, "%llu", (unsigned long long)curg->id);
		else
			out_printf(o, "-");
		out_printf(o, " state=%s spinning=%d tid=%d\n", m_state(m, pp, curg),
			   RELAXED(m->spinning) ? 1 : 0, (int)m->tid);
	}
}

static void detail_gs(struct out *o, int64_t coarse_now)
{
	for (struct g *g = atomic_load_explicit(&sched.allg, memory_order_acquire); g;
	     g = g->allg_link) {
		uint32_t st = atomic_load_explicit(&g->status, memory_order_relaxed);
		if (st == G_IDLE || st == G_DEAD)
			continue;
		out_printf(o, "  G%llu: status=", (unsigned long long)g->id);
		if (st == G_WAITING) {
			const char *why = RELAXED(g->wait_reason);
			int64_t since = RELAXED(g->wait_since);
			out_printf(o, "waiting(%s) m=-", why ? why : "?");
			if (since && coarse_now >= since)
				out_printf(o, " waited=%lldms",
					   (long long)((coarse_now - since) / 1000000));
		} else if (st == G_RUNNABLE) {
			out_printf(o, "runnable m=-");
		} else {
			struct m *m = RELAXED(g->m);
			out_printf(o, "%s m=", g_in_syscall(g) ? "syscall" : "running");
			if (m)
				out_printf(o, "%d", m->id);
			else
				out_printf(o, "-");
		}
		char name[sizeof g->name];
		for (size_t i = 0; i < sizeof name; i++)
			name[i] = RELAXED(g->name[i]);
		name[sizeof name - 1] = 0;
		if (name[0])
			out_printf(o, " name=\"%s\"", name);
		out_printf(o, "\n");
	}
}

static void print_trace(int64_t now)
{
	struct out o;
	o.len = 0;
	struct g_counts gc;
	count_gs(&gc);
	out_printf(&o,
		   "SCHED %lldms: gomaxprocs=%d idleprocs=%d threads=%d spinningthreads=%d "
		   "idlethreads=%d runqueue=%u [",
		   (long long)((now - sched.start) / 1000000), sched.procs,
		   atomic_load(&sched.npidle), RELAXED(sched.mcount),
		   atomic_load(&sched.nmspinning), atomic_load(&sched.nmidle),
		   atomic_load(&sched.runqsize));
	for (int i = 0; i < sched.procs; i++)
		out_printf(&o, "%s%u", i ? " " : "", p_queued(sched.allp[i]));
	out_printf(&o, "] gs=%d runnable=%d running=%d syscall=%d waiting=%d\n", gc.live,
		   gc.runnable, gc.running, gc.syscall, gc.waiting);
	if (sched.scheddetail) {
		detail_ps(&o);
		detail_ms(&o);
		detail_gs(&o, nanotime_coarse());
	}
	out_flush(&o);
}

void schedtrace_tick(int64_t now)
{
	int64_t due = schedtrace_next();
	if (due == 0 || now < due)
		return;
	print_trace(now);
	int64_t period = (int64_t)sched.schedtrace_ms * 1000000;
	next_due = due + period;
	if (next_due <= now) /* sysmon was held up: do not print a burst */
		next_due = now + period;
}
