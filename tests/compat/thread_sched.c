/* Scheduling attributes of threads: pthread_setschedparam/getschedparam/
 * setschedprio and pthread_setaffinity_np/getaffinity_np on another
 * thread, with the errors glibc gives (EINVAL for a bad policy, a priority
 * out of range or a CPU set with no usable CPU); attributes given at
 * creation (PTHREAD_EXPLICIT_SCHED, an affinity); and
 * pthread_setattr_default_np's stack size used by pthread_create(NULL).
 * Real-time policies are tried only as root (both runs then agree). */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <unistd.h>

#include "testutil.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int go;

static void *waiter(void *arg)
{
	pthread_mutex_lock(&lock);
	while (!go)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	return arg;
}

static void *own_stack_size(void *arg)
{
	pthread_attr_t a;
	size_t size;
	void *addr;
	CHECK_OK(pthread_getattr_np(pthread_self(), &a));
	CHECK_OK(pthread_attr_getstack(&a, &addr, &size));
	CHECK_OK(pthread_attr_destroy(&a));
	*(size_t *)arg = size;
	return NULL;
}

int main(void)
{
	pthread_t t;
	CHECK_OK(pthread_create(&t, NULL, waiter, NULL));

	int policy;
	struct sched_param p;
	CHECK_OK(pthread_getschedparam(t, &policy, &p));
	CHECK_EQ(policy, SCHED_OTHER);
	CHECK_EQ(p.sched_priority, 0);
	p.sched_priority = 5;
	CHECK_RC(pthread_setschedparam(t, SCHED_OTHER, &p), EINVAL);
	CHECK_RC(pthread_setschedparam(t, 77, &p), EINVAL);
	CHECK_RC(pthread_setschedprio(t, 3), EINVAL);
	p.sched_priority = 0;
	CHECK_OK(pthread_setschedparam(t, SCHED_BATCH, &p));
	CHECK_OK(pthread_getschedparam(t, &policy, &p));
	CHECK_EQ(policy, SCHED_BATCH);
	if (geteuid() == 0) {
		p.sched_priority = 10;
		CHECK_OK(pthread_setschedparam(t, SCHED_FIFO, &p));
		CHECK_OK(pthread_setschedprio(t, 20));
		CHECK_OK(pthread_getschedparam(t, &policy, &p));
		CHECK_EQ(policy, SCHED_FIFO);
		CHECK_EQ(p.sched_priority, 20);
		CHECK_RC(pthread_setschedprio(t, 1000), EINVAL);
		p.sched_priority = 0;
		CHECK_OK(pthread_setschedparam(t, SCHED_OTHER, &p));
	}
	printf("sched params: set, read back, EINVAL where glibc gives it\n");

	cpu_set_t all, one, got;
	CHECK(sched_getaffinity(0, sizeof all, &all) == 0);
	int first = -1;
	for (int c = 0; c < CPU_SETSIZE && first < 0; c++)
		if (CPU_ISSET(c, &all))
			first = c;
	CHECK(first >= 0);
	CPU_ZERO(&one);
	CPU_SET(first, &one);
	CHECK_OK(pthread_getaffinity_np(t, sizeof got, &got));
	CHECK(CPU_EQUAL(&got, &all));
	CHECK_OK(pthread_setaffinity_np(t, sizeof one, &one));
	CHECK_OK(pthread_getaffinity_np(t, sizeof got, &got));
	CHECK(CPU_EQUAL(&got, &one));
	cpu_set_t none;
	CPU_ZERO(&none);
	CPU_SET(CPU_SETSIZE - 1, &none);
	CHECK_RC(pthread_setaffinity_np(t, sizeof none, &none), EINVAL);
	CHECK_RC(pthread_getaffinity_np(t, 1, &got), EINVAL);
	printf("affinity: set on another thread, read back, EINVAL for no usable CPU\n");

	pthread_mutex_lock(&lock);
	go = 1;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	CHECK_OK(pthread_join(t, NULL));

	/* At creation. */
	pthread_attr_t a;
	CHECK_OK(pthread_attr_init(&a));
	CHECK_OK(pthread_attr_setinheritsched(&a, PTHREAD_EXPLICIT_SCHED));
	int want_policy = geteuid() == 0 ? SCHED_RR : SCHED_OTHER;
	CHECK_OK(pthread_attr_setschedpolicy(&a, want_policy));
	p.sched_priority = want_policy == SCHED_RR ? 5 : 0;
	CHECK_OK(pthread_attr_setschedparam(&a, &p));
	CHECK_OK(pthread_attr_setaffinity_np(&a, sizeof one, &one));
	go = 0;
	CHECK_OK(pthread_create(&t, &a, waiter, NULL));
	CHECK_OK(pthread_getschedparam(t, &policy, &p));
	CHECK_EQ(policy, want_policy);
	CHECK_EQ(p.sched_priority, want_policy == SCHED_RR ? 5 : 0);
	CHECK_OK(pthread_getaffinity_np(t, sizeof got, &got));
	CHECK(CPU_EQUAL(&got, &one));
	pthread_mutex_lock(&lock);
	go = 1;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	CHECK_OK(pthread_join(t, NULL));
	CHECK_OK(pthread_attr_destroy(&a));
	printf("creation attributes: explicit policy and affinity\n");

	/* A priority-ceiling mutex: the ceiling is recorded and reported. */
	pthread_mutexattr_t ma;
	CHECK_OK(pthread_mutexattr_init(&ma));
	CHECK_OK(pthread_mutexattr_setprotocol(&ma, PTHREAD_PRIO_PROTECT));
	CHECK_OK(pthread_mutexattr_setprioceiling(&ma, 10));
	pthread_mutex_t pm, plain = PTHREAD_MUTEX_INITIALIZER;
	CHECK_OK(pthread_mutex_init(&pm, &ma));
	int ceiling = -1, oldc = -1;
	CHECK_OK(pthread_mutex_getprioceiling(&pm, &ceiling));
	CHECK_EQ(ceiling, 10);
	CHECK_OK(pthread_mutex_setprioceiling(&pm, 20, &oldc));
	CHECK_EQ(oldc, 10);
	CHECK_OK(pthread_mutex_getprioceiling(&pm, &ceiling));
	CHECK_EQ(ceiling, 20);
	CHECK_RC(pthread_mutex_setprioceiling(&pm, 1000, &oldc), EINVAL);
	CHECK_RC(pthread_mutex_getprioceiling(&plain, &ceiling), EINVAL);
	printf("priority ceilings: recorded and reported, EINVAL as glibc\n");

	/* The process default stack size. */
	CHECK_OK(pthread_attr_init(&a));
	CHECK_OK(pthread_attr_setstacksize(&a, 256 * 1024));
	CHECK_OK(pthread_setattr_default_np(&a));
	CHECK_OK(pthread_attr_destroy(&a));
	size_t size = 0;
	CHECK_OK(pthread_create(&t, NULL, own_stack_size, &size));
	CHECK_OK(pthread_join(t, NULL));
	CHECK(size >= 128 * 1024 && size <= 512 * 1024); /* not the 8 MiB default */
	printf("pthread_setattr_default_np: a NULL-attribute thread got the new stack size\n");
	return 0;
}
