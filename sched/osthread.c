/* sched/osthread.c - kernel threads for Ms.
 *
 * The program's pthread_create resolves to the shim, so the real one is
 * looked up past us in the lookup order (RTLD_NEXT), once. */
#include "arch/syscall.h"
#include "sched/osthread.h"
#include "sched/sched.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef int (*pthread_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

struct os_start {
	void (*fn)(void *);
	void *arg;
	sigset_t mask;
};

/* Raw system call: the shim may interpose the libc signal-mask calls. */
static void set_sigmask(const sigset_t *set, sigset_t *old)
{
	raw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, set, old, _NSIG / 8);
}

static void *os_thread_start(void *p)
{
	struct os_start st = *(struct os_start *)p;
	free(p);
	set_sigmask(&st.mask, NULL);
	st.fn(st.arg);
	return NULL;
}

int os_thread_create(void (*fn)(void *), void *arg)
{
	static pthread_create_fn real;
	if (!real) {
		/* Benign race: every thread stores the same pointer. */
		real = (pthread_create_fn)dlsym(RTLD_NEXT, "pthread_create");
		if (!real)
			sched_fatal("cannot find glibc's pthread_create: %s", dlerror());
	}
	struct os_start *st = malloc(sizeof *st);
	if (!st)
		return ENOMEM;
	st->fn = fn;
	st->arg = arg;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* An M's own stack is its scheduler stack (g0): it runs findrunnable
	 * and, for the last thread of a process, exit handlers. */
	pthread_attr_setstacksize(&attr, 1 << 20);
	/* The new kernel thread starts with every signal blocked, so no
	 * handler runs on a half-made M, then takes the creator's mask. */
	sigset_t all, old;
	sigfillset(&all);
	set_sigmask(&all, &old);
	st->mask = old; /* st belongs to the new thread once it starts */
	pthread_t t;
	int err = real(&t, &attr, os_thread_start, st);
	set_sigmask(&old, NULL);
	pthread_attr_destroy(&attr);
	if (err)
		free(st);
	return err;
}

/* The calling kernel thread's own stack, as glibc describes it. */
void os_thread_stack(void **lo, size_t *size)
{
	pthread_t (*real_self)(void) = (pthread_t(*)(void))dlsym(RTLD_NEXT, "pthread_self");
	pthread_attr_t attr;
	*lo = NULL;
	*size = 0;
	if (real_self && pthread_getattr_np(real_self(), &attr) == 0) {
		pthread_attr_getstack(&attr, lo, size);
		pthread_attr_destroy(&attr);
	}
}
