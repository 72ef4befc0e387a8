/* sched/osthread.c - kernel threads for Ms.
 *
 * The program's pthread_create, pthread_self and pthread_getattr_np resolve
 * to the shim, so glibc's own are looked up past us (REAL). */
#include "arch/syscall.h"
#include "sched/header_gaps.h"
#include "sched/osthread.h"
#include "sched/real.h"
#include "sched/sched.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef int (*pthread_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
typedef pthread_t (*self_fn)(void);
typedef int (*getattr_fn)(pthread_t, pthread_attr_t *);

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

/* Signal stacks: gmpt's SIGSEGV handler must run when a G overflowed its
 * stack into the guard page, and the thread dump should not need the
 * interrupted G's stack. The kernel thread's, shared by every G it runs:
 * gmpt's handlers that use it never switch Gs. A guard page below catches
 * a handler that overflows it. */
#define ALTSTACK_SIZE (64 * 1024)

void *os_thread_sigaltstack(void)
{
	stack_t old;
	if (sigaltstack(NULL, &old) != 0 || !(old.ss_flags & SS_DISABLE))
		return NULL; /* one is set already (ASan's, or the program's): keep it */
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	/* What sysconf(_SC_MINSIGSTKSZ) (glibc 2.34) reports: the kernel's
	 * figure for this CPU's signal frame, MINSIGSTKSZ if it has none. */
	size_t min = (size_t)getauxval(AT_MINSIGSTKSZ);
	if (min < (size_t)MINSIGSTKSZ)
		min = (size_t)MINSIGSTKSZ;
	size_t size = ALTSTACK_SIZE + (min > page ? min : 0);
	size = (size + page - 1) & ~(page - 1);
	char *map = mmap(NULL, size + page, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (map == MAP_FAILED)
		return NULL;
	if (mprotect(map, page, PROT_NONE) != 0) {
		munmap(map, size + page);
		return NULL;
	}
	stack_t ss = {.ss_sp = map + page, .ss_size = size, .ss_flags = 0};
	if (sigaltstack(&ss, NULL) != 0) {
		munmap(map, size + page);
		return NULL;
	}
	return map;
}

static void sigaltstack_free(void *map)
{
	if (!map)
		return;
	stack_t ss = {.ss_flags = SS_DISABLE}, cur;
	sigaltstack(NULL, &cur);
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	if ((char *)cur.ss_sp != (char *)map + page)
		return; /* replaced since: not ours to take away */
	sigaltstack(&ss, NULL);
	munmap(map, cur.ss_size + page);
}

/* Kernel threads started here and not yet ended. Counted before the thread
 * exists and uncounted before it is gone, so a reader comparing it with the
 * kernel's list of threads may see a thread of ours as not ours, never the
 * other way round (checkdead.c relies on that). */
static _Atomic int alive;

int os_threads_alive(void)
{
	return atomic_load(&alive);
}

void os_threads_after_fork(void)
{
	atomic_store(&alive, 0);
}

static void *os_thread_start(void *p)
{
	struct os_start st = *(struct os_start *)p;
	free(p);
	void *altstack = os_thread_sigaltstack();
	set_sigmask(&st.mask, NULL);
	st.fn(st.arg);
	sigaltstack_free(altstack);
	atomic_fetch_sub(&alive, 1);
	return NULL;
}

int os_thread_create(void (*fn)(void *), void *arg)
{
	pthread_create_fn real = REAL(pthread_create_fn, pthread_create);
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
	/* The new kernel thread starts with every signal blocked (glibc's
	 * sigfillset leaves out its own two), so no handler runs on a
	 * half-made M. It keeps them blocked: an M takes the mask of each G it
	 * runs (sched/gsignal.c), and until the first, a signal sent to the
	 * process must go to a thread that asked for it, as natively. */
	sigset_t all, old;
	sigfillset(&all);
	set_sigmask(&all, &old);
	st->mask = all; /* st belongs to the new thread once it starts */
	pthread_t t;
	atomic_fetch_add(&alive, 1);
	int err = real(&t, &attr, os_thread_start, st);
	set_sigmask(&old, NULL);
	pthread_attr_destroy(&attr);
	if (err) {
		atomic_fetch_sub(&alive, 1);
		free(st);
	}
	return err;
}

/* The calling kernel thread's own stack, as glibc describes it. */
void os_thread_stack(void **lo, size_t *size)
{
	pthread_t self = REAL(self_fn, pthread_self)();
	pthread_attr_t attr;
	*lo = NULL;
	*size = 0;
	if (REAL(getattr_fn, pthread_getattr_np)(self, &attr) == 0) {
		pthread_attr_getstack(&attr, lo, size);
		pthread_attr_destroy(&attr);
	}
}
