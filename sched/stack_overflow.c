/* sched/stack_overflow.c - a G that runs off its stack into the guard page
 * below it is named before the process dies of the SIGSEGV, as it would
 * natively:
 *
 *   gmpt: thread G7 "worker" overflowed its 65536-byte stack (guard page hit at 0x7f...)
 *
 * The handler runs on the kernel thread's signal stack (every kernel
 * thread gmpt makes has one, os_thread_sigaltstack), since the G's own
 * stack is used up. Every SIGSEGV other than that report behaves as
 * without gmpt: the program's actions for SIGSEGV are recorded (shim's
 * sigaction) and, at the first SIGSEGV, installed in the kernel in place
 * of gmpt's handler; the signal is then delivered to them by the kernel
 * itself, with the program's flags, mask and signal stack (a fault simply
 * happens again when the handler returns; a signal that was sent is sent
 * again). So a program that handles its own faults (siglongjmp out of a
 * deliberate fault, a garbage collector's write barrier) pays for gmpt's
 * handler once, and its handler never runs on gmpt's signal stack, where
 * parking the G would let another signal on that kernel thread overwrite
 * it. Not in the ASan build: AddressSanitizer reports faults itself. */
#include "arch/syscall.h"
#include "sched/debug_signals.h"
#include "sched/osthread.h"
#include "sched/real.h"
#include "sched/runtime.h"
#include "sched/trace.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);

/* gmpt's handler is installed; the program's recorded action, if any. The
 * record is written by sigaction calls and read by the handler: a program
 * that changes its SIGSEGV action while another thread faults gets one of
 * the two, as natively. */
static _Atomic bool segv_owned;
static struct sigaction user_action;
static _Atomic bool user_action_set;

/* The G whose guard page holds addr (it must be running: the fault is its
 * own), or NULL. */
static struct g *guard_owner(uintptr_t addr)
{
	for (struct g *g = atomic_load_explicit(&sched.allg, memory_order_acquire); g;
	     g = g->allg_link) {
		if (g->stack_kind != STACK_GUARDED ||
		    atomic_load_explicit(&g->status, memory_order_relaxed) != G_RUNNING)
			continue;
		uintptr_t lo = (uintptr_t)g->stack_lo;
		if (addr < lo && addr >= lo - g->stack_guard)
			return g;
	}
	return NULL;
}

static size_t put_str(char *buf, size_t at, size_t cap, const char *s)
{
	while (*s && at < cap)
		buf[at++] = *s++;
	return at;
}

static size_t put_num(char *buf, size_t at, size_t cap, uint64_t v, unsigned base)
{
	char tmp[24];
	size_t i = sizeof tmp;
	do
		tmp[--i] = "0123456789abcdef"[v % base];
	while ((v /= base) != 0);
	while (i < sizeof tmp && at < cap)
		buf[at++] = tmp[i++];
	return at;
}

static void report_overflow(struct g *g, uintptr_t addr)
{
	char name[16], line[256];
	memcpy(name, g->name, sizeof name);
	name[15] = 0;
	/* The size asked for, as pthread_getattr_np reports it (the room at
	 * the top for glibc's descriptor included, see stack.c). */
	size_t size = (size_t)(g->stack_hi - g->stack_lo) + g->stack_reserve;
	size_t n = 0, cap = sizeof line - 1;
	n = put_str(line, n, cap, "gmpt: thread G");
	n = put_num(line, n, cap, g->id, 10);
	n = put_str(line, n, cap, " \"");
	n = put_str(line, n, cap, name);
	n = put_str(line, n, cap, "\" overflowed its ");
	n = put_num(line, n, cap, size, 10);
	n = put_str(line, n, cap, "-byte stack (guard page hit at 0x");
	n = put_num(line, n, cap, addr, 16);
	n = put_str(line, n, cap, ")");
	line[n++] = '\n';
	raw_syscall(SYS_write, 2, line, n); /* not write(), which gmpt wraps */
}

/* The program's action (or the default) goes into the kernel. */
static void give_segv_to_program(void)
{
	struct sigaction sa;
	if (atomic_load(&user_action_set)) {
		sa = user_action;
	} else {
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = SIG_DFL;
	}
	atomic_store(&segv_owned, false);
	REAL(sigaction_fn, sigaction)(SIGSEGV, &sa, NULL);
}

static void segv_handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	int saved_errno = errno;
	bool fault = si->si_code > 0; /* SI_USER, SI_QUEUE, SI_TKILL... are <= 0 */
	if (fault) {
		struct g *g = guard_owner((uintptr_t)si->si_addr);
		if (g)
			report_overflow(g, (uintptr_t)si->si_addr);
	}
	if (fault && !atomic_load(&user_action_set))
		trace_fatal(); /* the fault kills the process: GMPT_TRACE's last words */
	give_segv_to_program();
	/* SIGSEGV is blocked until this handler returns. A fault happens
	 * again at the same instruction; a signal sent by someone is sent
	 * again, with its siginfo, to this thread. */
	if (!fault)
		raw_syscall(SYS_rt_tgsigqueueinfo, getpid(), raw_syscall(SYS_gettid), sig, si);
	errno = saved_errno;
}

void sched_stack_overflow_init(void)
{
#ifdef GMPT_ASAN
	return;
#endif
	os_thread_sigaltstack(); /* M0's: the other Ms make their own */
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = segv_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	if (REAL(sigaction_fn, sigaction)(SIGSEGV, NULL, &old) != 0)
		return;
	if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) {
		/* Someone who ran before gmpt handles SIGSEGV: theirs. */
		return;
	}
	atomic_store(&segv_owned, true);
	if (REAL(sigaction_fn, sigaction)(SIGSEGV, &sa, NULL) != 0)
		atomic_store(&segv_owned, false);
}

bool sched_segv_owns(int sig)
{
	return sig == SIGSEGV && atomic_load_explicit(&segv_owned, memory_order_acquire);
}

void sched_segv_user_action(const struct sigaction *act, struct sigaction *old)
{
	if (old) {
		if (atomic_load(&user_action_set)) {
			*old = user_action;
		} else {
			memset(old, 0, sizeof *old);
			old->sa_handler = SIG_DFL;
		}
	}
	if (act) {
		user_action = *act;
		atomic_store(&user_action_set, true);
		/* The handler may have handed SIGSEGV over meanwhile: then
		 * this action belongs in the kernel too. */
		if (!atomic_load(&segv_owned))
			REAL(sigaction_fn, sigaction)(SIGSEGV, act, NULL);
	}
}
