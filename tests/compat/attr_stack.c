/* Thread attributes: stack size (a thread uses a large local array within
 * the size it asked for), a user-provided stack (the thread runs on it),
 * guard size, and the defaults a program can rely on. */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/resource.h>

#include "testutil.h"

/* Touch `bytes` of stack in a frame of its own and return a checksum. */
static __attribute__((noinline)) long use_stack(size_t bytes)
{
	char big[bytes];
	volatile char *p = big;
	for (size_t i = 0; i < bytes; i += 512)
		p[i] = (char)(i >> 9);
	long sum = 0;
	for (size_t i = 0; i < bytes; i += 512)
		sum += p[i];
	return sum;
}

static long expected_sum(size_t bytes)
{
	long sum = 0;
	for (size_t i = 0; i < bytes; i += 512)
		sum += (char)(i >> 9);
	return sum;
}

struct job {
	size_t bytes;
	long sum;
	char *lo, *hi; /* when set: a local variable must lie inside */
	int inside;
};

static void *stack_user(void *arg)
{
	struct job *j = arg;
	char here;
	j->inside = j->lo ? (&here >= j->lo && &here < j->hi) : 1;
	j->sum = use_stack(j->bytes);
	return NULL;
}

static void run(const char *what, pthread_attr_t *attr, struct job *j)
{
	pthread_t t;
	CHECK_OK(pthread_create(&t, attr, stack_user, j));
	CHECK_OK(pthread_join(t, NULL));
	CHECK_EQ(j->sum, expected_sum(j->bytes));
	CHECK(j->inside);
	printf("%s: used %zu KiB of stack\n", what, j->bytes / 1024);
}

int main(void)
{
	pthread_attr_t attr;
	size_t size, guard;
	void *addr;

	/* Default attributes: glibc's default stack size is RLIMIT_STACK
	 * rounded down to pages when the limit is finite and at least
	 * PTHREAD_STACK_MIN. The value itself is not printed: it depends on
	 * the environment. */
	CHECK_OK(pthread_attr_init(&attr));
	CHECK_OK(pthread_attr_getstacksize(&attr, &size));
	CHECK(size >= (size_t)PTHREAD_STACK_MIN);
	struct rlimit rl;
	CHECK(getrlimit(RLIMIT_STACK, &rl) == 0);
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= (rlim_t)PTHREAD_STACK_MIN)
		CHECK_EQ(size, rl.rlim_cur & ~(size_t)(sysconf(_SC_PAGESIZE) - 1));
	printf("default attr: stack size %s\n",
	       rl.rlim_cur == RLIM_INFINITY ? "set (unlimited rlimit)" : "matches RLIMIT_STACK");
	CHECK_OK(pthread_attr_getguardsize(&attr, &guard));
	CHECK_EQ(guard, sysconf(_SC_PAGESIZE));
	printf("default attr: guard size one page\n");

	struct job j = {.bytes = 1 << 20};
	run("default stack", NULL, &j);

	/* Explicit sizes. */
	CHECK_RC(pthread_attr_setstacksize(&attr, PTHREAD_STACK_MIN - 1), EINVAL);
	CHECK_OK(pthread_attr_setstacksize(&attr, 4 << 20));
	CHECK_OK(pthread_attr_getstacksize(&attr, &size));
	CHECK_EQ(size, 4 << 20);
	j = (struct job){.bytes = 3 << 20};
	run("4 MiB stack", &attr, &j);

	CHECK_OK(pthread_attr_setstacksize(&attr, 64 << 10));
	CHECK_OK(pthread_attr_getstacksize(&attr, &size));
	CHECK_EQ(size, 64 << 10);
	for (int i = 0; i < 50; i++) {
		j = (struct job){.bytes = 32 << 10};
		pthread_t t;
		CHECK_OK(pthread_create(&t, &attr, stack_user, &j));
		CHECK_OK(pthread_join(t, NULL));
		CHECK_EQ(j.sum, expected_sum(j.bytes));
	}
	printf("64 KiB stacks: 50 threads used 32 KiB each\n");

	CHECK_OK(pthread_attr_setguardsize(&attr, 3 * 4096));
	CHECK_OK(pthread_attr_getguardsize(&attr, &guard));
	CHECK_EQ(guard, 3 * 4096);
	CHECK_OK(pthread_attr_setguardsize(&attr, 0));
	CHECK_OK(pthread_attr_getguardsize(&attr, &guard));
	CHECK_EQ(guard, 0);
	j = (struct job){.bytes = 16 << 10};
	run("no guard page", &attr, &j);
	CHECK_OK(pthread_attr_destroy(&attr));

	/* A user-provided stack. */
	const size_t ssize = 2 << 20;
	void *stack;
	CHECK_OK(posix_memalign(&stack, 65536, ssize));
	CHECK_OK(pthread_attr_init(&attr));
	CHECK_OK(pthread_attr_setstack(&attr, stack, ssize));
	CHECK_OK(pthread_attr_getstack(&attr, &addr, &size));
	CHECK(addr == stack);
	CHECK_EQ(size, ssize);
	CHECK_OK(pthread_attr_getstacksize(&attr, &size));
	CHECK_EQ(size, ssize);
	for (int round = 0; round < 2; round++) {
		j = (struct job){.bytes = 1 << 20, .lo = stack, .hi = (char *)stack + ssize};
		run("user stack (thread ran on the buffer)", &attr, &j);
	}
	CHECK_OK(pthread_attr_destroy(&attr));
	free(stack);
	return 0;
}
