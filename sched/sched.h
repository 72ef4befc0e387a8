/* sched/sched.h - what the layers above (syscalls/, shim/) may call.
 *
 * Everything blocking is built on two primitives: waitq_wait/waitq_wake,
 * an address-keyed parking lot for Gs (a futex for user-level threads), and
 * sched_sleep_until. Both park the G and leave its P free for other Gs. */
#ifndef GMPT_SCHED_H
#define GMPT_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h> /* __pthread_unwind_buf_t */
#include <signal.h>
#include <sys/types.h>
#include <stdatomic.h>

struct g;

struct sched_config {
	int procs;			/* number of Ps, >= 1 */
	size_t g_ext_size;		/* bytes of per-G data the caller keeps */
	void (*on_g_dead)(struct g *g); /* runs on the M's own stack after a G ended */
	uint64_t stress_seed;		/* non-zero: randomise scheduling decisions */
	int max_threads;		/* kernel threads (Ms) allowed; fatal beyond */
	bool preempt;			/* sysmon preempts Gs that run 10 ms */
	int preempt_signal;		/* the signal that does it */
	bool tls_per_g;			/* a TCB per G; false: Gs use their M's TLS */
	bool tls_required;		/* tls_per_g or die (GMPT_TLS=per-thread named) */
	int schedtrace_ms;		/* GMPT_DEBUG=schedtrace=MS: a line every MS ms; 0 off */
	bool scheddetail;		/* GMPT_DEBUG=scheddetail=1: per-P, M and G lines too */
	int waitq_buckets;		/* GMPT_DEBUG=waitqbuckets=N (tests); 0: the default */
	int deadlock;			/* GMPT_DEADLOCK: enum sched_deadlock_mode */
	/* GMPT_TRACE: opens the file when the process first creates a thread
	 * (an fd >= 3, or -errno after saying why); NULL: no trace. */
	int (*trace_open)(void);
};

/* What the deadlock check does when every thread waits for another
 * (sched/checkdead.c). */
enum sched_deadlock_mode { DEADLOCK_ABORT, DEADLOCK_WARN, DEADLOCK_OFF };

/* Turns the calling (main) thread into the first G, running on M0 with P0. */
void sched_init(const struct sched_config *cfg);
bool sched_ready(void);
/* GMPT_TRACE: writes out what is recorded and closes the trace now (the
 * process ends without running atexit handlers: _exit). Once only. */
void sched_trace_finish(void);

/* Every M starts with these two fields, so the layers above reach the
 * running G, and the per-thread area it carries, without a call:
 * pthread_self, pthread_getspecific and every mutex lock need them. */
struct m_head {
	struct g *curg; /* NULL while the M runs its scheduler */
	void *curext;	/* sched_g_ext(curg) */
};

/* This kernel thread's M (NULL on threads gmpt did not create). Read
 * through %fs on every call, in asm volatile: a G that parked may resume on
 * another kernel thread, and the compiler would otherwise reuse a TLS
 * address computed before the switch. */
static inline struct m_head *sched_m_head(void)
{
	struct m_head *m;
	__asm__ volatile("movq gmpt_tls_m@gottpoff(%%rip), %0\n\t"
			 "movq %%fs:(%0), %0"
			 : "=r"(m));
	return m;
}

/* The G running on this kernel thread, or NULL outside any G (a thread
 * gmpt did not create, or an M running its scheduler). */
static inline struct g *sched_current(void)
{
	struct m_head *m = sched_m_head();
	return m ? m->curg : NULL;
}

/* In the child of vfork, which runs on its parent's memory and TLS until
 * it execs or exits (sched/vfork.c): it is no G (sched_m_head is NULL
 * there), and it must leave gmpt's state as it found it, the fd table
 * included. Read through %fs every time, as sched_m_head. */
static inline bool sched_in_vfork_child(void)
{
	uint64_t addr;
	uint8_t v;
	__asm__ volatile("movq gmpt_tls_vfork_child@gottpoff(%%rip), %1\n\t"
			 "movb %%fs:(%1), %0"
			 : "=q"(v), "=r"(addr));
	return v != 0;
}

/* Around a system call that makes a child sharing this thread's memory
 * and TLS until it execs or exits, the parent stopped meanwhile (vfork,
 * clone with CLONE_VM | CLONE_VFORK): before in the parent, child first
 * thing in the child, parent in the parent once the call returned. errno
 * is preserved by before. */
void sched_vfork_before(void);
void sched_vfork_child(void);
void sched_vfork_parent(void);

/* sched_g_ext(sched_current()), or NULL outside any G. */
static inline void *sched_current_ext(void)
{
	struct m_head *m = sched_m_head();
	return m ? m->curext : NULL;
}
void *sched_g_ext(struct g *g);
/* Thread ids (sched/thread_id.c). Each G has one, what gettid() gives
 * it: the process id for the main thread, as the kernel's, else one above
 * SCHED_TID_BASE (the kernel's PID_MAX_LIMIT), which no kernel task id
 * can equal. It stays with the G wherever it runs and is never given to
 * another G while the process lives (until 2^31 - SCHED_TID_BASE threads
 * were made: then the count wraps). */
#define SCHED_TID_BASE 4194304
pid_t sched_g_tid(struct g *g);
/* The G that tid names (alive: not exited), or NULL: not one of gmpt's
 * ids, or its thread ended. The G may end at any moment after. */
struct g *sched_g_by_tid(pid_t tid);
/* Whether tid is an id gmpt gives (the process id, or above
 * SCHED_TID_BASE); kernel task ids of other threads are not. */
bool sched_tid_is_ours(pid_t tid);
/* Per-thread CPU time (sched/cpuclock.c). sched_cpuclock_use: the
 * program uses a thread CPU clock: from now on every G's time is counted
 * (the caller's from this moment). sched_g_cpu_ns: g's CPU time in ns. */
void sched_cpuclock_use(void);
int64_t sched_g_cpu_ns(struct g *g);
/* The process id, as the last fork left it (no system call). */
pid_t sched_pid(void);

/* g's stack: lowest usable address, usable size, guard bytes below it. */
void sched_g_stack(struct g *g, void **lo, size_t *size, size_t *guard);

struct stack_spec {
	size_t size;	  /* usable bytes; 0: the default */
	size_t guard;	  /* guard bytes below the stack; 0: none (canary) */
	void *user_stack; /* the program's own stack (pthread_attr_setstack) */
	size_t user_size;
};

/* Creates a G that runs entry(arg) and makes it runnable. Returns NULL when
 * no stack could be had. The G's ext area is zeroed, then prepare(g, ctx)
 * runs before the G can run anywhere. */
struct g *sched_spawn(void (*entry)(void *), void *arg, const struct stack_spec *stack,
		      void (*prepare)(struct g *g, void *ctx), void *prepare_ctx);
size_t sched_default_stack_size(void);

/* The current G ends. cfg.on_g_dead(g) runs later, off its stack. */
_Noreturn void sched_exit(void);
/* Returns a dead G's struct to the pool (after on_g_dead or later). */
void sched_free(struct g *g);

void sched_gosched(void);
/* Yields if sysmon asked the current G to (its time slice is over and
 * others wait) but the preemption signal found it where it cannot act;
 * for gmpt calls a program may repeat in a tight loop. */
void sched_preempt_point(void);

/* Signals for Gs (gsignal.c). sched_signal makes sig pending in g (with
 * pthread_sigqueue's value if value is not NULL) and has it delivered on
 * g, at once if g is the caller or runs on another M, else when g next
 * runs with sig unblocked. The mask functions read and set the calling
 * G's mask (the kernel's outside a G); bit sig-1 is signal sig. */
union sigval;
/* glibc's own signals (SIGCANCEL, SIGSETXID): never blocked by gmpt,
 * refused by pthread_kill as glibc refuses them. */
#define GLIBC_SIGCANCEL 32
#define GLIBC_SIGSETXID 33
/* Signals no handler of gmpt's may take: those that cannot be caught, and
 * those the kernel sends for faults (a handler that returns faults
 * again). */
static inline bool sched_signal_uncatchable_or_fault(int sig)
{
	return sig == SIGKILL || sig == SIGSTOP || sig == SIGSEGV || sig == SIGBUS ||
	       sig == SIGFPE || sig == SIGILL || sig == SIGTRAP;
}
int sched_signal(struct g *g, int sig, const union sigval *value);
/* A sigset_t as gmpt's masks hold it: glibc keeps signals 1..64 in its
 * first word, bit sig-1. */
static inline uint64_t sched_sigset_bits(const sigset_t *set)
{
	uint64_t bits;
	__builtin_memcpy(&bits, set, sizeof bits);
	return bits;
}
uint64_t sched_sigmask_get(void);
/* Before g first runs (sched_spawn's prepare): the mask it starts with. */
void sched_g_set_sigmask(struct g *g, uint64_t mask);
/* sigwait on a G: signals sent to the G (pthread_kill, pthread_sigqueue)
 * wait in the G, not in the kernel. begin records the set; if a signal of
 * the set is already pending in the G it is taken (info filled if not
 * NULL) and returned, else 0: then make the wait with
 * sys_cancelable_blocking, which a signal of the set sent meanwhile
 * stops with EINTR, and call begin again. end after the last call. Both
 * no-ops outside a G (begin returns 0). */
int sched_sigwait_begin(uint64_t set, void *info);
void sched_sigwait_end(void);
void sched_sigmask_set(uint64_t mask);
/* sigpending on a G: what waits for the G (sent to it, or to the
 * process) among the signals it blocks. */
uint64_t sched_sigpending(void);
/* sigsuspend and pause on a G. begin makes mask the G's signal mask for
 * the wait, as the kernel does for the thread (so a process-directed
 * signal is routed to it, and pthread_kill interrupts it, by that mask),
 * and returns the mask to put back, or ~0 outside a G. *ready is set if a
 * signal that mask lets through is pending already: then do not wait.
 * After the kernel wait (or instead of it), end delivers the signals the
 * G got meanwhile with mask in force, and puts the old mask back in the G
 * and in its kernel thread. sched_suspend_settle, inside the kernel
 * thread's wait (the P handed off), runs there the signals the poke
 * handler re-sent to that kernel thread. */
uint64_t sched_sigsuspend_begin(uint64_t mask, bool *ready);
void sched_sigsuspend_end(uint64_t mask, uint64_t old);
void sched_suspend_settle(uint64_t mask);
/* sigaction for the signals that are the program's alone: a handler is
 * installed wrapped, so that a signal sent to the process reaches the
 * thread Linux would choose (sigroute.c); old reads back the program's. */
struct sigaction;
int sched_sigaction(int sig, const struct sigaction *act, struct sigaction *old);
/* kill(getpid(), sig) from a G: a signal the program handles is routed to
 * the thread Linux would pick before this returns (true); false: send it
 * through the kernel (no handler, or gmpt's own signal). */
bool sched_kill_self(int sig);

/* Whether each G has its own TLS (false: shared TLS, by request or
 * because this glibc is not one gmpt can do it for). */
bool sched_tls_per_g(void);
/* After a successful dlopen: static TLS of the modules it loaded, in
 * every G (per-G TLS only). */
void sched_tls_after_dlopen(void);
/* After a successful dlclose: forget the static TLS of modules it
 * unloaded, so that loading one again initialises it again. */
void sched_tls_after_dlclose(void);
/* After a successful dlopen: if a loaded object needs an executable stack
 * (PT_GNU_STACK with PF_X, or none, as glibc reads it), every G stack,
 * and every one made from now on, becomes executable (stack.c). */
void sched_stacks_after_dlopen(void);
/* Around a glibc call that must see the calling kernel thread's own
 * struct pthread as THREAD_SELF (glibc's set*id, which signals every other
 * kernel thread on its list): only the main G, whose TCB glibc lists as
 * the first kernel thread's, is moved (to its M's own TCB); errno comes
 * back with it. Returns what leave needs (NULL: nothing moved). */
void *sched_tls_enter_kernel_thread(void);
void sched_tls_leave_kernel_thread(void *token);
/* With per-G TLS, the calling G's innermost glibc cleanup buffer, where
 * glibc's forced unwind (pthread_exit, cancellation) starts; NULL with
 * shared TLS, whose one chain per M the Gs would mix up. */
void *sched_tls_cleanup_chain(void);
/* With per-G TLS, on the main G: its chain's outermost buffer, glibc's
 * (which would end the kernel thread), is replaced by *copy, whose jump
 * lands in landing instead (tcb_chain_end_lands). False: shared TLS or
 * an empty chain. */
bool sched_tls_chain_end_lands(__pthread_unwind_buf_t *copy, void (*landing)(void));
/* With per-G TLS, where the calling G's old-style cleanup list starts
 * (_pthread_cleanup_push_defer); NULL with shared TLS. */
void **sched_tls_cleanup_list(void);
/* On a G that ends, before key destructors: its thread_local destructors
 * (only with per-G TLS; with shared TLS they belong to the M). */
void sched_tls_thread_exit(void);

/* Around a system call that may block for long (Go's entersyscallblock and
 * exitsyscall): the P is handed to another M first, and afterwards the G
 * gets an idle P back or is queued for one while this M sleeps. No-ops
 * outside a G. errno is preserved. */
void sched_enter_blocking_syscall(void);
void sched_exit_blocking_syscall(void);
/* Around any system call that may block (Go's entersyscall/exitsyscall):
 * the M keeps its P, marked as in a system call; leaving takes it back
 * with one atomic operation unless sysmon gave it to another M meanwhile
 * (then an idle P, or the G waits in the global queue for one). No-ops
 * outside a G. errno is preserved. */
void sched_enter_syscall(void);
void sched_exit_syscall(void);

/* The netpoller, provided by the layer above (syscalls/netpoll.c) so that
 * sched does not know its backends. poll(until) readies the Gs whose fds
 * are ready (through waitq_wake) and returns how many events it handled:
 * until == 0 must not block, -1 blocks until wake() or an event, > 0
 * blocks until that CLOCK_MONOTONIC deadline at the latest. Any thread may
 * call poll(0) while another blocks in poll(until). */
struct sched_poller {
	int (*poll)(int64_t until);
	void (*wake)(void);
};
void sched_set_poller(const struct sched_poller *poller);

/* Counters, kept per P by the P's owner and summed on demand
 * (GMPT_DEBUG=stats, sched/stats.c). */
struct sched_stats {
	uint64_t switches;    /* Gs switched in (one per run of a G on an M) */
	uint64_t steals;      /* successful steals from another P's queue */
	uint64_t handoffs;    /* Ps handed off (blocking system calls, retakes) */
	uint64_t retakes;     /* Ps sysmon took from system calls */
	uint64_t preempts;    /* Gs preempted by signal */
	uint64_t preempt_req; /* preemption signals sent */
	uint64_t netpolls;    /* Gs readied by the netpoller */
	uint64_t gs_created;  /* threads created (Gs spawned) */
	uint64_t gs_peak;     /* most threads alive at once, the main thread included */
	uint64_t ms;	      /* kernel threads created for Ms */
};
void sched_stats_get(struct sched_stats *out);

/* The preemption signal belongs to gmpt; the program's own sigaction for
 * it is recorded and chained to instead (shim/signal.c). */
struct sigaction;
bool sched_preempt_owns(int sig);
void sched_preempt_user_action(const struct sigaction *act, struct sigaction *old);
void sched_stat_netpoll(uint64_t n);

/* Parks the current G until the CLOCK_MONOTONIC deadline (ns); returns
 * EINTR if a cancellation cut the sleep short (see below), else 0. */
int sched_sleep_until(int64_t deadline);

/* Interruptible waits: deferred cancellation, and signals sent to a
 * parked thread. The shim registers a hook that ends the calling thread
 * if it has a cancellation to act on; sched_cancel_point calls it (only
 * once the program has cancelled or signalled some thread,
 * sched_interrupts_used: until then it is one load). Waits made between
 * sched_cancelable(true) and (false) are cut short with EINTR by
 * sched_interrupt(g) (waitq_wait, sched_sleep_until); callers then reach
 * a cancellation point without holding anything, or report EINTR. */
extern _Atomic int sched_interrupts_used;
void sched_set_cancel_hook(void (*act_if_cancelled)(void));
void sched_cancel_point_slow(void);
static inline void sched_cancel_point(void)
{
	if (__builtin_expect(atomic_load_explicit(&sched_interrupts_used, memory_order_relaxed), 0))
		sched_cancel_point_slow();
}
/* Acts on a pending asynchronous cancellation only (around system calls
 * that are not cancellation points, which such a cancellation still
 * stops). */
void sched_async_cancel_point(void);
/* Whether the calling G has a cancellation to act on (the hint). */
bool sched_cancel_is_armed(void);
/* Acts on it; returns only if the hint was stale, which is then dropped. */
void sched_cancel_act_armed(void);
/* Returns whether it marked (false: not a G, nothing to undo). */
bool sched_cancelable(bool on);
/* What the shim tells sched about a G's cancellation state: nothing to
 * act on; deferred, pending and enabled (system calls at cancellation
 * points stop); asynchronous, pending and enabled (the G also stops
 * wherever it runs user code). A hint only: the hook decides, and sched
 * disarms a G whose hook did not act. Set before sched_interrupt. */
enum sched_cancel_arm { SCHED_CANCEL_OFF, SCHED_CANCEL_DEFERRED, SCHED_CANCEL_ASYNC };
/* The hint lives in the low bits of g->cancel_armed; this bit beside it
 * says a signal the G waits for in sigwait arrived (gsignal.c), which
 * stops the same system calls and makes them fail with EINTR. */
#define SCHED_CANCEL_ARM_MASK 3
#define SCHED_SIGWAIT_WAKE    4
void sched_cancel_arm(struct g *g, enum sched_cancel_arm how);
/* A system call at a cancellation point: acts on a pending cancellation
 * before it, and one that comes while it blocks stops it (never lost: see
 * arch/x86_64/syscall_cp.S). handoff: the P is handed off first (a call
 * known to block long), else the M keeps it as in sched_enter_syscall.
 * Returns the raw result. Outside a G, the plain system call. */
long sched_syscall_cancelable(bool handoff, long nr, long a1, long a2, long a3, long a4, long a5,
			      long a6);
/* The same for a call whose caller must put things back before acting
 * (a condition wait takes its mutex again): a cancellation that comes
 * before or while it blocks makes it return -ECANCELED (no system call
 * returns that for these callers), and the caller then calls
 * sched_cancel_point_or_disarm. Hands the P off. */
long sched_syscall_interruptible(long nr, long a1, long a2, long a3, long a4, long a5, long a6);
/* Acts on a pending cancellation, or if the hook does not act, clears
 * the hint (sched_cancel_arm) that may have cut a wait short. */
void sched_cancel_point_or_disarm(void);
#define SCHED_SYSCALL_CP_ARGS(h, n, a1, a2, a3, a4, a5, a6, ...)                                   \
	sched_syscall_cancelable((h), (long)(n), (long)(a1), (long)(a2), (long)(a3), (long)(a4),   \
				 (long)(a5), (long)(a6))
/* sys_cancelable(SYS_x, args...) keeps the P; sys_cancelable_blocking
 * hands it off. Up to six arguments. */
#define sys_cancelable(...)	     SCHED_SYSCALL_CP_ARGS(false, __VA_ARGS__, 0, 0, 0, 0, 0, 0, 0)
#define sys_cancelable_blocking(...) SCHED_SYSCALL_CP_ARGS(true, __VA_ARGS__, 0, 0, 0, 0, 0, 0, 0)
/* Handlers delivered to the calling thread since its blocking call began
 * (sched_sig_handled_clear at the start of the call): a wait that a signal
 * cut short (EINTR from the wait) fails with EINTR if a handler without
 * SA_RESTART ran, or if one with SA_RESTART ran and the call is one that
 * signal(7) says is never restarted; with none (a cancellation, an
 * ignored signal, a handler that ran before the call) it waits again. */
#define SCHED_SIG_RAN	    1
#define SCHED_SIG_NORESTART 2
void sched_sig_handled_clear(void);
/* The bits since the last clear, and clears them. */
unsigned sched_sig_handled_take(void);
/* The signal sched_interrupt pokes a kernel thread with, or 0 if none. */
int sched_poke_signal(void);
void sched_interrupt(struct g *g);
/* sched_interrupt for a signal made pending in g that g lets through: it
 * also takes g out of a wait that no signal ends, to run the handler at
 * once; that wait then goes on. */
void sched_interrupt_signal(struct g *g);

/* Parks the current G while *addr == val. deadline: CLOCK_MONOTONIC ns, 0
 * for none. Returns 0 when woken (or spuriously), EAGAIN if *addr != val on
 * entry, ETIMEDOUT. Works from threads that are not Gs too (they block in
 * the kernel). */
int waitq_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline);

/* Why a thread waits: the name the thread dump prints (g->wait_reason) and
 * who can end the wait, which the deadlock check needs (sched/checkdead.c).
 * A wait with a deadline can always end by itself, whatever its reason. */
enum wait_wakers {
	WAKERS_ANYONE,		  /* an fd event, the kernel, a timer, ...: never a deadlock */
	WAKERS_THREADS,		  /* only another thread (unlock, signal, exit, ...) */
	WAKERS_THREADS_OR_SIGNAL, /* also a signal handler (sem_post is async-signal-safe) */
};
struct wait_reason {
	const char *name;
	enum wait_wakers wakers;
};
extern const struct wait_reason WAIT_MUTEX, WAIT_COND, WAIT_JOIN, WAIT_SEMAPHORE, WAIT_BARRIER,
    WAIT_RWLOCK, WAIT_ONCE, WAIT_FD_READ, WAIT_FD_WRITE, WAIT_POLL, WAIT_IO, WAIT_OTHER;
/* waitq_wait, saying why (waitq_wait says WAIT_OTHER: "waitq", anyone may
 * end it). */
int waitq_wait_reason(_Atomic uint32_t *addr, uint32_t val, int64_t deadline,
		      const struct wait_reason *why);
/* Wakes up to n waiters on addr, oldest first; returns how many. */
int waitq_wake(_Atomic uint32_t *addr, int n);
/* Wakes up to nwake waiters on from, oldest first, then moves up to nmove
 * of the others, in their order, behind the waiters on to (INT_MAX: all),
 * as FUTEX_REQUEUE does: they wait on to from now on, without waking.
 * Returns how many it woke. */
int waitq_requeue(_Atomic uint32_t *from, int nwake, _Atomic uint32_t *to, int nmove);

int64_t nanotime(void);
int sched_procs(void);
/* Sets errno on the kernel thread the caller runs on now (see nanotime.c). */
void sched_set_errno(int e);
_Noreturn void sched_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* One line on stderr, "gmpt: " first. */
void sched_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
