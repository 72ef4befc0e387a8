/* What pthread_getattr_np and the default attributes report and do, as
 * glibc:
 *   - the stack size a thread was created with, exactly (PTHREAD_STACK_MIN,
 *     256 KiB, 4 MiB);
 *   - the top of that stack holds the room glibc's thread descriptor and
 *     static TLS take: the thread's own frames start at least 2 KiB below
 *     the reported top (sizeof (struct pthread) alone is more), so a
 *     small stack overflows at the depth it does natively;
 *   - the affinity in the attributes is pthread_getaffinity_np's, also
 *     for a thread created with an affinity attribute;
 *   - pthread_setattr_default_np's signal mask applies to threads made
 *     without attributes;
 *   - the main thread's size follows RLIMIT_STACK lowered at run time. */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>

#include "testutil.h"

static void *report_self(void *arg)
{
	(void)arg;
	char local;
	pthread_attr_t at;
	CHECK_OK(pthread_getattr_np(pthread_self(), &at));
	void *lo;
	size_t size;
	CHECK_OK(pthread_attr_getstack(&at, &lo, &size));
	uintptr_t top = (uintptr_t)lo + size;
	CHECK((uintptr_t)&local > (uintptr_t)lo && (uintptr_t)&local < top);
	printf("  size %zu, descriptor room at the top: %d\n", size,
	       top - (uintptr_t)&local >= 2048);
	cpu_set_t in_attr, actual;
	CPU_ZERO(&in_attr);
	CPU_ZERO(&actual);
	CHECK_OK(pthread_attr_getaffinity_np(&at, sizeof in_attr, &in_attr));
	CHECK_OK(pthread_getaffinity_np(pthread_self(), sizeof actual, &actual));
	printf("  affinity as pthread_getaffinity_np: %d\n", CPU_EQUAL(&in_attr, &actual));
	sigset_t mask;
	CHECK_OK(pthread_sigmask(SIG_SETMASK, NULL, &mask));
	printf("  SIGUSR1 blocked: %d\n", sigismember(&mask, SIGUSR1));
	CHECK_OK(pthread_attr_destroy(&at));
	return NULL;
}

static void run(const char *what, const pthread_attr_t *at)
{
	printf("%s\n", what);
	pthread_t t;
	CHECK_OK(pthread_create(&t, at, report_self, NULL));
	CHECK_OK(pthread_join(t, NULL));
}

int main(void)
{
	pthread_attr_t at;
	CHECK_OK(pthread_attr_init(&at));
	/* Smallest first: glibc may give a thread a cached stack up to four
	 * times the size asked for, and then reports that one's size. */
	CHECK_OK(pthread_attr_setstacksize(&at, PTHREAD_STACK_MIN));
	run("PTHREAD_STACK_MIN stack", &at);
	CHECK_OK(pthread_attr_setstacksize(&at, 256 << 10));
	run("256 KiB stack", &at);
	CHECK_OK(pthread_attr_setstacksize(&at, 4 << 20));
	run("4 MiB stack", &at);

	cpu_set_t one;
	CHECK_OK(pthread_getaffinity_np(pthread_self(), sizeof one, &one));
	int first = 0;
	while (!CPU_ISSET(first, &one))
		first++;
	CPU_ZERO(&one);
	CPU_SET(first, &one);
	CHECK_OK(pthread_attr_setaffinity_np(&at, sizeof one, &one));
	run("an affinity attribute", &at);
	CHECK_OK(pthread_attr_destroy(&at));

	/* Signal masks in attributes came with glibc 2.32 (and this macro). */
#ifdef PTHREAD_ATTR_NO_SIGMASK_NP
	pthread_attr_t dflt;
	CHECK_OK(pthread_attr_init(&dflt));
	sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	CHECK_OK(pthread_attr_setsigmask_np(&dflt, &usr1));
	CHECK_OK(pthread_setattr_default_np(&dflt));
	CHECK_OK(pthread_attr_destroy(&dflt));
	run("default attributes with a signal mask", NULL);
#endif

	/* The exact figure depends on where the environment ends in the top
	 * page (glibc subtracts that part), which differs between runs. */
	struct rlimit rl;
	CHECK(getrlimit(RLIMIT_STACK, &rl) == 0);
	rlim_t limit = 1 << 20;
	if (rl.rlim_cur < limit)
		limit = rl.rlim_cur;
	rl.rlim_cur = limit;
	CHECK(setrlimit(RLIMIT_STACK, &rl) == 0);
	CHECK_OK(pthread_getattr_np(pthread_self(), &at));
	size_t size;
	CHECK_OK(pthread_attr_getstacksize(&at, &size));
	CHECK_OK(pthread_attr_destroy(&at));
	printf("main: size within the lowered RLIMIT_STACK: %d\n",
	       size <= limit && size + (64 << 10) >= limit);
	return 0;
}
