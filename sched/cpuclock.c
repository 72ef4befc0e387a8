/* sched/cpuclock.c - each G's own CPU time (CLOCK_THREAD_CPUTIME_ID,
 * pthread_getcpuclockid).
 *
 * A G's time is what its Ms' kernel threads spent while running it: at
 * switch-in the M reads its kernel thread's CPU clock into g->cpu_in, at
 * switch-out it adds the difference to g->cpu_ns. Reading that clock is a
 * system call, so the Ms do it only once the program has used a thread
 * CPU clock (cpuclock_on, set on first use and never cleared): until then
 * a switch costs one load of the flag at switch-in and one of g->cpu_tid
 * at switch-out. A thread's time counts from the first use, or for a
 * thread running on another M at that moment, from its next switch-in.
 *
 * g->cpu_tid is the kernel thread the G runs on while its time is being
 * counted, 0 while it is not (off CPU, or switched in before the first
 * use). Another thread reads a running G's time as cpu_ns plus that
 * kernel thread's clock minus cpu_in. The three words change together
 * under a sequence count (odd while the M writes them), written only by
 * the M running the G (and by the G itself, on that M) so there is one
 * writer at a time; a reader retries until it saw the same even count
 * before and after. At switch-out the count goes odd before the clock is
 * read, so a reader whose own read of that clock came later retries
 * rather than adding the time g0 spends after the G. */
#include "sched/runtime.h"
#include "arch/syscall.h"

#include <sys/syscall.h>
#include <time.h>

_Atomic bool cpuclock_on;

static int64_t ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

/* The calling kernel thread's CPU time. A raw system call: glibc's
 * clock_gettime is interposed by the shim. */
static int64_t own_kernel_cpu_ns(void)
{
	struct timespec ts = {0};
	raw_syscall(SYS_clock_gettime, CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts_ns(&ts);
}

/* Kernel thread tid's CPU time, -1 if it cannot be read. Linux's clock
 * id for it: ~tid shifted past the three low bits, "per thread" (4) and
 * CPUCLOCK_SCHED (2). */
static int64_t kernel_cpu_ns(pid_t tid)
{
	struct timespec ts;
	clockid_t clk = (clockid_t)((~(unsigned)tid << 3) | 6);
	if (raw_syscall(SYS_clock_gettime, clk, &ts) != 0)
		return -1;
	return ts_ns(&ts);
}

static void write_begin(struct g *g)
{
	uint32_t s = atomic_load_explicit(&g->cpu_seq, memory_order_relaxed);
	atomic_store_explicit(&g->cpu_seq, s + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
}

static void write_end(struct g *g)
{
	uint32_t s = atomic_load_explicit(&g->cpu_seq, memory_order_relaxed);
	atomic_store_explicit(&g->cpu_seq, s + 1, memory_order_release);
}

void cpuclock_switch_in(struct m *m, struct g *g)
{
	int64_t now = own_kernel_cpu_ns();
	write_begin(g);
	atomic_store_explicit(&g->cpu_in, now, memory_order_relaxed);
	atomic_store_explicit(&g->cpu_tid, m->tid, memory_order_relaxed);
	write_end(g);
}

void cpuclock_switch_out(struct g *g)
{
	write_begin(g);
	int64_t now = own_kernel_cpu_ns();
	int64_t in = atomic_load_explicit(&g->cpu_in, memory_order_relaxed);
	int64_t acc = atomic_load_explicit(&g->cpu_ns, memory_order_relaxed);
	atomic_store_explicit(&g->cpu_ns, acc + (now > in ? now - in : 0), memory_order_relaxed);
	atomic_store_explicit(&g->cpu_tid, 0, memory_order_relaxed);
	write_end(g);
}

void cpuclock_reset(struct g *g, struct m *m)
{
	write_begin(g);
	atomic_store_explicit(&g->cpu_ns, 0, memory_order_relaxed);
	if (m && atomic_load_explicit(&g->cpu_tid, memory_order_relaxed)) {
		atomic_store_explicit(&g->cpu_in, own_kernel_cpu_ns(), memory_order_relaxed);
		atomic_store_explicit(&g->cpu_tid, m->tid, memory_order_relaxed);
	} else {
		atomic_store_explicit(&g->cpu_tid, 0, memory_order_relaxed);
	}
	write_end(g);
}

void sched_cpuclock_use(void)
{
	if (atomic_load_explicit(&cpuclock_on, memory_order_relaxed))
		return;
	atomic_store(&cpuclock_on, true);
	/* The caller's own time counts from now. It is the G running on
	 * this M (gmpt's code is never preempted), so it writes its own
	 * words as its M would. */
	struct m *m = m_self();
	struct g *g = m ? m->curg : NULL;
	if (g && !atomic_load_explicit(&g->cpu_tid, memory_order_relaxed))
		cpuclock_switch_in(m, g);
}

int64_t sched_g_cpu_ns(struct g *g)
{
	for (;;) {
		uint32_t s1 = atomic_load_explicit(&g->cpu_seq, memory_order_acquire);
		if (s1 & 1) {
			arch_cpu_relax();
			continue;
		}
		pid_t tid = atomic_load_explicit(&g->cpu_tid, memory_order_relaxed);
		int64_t in = atomic_load_explicit(&g->cpu_in, memory_order_relaxed);
		int64_t acc = atomic_load_explicit(&g->cpu_ns, memory_order_relaxed);
		int64_t now = 0;
		if (tid) {
			struct m *m = m_self();
			now = m && m->curg == g ? own_kernel_cpu_ns() : kernel_cpu_ns(tid);
		}
		atomic_thread_fence(memory_order_seq_cst);
		if (atomic_load_explicit(&g->cpu_seq, memory_order_relaxed) != s1)
			continue;
		return tid && now > in ? acc + (now - in) : acc;
	}
}
