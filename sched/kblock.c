/* sched/kblock.c - Ms blocked in the kernel where gmpt cannot see it.
 *
 * gmpt hands a P off around the system calls it interposes. Code it does
 * not interpose enters the kernel too: a raw `syscall` instruction inlined
 * in a library (liburing's io_uring_enter, InnoDB waiting for its aio),
 * another runtime's own futex calls, glibc's internal ones. Such a thread
 * looks running to the scheduler and keeps its P, so the Gs queued on that
 * P wait for it, and with one P the process stops.
 *
 * sysmon therefore looks at the kernel thread of an M whose P has not
 * scheduled for a whole round while other work waits: if the thread has
 * used no CPU since sysmon last looked (its per-thread CPU clock, one
 * system call) and the kernel says it sleeps (/proc/self/task/TID/stat,
 * read only then), sysmon takes the P and hands it to another M, as for
 * a system call that lasts (retake). The M finds its P gone at its next
 * entry into gmpt code that would use it (p_pin in runtime.h) and gets
 * one back where it may switch, or sysmon preempts it once it runs user
 * code again (kblock_preempt_lost). Meanwhile more kernel threads may run
 * than there are Ps, as after a system call in Go.
 *
 * Why taking a P from under a running M is safe is the p_pin/p_take
 * handshake in runtime.h; kblock_take is sysmon's half. */
#include "arch/syscall.h"
#include "sched/runtime.h"
#include "sched/stats.h"
#include "sched/trace.h"

#include <fcntl.h>
#include <linux/membarrier.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>

/* A lost M runs user code: let it reach gmpt on its own this long before
 * sysmon preempts it, and again as often. */
#define LOST_PREEMPT_NS 1000000

static _Atomic bool told_unavailable;

void kblock_init(void)
{
	/* The expedited command needs registering once per process; it then
	 * costs sysmon one system call and an interrupt of each CPU running
	 * one of our threads, only when it is about to take a P. */
	sched.kblock_on =
	    raw_syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
}

/* The kernel thread's CPU time in ns, or -1 (it is gone). A thread CPU
 * clock id names any thread of the process (Linux's
 * MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED)). */
static int64_t thread_cpu_ns(pid_t tid)
{
	clockid_t clk = (clockid_t)((~(unsigned)tid << 3) | 6);
	struct timespec ts;
	if (raw_syscall(SYS_clock_gettime, clk, &ts) != 0)
		return -1;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Whether m's kernel thread has used no CPU since sysmon last asked (a
 * first question only records). A thread waiting for a CPU also uses
 * none: kstate_of tells the two apart. */
bool kblock_cpu_idle(struct m *m, int64_t now)
{
	int64_t cpu = thread_cpu_ns(m->tid);
	bool idle = m->kseen_when != 0 && cpu == m->kseen_cpu;
	m->kseen_cpu = cpu;
	m->kseen_when = now;
	return idle;
}

/* What the kernel says m's thread does: running or waiting for a CPU
 * (R), or asleep (S, D). Opened and closed each time with raw system
 * calls (the interposed open and read are cancellation points and would
 * treat sysmon as a program thread), so gmpt keeps no descriptor a
 * program could see or close; sysmon asks only about threads that have
 * stopped using CPU or that it is about to signal. */
enum kstate kstate_of(struct m *m)
{
	char path[48], buf[256];
	snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)m->tid);
	long fd = raw_syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return KSTATE_UNKNOWN;
	long n = raw_syscall(SYS_read, fd, buf, sizeof buf - 1);
	raw_syscall(SYS_close, fd);
	if (n <= 0)
		return KSTATE_UNKNOWN;
	buf[n] = 0;
	/* "tid (comm) S ...": comm may hold spaces and parentheses, the
	 * state follows the last ')'. */
	char *close = NULL;
	for (char *c = buf; *c; c++)
		if (*c == ')')
			close = c;
	if (!close || close[1] != ' ')
		return KSTATE_UNKNOWN;
	switch (close[2]) {
	case 'R':
		return KSTATE_RUNNING;
	case 'S':
	case 'D':
		return KSTATE_BLOCKED;
	default: /* stopped, traced, exiting: leave it alone */
		return KSTATE_UNKNOWN;
	}
}

/* sysmon's half of the handshake in runtime.h: take pp from m, whose
 * kernel thread was just seen asleep. Returns whether it did. */
bool kblock_take(struct p *pp, struct m *m)
{
	if (!sched.kblock_on) {
		if (!atomic_exchange(&told_unavailable, true))
			sched_notice("a thread blocked in the kernel outside gmpt's "
				     "interposed calls keeps its processor (membarrier is not "
				     "available)");
		return false;
	}
	/* Racy pre-check: spares the membarrier while the M is in gmpt. */
	if (atomic_load_explicit(&m->p_pin, memory_order_relaxed) != 0)
		return false;
	atomic_store(&m->p_take, P_TAKE_DECIDING);
	if (raw_syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0) {
		atomic_store(&m->p_take, P_TAKE_NONE);
		return false;
	}
	/* Every thread has passed a full barrier since our store: if the
	 * M's pin is zero now, it is outside every pinned section, and any
	 * it enters from now on waits for our verdict. Nothing of the M's
	 * that names the P can change until then: only pinned code changes
	 * m->p, pp->m and pp->status (another M acquires pp only after its
	 * owner released it, in pinned code). So these reads are stable. */
	if (atomic_load(&m->p_pin) != 0 || m->p != pp || pp->m != m || !m->curg ||
	    atomic_load(&pp->status) != P_RUNNING) {
		atomic_store(&m->p_take, P_TAKE_NONE);
		return false;
	}
	pp->m = NULL;
	atomic_store_explicit(&pp->status, P_IDLE, memory_order_relaxed);
	atomic_fetch_add(&sched.nlost, 1);
	m->lost_signalled = m->p_taken_at = nanotime();
	m->lost_cpu = thread_cpu_ns(m->tid);
	/* Release: the M, once it sees DONE, drops m->p; pp is ours. */
	atomic_store_explicit(&m->p_take, P_TAKE_DONE, memory_order_release);
	P_STAT_ADD(pp, retakes, 1);
	trace_retake(pp);
	handoffp(pp);
	return true;
}

/* Ms that lost their P and run user code again without coming into gmpt
 * (a loop after the blocking call): preempt them, so that no more Ms run
 * than there are Ps for longer than a moment. Never one asleep in the
 * kernel: the signal would cut its wait short (EINTR). Nor one that has
 * used less than half the CPU time since the last look: a thread that
 * blocks in one raw call after another (the very reason its P was taken)
 * is in user code only for moments, and a signal sent in one would land
 * in the next call; only a thread that computes is worth the signal. */
void kblock_preempt_lost(int64_t now)
{
	if (atomic_load_explicit(&sched.nlost, memory_order_relaxed) == 0 || !sched.preempt_on)
		return;
	for (struct m *m = atomic_load_explicit(&sched.allm, memory_order_acquire); m;
	     m = m->alllink) {
		/* Racy reads of another thread's fields: a wrong guess costs a
		 * signal that finds nothing to do (the handler checks again). */
		struct g *g = m->curg;
		bool lost = atomic_load_explicit(&m->p_take, memory_order_relaxed) == P_TAKE_DONE ||
			    m->p_lost;
		if (!lost || !g || m->syscall_depth != 0 ||
		    now - m->lost_signalled < LOST_PREEMPT_NS)
			continue;
		int64_t cpu = thread_cpu_ns(m->tid);
		bool computed = cpu - m->lost_cpu >= (now - m->lost_signalled) / 2;
		m->lost_cpu = cpu;
		if (!computed || kstate_of(m) != KSTATE_RUNNING) {
			m->lost_signalled = now; /* look again a round later */
			continue;
		}
		m->lost_signalled = now;
		atomic_store_explicit(&g->preempt, true, memory_order_relaxed);
		preempt_m(m, g);
		stat_preempt_sent();
	}
}
