/* sched/preempt.c - asynchronous preemption (Go: preemptM, doSigPreempt,
 * isAsyncSafePoint, asyncPreempt).
 *
 * sysmon flags a G that has run for 3 ms while other work waits (or keeps
 * a due timer of its P waiting), and sends its M the preemption signal
 * (GMPT_PREEMPT_SIGNAL, SIGURG by default) with a marker in si_value, so
 * the handler can tell its own
 * signals from the program's. The handler acts only at a safe point: the
 * interrupted frame and every frame up to the G's entry function are
 * outside libc, the dynamic loader, gmpt and the libraries gmpt runs on
 * (libunwind walks them from the signal context). There it rewrites the
 * context to call preempt_park through arch's trampoline, which saves
 * every register on the G's stack past the red zone; the G yields to the
 * global queue and later continues where it was, on whatever M.
 *
 * A program that installs its own handler for the signal keeps it: the
 * shim records it (preempt_user_action) and this handler passes it every
 * signal that is not gmpt's. */
#include "arch/preempt.h"
#include "arch/syscall.h"
#include "arch/syscall_cp.h"
#include "sched/real.h"
#include "sched/runtime.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PREEMPT_MAGIC 0x676d7074 /* "gmpt" */
#define POKE_MAGIC    0x676d7073 /* deliver the current G's pending signals */
/* Stack the handler itself (libunwind's cursor) needs, plus the
 * trampoline's save area, must fit above the G's stack floor. */
#define HANDLER_STACK_BYTES (12 * 1024)
#define MAX_FRAMES	    64

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);

/* Code where a G must not be stopped: it may hold a lock of the kernel
 * thread's (malloc arenas, stdio, the loader lock), or be gmpt itself. */
struct code_range {
	uintptr_t lo, hi;
};
static struct code_range unsafe_code[32];
static int nunsafe;

static const char *const unsafe_objects[] = {
    "/libc.so",
    "/ld-linux",
    "libgmpt",
    "/libasan",
    "/libubsan",
    "/liburing",
    "/libunwind",
    "/libgcc_s",
    "/libstdc++",
    "linux-vdso",
    /* Parts of glibc before 2.34 (libpthread's mutexes are the loader's
     * lock there). */
    "/libpthread.so",
    "/libdl.so",
    "/librt.so",
};

/* The program's own action for the signal, if it installed one. */
static struct sigaction user_action;
static _Atomic int user_action_set;

/* gmpt's own load address: its code is unsafe whatever its file is
 * called (a renamed or differently installed copy). */
static uintptr_t own_base;

static int note_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	const char *name = info->dlpi_name;
	bool unsafe = own_base != 0 && info->dlpi_addr == own_base;
	for (size_t i = 0; i < sizeof unsafe_objects / sizeof *unsafe_objects; i++)
		if (name && strstr(name, unsafe_objects[i]))
			unsafe = true;
	/* The vDSO has an empty name on some systems; its address is in
	 * AT_SYSINFO_EHDR. */
	if (!unsafe)
		return 0;
	for (int i = 0; i < info->dlpi_phnum && nunsafe < 32; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		unsafe_code[nunsafe++] = (struct code_range){lo, lo + ph->p_memsz};
	}
	return 0;
}

static bool in_unsafe_code(uintptr_t ip)
{
	for (int i = 0; i < nunsafe; i++)
		if (ip >= unsafe_code[i].lo && ip < unsafe_code[i].hi)
			return true;
	return false;
}

extern void *__libc_stack_end;

/* Go's isAsyncSafePoint, for C: walk from the interrupted frame to the G's
 * entry function; every frame must be the program's own code. The main
 * thread has no entry function of ours: its walk ends at the C runtime's
 * start frames (libc), which sit at the very top of the process stack. */
static bool safe_point(void *uc, struct g *g)
{
	uintptr_t sp = arch_ucontext_sp(uc);
	if (sp < (uintptr_t)g->stack_lo + HANDLER_STACK_BYTES + arch_preempt_stack_bytes() ||
	    sp >= (uintptr_t)g->stack_hi)
		return false; /* near overflow, or on a signal stack */
	uintptr_t ip = arch_ucontext_ip(uc);
	if (in_unsafe_code(ip))
		return false; /* decided without unwinding: the common case */

	unw_cursor_t c;
	if (unw_init_local2(&c, (unw_context_t *)uc, UNW_INIT_SIGNAL_FRAME) < 0)
		return false;
	for (int depth = 0; depth < MAX_FRAMES; depth++) {
		unw_word_t fip, fsp;
		if (unw_get_reg(&c, UNW_REG_IP, &fip) < 0 || unw_get_reg(&c, UNW_REG_SP, &fsp) < 0)
			return false;
		if (in_unsafe_code(fip)) {
			if (g->entry) {
				/* The G's entry function (the shim's thread start,
				 * itself in gmpt) is where its own frames end. */
				unw_proc_info_t pi;
				return unw_get_proc_info(&c, &pi) == 0 &&
				       pi.start_ip == (uintptr_t)g->entry;
			}
			return g->stack_kind == 0 /* STACK_NONE: main */ &&
			       fsp + 4096 >= (uintptr_t)__libc_stack_end;
		}
		int r = unw_step(&c);
		if (r == 0)
			return true; /* the bottom of the G's stack */
		if (r < 0)
			return false;
	}
	return false;
}

/* A signal gmpt did not send: what the program asked for, or the
 * default action if it asked for nothing. */
static void call_user_action(int sig, siginfo_t *si, void *uc)
{
	struct sigaction *a = &user_action;
	bool dfl = !atomic_load(&user_action_set) ||
		   (!(a->sa_flags & SA_SIGINFO) && a->sa_handler == SIG_DFL);
	if (!dfl) {
		if (a->sa_flags & SA_SIGINFO)
			a->sa_sigaction(sig, si, uc);
		else if (a->sa_handler != SIG_IGN)
			a->sa_handler(sig);
		return;
	}
	if (sig == SIGURG || sig == SIGCHLD || sig == SIGWINCH)
		return; /* their default action is to ignore them */
	/* The default of the others is to terminate: put it back in the
	 * kernel (past the shim's sigaction, which would only record it)
	 * and send the signal again; it is blocked in this handler and
	 * kills the process as soon as the handler returns. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	REAL(sigaction_fn, sigaction)(sig, &sa, NULL);
	raw_syscall(SYS_tgkill, getpid(), raw_syscall(SYS_gettid), sig);
}

/* What a poke asks for. True if it stopped the G (asynchronous
 * cancellation): the handler does nothing more then. */
static bool poke_work(void *uc)
{
	/* The signals are re-sent to this kernel thread and delivered when
	 * this handler returns, on whatever G runs here then: the G
	 * sig_deliver takes them from. */
	struct m *m = m_self();
	struct g *g = m ? m->curg : NULL;
	if (!g)
		return false;
	if (atomic_load_explicit(&g->sig_pending, memory_order_relaxed))
		sig_deliver(g);
	/* Asynchronous cancellation by another thread: a G running user
	 * code at a point where it could be preempted ends there, as
	 * glibc's SIGCANCEL handler ends it. Elsewhere (in gmpt or libc
	 * code) it acts at its next preemption or cancellation point. */
	if (m->p &&
	    (atomic_load_explicit(&g->cancel_armed, memory_order_acquire) &
	     SCHED_CANCEL_ARM_MASK) == SCHED_CANCEL_ASYNC &&
	    safe_point(uc, g)) {
		arch_preempt_inject(uc, cancel_async_act);
		return true;
	}
	return false;
}

static void preempt_handler(int sig, siginfo_t *si, void *uc)
{
	int saved_errno = errno;
	bool ours = si->si_code == SI_QUEUE && si->si_pid == getpid();
	if (ours) {
		/* A cancellation (sched_interrupt) may have poked a G blocked
		 * in, or about to enter, a system call at a cancellation
		 * point: it returns without making the call. A preemption
		 * signal does the same if it lands there first. */
		struct m *m = m_self();
		if (m && m->curg)
			arch_syscall_cp_redirect(uc, &m->curg->cancel_armed);
	}
	/* Pokes, preemption requests and the program's own signal share
	 * this number, and it is not a real-time signal: one sent while
	 * another is pending on the kernel thread merges into it, and only
	 * the first one's siginfo arrives. So whichever arrives does a
	 * poke's work (cheap when nothing is pending): a poke is never lost
	 * behind a preemption request or the program's signal. */
	if (poke_work(uc) || (ours && si->si_value.sival_int == POKE_MAGIC)) {
		errno = saved_errno;
		return;
	}
	if (!ours || si->si_value.sival_int != PREEMPT_MAGIC) {
		call_user_action(sig, si, uc);
		errno = saved_errno;
		return;
	}
	struct m *m = m_self();
	struct g *g = m ? m->curg : NULL;
	/* A G in a system call (m->p == NULL) is not running user code; one
	 * that already yielded has its flag cleared. One whose P sysmon took
	 * while it was blocked in the kernel (m->p_lost, kblock.c) is
	 * preempted to give the M back. */
	if (g && (m->p || m->p_lost) && atomic_load_explicit(&g->preempt, memory_order_relaxed) &&
	    safe_point(uc, g)) {
		atomic_store_explicit(&g->preempt, false, memory_order_relaxed);
		arch_preempt_inject(uc, preempt_park);
	}
	errno = saved_errno;
}

static void send_marked(struct m *m, int magic)
{
	siginfo_t si;
	memset(&si, 0, sizeof si);
	si.si_signo = sched.preempt_signal;
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value.sival_int = magic;
	raw_syscall(SYS_rt_tgsigqueueinfo, getpid(), m->tid, sched.preempt_signal, &si);
}

void preempt_m(struct m *m, struct g *g)
{
	(void)g;
	send_marked(m, PREEMPT_MAGIC);
}

/* Without the preemption handler (GMPT_PREEMPT=0) nobody could act on a
 * poke: the G gets its signals at its next switch-in. */
void preempt_poke(struct m *m)
{
	if (sched.preempt_on)
		send_marked(m, POKE_MAGIC);
}

void preempt_init(void)
{
	if (!sched.preempt_on)
		return;
	arch_preempt_init();
	Dl_info self;
	if (dladdr((void *)preempt_init, &self) != 0)
		own_base = (uintptr_t)self.dli_fbase;
	dl_iterate_phdr(note_object, NULL);
	unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = preempt_handler;
	/* Not SA_ONSTACK: this handler calls the program's own handler for
	 * the signal, which may park its G (a write to a pipe, a sleep), and
	 * a G parked on its kernel thread's signal stack (every M has one:
	 * os_thread_sigaltstack) would be overwritten by the next signal
	 * handled there. */
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask);
	struct sigaction old;
	if (REAL(sigaction_fn, sigaction)(sched.preempt_signal, &sa, &old) != 0)
		sched_fatal("cannot install the preemption signal handler (%s)", strerror(errno));
	if (old.sa_handler != SIG_DFL) {
		user_action = old;
		atomic_store(&user_action_set, 1);
	}
}

int sched_poke_signal(void)
{
	return sched.preempt_on ? sched.preempt_signal : 0;
}

bool sched_preempt_owns(int sig)
{
	return sched.preempt_on && sig == sched.preempt_signal;
}

/* The program's sigaction for the preemption signal (shim/signal.c): we
 * keep our handler installed and remember theirs. */
void sched_preempt_user_action(const struct sigaction *act, struct sigaction *old)
{
	if (old) {
		if (atomic_load(&user_action_set))
			*old = user_action;
		else {
			memset(old, 0, sizeof *old);
			old->sa_handler = SIG_DFL;
		}
	}
	if (act) {
		user_action = *act;
		atomic_store(&user_action_set, 1);
	}
}
