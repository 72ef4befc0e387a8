/* shim/thread_tid.c - the calls that name a thread by its id.
 *
 * gettid() gives each of gmpt's threads its own id (sched_g_tid: the
 * process id for the main thread, else one above any kernel task id), the
 * same wherever the thread runs. The calls that take such an id act on
 * that thread: tgkill/tkill signal its G (sched_signal, as pthread_kill),
 * sched_setaffinity/sched_getaffinity, sched_setscheduler and its family,
 * setpriority/getpriority(PRIO_PROCESS) read and write its record (the
 * values are recorded without effect, as pthread_setaffinity_np's are:
 * thread_sched.c). Id 0 is the calling thread. Kernel task ids (threads
 * gmpt did not create, other processes) go to the kernel unchanged, and
 * so does everything a thread that is not a G asks about itself.
 *
 * gmpt's own code that needs a kernel thread's id (sched/) makes the raw
 * system call; glibc keeps the kernel's id in each TCB, and its internal
 * uses of it (robust mutex lists, pthread_kill of threads gmpt did not
 * create) are unchanged. /proc/self/task has no entry for these ids. */
#include "shim/thread.h"
#include "sched/step_aside.h"
#include "arch/syscall.h"
#include "sched/real.h"
#include "syscalls/syscall_hook.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static long libc_ret(long r)
{
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

EXPORT pid_t gettid(void)
{
	STEP_ASIDE_FORWARD(gettid);
	struct g *g = sched_current();
	return g ? sched_g_tid(g) : (pid_t)raw_syscall(SYS_gettid);
}

enum target { TARGET_KERNEL, TARGET_THREAD, TARGET_GONE };

/* Whose record a call about tid is: one of gmpt's threads (*t), the
 * kernel's task, or an id of gmpt's whose thread has ended (ESRCH). */
static enum target tid_target(pid_t tid, struct thread **t)
{
	if (!sched_ready())
		return TARGET_KERNEL;
	struct g *g;
	if (tid == 0) {
		g = sched_current();
		if (!g)
			return TARGET_KERNEL; /* a thread that is not a G, about itself */
	} else if (sched_tid_is_ours(tid)) {
		g = sched_g_by_tid(tid);
		if (!g)
			return TARGET_GONE;
	} else {
		return TARGET_KERNEL;
	}
	*t = sched_g_ext(g);
	return TARGET_THREAD;
}

/* tgkill(pid, tid, sig) for one of gmpt's ids in this process: raw
 * result. glibc's own signals are refused, as pthread_kill refuses them
 * (the kernel would run glibc's handler on whatever G the M runs). */
static long signal_tid(pid_t tid, int sig)
{
	if (sig < 0 || sig >= _NSIG || sig == GLIBC_SIGCANCEL || sig == GLIBC_SIGSETXID)
		return -EINVAL;
	struct thread *t;
	if (tid <= 0 || tid_target(tid, &t) != TARGET_THREAD)
		return -ESRCH;
	if (sig == 0)
		return 0;
	return -sched_signal(t->g, sig, NULL);
}

static bool signals_ours(pid_t tgid, pid_t tid)
{
	return sched_ready() && tgid == sched_pid() && sched_tid_is_ours(tid);
}

EXPORT int tgkill(pid_t tgid, pid_t tid, int sig)
{
	STEP_ASIDE_FORWARD(tgkill, tgid, tid, sig);
	if (signals_ours(tgid, tid))
		return (int)libc_ret(signal_tid(tid, sig));
	return (int)libc_ret(raw_syscall(SYS_tgkill, tgid, tid, sig));
}

/* The raw sched_getaffinity: the bytes written. */
static long getaffinity_raw(pid_t pid, size_t size, cpu_set_t *set)
{
	struct thread *t;
	switch (tid_target(pid, &t)) {
	case TARGET_GONE:
		return -ESRCH;
	case TARGET_THREAD: {
		long n = raw_syscall(SYS_sched_getaffinity, 0, size, set);
		if (n < 0)
			return n;
		int err = thread_affinity_get(t, (size_t)n, set);
		return err ? -err : n;
	}
	default:
		return raw_syscall(SYS_sched_getaffinity, pid, size, set);
	}
}

static long setaffinity_raw(pid_t pid, size_t size, const cpu_set_t *set)
{
	struct thread *t;
	switch (tid_target(pid, &t)) {
	case TARGET_GONE:
		return -ESRCH;
	case TARGET_THREAD:
		return -thread_affinity_set(t, size, set);
	default:
		return raw_syscall(SYS_sched_setaffinity, pid, size, set);
	}
}

EXPORT int sched_getaffinity(pid_t pid, size_t size, cpu_set_t *set)
{
	STEP_ASIDE_FORWARD(sched_getaffinity, pid, size, set);
	long n = getaffinity_raw(pid, size < INT_MAX ? size : INT_MAX, set);
	if (n < 0)
		return (int)libc_ret(n);
	/* glibc's: the rest of the caller's set is cleared. */
	memset((char *)set + n, 0, size - (size_t)n);
	return 0;
}

EXPORT int sched_setaffinity(pid_t pid, size_t size, const cpu_set_t *set)
{
	STEP_ASIDE_FORWARD(sched_setaffinity, pid, size, set);
	return (int)libc_ret(setaffinity_raw(pid, size, set));
}

typedef int (*setscheduler_fn)(pid_t, int, const struct sched_param *);
typedef int (*getscheduler_fn)(pid_t);
typedef int (*param_fn)(pid_t, struct sched_param *);
typedef int (*setparam_fn)(pid_t, const struct sched_param *);

EXPORT int sched_setscheduler(pid_t pid, int policy, const struct sched_param *param)
{
	STEP_ASIDE_FORWARD(sched_setscheduler, pid, policy, param);
	struct thread *t;
	switch (tid_target(pid, &t)) {
	case TARGET_GONE:
		return (int)libc_ret(-ESRCH);
	case TARGET_THREAD: {
		if (!param)
			return (int)libc_ret(-EINVAL);
		int p = policy & ~SCHED_RESET_ON_FORK;
		int err = thread_sched_check(p, param->sched_priority);
		if (err)
			return (int)libc_ret(-err);
		t->sched_policy = p;
		t->sched_priority = param->sched_priority;
		return 0;
	}
	default:
		return REAL(setscheduler_fn, sched_setscheduler)(pid, policy, param);
	}
}

EXPORT int sched_getscheduler(pid_t pid)
{
	STEP_ASIDE_FORWARD(sched_getscheduler, pid);
	struct thread *t;
	switch (tid_target(pid, &t)) {
	case TARGET_GONE:
		return (int)libc_ret(-ESRCH);
	case TARGET_THREAD:
		return t->sched_policy;
	default:
		return REAL(getscheduler_fn, sched_getscheduler)(pid);
	}
}

EXPORT int sched_setparam(pid_t pid, const struct sched_param *param)
{
	STEP_ASIDE_FORWARD(sched_setparam, pid, param);
	struct thread *t;
	switch (tid_target(pid, &t)) {
	case TARGET_GONE:
		return (int)libc_ret(-ESRCH);
	case TARGET_THREAD: {
		if (!param)
			return (int)libc_ret(-EINVAL);
		int err = thread_sched_check(t->sched_policy, param->sched_priority);
		if (err)
			return (int)libc_ret(-err);
		t->sched_priority = param->sched_priority;
		return 0;
	}
	default:
		return REAL(setparam_fn, sched_setparam)(pid, param);
	}
}

EXPORT int sched_getparam(pid_t pid, struct sched_param *param)
{
	STEP_ASIDE_FORWARD(sched_getparam, pid, param);
	struct thread *t;
	switch (tid_target(pid, &t)) {
	case TARGET_GONE:
		return (int)libc_ret(-ESRCH);
	case TARGET_THREAD:
		if (!param)
			return (int)libc_ret(-EINVAL);
		memset(param, 0, sizeof *param);
		param->sched_priority = t->sched_priority;
		return 0;
	default:
		return REAL(param_fn, sched_getparam)(pid, param);
	}
}

/* A thread's nice value: the one set for it, else its kernel thread's
 * (every M starts with the process's). */
static int nice_of(struct thread *t)
{
	if (t->nice_set)
		return t->nice;
	long r = raw_syscall(SYS_getpriority, PRIO_PROCESS, 0);
	return r < 0 ? 0 : 20 - (int)r;
}

typedef int (*getprio_fn)(__priority_which_t, id_t);
typedef int (*setprio_fn)(__priority_which_t, id_t, int);

EXPORT int getpriority(__priority_which_t which, id_t who)
{
	STEP_ASIDE_FORWARD(getpriority, which, who);
	struct thread *t;
	if (which == PRIO_PROCESS) {
		switch (tid_target((pid_t)who, &t)) {
		case TARGET_GONE:
			return (int)libc_ret(-ESRCH);
		case TARGET_THREAD:
			return nice_of(t);
		default:
			break;
		}
	}
	return REAL(getprio_fn, getpriority)(which, who);
}

EXPORT int setpriority(__priority_which_t which, id_t who, int prio)
{
	STEP_ASIDE_FORWARD(setpriority, which, who, prio);
	struct thread *t;
	if (which == PRIO_PROCESS) {
		switch (tid_target((pid_t)who, &t)) {
		case TARGET_GONE:
			return (int)libc_ret(-ESRCH);
		case TARGET_THREAD: {
			int nice = prio < -20 ? -20 : prio > 19 ? 19 : prio;
			/* The kernel's rule: lowering the nice value needs
			 * privilege or RLIMIT_NICE's leave. */
			struct rlimit rl;
			if (nice < nice_of(t) && geteuid() != 0 &&
			    (getrlimit(RLIMIT_NICE, &rl) != 0 || (rlim_t)(20 - nice) > rl.rlim_cur))
				return (int)libc_ret(-EACCES);
			t->nice = nice;
			t->nice_set = true;
			return 0;
		}
		default:
			break;
		}
	}
	return REAL(setprio_fn, setpriority)(which, who, prio);
}

/* syscall(2)'s forms of the calls above. */
static bool thread_syscall(long nr, const long a[6], long *r)
{
	switch (nr) {
	case SYS_gettid:
		if (!sched_current())
			return false;
		*r = gettid();
		return true;
	case SYS_tgkill:
		if (!signals_ours((pid_t)a[0], (pid_t)a[1]))
			return false;
		*r = signal_tid((pid_t)a[1], (int)a[2]);
		return true;
	case SYS_tkill:
		if (!signals_ours(sched_pid(), (pid_t)a[0]))
			return false;
		*r = signal_tid((pid_t)a[0], (int)a[1]);
		return true;
	case SYS_set_tid_address: {
		/* The caller's id, gmpt's like gettid's; the address is the
		 * thread's, not its kernel thread's (which other threads share
		 * and which outlives it): cleared when the thread ends. */
		if (!sched_current())
			return false;
		struct thread *self = thread_self();
		self->clear_tid = (int *)a[0];
		*r = gettid();
		return true;
	}
	case SYS_sched_getaffinity:
		*r = getaffinity_raw((pid_t)a[0], (size_t)a[1], (cpu_set_t *)a[2]);
		return true;
	case SYS_sched_setaffinity:
		*r = setaffinity_raw((pid_t)a[0], (size_t)a[1], (const cpu_set_t *)a[2]);
		return true;
	default:
		return false;
	}
}

void thread_tid_init(void)
{
	syscall_set_thread_hook(thread_syscall);
}

/* prctl(PR_GET_TID_ADDRESS) on a thread gmpt runs: the address its
 * set_tid_address recorded (see thread_syscall), not its kernel
 * thread's. */
typedef int (*prctl_fn)(int, unsigned long, unsigned long, unsigned long, unsigned long);

EXPORT int prctl(int option, ...)
{
	va_list ap;
	va_start(ap, option);
	unsigned long a2 = va_arg(ap, unsigned long), a3 = va_arg(ap, unsigned long),
		      a4 = va_arg(ap, unsigned long), a5 = va_arg(ap, unsigned long);
	va_end(ap);
	STEP_ASIDE_FORWARD(prctl, option, a2, a3, a4, a5);
	if (option == PR_GET_TID_ADDRESS && sched_current()) {
		struct thread *self = thread_self();
		if (!self->clear_tid) {
			self->tid_word = gettid();
			self->clear_tid = &self->tid_word;
		}
		*(int **)a2 = self->clear_tid;
		return 0;
	}
	return REAL(prctl_fn, prctl)(option, a2, a3, a4, a5);
}
