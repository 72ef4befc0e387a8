/* sched/checkdead.c - "all threads are asleep - deadlock!" (Go's checkdead).
 *
 * A deadlock here is a state no thread can ever leave: every live G is
 * parked in a wait that only another thread can end (a mutex, a condition
 * without a timeout, a join, a barrier, a rwlock, a once, a semaphore;
 * struct wait_reason says which, sched/waitq.c), and nothing outside the
 * program's threads can wake one: no timer, no fd or I/O wait, no system
 * call in progress, no kernel thread gmpt does not run. Then the process
 * would hang for ever; gmpt prints the thread dump and aborts
 * (GMPT_DEADLOCK=abort, the default), or prints once and goes on waiting
 * (GMPT_DEADLOCK=warn), or does not look (GMPT_DEADLOCK=off).
 *
 * When. Like Go, the check only runs once every M is idle, which is what
 * makes it sound (see "Why the snapshot holds" below). "Idle" is: on the
 * idle list (stopm), or the one M blocked in the poller. The M that makes
 * the process idle notices it with a few loads under sched.lock (stopm
 * after mput; the poller before it blocks with no deadline) and asks
 * sysmon, which does the walk over every G off the hot path. sysmon also
 * checks each time it is about to sleep because every P is idle. A process
 * that goes idle with a timer pending is not checked: the timer's expiry
 * wakes an M, which checks again when it goes idle.
 *
 * Why the snapshot holds. Under sched.lock, with every M idle:
 *  - no M can leave the idle list (mget needs the lock), and no M can be
 *    created (newm takes the lock and bumps mcount, which makes the "all
 *    idle" test fail);
 *  - so no G runs, and nothing that runs on an M's scheduler (a G's exit
 *    waking its joiner from on_g_dead, a timer firing) is in progress: an M
 *    doing that is not idle. A G that is just being readied is readied by
 *    a running thread, so that thread's M is not idle either;
 *  - the M blocked in the poller may return and ready Gs, but only Gs in
 *    fd, I/O or timed waits, which the walk counts as "anyone can wake";
 *    seeing such a G waiting or runnable ends the check either way;
 *  - a G in a system call (read() on a terminal, waitpid, sigwait, pause,
 *    sigsuspend, a process-shared futex) is G_RUNNING on an M that is not
 *    idle: no check at all;
 *  - the main G in pthread_join is an ordinary "join" wait: its thread's
 *    exit is a G running, then an M busy in on_g_dead.
 * The slower checks (other kernel threads, signal handlers, interval
 * timers) run without the lock; then the lock is taken again and the
 * verdict stands only if every M is still idle and none was taken off the
 * idle list meanwhile (sched.mget_gen): any ready() of a parked G calls
 * wakep, which takes an idle M, so an unchanged count means no G moved.
 *
 * What cannot be seen, and is treated as "someone may wake it":
 *  - kernel threads gmpt does not run (created before gmpt started, by
 *    glibc internally, by clone): they may call pthread_mutex_unlock, which
 *    is gmpt's. /proc/self/task is counted against gmpt's own threads; the
 *    kernel's io_uring workers are not the program's. A foreign thread
 *    blocked itself in an untimed gmpt wait counts as stuck like a G. If
 *    /proc cannot be read, no deadlock is ever reported;
 *  - a signal handler: sem_post is async-signal-safe, so while the program
 *    has a handler installed for a signal that can be sent from outside,
 *    a thread in sem_wait is not stuck. The other primitives cannot be
 *    used from a handler (not async-signal-safe), so they stay stuck;
 *  - an armed interval timer (alarm, setitimer ITIMER_REAL) or any POSIX
 *    timer (/proc/self/timers): its signal may end the wait or the
 *    process.
 * A program that means to sleep for ever until killed, every thread in a
 * mutex or condition wait, is reported too (as Go does); GMPT_DEADLOCK=off
 * is for that. */
#include "arch/syscall.h"
#include "sched/checkdead.h"
#include "sched/osthread.h"
#include "sched/runtime.h"
#include "sched/sched.h"
#include "sched/thread_dump.h"
#include "sched/trace.h"
#include "sched/waitq.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

static _Atomic bool reported;

/* The G that ended the last census (it was not stuck): looked at first,
 * so a process that goes idle again and again while one thread waits for
 * an fd costs the idle M one look instead of a sysmon wakeup and a walk.
 * Any G struct serves: they are never freed, and a live G that is not
 * stuck right now shows there is no deadlock now, whoever it belongs to. */
static struct g *_Atomic not_stuck_hint;

/* sched.lock held, every M idle (see census_take). */
static bool g_not_stuck(struct g *g)
{
	uint32_t st = atomic_load_explicit(&g->status, memory_order_acquire);
	if (st == G_IDLE || st == G_DEAD)
		return false;
	if (st != G_WAITING || g->wait_wakers == WAKERS_ANYONE)
		return true;
	/* A cancellation that ends the wait natively: asynchronous ones end
	 * any wait, deferred ones a wait at a cancellation point (a cond
	 * wait, a join). Whether gmpt acts on it there is not for this
	 * check to judge: when in doubt, it does not abort. */
	uint8_t arm =
	    atomic_load_explicit(&g->cancel_armed, memory_order_relaxed) & SCHED_CANCEL_ARM_MASK;
	return arm == SCHED_CANCEL_ASYNC || (arm == SCHED_CANCEL_DEFERRED && g->cancelable);
}

static bool hint_not_stuck(void)
{
	struct g *g = atomic_load_explicit(&not_stuck_hint, memory_order_relaxed);
	return g && g_not_stuck(g);
}

static bool wanted(void)
{
	return sched.deadlock_mode != DEADLOCK_OFF && !atomic_load(&reported);
}

/* sched.lock held. */
static bool all_ms_idle_locked(void)
{
	int32_t polling = atomic_load(&sched.polling) != POLL_NONE ? 1 : 0;
	return atomic_load(&sched.nmidle) + polling == sched.mcount;
}

bool checkdead_all_ms_idle(void)
{
	return wanted() && all_ms_idle_locked() && timers_earliest() == 0 && !hint_not_stuck();
}

void checkdead_request(void)
{
	sysmon_kick();
}

/* The stopm and poller tests race only with each other: both run under
 * sched.lock, and the poller published sched.polling before taking it, so
 * of an M going idle and the poller about to block, the later one sees
 * the other idle. */
void checkdead_maybe_last_m(void)
{
	if (!wanted())
		return;
	rtlock_lock(&sched.lock);
	bool last = checkdead_all_ms_idle();
	rtlock_unlock(&sched.lock);
	if (last)
		checkdead_request();
}

struct census {
	int stuck;	/* Gs in a wait only another thread can end */
	int by_signal;	/* of which a signal handler could end (sem_wait) */
	uint32_t mgets; /* sched.mget_gen when taken */
};

/* sched.lock held, every M idle. True if every live G is stuck. G
 * structs are never freed (sched.allg), and with every M idle no G
 * changes its status or wait fields under us, except Gs the poller
 * readies, which are never stuck ones. */
static bool census_take(struct census *c)
{
	*c = (struct census){.mgets = sched.mget_gen};
	if (atomic_load(&sched.runqsize) != 0 || hint_not_stuck())
		return false;
	for (struct g *g = atomic_load_explicit(&sched.allg, memory_order_acquire); g;
	     g = g->allg_link) {
		uint32_t st = atomic_load_explicit(&g->status, memory_order_acquire);
		if (st == G_IDLE || st == G_DEAD)
			continue;
		if (g_not_stuck(g)) {
			atomic_store_explicit(&not_stuck_hint, g, memory_order_relaxed);
			return false;
		}
		c->stuck++;
		if (g->wait_wakers == WAKERS_THREADS_OR_SIGNAL)
			c->by_signal++;
	}
	return c->stuck > 0;
}

/* ---- what a snapshot of the scheduler cannot see ---- */

static int raw_open(const char *path)
{
	return (int)raw_syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
}

/* Reads a small file whole (NUL-terminated); length or -1. */
static long read_small(const char *path, char *buf, size_t size)
{
	int fd = raw_open(path);
	if (fd < 0)
		return -1;
	long n = raw_syscall(SYS_read, fd, buf, size - 1);
	raw_syscall(SYS_close, fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return n;
}

#define PF_IO_WORKER 0x10 /* the kernel's io_uring worker threads */

/* Whether task tid of this process is a thread of the program that could
 * run code: not an io_uring worker, not a zombie. -1: cannot tell. */
static int task_runs_code(const char *tid)
{
	char path[64], stat[512];
	snprintf(path, sizeof path, "/proc/self/task/%s/stat", tid);
	if (read_small(path, stat, sizeof stat) < 0)
		return 0; /* gone meanwhile */
	/* "tid (comm) S ppid pgrp session tty tpgid flags ...": comm may
	 * hold anything, so parse from its last ')'. */
	char *p = strrchr(stat, ')');
	if (!p || p[1] != ' ')
		return -1;
	char state = p[2];
	if (state == 'Z' || state == 'X')
		return 0;
	p += 3;
	for (int field = 0; field < 5; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return -1;
	}
	unsigned long flags = strtoul(p + 1, NULL, 10);
	return flags & PF_IO_WORKER ? 0 : 1;
}

/* Kernel threads of this process that gmpt does not run and that are not
 * blocked in an untimed gmpt wait: -1 if /proc cannot tell. */
static int foreign_threads_awake(void)
{
	int fd = raw_open("/proc/self/task");
	if (fd < 0)
		return -1;
	int threads = 0;
	char buf[4096];
	for (;;) {
		long n = raw_syscall(SYS_getdents64, fd, buf, sizeof buf);
		if (n < 0) {
			raw_syscall(SYS_close, fd);
			return -1;
		}
		if (n == 0)
			break;
		for (long off = 0; off < n;) {
			/* struct linux_dirent64: ino, off, reclen, type, name */
			unsigned short reclen = *(unsigned short *)(buf + off + 16);
			const char *name = buf + off + 19;
			off += reclen;
			if (name[0] < '0' || name[0] > '9')
				continue;
			int r = task_runs_code(name);
			if (r < 0) {
				raw_syscall(SYS_close, fd);
				return -1;
			}
			threads += r;
		}
	}
	raw_syscall(SYS_close, fd);
	/* gmpt's: the first kernel thread (M0) and every one it started
	 * (Ms, sysmon, ...). A thread of ours just ending may still be
	 * listed: it then counts as foreign, which errs on the safe side. */
	int foreign = threads - (os_threads_alive() + 1);
	int blocked = atomic_load(&waitq_foreign_blocked[WAKERS_THREADS]) +
		      atomic_load(&waitq_foreign_blocked[WAKERS_THREADS_OR_SIGNAL]);
	return foreign > blocked ? foreign - blocked : 0;
}

static bool is_gmpt_code(void *fn)
{
	Dl_info mine, theirs;
	if (!dladdr((void *)checkdead, &mine) || !dladdr(fn, &theirs))
		return false;
	return mine.dli_fbase == theirs.dli_fbase;
}

/* Whether the program has a handler for a signal that may come from
 * outside (a fault signal is raised by the thread itself, and every
 * thread is asleep). gmpt's own handlers do not count; for the signals
 * whose kernel action is gmpt's (the preemption signal, and every handled
 * one, which sigroute.c wraps), the program's recorded one does. */
static bool program_signal_handlers(void)
{
	for (int sig = 1; sig < _NSIG; sig++) {
		if (sched_signal_uncatchable_or_fault(sig) || sig == SIGSYS ||
		    sig == GLIBC_SIGCANCEL || sig == GLIBC_SIGSETXID)
			continue;
		void (*handler)(int);
		struct sigaction sa;
		if (sched_preempt_owns(sig)) {
			sched_preempt_user_action(NULL, &sa);
			handler = sa.sa_handler;
		} else if (sigroute_user_action(sig, &sa)) {
			/* The kernel's action is gmpt's routing wrapper
			 * (sigroute.c), which runs the program's handler. */
			handler = sa.sa_handler;
		} else {
			struct {
				void (*handler)(int);
				unsigned long flags;
				void (*restorer)(void);
				uint64_t mask;
			} ka;
			if (raw_syscall(SYS_rt_sigaction, sig, NULL, &ka, 8) != 0)
				continue;
			handler = ka.handler;
			if (is_gmpt_code((void *)handler))
				continue;
		}
		if (handler != SIG_DFL && handler != SIG_IGN)
			return true;
	}
	return false;
}

/* An interval timer or a POSIX timer whose signal may yet arrive. */
static bool process_timers(void)
{
	struct itimerval it;
	if (raw_syscall(SYS_getitimer, ITIMER_REAL, &it) == 0 &&
	    (it.it_value.tv_sec || it.it_value.tv_usec))
		return true;
	char buf[64];
	return read_small("/proc/self/timers", buf, sizeof buf) > 0;
}

/* Mappings other processes may write (MAP_SHARED, shm, memfd): a thread
 * waiting on a word there may be woken by another process, whatever the
 * object's pshared flag says (a named semaphore, a process-shared mutex
 * or condvar, a futex word in a shared file). */
#define SHARED_RANGES_MAX 256
struct shared_ranges {
	int n; /* -1: /proc/self/maps unreadable or too many to hold */
	uintptr_t lo[SHARED_RANGES_MAX], hi[SHARED_RANGES_MAX];
};

/* One line of /proc/self/maps: "lo-hi perms offset dev inode path". */
static void shared_range_parse(struct shared_ranges *r, const char *line)
{
	char *end;
	uintptr_t lo = strtoul(line, &end, 16);
	if (*end != '-')
		return;
	uintptr_t hi = strtoul(end + 1, &end, 16);
	if (*end != ' ' || strlen(end) < 5 || end[4] != 's')
		return;
	if (r->n == SHARED_RANGES_MAX) {
		r->n = -1;
		return;
	}
	r->lo[r->n] = lo;
	r->hi[r->n] = hi;
	r->n++;
}

static void shared_ranges_read(struct shared_ranges *r)
{
	r->n = 0;
	int fd = raw_open("/proc/self/maps");
	if (fd < 0) {
		r->n = -1;
		return;
	}
	char buf[4096];
	size_t have = 0;
	for (;;) {
		long n = raw_syscall(SYS_read, fd, buf + have, sizeof buf - 1 - have);
		if (n < 0) {
			r->n = -1;
			break;
		}
		have += (size_t)n;
		buf[have] = 0;
		char *line = buf, *nl;
		while ((nl = strchr(line, '\n'))) {
			*nl = 0;
			shared_range_parse(r, line);
			line = nl + 1;
		}
		/* A line longer than the buffer (a very long path) cannot be
		 * split safely: give up rather than misread it. */
		have = (size_t)(buf + have - line);
		if (n == 0 || r->n < 0 || have == sizeof buf - 1) {
			if (have == sizeof buf - 1)
				r->n = -1;
			break;
		}
		memmove(buf, line, have);
	}
	raw_syscall(SYS_close, fd);
}

/* sched.lock held, every M idle. */
static bool any_wait_in_shared_memory(const struct shared_ranges *r)
{
	if (r->n < 0)
		return true;
	for (struct g *g = atomic_load_explicit(&sched.allg, memory_order_acquire); g;
	     g = g->allg_link) {
		if (atomic_load_explicit(&g->status, memory_order_acquire) != G_WAITING)
			continue;
		uintptr_t a = (uintptr_t)waitq_parked_addr(g);
		for (int i = 0; a && i < r->n; i++)
			if (a >= r->lo[i] && a < r->hi[i])
				return true;
	}
	return false;
}

/* Whether anything outside the program's parked threads may still wake
 * one of them. */
static bool outside_waker(const struct census *c)
{
	int by_signal =
	    c->by_signal + atomic_load(&waitq_foreign_blocked[WAKERS_THREADS_OR_SIGNAL]);
	if (by_signal > 0 && program_signal_handlers())
		return true;
	if (process_timers())
		return true;
	return foreign_threads_awake() != 0;
}

static void report(void)
{
	if (atomic_exchange(&reported, true))
		return;
	thread_dump_write(2, "gmpt: all threads are asleep - deadlock!");
	if (sched.deadlock_mode == DEADLOCK_ABORT) {
		trace_fatal(); /* GMPT_TRACE: the timeline up to the deadlock */
		abort();
	}
	sched_notice("GMPT_DEADLOCK=warn: the program goes on waiting (reported once)");
}

void checkdead(void)
{
	if (!wanted() || timers_earliest() != 0)
		return;
	struct census c;
	rtlock_lock(&sched.lock);
	bool stuck = all_ms_idle_locked() && census_take(&c);
	rtlock_unlock(&sched.lock);
	if (!stuck || outside_waker(&c))
		return;
	/* Read before the last look, so that a mapping a waiter made exists
	 * by now: it made it before it parked, and the G cannot have moved
	 * (re-check below) since the census. Static: only sysmon runs the check. */
	static struct shared_ranges shared;
	shared_ranges_read(&shared);
	/* Still idle, and no M woken since the census: nothing moved, and
	 * each G waits where the census saw it. */
	rtlock_lock(&sched.lock);
	stuck = all_ms_idle_locked() && sched.mget_gen == c.mgets &&
		!any_wait_in_shared_memory(&shared);
	rtlock_unlock(&sched.lock);
	if (stuck)
		report();
}
