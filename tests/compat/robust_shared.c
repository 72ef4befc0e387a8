/* Robust mutexes shared between processes, in shared memory: a child
 * process that exits holding one, and one killed by SIGKILL while a thread
 * of the parent sleeps waiting for it; a thread of this process that ends
 * holding one. The next locker gets EOWNERDEAD, makes it consistent and
 * goes on; a mutex unlocked without pthread_mutex_consistent becomes
 * ENOTRECOVERABLE; errorcheck semantics (EDEADLK, EPERM) hold across the
 * two processes. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

struct shared {
	pthread_mutex_t mu[3];
	atomic_int child_locked;
};
static struct shared *sh;

static void init_mutex(pthread_mutex_t *m, int type)
{
	pthread_mutexattr_t a;
	CHECK_OK(pthread_mutexattr_init(&a));
	CHECK_OK(pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED));
	CHECK_OK(pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST));
	CHECK_OK(pthread_mutexattr_settype(&a, type));
	CHECK_OK(pthread_mutex_init(m, &a));
	CHECK_OK(pthread_mutexattr_destroy(&a));
}

static void *lock_and_end(void *arg)
{
	CHECK_OK(pthread_mutex_lock((pthread_mutex_t *)arg));
	return NULL; /* ends holding it */
}

static void *lock_waiting(void *arg)
{
	return (void *)(intptr_t)pthread_mutex_lock((pthread_mutex_t *)arg);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(sh != MAP_FAILED);
	init_mutex(&sh->mu[0], PTHREAD_MUTEX_ERRORCHECK);
	init_mutex(&sh->mu[1], PTHREAD_MUTEX_NORMAL);
	init_mutex(&sh->mu[2], PTHREAD_MUTEX_NORMAL);

	/* 1. A child locks and exits holding it. */
	pid_t c = fork();
	CHECK(c >= 0);
	if (c == 0) {
		if (pthread_mutex_lock(&sh->mu[0]) != 0)
			_exit(2);
		if (pthread_mutex_lock(&sh->mu[0]) != EDEADLK)
			_exit(3);
		_exit(0);
	}
	int st;
	CHECK_EQ(waitpid(c, &st, 0), c);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK_EQ(pthread_mutex_unlock(&sh->mu[0]), EPERM); /* not ours */
	CHECK_EQ(pthread_mutex_lock(&sh->mu[0]), EOWNERDEAD);
	CHECK_OK(pthread_mutex_consistent(&sh->mu[0]));
	CHECK_OK(pthread_mutex_unlock(&sh->mu[0]));
	CHECK_OK(pthread_mutex_lock(&sh->mu[0]));
	CHECK_OK(pthread_mutex_unlock(&sh->mu[0]));
	printf("child exited holding it: EOWNERDEAD, consistent, usable again\n");

	/* 2. A child holds it; a thread here waits; the child is killed. */
	c = fork();
	CHECK(c >= 0);
	if (c == 0) {
		pthread_mutex_lock(&sh->mu[1]);
		atomic_store(&sh->child_locked, 1);
		for (;;)
			pause();
	}
	while (!atomic_load(&sh->child_locked))
		usleep(1000);
	CHECK_EQ(pthread_mutex_trylock(&sh->mu[1]), EBUSY);
	pthread_t t;
	CHECK_OK(pthread_create(&t, NULL, lock_waiting, &sh->mu[1]));
	usleep(50000); /* let it sleep in the lock */
	CHECK_OK(kill(c, SIGKILL));
	CHECK_EQ(waitpid(c, &st, 0), c);
	void *res;
	CHECK_OK(pthread_join(t, &res));
	CHECK_EQ((intptr_t)res, EOWNERDEAD);
	/* The waiter ended holding it, inconsistent: this thread gets
	 * EOWNERDEAD again; unlocking without consistent breaks it. */
	CHECK_EQ(pthread_mutex_lock(&sh->mu[1]), EOWNERDEAD);
	CHECK_OK(pthread_mutex_unlock(&sh->mu[1]));
	CHECK_EQ(pthread_mutex_lock(&sh->mu[1]), ENOTRECOVERABLE);
	printf("child killed while a thread waited: the waiter got EOWNERDEAD; "
	       "unlocked inconsistent: ENOTRECOVERABLE\n");

	/* 3. A thread of this process ends holding it. */
	CHECK_OK(pthread_create(&t, NULL, lock_and_end, &sh->mu[2]));
	CHECK_OK(pthread_join(t, NULL));
	CHECK_EQ(pthread_mutex_lock(&sh->mu[2]), EOWNERDEAD);
	CHECK_OK(pthread_mutex_consistent(&sh->mu[2]));
	CHECK_OK(pthread_mutex_unlock(&sh->mu[2]));
	/* A child can lock it now and sees it consistent. */
	c = fork();
	CHECK(c >= 0);
	if (c == 0)
		_exit(pthread_mutex_lock(&sh->mu[2]) == 0 && pthread_mutex_unlock(&sh->mu[2]) == 0
			  ? 0
			  : 1);
	CHECK_EQ(waitpid(c, &st, 0), c);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	printf("thread ended holding it: EOWNERDEAD here, a child then locks it cleanly\n");
	return 0;
}
