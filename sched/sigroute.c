/* sched/sigroute.c - process-directed signals, taken by the thread Linux
 * would choose.
 *
 * A signal sent to the process (kill, alarm, setitimer, a POSIX timer,
 * SIGCHLD, another process's kill) goes, natively, to the main thread if
 * it does not block it, else to some thread that does not, else it stays
 * pending in the process until a thread unblocks it or sigwaits for it.
 * The kernel knows only kernel threads: it hands such a signal to whatever
 * M runs a G that leaves it unblocked, or to none when every G that would
 * take it is parked (an idle M blocks everything). So:
 *
 *  - every handler the program installs is wrapped (route_handler). A
 *    signal sent to the thread (sig_deliver's own re-send, raise, a fault)
 *    runs the program's handler where it lands. A process-directed one
 *    runs it only if the G running there is the one Linux would pick;
 *    otherwise the handler hands it to the router thread and returns;
 *  - the router, a kernel thread with no G, leaves unblocked the signals
 *    with a program handler and the default-action signals the main G does
 *    not block, so a process-directed signal always finds a thread: a
 *    default action (terminate, core, stop) then acts on the process as
 *    natively, and a handled one is routed: made pending in the chosen G
 *    with its siginfo (sig_send_info), which cuts the G's wait short as a
 *    pthread_kill does. With no G to take it, it waits in the process
 *    (process_pending) for a G to unblock it or sigwait for it.
 *
 * The router routes in ordinary context: a signal handler cannot take
 * gmpt's locks or ready a G (it may have interrupted this M inside the
 * scheduler). The handler only stores the siginfo, sets a bit and wakes
 * the router's futex, all async-signal-safe. Two instances of one signal
 * routed before the router runs merge into one (real-time signals too). */
#include "arch/syscall.h"
#include "sched/debug_signals.h"
#include "sched/osthread.h"
#include "sched/real.h"
#include "sched/runtime.h"
#include "sched/sched.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SIGBIT(sig) (1ULL << ((sig)-1))
#define NSIGS	    64

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);

struct g *sig_main_g;

/* The program's actions for the signals whose kernel action is
 * route_handler (caught). Written by sigaction, read by handlers: a
 * handler racing with a change of its own action may run either, as a
 * kernel delivery racing with sigaction would. */
static struct sigaction user_act[NSIGS + 1];
static _Atomic uint64_t caught;

/* Handed from handlers to the router. */
static _Atomic uint64_t route_pending;
static siginfo_t route_info[NSIGS + 1];
static _Atomic uint32_t route_word;
static _Atomic uint32_t mask_gen;

/* Handled signals no G would take: under proc_lock. */
static struct rtlock proc_lock;
static _Atomic uint64_t proc_pending;
static siginfo_t proc_info[NSIGS + 1];

static bool g_alive(struct g *g)
{
	uint32_t s = atomic_load_explicit(&g->status, memory_order_acquire);
	return s == G_RUNNABLE || s == G_RUNNING || s == G_WAITING;
}

/* The G Linux would give a process-directed sig to: the main thread if it
 * does not block it, else any that does not. A racy walk: a G that
 * changes its mask meanwhile may be chosen or passed over, as a thread
 * changing its mask while the kernel picks one would be. */
static struct g *route_target(int sig)
{
	struct g *mg = sig_main_g;
	if (mg && g_alive(mg) && !(mg->sigmask & SIGBIT(sig)))
		return mg;
	for (struct g *g = atomic_load(&sched.allg); g; g = g->allg_link)
		if (g_alive(g) && !(g->sigmask & SIGBIT(sig)))
			return g;
	return NULL;
}

/* With every G blocking sig: one waiting for it in sigwait takes it. */
static struct g *route_sigwaiter(int sig)
{
	for (struct g *g = atomic_load(&sched.allg); g; g = g->allg_link)
		if (g_alive(g) && (atomic_load(&g->sigwait_set) & SIGBIT(sig)))
			return g;
	return NULL;
}

static bool sig_is_fault(int sig)
{
	return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE ||
	       sig == SIGTRAP || sig == SIGSYS;
}

static void wake_router(void)
{
	atomic_fetch_add(&route_word, 1);
	futex_wake(&route_word, 1);
}

static void call_user(int sig, siginfo_t *si, void *uc)
{
	struct sigaction a = user_act[sig];
	if (a.sa_flags & SA_RESETHAND) {
		/* Emulated: the kernel's action is route_handler. */
		struct sigaction dfl;
		memset(&dfl, 0, sizeof dfl);
		dfl.sa_handler = SIG_DFL;
		atomic_fetch_and(&caught, ~SIGBIT(sig));
		user_act[sig] = dfl;
		REAL(sigaction_fn, sigaction)(sig, &dfl, NULL);
	}
	if (a.sa_flags & SA_SIGINFO)
		a.sa_sigaction(sig, si, uc);
	else if (a.sa_handler != SIG_IGN && a.sa_handler != SIG_DFL)
		a.sa_handler(sig);
}

static void route_handler(int sig, siginfo_t *si, void *uc)
{
	int saved_errno = errno;
	struct m *m = m_self();
	struct g *g = m ? m->curg : NULL;
	siginfo_t routed;
	bool here = false;
	if (g && (atomic_fetch_and(&g->sig_delivering, ~SIGBIT(sig)) & SIGBIT(sig))) {
		/* sig_deliver re-sent it to this G: give the handler the
		 * siginfo it was routed with. */
		if (g->sig_values && g->sig_values[sig].has_info) {
			routed = g->sig_values[sig].info;
			g->sig_values[sig].has_info = false;
			si = &routed;
		}
		here = true;
	} else if (g && (si->si_code == SI_TKILL || (sig_is_fault(sig) && si->si_code > 0))) {
		here = true; /* raise(), tgkill on this thread, a fault */
	} else if (g) {
		/* Without preemption (GMPT_PREEMPT=0) a routed signal could
		 * wait forever behind a G that never yields its P: the G that
		 * took it, which does not block it either, runs the handler. */
		here = route_target(sig) == g || (!sched.preempt_on && !(g->sigmask & SIGBIT(sig)));
	}
	if (here) {
		/* For the call the G waits in, as sig_deliver records it (a
		 * signal that came straight from the kernel, e.g. one that
		 * ends a sigsuspend, was not recorded there). */
		if (g)
			atomic_fetch_or(
			    &g->sig_handled,
			    SCHED_SIG_RAN |
				(user_act[sig].sa_flags & SA_RESTART ? 0 : SCHED_SIG_NORESTART));
		errno = saved_errno;
		call_user(sig, si, uc);
		return;
	}
	route_info[sig] = *si;
	atomic_fetch_or(&route_pending, SIGBIT(sig));
	wake_router();
	errno = saved_errno;
}

/* gmpt's own signals, which the program never routes. */
static bool gmpt_signal(int sig)
{
	return sig == GLIBC_SIGCANCEL || sig == GLIBC_SIGSETXID || sched_preempt_owns(sig) ||
	       sched_segv_owns(sig) || sched_dump_signal_owns(sig);
}

/* What the router leaves unblocked: every handled signal, and each
 * default action (not an ignore) that the main G does not block. */
static uint64_t router_unblocked(void)
{
	uint64_t keep = atomic_load(&caught);
	struct g *mg = sig_main_g;
	uint64_t main_mask = mg ? mg->sigmask : ~0ULL;
	for (int sig = 1; sig <= NSIGS; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP || gmpt_signal(sig) ||
		    (main_mask & SIGBIT(sig)) || (keep & SIGBIT(sig)))
			continue;
		if (sig_disposition(sig) == DISP_DEFAULT)
			keep |= SIGBIT(sig);
	}
	for (int sig = 1; sig <= NSIGS; sig++)
		if (gmpt_signal(sig))
			keep &= ~SIGBIT(sig);
	/* glibc's own: its set*id broadcast waits for every thread it
	 * created, this one too, to run its handler. */
	return keep | SIGBIT(GLIBC_SIGCANCEL) | SIGBIT(GLIBC_SIGSETXID);
}

static void route(int sig, const siginfo_t *si)
{
	if (sig_disposition(sig) == DISP_IGNORE)
		return;
	struct g *g = route_target(sig);
	if (!g)
		g = route_sigwaiter(sig);
	if (g) {
		sig_send_info(g, sig, si);
		return;
	}
	rtlock_lock(&proc_lock);
	proc_info[sig] = *si;
	atomic_fetch_or(&proc_pending, SIGBIT(sig));
	rtlock_unlock(&proc_lock);
}

bool sched_kill_self(int sig)
{
	if (sig < 1 || sig > NSIGS || gmpt_signal(sig) || !(atomic_load(&caught) & SIGBIT(sig)))
		return false;
	/* Routed here and now, as the kernel makes a signal pending in the
	 * thread it picks before kill returns: by the time another thread
	 * sees what the sender did next (released a lock), the signal is
	 * pending in the target, which runs the handler before it goes on.
	 * Through the kernel and the router it could come later. */
	siginfo_t si;
	memset(&si, 0, sizeof si);
	si.si_signo = sig;
	si.si_code = SI_USER;
	si.si_pid = getpid();
	si.si_uid = getuid();
	route(sig, &si);
	return true;
}

static void router_main(void *arg)
{
	(void)arg;
	uint32_t applied = 0;
	bool first = true;
	for (;;) {
		uint32_t seen = atomic_load(&route_word);
		uint32_t gen = atomic_load(&mask_gen);
		if (first || gen != applied) {
			uint64_t blocked = ~router_unblocked();
			raw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, &blocked, NULL,
				    sizeof blocked);
			applied = gen;
			first = false;
		}
		uint64_t p = atomic_exchange(&route_pending, 0);
		while (p) {
			int sig = __builtin_ctzll(p) + 1;
			p &= ~SIGBIT(sig);
			siginfo_t si = route_info[sig];
			route(sig, &si);
		}
		futex_wait(&route_word, seen, 0); /* EINTR: a signal came here */
	}
}

void sigroute_mask_changed(void)
{
	atomic_fetch_add(&mask_gen, 1);
	wake_router();
}

int sigroute_take_process(uint64_t set, siginfo_t *info)
{
	if (!(atomic_load(&proc_pending) & set))
		return 0;
	rtlock_lock(&proc_lock);
	uint64_t have = atomic_load(&proc_pending) & set;
	int sig = have ? __builtin_ctzll(have) + 1 : 0;
	if (sig) {
		atomic_fetch_and(&proc_pending, ~SIGBIT(sig));
		if (info)
			*info = proc_info[sig];
	}
	rtlock_unlock(&proc_lock);
	return sig;
}

uint64_t sigroute_process_pending(void)
{
	return atomic_load(&proc_pending);
}

bool sigroute_user_action(int sig, struct sigaction *act)
{
	if (sig < 1 || sig > NSIGS || !(atomic_load(&caught) & SIGBIT(sig)))
		return false;
	*act = user_act[sig];
	return true;
}

int sched_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	sigaction_fn real = REAL(sigaction_fn, sigaction);
	if (sig < 1 || sig > NSIGS || sig == SIGKILL || sig == SIGSTOP || gmpt_signal(sig))
		return real(sig, act, old);
	struct sigaction prev;
	if (real(sig, NULL, &prev) != 0)
		return -1;
	if (old) {
		if (!sigroute_user_action(sig, old))
			*old = prev;
	}
	if (!act)
		return 0;
	bool handler = (act->sa_flags & SA_SIGINFO) ||
		       (act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN);
	int r;
	if (!handler) {
		atomic_fetch_and(&caught, ~SIGBIT(sig));
		r = real(sig, act, NULL);
	} else {
		user_act[sig] = *act;
		atomic_fetch_or(&caught, SIGBIT(sig));
		struct sigaction k = *act;
		k.sa_sigaction = route_handler;
		k.sa_flags = (act->sa_flags | SA_SIGINFO) & ~SA_RESETHAND;
		r = real(sig, &k, NULL);
	}
	sigroute_mask_changed();
	return r;
}

void sigroute_init(void)
{
	int err = os_thread_create(router_main, NULL);
	if (err)
		sched_fatal("cannot create the signal thread (%s)", strerror(err));
}

/* fork's child: the router did not come along; g is the child's only G. */
void sigroute_after_fork(struct g *g)
{
	sig_main_g = g;
	memset(&proc_lock, 0, sizeof proc_lock);
	atomic_store(&route_pending, 0);
	atomic_store(&proc_pending, 0);
	sigroute_init();
}
