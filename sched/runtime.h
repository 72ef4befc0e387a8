/* sched/runtime.h - G, M, P and the scheduler's global state.
 *
 * The counterpart of Go's runtime2.go. Nothing here knows about pthreads:
 * the shim keeps its per-thread data in the extension area that follows
 * every struct g (sched_g_ext), sized once at sched_init.
 *
 * Ownership rules, used in the race comments throughout sched/:
 *  - a G's saved context, stack and wait fields belong to whoever holds it:
 *    the M running it, or the queue/bucket lock it is parked under;
 *  - a P's ring tail, schedtick, free lists and caches belong to the M
 *    holding the P (m->p == p); other Ms touch only head (CAS), runnext
 *    (CAS) and the timer heap (under p->timers_lock);
 *  - everything in struct sched not marked _Atomic is under sched.lock. */
#ifndef GMPT_RUNTIME_H
#define GMPT_RUNTIME_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <sys/types.h>

#include "arch/arch.h"
#include "sched/gqueue.h"
#include "sched/lock.h"
#include "sched/runq.h"
#include "sched/timerheap.h"
#include "sched/sched.h"

enum g_status {
	G_IDLE,	    /* allocated, not started, or in a free list */
	G_RUNNABLE, /* in a run queue */
	G_RUNNING,  /* on an M */
	G_WAITING,  /* parked: only ready() brings it back */
	G_DEAD,	    /* finished; its G struct waits for the shim to free it */
};

enum g_stack_kind {
	STACK_NONE,    /* main thread: the process stack, not ours */
	STACK_GUARDED, /* ours, with a PROT_NONE guard page below */
	STACK_CANARY,  /* ours, guard asked for but over the map-count budget: a canary
			* word at or below stack_lo checked at every switch */
	STACK_USER,    /* the program's own (pthread_attr_setstack) */
	STACK_BARE,    /* ours, no guard page because the program asked for none:
			* nothing checked, its lowest pages may be the program's own
			* guard zone (a JVM protects them itself) */
};

struct waiter;
struct stack_header;
struct sig_value {
	union sigval value;
	bool queued;
	/* A process-directed signal routed to this G (sigroute.c): what the
	 * handler gets instead of the re-sent signal's own siginfo. */
	bool has_info;
	siginfo_t info;
};
struct m;
struct p;
struct trace_thread;

struct g {
	struct arch_context ctx;
	struct g *schedlink; /* run queue, global queue, free list */
	_Atomic uint32_t status;
	uint32_t stack_kind;
	uint64_t id;
	/* Why it waits, while G_WAITING (a readable name: the thread dump
	 * and gdb print it), and enum wait_wakers: who can end the wait
	 * (WAKERS_ANYONE unless the G is in an untimed waitq wait that only
	 * another thread can end; see checkdead.c). Both written by the G
	 * before it parks. */
	const char *wait_reason;
	uint8_t wait_wakers;
	struct m *m; /* the M running it, while G_RUNNING */

	/* Stack: [stack_lo, stack_hi). For STACK_GUARDED the mapping starts a
	 * page lower (the guard); map_size covers guard + stack. */
	char *stack_lo;
	char *stack_hi;
	/* Above stack_hi, the part of the stack glibc's thread descriptor
	 * and static TLS would take (stack.c): reported, not used. */
	size_t stack_reserve;
	size_t map_size;
	size_t stack_guard;
	/* STACK_CANARY: the word checked at every switch (stack.c). */
	const uint64_t *stack_canary;

	void (*entry)(void *);
	void *entry_arg;

	/* Timed waits (see waitq.c and timers.c). timer_seq changes only while
	 * the G is not runnable elsewhere; wait_node/wait_bucket only under the
	 * bucket lock of wait_bucket. */
	_Atomic uint64_t timer_seq;
	struct waiter *_Atomic wait_node;
	_Atomic int32_t wait_bucket;
	int32_t timer_p; /* P whose heap holds the live timer entry, or -1 */

	int saved_errno;
	/* Set by sysmon when the G has run for a whole time slice; cleared by
	 * the G when it yields for it (see preempt.c). */
	_Atomic bool preempt;
	/* Per-G TLS: the G's own TCB (thread pointer), kept while the G is
	 * pooled; NULL with shared TLS (the G runs on its M's). */
	void *tls_base;
	/* The M whose scheduler still runs on this G's TCB after the G
	 * switched away (see tls_switch_in in proc.c), or NULL. */
	struct m *_Atomic tls_holder;
	void *asan_fake_stack;

	/* Signals (gsignal.c): the mask the program set for this thread, the
	 * signals sent to it and not yet delivered, and pthread_sigqueue's
	 * values (allocated on first use, kept while pooled). */
	uint64_t sigmask;
	_Atomic uint64_t sig_pending;
	struct sig_value *sig_values;
	/* SCHED_SIG_RAN/NORESTART: what the handlers gmpt delivered to this G
	 * since its current blocking call began (sched_sig_handled_*). Only
	 * the G writes it, from its own code or a handler on its thread. */
	_Atomic uint8_t sig_handled;
	/* Signals sig_deliver is re-sending to the G's own kernel thread
	 * right now: sigroute.c's handler runs them here, never re-routes. */
	_Atomic uint64_t sig_delivering;
	/* The G waits in sigsuspend or pause (sched_sigsuspend_begin): its
	 * sigmask is the call's temporary mask meanwhile, and a signal sent
	 * to it always pokes its kernel thread (the poke is blocked until
	 * the kernel wait unblocks it, so it cannot come too early). */
	_Atomic bool sig_suspending;

	/* Cancellation (waitq.c, sched_interrupt): the G waits at a
	 * cancellation point; intr: a cancellation cut, or will cut, that
	 * wait short. Cleared at the next cancellation point that does not
	 * act, so an ignored cancel does not keep cutting waits. */
	bool cancelable;
	_Atomic bool intr;
	/* A cancellation the G should act on now (enum sched_cancel_arm):
	 * tested inside arch_syscall_cp and by the poke handler, so a G
	 * blocked in a system call at a cancellation point is stopped, and
	 * one with asynchronous cancellation is stopped where it runs. */
	_Atomic uint8_t cancel_armed;
	/* The timer_seq of the interruptible sleep the G is parked in, from
	 * the moment its timer is in a heap (timers.c), else stale or 0. */
	_Atomic uint64_t sleep_seq;
	/* The signals the G waits for in sigwait (and sigwaitinfo,
	 * sigtimedwait), or 0: a signal sent to the G that is in this set
	 * wakes the wait (gsignal.c, sched_sigwait_begin). */
	_Atomic uint64_t sigwait_set;

	/* Every G struct ever allocated, newest first (sched.allg): G structs
	 * are pooled, never freed, so the list only grows and readers (thread
	 * dump, deadlock check, gdb) walk it without a lock. Set once. */
	struct g *allg_link;
	/* When the G last parked, in CLOCK_MONOTONIC_COARSE ns as sysmon
	 * last read it (sched.coarse_now: up to one sysmon round, at most
	 * ~10 ms, early), for the thread dump's "waited N ms". */
	int64_t wait_since;
	/* The thread's name for the thread dump (sched_g_set_name): up to 15
	 * bytes and a NUL; empty for the main thread until it names itself. */
	char name[16];

	/* The M's p_pin count at the moment the G switched away, put back
	 * on whatever M it resumes on (see p_pin). */
	uint32_t pin_saved;

	/* CPU time (cpuclock.c): accumulated ns, the kernel thread's clock
	 * at switch-in and that kernel thread (0: not being counted now),
	 * under the sequence count cpu_seq. */
	_Atomic uint32_t cpu_seq;
	_Atomic pid_t cpu_tid;
	_Atomic int64_t cpu_in;
	_Atomic int64_t cpu_ns;

	/* The shim's per-thread area follows (sched_g_ext). */
	_Alignas(16) char ext[];
};

/* P_SYSCALL: the M that held the P is in a system call and may take it
 * back with one CAS (exitsyscall's fast path); sysmon may CAS it to P_IDLE
 * and hand it to another M (retake). Exactly one of the two wins. */
enum p_status { P_IDLE, P_RUNNING, P_SYSCALL };

struct p_stats {
	_Atomic uint64_t switches, steals, handoffs, retakes, preempts, netpolls, gs_created;
};

struct p {
	int32_t id;
	_Atomic uint32_t status;
	struct p *link; /* idle list, under sched.lock */
	struct m *m;
	/* Written by the owner only; sysmon reads both to tell whether the P
	 * has scheduled (schedtick) or entered a new system call (syscalltick)
	 * since its last look. */
	_Atomic uint32_t schedtick;
	_Atomic uint32_t syscalltick;
	uint64_t rand;
	/* When the G now on the P began its time slice (execute, not for a
	 * G that inherits one; acquirep). Owner only (sched_exit_syscall). */
	int64_t slice_start;

	struct runq runq;

	/* Timers: the heap, its lock, and a lock-free hint of the earliest
	 * deadline (0 = none) so idle Ms can scan all Ps without locking. */
	struct rtlock timers_lock;
	struct timerheap timers;
	_Atomic int64_t timer0_when;
	_Atomic uint32_t timers_stale;

	/* Caches, owner only (gfree.c, stack.c). */
	struct g *gfree;
	uint32_t ngfree;
	struct stack_header *stack_cache;
	uint32_t nstack_cache;

	/* Counters (sched/stats.h): each written only by whoever holds the P
	 * at that moment, without a locked instruction; readers sum them. On
	 * a line of their own, away from what thieves touch. */
	_Alignas(64) struct p_stats stats;
};

enum m_after {
	AFTER_NONE,
	AFTER_PARK,
	AFTER_YIELD,
	AFTER_PREEMPT,
	AFTER_EXIT,
	AFTER_SYSCALL_NO_P,
	AFTER_SLICE,
};

struct m {
	/* struct m_head (sched.h), which the shim reads inline. */
	struct g *curg;
	void *curext;

	int32_t id;
	pid_t tid;
	struct m *alllink; /* sched.allm: every M, newest first; set once */
	struct arch_context g0ctx;
	struct p *p;
	struct p *nextp;
	/* The P it held when it entered a system call. Taken with one
	 * exchange, so a signal handler's nested call cannot take it too. */
	struct p *_Atomic oldp;
	/* entersyscall nesting: a signal handler that calls write() while its
	 * thread was inside read() must not touch the P state. */
	uint32_t syscall_depth;
	struct m *schedlink; /* idle list, under sched.lock */
	bool spinning;
	/* In the netpoller: readied Gs are collected and placed when the
	 * poll is done (injectglist): not in runnext (they must not inherit
	 * the time slice, or sysmon would see one endless G), some spread to
	 * idle Ps. */
	bool in_netpoll;
	/* The Gs the poll readied, for injectglist (proc.c). */
	struct gqueue netpoll_batch;
	uint64_t rand;
	struct note park;
	void *tls_base; /* the M's own TCB: its scheduler's when it sleeps */
	/* The TCB the kernel thread's fs base points at now, and the G it
	 * belongs to if that is a G's that g0 kept after the G switched away
	 * (the fs base is switched once per G switch, not twice). */
	void *fs_now;
	struct g *fs_lender;
	/* The TCB glibc's thread list names for this kernel thread (its
	 * set*id signal handler must run on it): tls_base, or for M0 the main
	 * thread's, which the main G keeps. */
	void *glibc_tcb;
	/* The signal mask the kernel has for this thread now (gsignal.c). */
	uint64_t sigmask_now;

	/* What g0 must do right after the current G switched to it. */
	enum m_after after;
	bool (*park_unlock)(struct g *, void *);
	void *park_arg;

	/* Taking the P of an M blocked in the kernel behind gmpt's back
	 * (sysmon.c, kblock.c). p_pin counts how deep the M is in gmpt code
	 * that uses m->p on behalf of a G; written only by the M (a signal
	 * handler's nested pins end where they began); g0 always counts at
	 * least one. p_take is sysmon's: P_TAKE_DECIDING while it checks
	 * p_pin, P_TAKE_DONE once the P is no longer this M's. p_lost: the M
	 * learned of that and runs its G without a P until it gets one back
	 * (acquirep). See p_pin below for why this needs no locked
	 * instruction on the M's side. */
	_Atomic uint32_t p_pin;
	_Atomic uint32_t p_take;
	bool p_lost;
	/* sysmon's alone: what it last saw of this M's kernel thread. */
	int64_t kseen_cpu;	/* its CPU time, ns */
	int64_t kseen_when;	/* when sysmon read it */
	int64_t lost_signalled; /* last preemption signal sent after p_take */
	int64_t lost_cpu;	/* its CPU time when sysmon last looked, lost */
	int64_t p_taken_at;	/* when sysmon took the P (for the trace) */

	void *g0_stack_lo; /* for ASan's fiber annotations */
	size_t g0_stack_size;
	void *asan_fake_stack;
	struct trace_thread *trace; /* GMPT_TRACE: this M's track (trace.c), made on first use */
};

struct sched {
	struct rtlock lock;

	struct m *midle;
	int32_t mcount;
	/* Ms on midle, and how many times one was taken off it. Changed
	 * under sched.lock; read by the deadlock check. */
	_Atomic int32_t nmidle;
	uint32_t mget_gen;
	_Atomic int32_t mnext_id;
	/* Every M (they never exit); pushed with a CAS, read without a lock. */
	struct m *_Atomic allm;

	struct p *pidle;
	_Atomic int32_t npidle;
	_Atomic int32_t nmspinning;

	struct gqueue runq;
	_Atomic uint32_t runqsize;

	int32_t procs;
	struct p **allp;

	/* Free Gs and stacks beyond the per-P caches. */
	struct rtlock gfree_lock;
	struct g *gfree;
	uint32_t ngfree;

	/* The one M that may sleep with a deadline for the earliest timer
	 * (the netpoller's role once it exists): polling is 1 while it sleeps,
	 * poll_until is its deadline, poll_note is how others break the sleep. */
	_Atomic int32_t polling; /* POLL_NONE, POLL_FUTEX or POLL_NETPOLL */
	_Atomic int64_t poll_until;
	_Atomic uint32_t poll_word;

	/* The netpoller, once the syscalls layer has set one up, and when it
	 * was last polled (0: an M is blocked in it now). */
	const struct sched_poller *_Atomic poller;
	_Atomic int64_t lastpoll;

	/* sysmon sleeps on this word while every P is idle. */
	_Atomic uint32_t sysmon_sleeping;
	_Atomic uint32_t sysmon_word;

	int32_t maxmcount;
	bool preempt_on;
	int preempt_signal;

	_Atomic uint64_t goid_gen;
	/* Gs alive (spawned and not exited, the main G included) and the most
	 * there have been (GMPT_DEBUG=stats). */
	_Atomic int64_t gcount;
	_Atomic int64_t gpeak;
	/* All G structs (see g.allg_link); pushed with a CAS, never popped. */
	struct g *_Atomic allg;
	_Atomic uint32_t allg_count;

	size_t g_ext_size;
	void (*on_g_dead)(struct g *);

	uint64_t stress_seed; /* GMPT_STRESS: randomise scheduling decisions */

	/* Visibility (GMPT_DEBUG, GMPT_DEADLOCK): see schedtrace.c and
	 * checkdead.c. start: nanotime at sched_init. */
	int64_t start;
	int32_t schedtrace_ms;
	bool scheddetail;
	int32_t deadlock_mode;

	bool tls_per_g; /* every G has its own TCB (sched/tcb.h) */
	void *main_tp;	/* the main thread's TCB, in either mode */
	/* The G whose thread id is the process id (the first G, or in a
	 * fork's child the G that forked), and that id (thread_id.c). */
	struct g *_Atomic main_g;
	_Atomic pid_t pid;
	bool single_threaded_cleared;
	ptrdiff_t m_tls_off; /* gmpt_tls_m's offset from the thread pointer */

	/* Ms whose P sysmon took while they were blocked in the kernel and
	 * that have not had one back (kblock.c); sysmon looks at them only
	 * while this is not zero. kblock_on: membarrier works, so it may. */
	_Atomic int32_t nlost;
	bool kblock_on;

	/* nanotime_coarse() as sysmon last read it: at every round and when
	 * the first P taken off the idle list wakes it (sysmon_wake), so it
	 * is at most a round (10 ms) behind while any G runs. park stamps
	 * g->wait_since from it with one load instead of a clock call.
	 * Written by sysmon every round: on a line of its own. */
	_Alignas(64) _Atomic int64_t coarse_now;
};

enum { POLL_NONE, POLL_FUTEX, POLL_NETPOLL };

extern struct sched sched;

_Static_assert(offsetof(struct m, curg) == offsetof(struct m_head, curg), "m_head");
_Static_assert(offsetof(struct m, curext) == offsetof(struct m_head, curext), "m_head");

/* The M this kernel thread is (NULL on foreign threads). */
static inline struct m *m_self(void)
{
	return (struct m *)sched_m_head();
}
void handoffp(struct p *pp);
void m_set_self(struct m *m);
/* Sets vfork's hooks (sched/vfork.c). */
void sched_vfork_init(void);

/* ---- pinning the P (the M's side of kblock.c) ----
 *
 * sysmon may take the P of an M whose G is blocked in the kernel in code
 * gmpt does not see (a raw syscall instruction, a futex inside another
 * runtime). The M must then never use that P again, but it is not in a
 * system call gmpt knows of: it may wake at any moment and enter gmpt.
 * So every piece of gmpt that uses m->p on a G runs between p_pin and
 * p_unpin, and sysmon takes the P only when it sees p_pin at zero.
 *
 * The handshake is Dekker's, made asymmetric with membarrier: the M
 * stores p_pin then loads p_take with only a compiler barrier between;
 * sysmon stores p_take = DECIDING, then membarrier(PRIVATE_EXPEDITED)
 * forces a full barrier on every running thread of the process, then it
 * loads p_pin. So either sysmon sees the pin (and backs off, storing
 * NONE), or the M sees DECIDING or DONE and waits for the verdict
 * (p_take_notice). It cannot be that both miss: that needs the M's load to
 * pass its own store, which the forced barrier forbids. The M's hot paths
 * (ready, park) pay two plain stores and a load. */
enum { P_TAKE_NONE, P_TAKE_DECIDING, P_TAKE_DONE };
void p_take_notice(struct m *m);

static inline void p_pin(struct m *m)
{
	atomic_store_explicit(&m->p_pin, atomic_load_explicit(&m->p_pin, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	atomic_signal_fence(memory_order_seq_cst);
	if (__builtin_expect(atomic_load_explicit(&m->p_take, memory_order_relaxed) != P_TAKE_NONE,
			     0))
		p_take_notice(m);
}

/* Release: what the M did to its P is visible to a sysmon that then sees
 * zero and gives the P to another M. */
static inline void p_unpin(struct m *m)
{
	atomic_store_explicit(&m->p_pin, atomic_load_explicit(&m->p_pin, memory_order_relaxed) - 1,
			      memory_order_release);
}

/* The P whose heap takes a timer armed on g0: the M's own, or P0's when
 * sysmon took the M's while its G was blocked (any heap is run by the
 * Ms that steal from it, and by sysmon when overdue). */
static inline struct p *timer_home(struct m *m)
{
	return m && m->p ? m->p : sched.allp[0];
}
/* Waits until no M's scheduler runs on g's TCB any more (proc.c). */
void tls_wait_free(struct g *g);

int64_t nanotime(void);
/* CLOCK_MONOTONIC_COARSE in ns (the vDSO, a few loads): for "waited N ms". */
int64_t nanotime_coarse(void);
uint32_t fastrand(struct m *m);

/* proc.c */
void ready(struct g *g);
void park(bool (*unlock)(struct g *, void *), void *arg, const char *reason);
void wakep(void);
void globrunq_put_batch(struct gqueue *batch);

void injectglist_wake(void);
bool p_has_work(struct p *pp, int64_t now);
void sysmon_start(void);
void sysmon_wake(void);
/* The last M went idle: sysmon should run the deadlock check (sysmon.c). */
void sysmon_kick(void);
void preempt_init(void);
/* kblock.c: sysmon's view of kernel threads. */
void kblock_init(void);
enum kstate { KSTATE_RUNNING, KSTATE_BLOCKED, KSTATE_UNKNOWN };
enum kstate kstate_of(struct m *m);
bool kblock_cpu_idle(struct m *m, int64_t now);
bool kblock_take(struct p *pp, struct m *m);
void kblock_preempt_lost(int64_t now);
void preempt_m(struct m *m, struct g *g);
/* Asks m to deliver its current G's pending signals (gsignal.c). */
void preempt_poke(struct m *m);

/* gsignal.c */
/* Makes sig pending in g with the siginfo its handler gets. */
int sig_send_info(struct g *g, int sig, const siginfo_t *info);
enum sig_disp {
	DISP_IGNORE,	      /* SIG_IGN, or a default action that ignores */
	DISP_DEFAULT,	      /* terminate, dump core or stop the process */
	DISP_HANDLER,	      /* a handler without SA_RESTART */
	DISP_HANDLER_RESTART, /* a handler with SA_RESTART */
};
enum sig_disp sig_disposition(int sig);
/* sigroute.c */
extern struct g *sig_main_g;
void sigroute_init(void);
void sigroute_after_fork(struct g *g);
void sigroute_mask_changed(void);
int sigroute_take_process(uint64_t set, siginfo_t *info);
uint64_t sigroute_process_pending(void);
bool sigroute_user_action(int sig, struct sigaction *act);
uint64_t sig_thread_mask(void);
void sig_switch_in(struct m *m, struct g *g);
void sig_deliver(struct g *g);
void preempt_park(void);
/* cancel_syscall.c: where an asynchronously cancelled G is sent. */
void cancel_async_act(void);

/* cpuclock.c: per-G CPU time, counted at switches once the program has
 * used a thread CPU clock (cpuclock_on). */
extern _Atomic bool cpuclock_on;
void cpuclock_switch_in(struct m *m, struct g *g);
void cpuclock_switch_out(struct g *g);
/* g starts a new thread (m NULL), or is the forking thread, now on m. */
void cpuclock_reset(struct g *g, struct m *m);

/* timers.c */
void timer_add(struct p *pp, struct g *g, int64_t when, uint64_t seq);
/* For a sleep at an interruption point: also publishes seq in
 * g->sleep_seq, so timer_interrupt_sleep can end the sleep early. */
void timer_add_interruptible_sleep(struct p *pp, struct g *g, int64_t when, uint64_t seq);
bool timer_interrupt_sleep(struct g *g);
void timer_cancelled(struct g *g);
int64_t timers_run(struct p *pp, int64_t now);
int64_t timers_earliest(void);
void timer_fire(struct g *g, uint64_t seq);
void poll_break_if_later(int64_t when);

#endif
