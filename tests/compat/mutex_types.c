/* Mutex kinds and their error returns: normal, recursive (static NP
 * initializer and attribute), errorcheck; trylock EBUSY; timedlock
 * ETIMEDOUT and success; contention with several threads. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>

#include "testutil.h"

/* A helper thread that locks a mutex and keeps it until told to let go. */
struct holder {
	pthread_t thread;
	pthread_mutex_t *m;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int held, release;
	long release_after_ms; /* >0: unlock by itself after this delay */
};

static void *holder_main(void *arg)
{
	struct holder *h = arg;
	CHECK_OK(pthread_mutex_lock(h->m));
	pthread_mutex_lock(&h->lock);
	h->held = 1;
	pthread_cond_broadcast(&h->cond);
	if (h->release_after_ms > 0) {
		pthread_mutex_unlock(&h->lock);
		usleep(h->release_after_ms * 1000);
	} else {
		while (!h->release)
			pthread_cond_wait(&h->cond, &h->lock);
		pthread_mutex_unlock(&h->lock);
	}
	CHECK_OK(pthread_mutex_unlock(h->m));
	return NULL;
}

static void hold(struct holder *h, pthread_mutex_t *m, long release_after_ms)
{
	h->m = m;
	h->held = h->release = 0;
	h->release_after_ms = release_after_ms;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	CHECK_OK(pthread_create(&h->thread, NULL, holder_main, h));
	pthread_mutex_lock(&h->lock);
	while (!h->held)
		pthread_cond_wait(&h->cond, &h->lock);
	pthread_mutex_unlock(&h->lock);
}

static void let_go(struct holder *h)
{
	pthread_mutex_lock(&h->lock);
	h->release = 1;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	CHECK_OK(pthread_join(h->thread, NULL));
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->cond);
}

/* Calls an operation on a mutex from another thread and returns its result. */
enum op { OP_TRYLOCK, OP_UNLOCK };
struct remote {
	pthread_mutex_t *m;
	enum op op;
};

static void *remote_main(void *arg)
{
	struct remote *r = arg;
	int rc = r->op == OP_TRYLOCK ? pthread_mutex_trylock(r->m) : pthread_mutex_unlock(r->m);
	if (r->op == OP_TRYLOCK && rc == 0)
		pthread_mutex_unlock(r->m);
	return (void *)(intptr_t)rc;
}

static int remote(pthread_mutex_t *m, enum op op)
{
	struct remote r = {m, op};
	pthread_t t;
	void *ret;
	CHECK_OK(pthread_create(&t, NULL, remote_main, &r));
	CHECK_OK(pthread_join(t, &ret));
	return (int)(intptr_t)ret;
}

#define NCONTEND 4
#define NITER	 20000
static long shared_count;

static void *contend(void *arg)
{
	pthread_mutex_t *m = arg;
	for (int i = 0; i < NITER; i++) {
		CHECK_OK(pthread_mutex_lock(m));
		shared_count++;
		CHECK_OK(pthread_mutex_unlock(m));
	}
	return NULL;
}

static void contention(const char *name, pthread_mutex_t *m)
{
	pthread_t t[NCONTEND];
	shared_count = 0;
	for (int i = 0; i < NCONTEND; i++)
		CHECK_OK(pthread_create(&t[i], NULL, contend, m));
	for (int i = 0; i < NCONTEND; i++)
		CHECK_OK(pthread_join(t[i], NULL));
	CHECK_EQ(shared_count, (long)NCONTEND * NITER);
	printf("%s: %d threads, count %ld\n", name, NCONTEND, shared_count);
}

static void recursive_checks(const char *name, pthread_mutex_t *m)
{
	for (int i = 0; i < 3; i++)
		CHECK_OK(pthread_mutex_lock(m));
	CHECK_OK(pthread_mutex_trylock(m));
	struct timespec dl = tu_deadline(CLOCK_REALTIME, 10);
	CHECK_OK(pthread_mutex_timedlock(m, &dl));
	CHECK_EQ(remote(m, OP_TRYLOCK), EBUSY);
	CHECK_EQ(remote(m, OP_UNLOCK), EPERM);
	for (int i = 0; i < 5; i++)
		CHECK_OK(pthread_mutex_unlock(m));
	CHECK_RC(pthread_mutex_unlock(m), EPERM);
	CHECK_EQ(remote(m, OP_TRYLOCK), 0);
	printf("%s: 5 nested locks, EBUSY/EPERM from another thread, EPERM when unlocked\n", name);
	contention(name, m);
}

static void errorcheck_checks(const char *name, pthread_mutex_t *m)
{
	CHECK_OK(pthread_mutex_lock(m));
	CHECK_RC(pthread_mutex_lock(m), EDEADLK);
	CHECK_RC(pthread_mutex_trylock(m), EBUSY);
	struct timespec dl = tu_deadline(CLOCK_REALTIME, 10);
	CHECK_RC(pthread_mutex_timedlock(m, &dl), EDEADLK);
	CHECK_EQ(remote(m, OP_UNLOCK), EPERM);
	CHECK_EQ(remote(m, OP_TRYLOCK), EBUSY);
	CHECK_OK(pthread_mutex_unlock(m));
	CHECK_RC(pthread_mutex_unlock(m), EPERM);
	/* Unlock by a non-owner while another thread owns it. */
	struct holder h;
	hold(&h, m, 0);
	CHECK_RC(pthread_mutex_unlock(m), EPERM);
	CHECK_RC(pthread_mutex_trylock(m), EBUSY);
	let_go(&h);
	printf("%s: EDEADLK on relock, EPERM on foreign/unlocked unlock, EBUSY\n", name);
	contention(name, m);
}

static void timedlock_checks(const char *name, pthread_mutex_t *m)
{
	struct holder h;
	hold(&h, m, 0);
	CHECK_RC(pthread_mutex_trylock(m), EBUSY);
	int64_t t0 = tu_now_ns(CLOCK_MONOTONIC);
	struct timespec dl = tu_deadline(CLOCK_REALTIME, 100);
	CHECK_RC(pthread_mutex_timedlock(m, &dl), ETIMEDOUT);
	int64_t waited = tu_now_ns(CLOCK_MONOTONIC) - t0;
	CHECK(waited >= 99000000);
	/* A deadline already in the past: ETIMEDOUT at once. */
	dl = tu_deadline(CLOCK_REALTIME, -1000);
	CHECK_RC(pthread_mutex_timedlock(m, &dl), ETIMEDOUT);
	let_go(&h);
	/* The owner lets go before the deadline: the lock is acquired. */
	hold(&h, m, 50);
	dl = tu_deadline(CLOCK_REALTIME, 10000);
	CHECK_OK(pthread_mutex_timedlock(m, &dl));
	CHECK_OK(pthread_mutex_unlock(m));
	CHECK_OK(pthread_join(h.thread, NULL));
	printf("%s: trylock EBUSY, timedlock ETIMEDOUT after >= 100 ms, acquires when "
	       "released\n",
	       name);
}

static pthread_mutex_t normal_static = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t recursive_static = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static pthread_mutex_t errorcheck_static = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;

int main(void)
{
	pthread_mutexattr_t attr;
	pthread_mutex_t m;
	int type;

	/* Normal mutex. */
	CHECK_OK(pthread_mutex_trylock(&normal_static));
	CHECK_RC(pthread_mutex_trylock(&normal_static), EBUSY);
	CHECK_EQ(remote(&normal_static, OP_TRYLOCK), EBUSY);
	CHECK_OK(pthread_mutex_unlock(&normal_static));
	CHECK_EQ(remote(&normal_static, OP_TRYLOCK), 0);
	printf("normal: trylock EBUSY while held\n");
	contention("normal static", &normal_static);
	timedlock_checks("normal static", &normal_static);

	CHECK_OK(pthread_mutexattr_init(&attr));
	CHECK_OK(pthread_mutexattr_gettype(&attr, &type));
	CHECK_EQ(type, PTHREAD_MUTEX_DEFAULT);
	CHECK_OK(pthread_mutex_init(&m, &attr));
	timedlock_checks("normal dynamic", &m);
	CHECK_OK(pthread_mutex_destroy(&m));

	/* Recursive. */
	recursive_checks("recursive static", &recursive_static);
	CHECK_OK(pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE));
	CHECK_OK(pthread_mutexattr_gettype(&attr, &type));
	CHECK_EQ(type, PTHREAD_MUTEX_RECURSIVE);
	CHECK_OK(pthread_mutex_init(&m, &attr));
	recursive_checks("recursive attr", &m);
	timedlock_checks("recursive attr", &m);
	CHECK_OK(pthread_mutex_destroy(&m));

	/* Errorcheck. */
	errorcheck_checks("errorcheck static", &errorcheck_static);
	CHECK_OK(pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK));
	CHECK_OK(pthread_mutexattr_gettype(&attr, &type));
	CHECK_EQ(type, PTHREAD_MUTEX_ERRORCHECK);
	CHECK_OK(pthread_mutex_init(&m, &attr));
	errorcheck_checks("errorcheck attr", &m);
	timedlock_checks("errorcheck attr", &m);
	CHECK_OK(pthread_mutex_destroy(&m));

	CHECK_OK(pthread_mutexattr_destroy(&attr));
	return 0;
}
