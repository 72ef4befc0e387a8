/* Process-shared objects, between processes and between threads:
 *
 *   mutex: a recursive process-shared mutex the parent holds is not the
 *          child's after fork (trylock EBUSY, unlock EPERM; an
 *          errorcheck one: EBUSY and EPERM too), though the child's
 *          thread is a copy of the one that locked it;
 *   sem:   a named semaphore (sem_open) and a pshared unnamed one in
 *          shared memory: a post in one process wakes a waiter in the
 *          other, both ways;
 *   cond:  a process-shared condvar destroyed and initialised again right
 *          after each broadcast (its memory reused) loses no wakeup;
 *   many:  100 threads in process-shared waits (condvar, mutex,
 *          semaphore) go round after round (with GMPT_PROCS=1 too). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static void *shared_mem(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	return p;
}

static int child_status(pid_t pid)
{
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void mutex_part(int type, const char *name)
{
	pthread_mutex_t *m = shared_mem(sizeof *m);
	pthread_mutexattr_t a;
	CHECK_OK(pthread_mutexattr_init(&a));
	CHECK_OK(pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED));
	CHECK_OK(pthread_mutexattr_settype(&a, type));
	CHECK_OK(pthread_mutex_init(m, &a));
	CHECK_OK(pthread_mutex_lock(m));
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int t = pthread_mutex_trylock(m);
		int u = pthread_mutex_unlock(m);
		printf("mutex %s: child's trylock %s, unlock %s\n", name, strerror(t), strerror(u));
		fflush(stdout);
		_exit(0);
	}
	CHECK_EQ(child_status(pid), 0);
	CHECK_OK(pthread_mutex_unlock(m));
	CHECK_OK(pthread_mutex_destroy(m));
	munmap(m, sizeof *m);
}

/* The child waits first, then the parent: each post comes from the other
 * process. A lost wakeup ends the wait at its deadline. */
static void sem_between(sem_t *s, const char *name)
{
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct timespec dl = tu_deadline(CLOCK_REALTIME, 10000);
		int r = sem_timedwait(s, &dl);
		if (r == 0)
			r = sem_post(s + 1);
		_exit(r == 0 ? 0 : 1);
	}
	usleep(50000); /* the child waits by now */
	CHECK(sem_post(s) == 0);
	struct timespec dl = tu_deadline(CLOCK_REALTIME, 10000);
	int r = sem_timedwait(s + 1, &dl);
	int st = child_status(pid);
	printf("sem %s: the child woke: %s, the parent woke: %s\n", name, st == 0 ? "yes" : "no",
	       r == 0 ? "yes" : "no");
}

static void sem_part(void)
{
	char n1[64], n2[64];
	snprintf(n1, sizeof n1, "/gmpt-pshared-%d-a", (int)getpid());
	snprintf(n2, sizeof n2, "/gmpt-pshared-%d-b", (int)getpid());
	sem_t *a = sem_open(n1, O_CREAT | O_EXCL, 0600, 0);
	sem_t *b = sem_open(n2, O_CREAT | O_EXCL, 0600, 0);
	CHECK(a != SEM_FAILED && b != SEM_FAILED);
	sem_unlink(n1);
	sem_unlink(n2);
	/* sem_between posts s + 1: copy the named pair next to each other. */
	sem_t *pair = shared_mem(2 * sizeof(sem_t));
	memcpy(&pair[0], a, sizeof *a);
	memcpy(&pair[1], b, sizeof *b);
	sem_between(pair, "named (sem_open's layout)");
	CHECK_OK(sem_close(a));
	CHECK_OK(sem_close(b));
	CHECK(sem_init(&pair[0], 1, 0) == 0 && sem_init(&pair[1], 1, 0) == 0);
	sem_between(pair, "pshared=1");
	munmap(pair, 2 * sizeof(sem_t));
}

struct rounds {
	pthread_mutex_t m;
	pthread_cond_t c;
	pthread_condattr_t ca;
	int round;
	atomic_int done;
	sem_t acks;
	int nthreads;
	int nrounds;
};

static void *round_waiter(void *arg)
{
	struct rounds *r = arg;
	for (int k = 1; k <= r->nrounds; k++) {
		CHECK_OK(pthread_mutex_lock(&r->m));
		while (r->round < k)
			CHECK_OK(pthread_cond_wait(&r->c, &r->m));
		CHECK_OK(pthread_mutex_unlock(&r->m));
		CHECK(sem_post(&r->acks) == 0);
	}
	return NULL;
}

/* Each round: every waiter waits for it, the main thread announces it
 * with one broadcast, destroys the condvar and initialises it again at
 * once (as a program that reuses the memory would), then collects one
 * ack per waiter. A wakeup lost to the reuse leaves a waiter asleep: the
 * ack does not come within its (generous) deadline. */
static void rounds_run(int nthreads, int nrounds, bool reinit, const char *name)
{
	struct rounds *r = shared_mem(sizeof *r);
	pthread_mutexattr_t ma;
	CHECK_OK(pthread_mutexattr_init(&ma));
	CHECK_OK(pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED));
	CHECK_OK(pthread_mutex_init(&r->m, &ma));
	CHECK_OK(pthread_condattr_init(&r->ca));
	CHECK_OK(pthread_condattr_setpshared(&r->ca, PTHREAD_PROCESS_SHARED));
	CHECK_OK(pthread_cond_init(&r->c, &r->ca));
	CHECK(sem_init(&r->acks, 1, 0) == 0);
	r->nthreads = nthreads;
	r->nrounds = nrounds;
	pthread_t *th = calloc((size_t)nthreads, sizeof *th);
	CHECK(th);
	pthread_attr_t ta;
	CHECK_OK(pthread_attr_init(&ta));
	CHECK_OK(pthread_attr_setstacksize(&ta, 64 * 1024));
	for (int i = 0; i < nthreads; i++)
		CHECK_OK(pthread_create(&th[i], &ta, round_waiter, r));
	int lost = 0;
	for (int k = 1; k <= nrounds && !lost; k++) {
		CHECK_OK(pthread_mutex_lock(&r->m));
		r->round = k;
		CHECK_OK(pthread_cond_broadcast(&r->c));
		/* Under the mutex, so no waiter starts waiting on the condvar
		 * while it is rebuilt; the woken ones no longer wait on it. */
		if (reinit) {
			CHECK_OK(pthread_cond_destroy(&r->c));
			memset(&r->c, 0xa5, sizeof r->c);
			CHECK_OK(pthread_cond_init(&r->c, &r->ca));
		}
		CHECK_OK(pthread_mutex_unlock(&r->m));
		for (int i = 0; i < nthreads; i++) {
			struct timespec dl = tu_deadline(CLOCK_REALTIME, 20000);
			if (sem_timedwait(&r->acks, &dl) != 0) {
				lost = 1;
				break;
			}
		}
	}
	printf("cond %s: %d threads, %d rounds: %s\n", name, nthreads, nrounds,
	       lost ? "a wakeup was lost" : "every waiter woke every round");
	fflush(stdout);
	if (lost)
		_exit(1); /* the sleeper never comes back */
	for (int i = 0; i < nthreads; i++)
		CHECK_OK(pthread_join(th[i], NULL));
	free(th);
	munmap(r, sizeof *r);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	mutex_part(PTHREAD_MUTEX_RECURSIVE, "recursive");
	mutex_part(PTHREAD_MUTEX_ERRORCHECK, "errorcheck");
	sem_part();
	rounds_run(4, 3000, true, "reused after each broadcast");
	rounds_run(100, 20, false, "many waiters");
	return 0;
}
