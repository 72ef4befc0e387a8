/* shim/thread_signal.c - signals to and masks of single threads.
 *
 * A G is not a kernel thread, so glibc's pthread_kill/pthread_sigqueue
 * (which signal a kernel tid) and pthread_sigmask (which sets the kernel
 * thread's mask, shared by every G its M runs) cannot be used on one.
 * sched/gsignal.c keeps a mask and pending signals per G; these are the
 * calls, with glibc's checks and error codes, and raise and sigpending,
 * which glibc makes on the kernel thread. Threads gmpt did not create go
 * to glibc. */
#include "shim/thread.h"
#include "sched/real.h"
#include "sched/sched.h"

#include <errno.h>
#include <signal.h>
#include <gnu/libc-version.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* glibc refuses its internal signals as it refuses invalid ones. */
static bool signal_number_ok(int sig)
{
	return sig >= 0 && sig < _NSIG && sig != GLIBC_SIGCANCEL && sig != GLIBC_SIGSETXID;
}

/* What pthread_kill returns for a thread that has exited but is not
 * joined yet: glibc 2.34 on drops the signal and returns 0 (its
 * pthread_kill@@GLIBC_2.34), glibc before 2.34 returns ESRCH, and so does
 * 2.34's pthread_kill@GLIBC_2.2.5, which programs linked against an older
 * glibc call (pthread_kill_esrch below). */
static int exited_kill_result(void)
{
	static _Atomic int result = -1; /* benign race: every thread computes the same */
	int r = atomic_load_explicit(&result, memory_order_relaxed);
	if (r < 0) {
		int major = 0, minor = 0;
		sscanf(gnu_get_libc_version(), "%d.%d", &major, &minor);
		r = major == 2 && minor < 34 ? ESRCH : 0;
		atomic_store_explicit(&result, r, memory_order_relaxed);
	}
	return r;
}

/* 0: deliver to t's G; -1: return 0 without delivering; otherwise the
 * error to return. */
static int target_state(struct thread *t, int sig)
{
	if (!signal_number_ok(sig))
		return EINVAL;
	if (atomic_load(&t->join) == JOIN_EXITED) {
		int r = exited_kill_result();
		return r ? r : -1;
	}
	if (sig == 0)
		return -1;
	return 0;
}

typedef int (*kill_fn)(pthread_t, int);
typedef int (*sigqueue_fn)(pthread_t, int, const union sigval);

static int kill_thread(pthread_t th, int sig, bool esrch_if_exited)
{
	struct thread *t = thread_from_handle(th);
	if (!t || !t->g)
		return REAL(kill_fn, pthread_kill)(thread_glibc_handle(t, th), sig);
	int st = target_state(t, sig);
	if (st == -1 && esrch_if_exited && atomic_load(&t->join) == JOIN_EXITED)
		return ESRCH;
	if (st)
		return st < 0 ? 0 : st;
	return sched_signal(t->g, sig, NULL);
}

/* Two versions, as glibc 2.34 on has them (shim/glibc_versions.map): the
 * default, and the one programs linked against an older glibc bound to. */
__asm__(".symver pthread_kill_current, pthread_kill@@GLIBC_2.34, remove");
__asm__(".symver pthread_kill_esrch, pthread_kill@GLIBC_2.2.5, remove");

EXPORT int pthread_kill_current(pthread_t th, int sig)
{
	STEP_ASIDE_FORWARD(pthread_kill, th, sig);
	return kill_thread(th, sig, false);
}

EXPORT int pthread_kill_esrch(pthread_t th, int sig)
{
	STEP_ASIDE_FORWARD(pthread_kill, th, sig);
	return kill_thread(th, sig, true);
}

EXPORT int pthread_sigqueue(pthread_t th, int sig, const union sigval value)
{
	STEP_ASIDE_FORWARD(pthread_sigqueue, th, sig, value);
	struct thread *t = thread_from_handle(th);
	if (!t || !t->g)
		return REAL(sigqueue_fn, pthread_sigqueue)(thread_glibc_handle(t, th), sig, value);
	int st = target_state(t, sig);
	if (st)
		return st < 0 ? 0 : st;
	return sched_signal(t->g, sig, &value);
}

typedef int (*sigmask_fn)(int, const sigset_t *, sigset_t *);

EXPORT int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	STEP_ASIDE_FORWARD(pthread_sigmask, how, set, old);
	if (!sched_current())
		return REAL(sigmask_fn, pthread_sigmask)(how, set, old);
	uint64_t cur = sched_sigmask_get(), want = cur;
	if (set) {
		uint64_t s = sched_sigset_bits(set);
		/* What the kernel never blocks, and glibc's own signals. */
		s &= ~((1ULL << (SIGKILL - 1)) | (1ULL << (SIGSTOP - 1)) |
		       (1ULL << (GLIBC_SIGCANCEL - 1)) | (1ULL << (GLIBC_SIGSETXID - 1)));
		switch (how) {
		case SIG_BLOCK:
			want = cur | s;
			break;
		case SIG_UNBLOCK:
			want = cur & ~s;
			break;
		case SIG_SETMASK:
			want = s;
			break;
		default:
			return EINVAL;
		}
	}
	if (old) {
		sigemptyset(old);
		memcpy(old, &cur, sizeof cur);
	}
	if (set)
		sched_sigmask_set(want);
	return 0;
}

EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	STEP_ASIDE_FORWARD(sigprocmask, how, set, old);
	int err = pthread_sigmask(how, set, old);
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

/* raise sends the signal to the calling thread, not to its kernel thread
 * (glibc's tgkills the tid in the TCB, which is its M's): a blocked one
 * waits in the G for it to unblock; an unblocked one's handler has run
 * when raise returns, as natively. */
typedef int (*raise_fn)(int);

EXPORT int raise(int sig)
{
	STEP_ASIDE_FORWARD(raise, sig);
	struct g *g = sched_current();
	if (!g)
		return REAL(raise_fn, raise)(sig);
	if (!signal_number_ok(sig)) {
		errno = EINVAL;
		return -1;
	}
	if (sig == 0)
		return 0;
	int err = sched_signal(g, sig, NULL);
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

EXPORT int gsignal(int sig)
{
	STEP_ASIDE_FORWARD(gsignal, sig);
	return raise(sig);
}

typedef int (*sigpending_fn)(sigset_t *);

EXPORT int sigpending(sigset_t *set)
{
	STEP_ASIDE_FORWARD(sigpending, set);
	if (!sched_current())
		return REAL(sigpending_fn, sigpending)(set);
	uint64_t bits = sched_sigpending();
	sigemptyset(set);
	memcpy(set, &bits, sizeof bits);
	return 0;
}

/* kill of the own process: see sched_kill_self. */
typedef int (*kill_pid_fn)(pid_t, int);

EXPORT int kill(pid_t pid, int sig)
{
	STEP_ASIDE_FORWARD(kill, pid, sig);
	if (pid > 0 && pid == getpid() && sched_current() && sched_kill_self(sig))
		return 0;
	return REAL(kill_pid_fn, kill)(pid, sig);
}
