/* shim/thread_sched.c - scheduling policy, priority and CPU affinity of
 * gmpt's threads. Policy, priority and affinity are
 * accepted, checked as glibc and the kernel check them, recorded and
 * reported back, but without effect. A G runs on whichever
 * kernel thread runs it next, so neither a kernel priority nor a CPU mask
 * can follow it; gmpt's scheduler has no priorities (as Go's has none).
 * docs/compat.md says so. Threads gmpt did not create go to glibc. */
#include "shim/thread.h"
#include "sched/real.h"
#include "arch/syscall.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static bool policy_ok(int policy)
{
	return policy == SCHED_OTHER || policy == SCHED_BATCH || policy == SCHED_IDLE ||
	       policy == SCHED_FIFO || policy == SCHED_RR;
}

/* What sched_setscheduler would say: EINVAL for a priority out of the
 * policy's range, EPERM for a real-time priority the process may not use. */
int thread_sched_check(int policy, int prio)
{
	if (!policy_ok(policy))
		return EINVAL;
	if (prio < sched_get_priority_min(policy) || prio > sched_get_priority_max(policy))
		return EINVAL;
	if ((policy == SCHED_FIFO || policy == SCHED_RR) && geteuid() != 0) {
		struct rlimit rl;
		if (getrlimit(RLIMIT_RTPRIO, &rl) != 0 || rl.rlim_cur < (rlim_t)prio)
			return EPERM;
	}
	return 0;
}

typedef int (*setsched_fn)(pthread_t, int, const struct sched_param *);
typedef int (*getsched_fn)(pthread_t, int *, struct sched_param *);
typedef int (*setprio_fn)(pthread_t, int);
typedef int (*setaff_fn)(pthread_t, size_t, const cpu_set_t *);
typedef int (*getaff_fn)(pthread_t, size_t, cpu_set_t *);

EXPORT int pthread_setschedparam(pthread_t th, int policy, const struct sched_param *param)
{
	STEP_ASIDE_FORWARD(pthread_setschedparam, th, policy, param);
	struct thread *t = thread_from_handle(th);
	if (!t || !t->g)
		return REAL(setsched_fn, pthread_setschedparam)(thread_glibc_handle(t, th), policy,
								param);
	int err = thread_sched_check(policy, param->sched_priority);
	if (err)
		return err;
	t->sched_policy = policy;
	t->sched_priority = param->sched_priority;
	return 0;
}

EXPORT int pthread_getschedparam(pthread_t th, int *policy, struct sched_param *param)
{
	STEP_ASIDE_FORWARD(pthread_getschedparam, th, policy, param);
	struct thread *t = thread_from_handle(th);
	if (!t || !t->g)
		return REAL(getsched_fn, pthread_getschedparam)(thread_glibc_handle(t, th), policy,
								param);
	*policy = t->sched_policy;
	memset(param, 0, sizeof *param);
	param->sched_priority = t->sched_priority;
	return 0;
}

EXPORT int pthread_setschedprio(pthread_t th, int prio)
{
	STEP_ASIDE_FORWARD(pthread_setschedprio, th, prio);
	struct thread *t = thread_from_handle(th);
	if (!t || !t->g)
		return REAL(setprio_fn, pthread_setschedprio)(thread_glibc_handle(t, th), prio);
	int err = thread_sched_check(t->sched_policy, prio);
	if (err)
		return err;
	t->sched_priority = prio;
	return 0;
}

/* The calling kernel thread's mask, as glibc's sched_getaffinity gives
 * it (0, the rest of set zeroed) or an error number. Not through
 * sched_getaffinity, which is gmpt's for a G (thread_tid.c). */
static int kernel_affinity(size_t size, cpu_set_t *set)
{
	long r = raw_syscall(SYS_sched_getaffinity, 0, size < INT_MAX ? size : INT_MAX, set);
	if (r < 0)
		return (int)-r;
	memset((char *)set + r, 0, size - (size_t)r);
	return 0;
}

int thread_affinity_set(struct thread *t, size_t size, const cpu_set_t *set)
{
	/* The kernel's check: some CPU of the set must be one this process
	 * may run on. */
	cpu_set_t allowed;
	int err = kernel_affinity(sizeof allowed, &allowed);
	if (err)
		return err;
	bool any = false;
	for (size_t cpu = 0; cpu < size * 8 && cpu < CPU_SETSIZE; cpu++)
		any |= CPU_ISSET_S(cpu, size, set) && CPU_ISSET(cpu, &allowed);
	if (!any)
		return EINVAL;
	cpu_set_t *copy = malloc(size);
	if (!copy)
		return ENOMEM;
	memcpy(copy, set, size);
	free(t->affinity);
	t->affinity = copy;
	t->affinity_size = size;
	return 0;
}

int thread_affinity_get(struct thread *t, size_t size, cpu_set_t *set)
{
	/* The kernel's answer for this kernel thread gives glibc's errors
	 * for a buffer too small and the mask of a thread that set none. */
	int err = kernel_affinity(size, set);
	if (err)
		return err;
	if (t->affinity) {
		memset(set, 0, size);
		memcpy(set, t->affinity, size < t->affinity_size ? size : t->affinity_size);
	}
	return 0;
}

EXPORT int pthread_setaffinity_np(pthread_t th, size_t size, const cpu_set_t *set)
{
	STEP_ASIDE_FORWARD(pthread_setaffinity_np, th, size, set);
	struct thread *t = thread_from_handle(th);
	if (!t || !t->g)
		return REAL(setaff_fn, pthread_setaffinity_np)(thread_glibc_handle(t, th), size,
							       set);
	return thread_affinity_set(t, size, set);
}

EXPORT int pthread_getaffinity_np(pthread_t th, size_t size, cpu_set_t *set)
{
	STEP_ASIDE_FORWARD(pthread_getaffinity_np, th, size, set);
	struct thread *t = thread_from_handle(th);
	if (!t || !t->g)
		return REAL(getaff_fn, pthread_getaffinity_np)(thread_glibc_handle(t, th), size,
							       set);
	return thread_affinity_get(t, size, set);
}

/* A new thread's scheduling attributes: its creator's, or the attribute
 * object's when it says PTHREAD_EXPLICIT_SCHED; the attribute's affinity
 * if it has one (checked as pthread_setaffinity_np checks it). */
int thread_sched_inherit(struct thread *t, const struct thread *creator, const pthread_attr_t *attr)
{
	t->sched_policy = creator->sched_policy;
	t->sched_priority = creator->sched_priority;
	t->nice = creator->nice;
	t->nice_set = creator->nice_set;
	free(t->affinity);
	t->affinity = NULL;
	t->affinity_size = 0;
	if (!attr)
		return 0;
	int inherit = PTHREAD_INHERIT_SCHED;
	pthread_attr_getinheritsched(attr, &inherit);
	if (inherit == PTHREAD_EXPLICIT_SCHED) {
		int policy;
		struct sched_param p;
		pthread_attr_getschedpolicy(attr, &policy);
		pthread_attr_getschedparam(attr, &p);
		int err = thread_sched_check(policy, p.sched_priority);
		if (err)
			return err;
		t->sched_policy = policy;
		t->sched_priority = p.sched_priority;
	}
	cpu_set_t set;
	if (pthread_attr_getaffinity_np(attr, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0 &&
	    CPU_COUNT(&set) < CPU_SETSIZE) {
		t->affinity = malloc(sizeof set);
		if (!t->affinity)
			return ENOMEM;
		memcpy(t->affinity, &set, sizeof set);
		t->affinity_size = sizeof set;
	}
	return 0;
}
