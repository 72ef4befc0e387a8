/* syscalls/blocking.c - calls known to block for long: the P is handed
 * off before them (Go's entersyscallblock), not left for sysmon to take.
 * waitpid and friends, flock, the sigwait family, system(), and name
 * lookups (getaddrinfo and gethostby*, which may wait on DNS). Outside a G
 * the handoff is a no-op. */
#include "syscalls/io_common.h"
#include "sched/real.h"

#include <netdb.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define HANDED_OFF(expr)                                                                           \
	({                                                                                         \
		sched_enter_blocking_syscall();                                                    \
		__typeof__(expr) r_ = (expr);                                                      \
		sched_exit_blocking_syscall();                                                     \
		r_;                                                                                \
	})

/* The wait family and the sigwait family are cancellation points. */
EXPORT pid_t wait4(pid_t pid, int *status, int options, struct rusage *ru)
{
	STEP_ASIDE_FORWARD(wait4, pid, status, options, ru);
	if (options & WNOHANG) {
		sched_cancel_point();
		return (pid_t)sys_ret(raw_syscall(SYS_wait4, pid, status, options, ru));
	}
	return (pid_t)sys_ret(sys_cancelable_blocking(SYS_wait4, pid, status, options, ru));
}

EXPORT pid_t waitpid(pid_t pid, int *status, int options)
{
	STEP_ASIDE_FORWARD(waitpid, pid, status, options);
	return wait4(pid, status, options, NULL);
}

EXPORT pid_t wait(int *status)
{
	STEP_ASIDE_FORWARD(wait, status);
	return wait4(-1, status, 0, NULL);
}

EXPORT pid_t wait3(int *status, int options, struct rusage *ru)
{
	STEP_ASIDE_FORWARD(wait3, status, options, ru);
	return wait4(-1, status, options, ru);
}

EXPORT int waitid(idtype_t type, id_t id, siginfo_t *info, int options)
{
	STEP_ASIDE_FORWARD(waitid, type, id, info, options);
	if (options & WNOHANG) {
		sched_cancel_point();
		return (int)sys_ret(raw_syscall(SYS_waitid, type, id, info, options, NULL, 0));
	}
	return (int)sys_ret(sys_cancelable_blocking(SYS_waitid, type, id, info, options, NULL, 0));
}

EXPORT int flock(int fd, int op)
{
	STEP_ASIDE_FORWARD(flock, fd, op);
	if (op & LOCK_NB)
		return (int)sys_ret(raw_syscall(SYS_flock, fd, op));
	return (int)sys_ret(HANDED_OFF(raw_syscall(SYS_flock, fd, op)));
}

typedef int (*system_fn)(const char *);
typedef int (*getaddrinfo_fn)(const char *, const char *, const struct addrinfo *,
			      struct addrinfo **);
typedef struct hostent *(*gethostbyname_fn)(const char *);
typedef struct hostent *(*gethostbyname2_fn)(const char *, int);
typedef struct hostent *(*gethostbyaddr_fn)(const void *, socklen_t, int);
typedef int (*gethostbyname_r_fn)(const char *, struct hostent *, char *, size_t, struct hostent **,
				  int *);
typedef int (*gethostbyname2_r_fn)(const char *, int, struct hostent *, char *, size_t,
				   struct hostent **, int *);
typedef int (*gethostbyaddr_r_fn)(const void *, socklen_t, int, struct hostent *, char *, size_t,
				  struct hostent **, int *);

/* glibc's sigtimedwait: its own signals are never waited for, and the
 * call is a cancellation point (here the P is handed off too). A signal
 * sent to this thread (pthread_kill) waits in the G, not the kernel
 * thread: taken from there first, and one sent during the wait stops it
 * (EINTR with the signal pending in the G: take it and return it). */
static long sigtimedwait_raw(const sigset_t *set, siginfo_t *info, const struct timespec *t)
{
	sigset_t s = *set;
	sigdelset(&s, GLIBC_SIGCANCEL);
	sigdelset(&s, GLIBC_SIGSETXID);
	uint64_t bits = sched_sigset_bits(&s);
	sched_cancel_point();
	long r = 0;
	int sig = sched_sigwait_begin(bits, info);
	if (sig == 0) {
		r = sys_cancelable_blocking(SYS_rt_sigtimedwait, &s, info, t, _NSIG / 8);
		if (r == -EINTR) /* a handler ran, or a signal now pending in the G */
			sig = sched_sigwait_begin(bits, info);
	}
	if (sig > 0)
		r = sig;
	sched_sigwait_end();
	return r;
}

/* sigwait does not fail with EINTR: a handler that ran meanwhile (or a
 * poke of gmpt's) makes it wait again, as glibc's does. */
EXPORT int sigwait(const sigset_t *set, int *sig)
{
	STEP_ASIDE_FORWARD(sigwait, set, sig);
	siginfo_t si;
	long r;
	do
		r = sigtimedwait_raw(set, &si, NULL);
	while (r == -EINTR);
	if (r < 0)
		return (int)-r;
	*sig = si.si_signo;
	return 0;
}

EXPORT int sigwaitinfo(const sigset_t *set, siginfo_t *info)
{
	STEP_ASIDE_FORWARD(sigwaitinfo, set, info);
	return (int)sys_ret(sigtimedwait_raw(set, info, NULL));
}

EXPORT int sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *t)
{
	STEP_ASIDE_FORWARD(sigtimedwait, set, info, t);
	return (int)sys_ret(sigtimedwait_raw(set, info, t));
}

/* pause and sigsuspend wait in the kernel for a signal, with the P handed
 * off. Cancellation points: pthread_cancel pokes the kernel thread of a
 * thread blocked in one (sched_interrupt) with gmpt's preemption signal,
 * which makes the call fail with EINTR, and the thread acts on the way
 * out. A poke that came just before the call would be lost, so both run
 * as rt_sigsuspend with the poke blocked until the call unblocks it
 * atomically: one that came after the check below is delivered at once.
 *
 * On a G the wait's mask is the G's mask meanwhile (sched_sigsuspend_*),
 * so signals sent to the thread or routed to it from the process reach it
 * by that mask; they come as a poke, whose handler re-sends them to this
 * kernel thread, and run as the wait ends. As natively, the call returns
 * (EINTR) only once a program handler ran: a wait ended by gmpt's own
 * signal alone (a cancellation the thread does not act on) goes on. */
static long suspend_in_kernel(const sigset_t *kmask, uint64_t mask)
{
	long r = raw_syscall(SYS_rt_sigsuspend, kmask, _NSIG / 8);
	sched_suspend_settle(mask);
	return r;
}

static int suspend_until_signal(const sigset_t *wait_mask)
{
	sigset_t blocked, old;
	sigemptyset(&blocked);
	int poke = sched_poke_signal();
	if (poke > 0)
		sigaddset(&blocked, poke);
	sigset_t m = *wait_mask;
	if (poke > 0)
		sigdelset(&m, poke);
	uint64_t mask = sched_sigset_bits(wait_mask);
	bool on_g = sched_current() != NULL;
	sched_sig_handled_clear();
	for (;;) {
		/* A cancellation that came before the poke was blocked acts
		 * with the mask put back: unwinding with the poke blocked
		 * would leave it blocked in this kernel thread for every
		 * thread it runs later. */
		for (;;) {
			raw_syscall(SYS_rt_sigprocmask, SIG_BLOCK, &blocked, &old, _NSIG / 8);
			if (!sched_cancel_is_armed())
				break;
			raw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, _NSIG / 8);
			sched_cancel_act_armed();
		}
		if (!on_g) {
			long r = HANDED_OFF(raw_syscall(SYS_rt_sigsuspend, &m, _NSIG / 8));
			raw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, _NSIG / 8);
			sched_cancel_point();
			return (int)sys_ret(r);
		}
		bool ready;
		uint64_t prev = sched_sigsuspend_begin(mask, &ready);
		if (!ready)
			HANDED_OFF(suspend_in_kernel(&m, mask));
		/* Puts the G's mask back in this kernel thread (the poke
		 * unblocked again, as in old). */
		sched_sigsuspend_end(mask, prev);
		sched_cancel_point();
		if (sched_sig_handled_take()) {
			errno = EINTR;
			return -1;
		}
	}
}

EXPORT int pause(void)
{
	STEP_ASIDE_FORWARD(pause);
	sigset_t now;
	raw_syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &now, _NSIG / 8);
	if (sched_current()) {
		/* The G's own mask: the kernel thread's leaves gmpt's signals
		 * unblocked whatever the program set. */
		uint64_t bits = sched_sigmask_get();
		sigemptyset(&now);
		__builtin_memcpy(&now, &bits, sizeof bits);
	}
	return suspend_until_signal(&now);
}

EXPORT int sigsuspend(const sigset_t *mask)
{
	STEP_ASIDE_FORWARD(sigsuspend, mask);
	return suspend_until_signal(mask);
}

EXPORT int system(const char *cmd)
{
	STEP_ASIDE_FORWARD(system, cmd);
	return HANDED_OFF(REAL(system_fn, system)(cmd));
}

EXPORT int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		       struct addrinfo **res)
{
	STEP_ASIDE_FORWARD(getaddrinfo, node, service, hints, res);
	return HANDED_OFF(REAL(getaddrinfo_fn, getaddrinfo)(node, service, hints, res));
}

EXPORT struct hostent *gethostbyname(const char *name)
{
	STEP_ASIDE_FORWARD(gethostbyname, name);
	return HANDED_OFF(REAL(gethostbyname_fn, gethostbyname)(name));
}

EXPORT struct hostent *gethostbyname2(const char *name, int af)
{
	STEP_ASIDE_FORWARD(gethostbyname2, name, af);
	return HANDED_OFF(REAL(gethostbyname2_fn, gethostbyname2)(name, af));
}

EXPORT struct hostent *gethostbyaddr(const void *addr, socklen_t len, int type)
{
	STEP_ASIDE_FORWARD(gethostbyaddr, addr, len, type);
	return HANDED_OFF(REAL(gethostbyaddr_fn, gethostbyaddr)(addr, len, type));
}

EXPORT int gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t len,
			   struct hostent **result, int *herr)
{
	STEP_ASIDE_FORWARD(gethostbyname_r, name, ret, buf, len, result, herr);
	return HANDED_OFF(
	    REAL(gethostbyname_r_fn, gethostbyname_r)(name, ret, buf, len, result, herr));
}

EXPORT int gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf, size_t len,
			    struct hostent **result, int *herr)
{
	STEP_ASIDE_FORWARD(gethostbyname2_r, name, af, ret, buf, len, result, herr);
	return HANDED_OFF(
	    REAL(gethostbyname2_r_fn, gethostbyname2_r)(name, af, ret, buf, len, result, herr));
}

EXPORT int gethostbyaddr_r(const void *addr, socklen_t alen, int type, struct hostent *ret,
			   char *buf, size_t len, struct hostent **result, int *herr)
{
	STEP_ASIDE_FORWARD(gethostbyaddr_r, addr, alen, type, ret, buf, len, result, herr);
	return HANDED_OFF(REAL(gethostbyaddr_r_fn, gethostbyaddr_r)(addr, alen, type, ret, buf, len,
								    result, herr));
}
