/* Robust (error-checking) mutexes between threads: a thread that ends holding one (by
 * returning, by pthread_exit, by cancellation) leaves it to the next
 * locker with EOWNERDEAD, also to one already waiting; made consistent it
 * works again, unlocked without that it is ENOTRECOVERABLE for good.
 * Errors as glibc gives them: EPERM unlocking another thread's, EDEADLK
 * relocking one's own, EINVAL for pthread_mutex_consistent on a
 * consistent mutex. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "testutil.h"

static pthread_mutex_t m;
static atomic_int locked;

static void *die_holding(void *arg)
{
	CHECK_OK(pthread_mutex_lock(&m));
	atomic_store(&locked, 1);
	int how = (int)(long)arg;
	if (how == 1)
		pthread_exit(NULL);
	if (how == 2)
		for (;;)
			pause(); /* cancelled here */
	if (how == 3)
		usleep(20000); /* a waiter queues meanwhile */
	return NULL;
}

static void *unlock_other(void *arg)
{
	(void)arg;
	CHECK_RC(pthread_mutex_unlock(&m), EPERM);
	return NULL;
}

static void init_robust(void)
{
	pthread_mutexattr_t a;
	CHECK_OK(pthread_mutexattr_init(&a));
	CHECK_OK(pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST));
	CHECK_OK(pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK));
	CHECK_OK(pthread_mutex_init(&m, &a));
	CHECK_OK(pthread_mutexattr_destroy(&a));
}

static void owner_dies(long how)
{
	atomic_store(&locked, 0);
	pthread_t t;
	CHECK_OK(pthread_create(&t, NULL, die_holding, (void *)how));
	while (!atomic_load(&locked))
		usleep(200);
	if (how == 2)
		CHECK_OK(pthread_cancel(t));
	if (how != 3)
		CHECK_OK(pthread_join(t, NULL));
	CHECK_RC(pthread_mutex_lock(&m), EOWNERDEAD); /* how 3: waits for it */
	if (how == 3)
		CHECK_OK(pthread_join(t, NULL));
}

int main(void)
{
	init_robust();
	CHECK_OK(pthread_mutex_lock(&m));
	CHECK_RC(pthread_mutex_lock(&m), EDEADLK);
	pthread_t t;
	CHECK_OK(pthread_create(&t, NULL, unlock_other, NULL));
	CHECK_OK(pthread_join(t, NULL));
	CHECK_RC(pthread_mutex_consistent(&m), EINVAL);
	CHECK_OK(pthread_mutex_unlock(&m));
	printf("robust: EDEADLK, EPERM, EINVAL as glibc\n");

	const char *ways[] = {"returning", "pthread_exit", "cancellation", "while another waited"};
	for (long how = 0; how < 4; how++) {
		owner_dies(how);
		CHECK_OK(pthread_mutex_consistent(&m));
		CHECK_OK(pthread_mutex_unlock(&m));
		CHECK_OK(pthread_mutex_lock(&m));
		CHECK_OK(pthread_mutex_unlock(&m));
		printf("owner died %s: EOWNERDEAD, consistent again\n", ways[how]);
	}

	owner_dies(0);
	CHECK_OK(pthread_mutex_unlock(&m)); /* without consistent */
	CHECK_RC(pthread_mutex_lock(&m), ENOTRECOVERABLE);
	CHECK_RC(pthread_mutex_trylock(&m), ENOTRECOVERABLE);
	printf("unlocked inconsistent: ENOTRECOVERABLE\n");
	return 0;
}
