/* sched/gsignal.c - signal masks and directed signals per G.
 *
 * The kernel knows only kernel threads, so each G keeps its own mask and
 * its own pending set, and an M's kernel mask follows the G it runs:
 * mark_running installs the G's mask when it differs from what the M has
 * (a system call only for Gs whose masks differ), and a signal sent to a
 * G (pthread_kill, pthread_sigqueue) waits in the G until it runs with the
 * signal unblocked, then is re-sent by the G to its own kernel thread, so
 * the program's handler runs on the target G's stack and TLS. A G that is
 * running elsewhere is poked: its M gets gmpt's preemption signal with a
 * marker and its handler re-sends (sig_poke_handler via preempt.c).
 *
 * gmpt's own signals (the preemption signal, glibc's SIGCANCEL/SIGSETXID)
 * are never blocked in the kernel whatever the G's mask says; the mask the
 * program reads back is the one it set. */
#include "arch/syscall.h"
#include "sched/debug_signals.h"
#include "sched/runtime.h"
#include "sched/sched.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SIGBIT(sig) (1ULL << ((sig)-1))

/* What the kernel may block for a G with this mask. */
static uint64_t kernel_mask(uint64_t mask)
{
	uint64_t keep = SIGBIT(GLIBC_SIGCANCEL) | SIGBIT(GLIBC_SIGSETXID);
	if (sched.preempt_on)
		keep |= SIGBIT(sched.preempt_signal);
	return mask & ~keep;
}

uint64_t sig_thread_mask(void)
{
	uint64_t set = 0;
	raw_syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &set, sizeof set);
	return set;
}

static enum sig_disp disp_of(void *handler, unsigned long flags, int sig)
{
	if (handler == (void *)SIG_IGN)
		return DISP_IGNORE;
	if (handler == (void *)SIG_DFL)
		return sig == SIGCHLD || sig == SIGURG || sig == SIGWINCH || sig == SIGCONT
			   ? DISP_IGNORE
			   : DISP_DEFAULT;
	return flags & SA_RESTART ? DISP_HANDLER_RESTART : DISP_HANDLER;
}

/* The program's action, wherever it is kept: in the kernel, or recorded
 * by gmpt for the signals whose kernel action is gmpt's own. */
enum sig_disp sig_disposition(int sig)
{
	if (sched_preempt_owns(sig) || sched_segv_owns(sig)) {
		struct sigaction sa;
		if (sched_preempt_owns(sig))
			sched_preempt_user_action(NULL, &sa);
		else
			sched_segv_user_action(NULL, &sa);
		return disp_of((void *)sa.sa_handler, (unsigned long)sa.sa_flags, sig);
	}
	if (sched_dump_signal_owns(sig))
		return DISP_DEFAULT;
	struct sigaction routed;
	if (sigroute_user_action(sig, &routed))
		return disp_of((void *)routed.sa_handler, (unsigned long)routed.sa_flags, sig);
	struct {
		void *handler;
		unsigned long flags;
		void *restorer;
		uint64_t mask;
	} k;
	if (raw_syscall(SYS_rt_sigaction, sig, NULL, &k, sizeof k.mask) != 0)
		return DISP_DEFAULT;
	return disp_of(k.handler, k.flags, sig);
}

void sched_sig_handled_clear(void)
{
	struct g *g = sched_current();
	if (g)
		atomic_store(&g->sig_handled, 0);
}

unsigned sched_sig_handled_take(void)
{
	struct g *g = sched_current();
	return g ? atomic_exchange(&g->sig_handled, 0) : 0;
}

/* On g0, before g runs on m. */
void sig_switch_in(struct m *m, struct g *g)
{
	uint64_t want = kernel_mask(g->sigmask);
	if (want != m->sigmask_now) {
		raw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, &want, NULL, sizeof want);
		m->sigmask_now = want;
	}
}

/* On g itself, on its M: send its pending, unblocked signals to this
 * kernel thread. Each is delivered as the system call returns, so the
 * handler runs here, on the G. */
void sig_deliver(struct g *g)
{
	uint64_t ready = atomic_load_explicit(&g->sig_pending, memory_order_acquire) & ~g->sigmask;
	if (!ready)
		return;
	ready = atomic_fetch_and(&g->sig_pending, ~ready) & ready;
	pid_t pid = getpid();
	for (int sig = 1; ready; sig++) {
		if (!(ready & SIGBIT(sig)))
			continue;
		ready &= ~SIGBIT(sig);
		/* Recorded before the handler runs (as the call returns), for
		 * the blocking call the G is in, if any. */
		enum sig_disp d = sig_disposition(sig);
		if (d == DISP_HANDLER)
			atomic_fetch_or(&g->sig_handled, SCHED_SIG_RAN | SCHED_SIG_NORESTART);
		else if (d == DISP_HANDLER_RESTART)
			atomic_fetch_or(&g->sig_handled, SCHED_SIG_RAN);
		struct m *m = m_self();
		/* sigroute.c's handler runs it here, never re-routes it, and
		 * gives the program the info a routed signal came with
		 * (has_info, cleared there). */
		atomic_fetch_or(&g->sig_delivering, SIGBIT(sig));
		if (g->sig_values && g->sig_values[sig].has_info) {
			raw_syscall(SYS_tgkill, pid, m->tid, sig);
		} else if (g->sig_values && g->sig_values[sig].queued) {
			siginfo_t si;
			memset(&si, 0, sizeof si);
			si.si_signo = sig;
			si.si_code = SI_QUEUE;
			si.si_pid = pid;
			si.si_uid = getuid();
			si.si_value = g->sig_values[sig].value;
			g->sig_values[sig].queued = false;
			raw_syscall(SYS_rt_tgsigqueueinfo, pid, m->tid, sig, &si);
		} else {
			raw_syscall(SYS_tgkill, pid, m->tid, sig);
		}
	}
}

static int signal_g(struct g *g, int sig, const union sigval *value, const siginfo_t *info);

int sched_signal(struct g *g, int sig, const union sigval *value)
{
	return signal_g(g, sig, value, NULL);
}

int sig_send_info(struct g *g, int sig, const siginfo_t *info)
{
	return signal_g(g, sig, NULL, info);
}

static int signal_g(struct g *g, int sig, const union sigval *value, const siginfo_t *info)
{
	/* An ignored signal that the thread does not block is discarded
	 * when sent, as the kernel does: it interrupts nothing. A blocked
	 * one stays pending (the action may change before it is unblocked,
	 * and sigwait takes it). */
	enum sig_disp disp = sig_disposition(sig);
	if (disp == DISP_IGNORE && !(g->sigmask & SIGBIT(sig)))
		return 0;
	if (value || info) {
		if (!g->sig_values) {
			/* Benign race: only the first sigqueue to a G allocates,
			 * and a lost race leaks one array, never a value. */
			struct sig_value *v = calloc(65, sizeof *v);
			if (!v)
				return EAGAIN;
			struct sig_value *none = NULL;
			if (!__atomic_compare_exchange_n(&g->sig_values, &none, v, false,
							 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
				free(v);
		}
		if (info) {
			g->sig_values[sig].info = *info;
			g->sig_values[sig].has_info = true;
		} else {
			g->sig_values[sig].value = *value;
			g->sig_values[sig].queued = true;
			g->sig_values[sig].has_info = false;
		}
	}
	/* Seq_cst, against sched_sigwait_begin: either the G sees the bit
	 * there, or this sees its set below and stops its wait. */
	atomic_fetch_or(&g->sig_pending, SIGBIT(sig));
	if (atomic_load(&g->sigwait_set) & SIGBIT(sig)) {
		/* Waited for in sigwait: the G takes it from its pending set.
		 * Its system call (or the test just before it) is stopped with
		 * the wake bit and a poke (arch_syscall_cp). The G runs on
		 * g->m for the whole wait: it does not switch inside it. */
		atomic_fetch_or(&g->cancel_armed, SCHED_SIGWAIT_WAKE);
		struct m *m = g->m;
		if (m && atomic_load(&g->status) == G_RUNNING && m_self() != m)
			preempt_poke(m);
		return 0;
	}
	struct m *self = m_self();
	if (self && self->curg == g) {
		sig_deliver(g);
		return 0;
	}
	/* Parked at an interruption point (a condition or semaphore wait, a
	 * sleep, an fd wait, poll): cut the wait short, as a signal makes
	 * such a call return early natively (EINTR, or a spurious wakeup for
	 * a condition); the G delivers the signal when it runs. From now on
	 * sleeps are interruptible too (sched_sleep_until). */
	if (!(__atomic_load_n(&g->sigmask, __ATOMIC_SEQ_CST) & SIGBIT(sig)) &&
	    disp != DISP_IGNORE) {
		atomic_store(&sched_interrupts_used, 1);
		sched_interrupt_signal(g);
	}
	/* Running user code on another M: poke it (one in a kernel wait,
	 * holding no P, was poked by sched_interrupt). If g switches out
	 * first, its next switch-in delivers instead (the pending bit is
	 * already set). A racy read of g->m: at worst another G's M takes a
	 * harmless poke. */
	struct m *m =
	    atomic_load_explicit(&g->status, memory_order_acquire) == G_RUNNING ? g->m : NULL;
	/* In sigsuspend the G hands its P off around the kernel wait: one
	 * look at m->p in sched_interrupt and one here could both miss it. */
	if (m && (m->p || atomic_load(&g->sig_suspending)))
		preempt_poke(m);
	return 0;
}

void sched_g_set_sigmask(struct g *g, uint64_t mask)
{
	g->sigmask = mask;
}

uint64_t sched_sigmask_get(void)
{
	struct g *g = sched_current();
	return g ? g->sigmask : sig_thread_mask();
}

void sched_sigmask_set(uint64_t mask)
{
	struct m *m = m_self();
	struct g *g = m ? m->curg : NULL;
	if (!g) {
		raw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, &mask, NULL, sizeof mask);
		return;
	}
	g->sigmask = mask;
	sig_switch_in(m, g);
	if (g == sig_main_g)
		sigroute_mask_changed();
	/* Process-directed signals that every thread blocked wait in the
	 * process (sigroute.c) until one unblocks them, as in the kernel. */
	siginfo_t si;
	int sig;
	while ((sig = sigroute_take_process(~mask, &si)))
		sig_send_info(g, sig, &si);
	if (atomic_load_explicit(&g->sig_pending, memory_order_relaxed) & ~mask)
		sig_deliver(g);
}

/* Takes the lowest pending signal of set from g (with its
 * pthread_sigqueue value), filling info as the kernel would. */
static int take_pending(struct g *g, uint64_t set, siginfo_t *info)
{
	uint64_t have = atomic_load(&g->sig_pending) & set;
	while (have) {
		int sig = __builtin_ctzll(have) + 1;
		if (atomic_fetch_and(&g->sig_pending, ~SIGBIT(sig)) & SIGBIT(sig)) {
			if (info) {
				memset(info, 0, sizeof *info);
				info->si_signo = sig;
				info->si_pid = getpid();
				info->si_uid = getuid();
				info->si_code = SI_TKILL;
				if (g->sig_values && g->sig_values[sig].has_info)
					*info = g->sig_values[sig].info;
				else if (g->sig_values && g->sig_values[sig].queued) {
					info->si_code = SI_QUEUE;
					info->si_value = g->sig_values[sig].value;
				}
			}
			if (g->sig_values)
				g->sig_values[sig].queued = g->sig_values[sig].has_info = false;
			return sig;
		}
		have &= ~SIGBIT(sig);
	}
	return 0;
}

int sched_sigwait_begin(uint64_t set, void *info)
{
	struct g *g = sched_current();
	if (!g)
		return 0;
	/* Seq_cst, then the pending set: see sched_signal. */
	atomic_store(&g->sigwait_set, set);
	int sig = take_pending(g, set, info);
	if (!sig)
		sig = sigroute_take_process(set, info);
	return sig;
}

void sched_sigwait_end(void)
{
	struct g *g = sched_current();
	if (!g)
		return;
	atomic_store(&g->sigwait_set, 0);
	/* A sender that saw the set just before it was cleared may still set
	 * the wake bit: sched_syscall_cancelable drops it outside sigwait. */
	atomic_fetch_and(&g->cancel_armed, (uint8_t)~SCHED_SIGWAIT_WAKE);
}

/* Sets this kernel thread's mask for a G with mask. Signals it lets
 * through that are pending here run as the call returns. */
static void kernel_mask_set(struct m *m, uint64_t mask)
{
	uint64_t k = kernel_mask(mask);
	raw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, &k, NULL, sizeof k);
	m->sigmask_now = k;
}

uint64_t sched_sigsuspend_begin(uint64_t mask, bool *ready)
{
	*ready = false;
	struct g *g = sched_current();
	if (!g)
		return ~0ULL;
	uint64_t old = g->sigmask;
	atomic_store(&g->sig_suspending, true);
	/* Seq_cst, then the pending sets: a sender either sees the new mask
	 * (and pokes, signal_g) or set its bit before the loads below. */
	__atomic_store_n(&g->sigmask, mask, __ATOMIC_SEQ_CST);
	if (g == sig_main_g)
		sigroute_mask_changed();
	*ready = ((atomic_load(&g->sig_pending) | sigroute_process_pending()) & ~mask) != 0;
	return old;
}

void sched_suspend_settle(uint64_t mask)
{
	/* The poke handler re-sent the G's signals to this kernel thread
	 * with everything blocked; rt_sigsuspend has put the mask from
	 * before the call back since. Let them run now under the wait's
	 * mask, still on the kernel thread they were sent to. */
	uint64_t k = kernel_mask(mask), now;
	raw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, &k, &now, sizeof k);
	raw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, &now, NULL, sizeof now);
}

void sched_sigsuspend_end(uint64_t mask, uint64_t old)
{
	struct m *m = m_self();
	struct g *g = m ? m->curg : NULL;
	if (!g)
		return;
	/* Under the wait's mask: what was sent to the G meanwhile (its poke
	 * may have been lost to a race or be still on the way), and what
	 * waits in the process for a thread that lets it through. */
	kernel_mask_set(m, mask);
	siginfo_t si;
	int sig;
	while ((sig = sigroute_take_process(~mask, &si)))
		sig_send_info(g, sig, &si);
	sig_deliver(g);
	__atomic_store_n(&g->sigmask, old, __ATOMIC_SEQ_CST);
	atomic_store(&g->sig_suspending, false);
	kernel_mask_set(m, old);
	if (g == sig_main_g)
		sigroute_mask_changed();
}

uint64_t sched_sigpending(void)
{
	struct g *g = sched_current();
	/* The kernel's answer covers the process and this kernel thread.
	 * Signals sent to this thread wait in the G while it blocks them
	 * (signal_g), never in its kernel thread, which other Gs share;
	 * process-directed ones every thread blocks wait in sigroute.c. */
	uint64_t k = 0;
	raw_syscall(SYS_rt_sigpending, &k, sizeof k);
	uint64_t mine = atomic_load(&g->sig_pending) | sigroute_process_pending();
	return (mine | k) & g->sigmask;
}
