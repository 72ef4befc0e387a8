/* sched/dump_signal.c - GMPT_DUMP_SIGNAL: a thread dump on stderr on the
 * signal the user chose, after which the program goes on. The dump is
 * written by a kernel thread of gmpt's (the dumper), started only when
 * the variable is set, that sleeps until a signal asks for a dump.
 *
 * The signal is gmpt's only while the program shows no interest in it: one
 * it already handles or ignores at start-up is left alone, and when it
 * installs an action for it later (shim/signal.c asks
 * sched_dump_signal_owns), the action goes into the kernel in place of
 * gmpt's handler. Either way one notice says that the dump signal is now
 * the program's. Until then sigaction reports SIG_DFL for it, as if gmpt
 * were not there. */
#include "arch/syscall.h"
#include "sched/debug_signals.h"
#include "sched/header_gaps.h"
#include "sched/osthread.h"
#include "sched/real.h"
#include "sched/runtime.h"
#include "sched/thread_dump.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);

/* The signal while gmpt's handler owns it, else 0. */
static _Atomic int dump_sig;

/* The handler only takes note; a kernel thread of gmpt's writes the dump.
 * Symbol lookup (libunwind's, dladdr's) allocates and takes locks, which
 * the interrupted code may hold: a handler that printed the dump itself
 * would deadlock on a thread stopped inside malloc. The handler records
 * where its G was (thread_dump_capture allocates nothing) in the one slot
 * (SLOT_FREE -> SLOT_FILLING -> SLOT_READY, taken back to SLOT_FREE by
 * the dumper), then counts a request and wakes the dumper. Signals that
 * come while the slot is taken still count: their dumps have no
 * interrupted thread, as two signals that arrive together are one. */
enum { SLOT_FREE, SLOT_FILLING, SLOT_READY };
static _Atomic int slot_state;
static struct thread_dump_self slot;
static _Atomic uint32_t requests; /* the dumper's futex word */

static void dump_handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	int saved_errno = errno;
	int expect = SLOT_FREE;
	if (atomic_compare_exchange_strong(&slot_state, &expect, SLOT_FILLING)) {
		thread_dump_capture(&slot, uc);
		atomic_store_explicit(&slot_state, SLOT_READY, memory_order_release);
	}
	atomic_fetch_add(&requests, 1);
	raw_syscall(SYS_futex, &requests, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	errno = saved_errno;
}

static void dumper_main(void *arg)
{
	(void)arg;
	/* From 0, not from what requests is now: a signal may come before
	 * this thread first runs. */
	uint32_t seen = 0;
	for (;;) {
		uint32_t now = atomic_load(&requests);
		if (now == seen) {
			raw_syscall(SYS_futex, &requests, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
			continue;
		}
		seen = now;
		static struct thread_dump_self self;
		bool have = atomic_load_explicit(&slot_state, memory_order_acquire) == SLOT_READY;
		if (have) {
			self = slot;
			atomic_store(&slot_state, SLOT_FREE);
		}
		thread_dump_write_self(2, NULL, have ? &self : NULL);
	}
}

static void dumper_start(void)
{
	int err = os_thread_create(dumper_main, NULL);
	if (err) {
		atomic_store(&dump_sig, 0);
		sched_notice("GMPT_DUMP_SIGNAL: cannot start the thread that writes dumps (%s): "
			     "no thread dumps",
			     strerror(err));
	}
}

/* fork's child has no dumper: only the forking thread goes on. */
static void dumper_after_fork_child(void)
{
	thread_dump_after_fork_child();
	atomic_store(&slot_state, SLOT_FREE);
	atomic_store(&requests, 0);
	if (atomic_load(&dump_sig))
		dumper_start();
}

/* why: "it installed its own action", "it ignores it", ... */
static void notice_program_owns(int sig, const char *why)
{
	const char *abbrev = sigabbrev_np ? sigabbrev_np(sig) : NULL;
	sched_notice("GMPT_DUMP_SIGNAL: SIG%s (%d) is the program's (%s): no thread dumps on it",
		     abbrev ? abbrev : "?", sig, why);
}

/* libunwind sets itself up on first use (allocating, taking a lock):
 * do that here rather than in the first dump's signal handler. */
static void unwinder_warm_up(void)
{
	unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
	unw_context_t uc;
	unw_cursor_t c;
	char name[64];
	unw_word_t off;
	unw_getcontext(&uc);
	if (unw_init_local(&c, &uc) == 0) {
		unw_get_proc_name(&c, name, sizeof name, &off);
		unw_step(&c);
	}
}

void sched_dump_signal_init(int sig)
{
	if (sig <= 0)
		return;
	struct sigaction old;
	if (REAL(sigaction_fn, sigaction)(sig, NULL, &old) != 0)
		return;
	if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) {
		notice_program_owns(sig, old.sa_handler == SIG_IGN ? "it ignores it"
								   : "it handles it already");
		return;
	}
	unwinder_warm_up();
	thread_dump_prepare();
	atomic_store(&dump_sig, sig);
	dumper_start();
	if (!atomic_load(&dump_sig))
		return;
	pthread_atfork(NULL, NULL, dumper_after_fork_child);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = dump_handler;
	/* On the kernel thread's signal stack: the interrupted G may be
	 * near the end of its own. */
	sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
	sigfillset(&sa.sa_mask);
	if (REAL(sigaction_fn, sigaction)(sig, &sa, NULL) != 0) {
		atomic_store(&dump_sig, 0);
		sched_notice("GMPT_DUMP_SIGNAL: cannot handle signal %d (%s): no thread dumps", sig,
			     strerror(errno));
	}
}

bool sched_dump_signal_owns(int sig)
{
	return sig > 0 && atomic_load_explicit(&dump_sig, memory_order_relaxed) == sig;
}

void sched_dump_signal_give_up(int sig)
{
	int expect = sig;
	/* Only the first of racing sigaction calls says so. */
	if (sig > 0 && atomic_compare_exchange_strong(&dump_sig, &expect, 0))
		notice_program_owns(sig, "it installed its own action");
}
