/* Two threads create detached threads with large stacks in a tight loop,
 * under an address-space limit, retrying whenever pthread_create fails
 * for want of memory (glibc's tst-create-detached pattern): the created
 * threads must get to run, exit and give their stacks back although the
 * creators never block or yield, natively because the kernel shares the
 * CPUs. Under GMPT_PROCS=1 a creator that is never preempted would
 * starve them for ever. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>

#include "testutil.h"

#define THREADS_TO_CREATE 3000
#define CREATORS	  2
#define STACK_SIZE	  (16u << 20)
#define ADDRESS_SPACE	  (800ul << 20)

static atomic_uint created;
static pthread_attr_t detached;
static pthread_barrier_t start;

static void *do_nothing(void *arg)
{
	return arg;
}

static void *creator(void *arg)
{
	pthread_barrier_wait(&start);
	for (;;) {
		pthread_t t;
		int err = pthread_create(&t, &detached, do_nothing, NULL);
		if (err != 0) {
			CHECK_EQ(err, EAGAIN);
			continue;
		}
		if (atomic_fetch_add(&created, 1) + 1 >= THREADS_TO_CREATE)
			return arg;
	}
}

int main(void)
{
	struct rlimit limit;
	CHECK(getrlimit(RLIMIT_AS, &limit) == 0);
	if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > ADDRESS_SPACE) {
		limit.rlim_cur = ADDRESS_SPACE;
		CHECK(setrlimit(RLIMIT_AS, &limit) == 0);
	}
	CHECK_OK(pthread_attr_init(&detached));
	CHECK_OK(pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED));
	CHECK_OK(pthread_attr_setstacksize(&detached, STACK_SIZE));
	CHECK_OK(pthread_barrier_init(&start, NULL, CREATORS));
	pthread_t t[CREATORS];
	for (int i = 0; i < CREATORS; i++)
		CHECK_OK(pthread_create(&t[i], NULL, creator, NULL));
	for (int i = 0; i < CREATORS; i++)
		CHECK_OK(pthread_join(t[i], NULL));
	printf("created %d threads\n",
	       atomic_load(&created) >= THREADS_TO_CREATE ? THREADS_TO_CREATE : -1);
	return 0;
}
