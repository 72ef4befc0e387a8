/* Thread creation and joining: return values, pthread_exit values,
 * pthread_self/pthread_equal, join/detach error cases, detached threads
 * with a mutex-protected counter and main waiting on a condition variable. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>

#include "testutil.h"

#define NJOIN	   16
#define NDETACH	   32
#define NINCREMENT 1000

static void *square(void *arg)
{
	intptr_t i = (intptr_t)arg;
	return (void *)(i * i);
}

static void *exit_with(void *arg)
{
	intptr_t i = (intptr_t)arg;
	if (i >= 0)
		pthread_exit((void *)(i + 1000));
	return NULL; /* not reached */
}

/* pthread_self inside the thread equals the id pthread_create returned. */
static pthread_t created_id;
static pthread_mutex_t id_lock = PTHREAD_MUTEX_INITIALIZER;

static void *report_self(void *arg)
{
	(void)arg;
	/* Wait until the creator has stored the id. */
	pthread_mutex_lock(&id_lock);
	int same = pthread_equal(pthread_self(), created_id) != 0;
	pthread_mutex_unlock(&id_lock);
	return (void *)(intptr_t)same;
}

static void *join_self(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)pthread_join(pthread_self(), NULL);
}

/* Detached threads add to a counter; the last one signals main. */
static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t count_done = PTHREAD_COND_INITIALIZER;
static long counter;
static int finished;

static void *detached_worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < NINCREMENT; i++) {
		pthread_mutex_lock(&count_lock);
		counter++;
		pthread_mutex_unlock(&count_lock);
	}
	pthread_mutex_lock(&count_lock);
	if (++finished == NDETACH)
		pthread_cond_signal(&count_done);
	pthread_mutex_unlock(&count_lock);
	return NULL;
}

/* A detached thread that stays alive until released, so that join/detach
 * on it are well-defined while it runs. */
static pthread_mutex_t hold_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_cond = PTHREAD_COND_INITIALIZER;
static int hold_released, hold_exited;

static void *held(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&hold_lock);
	while (!hold_released)
		pthread_cond_wait(&hold_cond, &hold_lock);
	hold_exited = 1;
	pthread_cond_broadcast(&hold_cond);
	pthread_mutex_unlock(&hold_lock);
	return NULL;
}

static void release_held(void)
{
	pthread_mutex_lock(&hold_lock);
	hold_released = 1;
	pthread_cond_broadcast(&hold_cond);
	while (!hold_exited)
		pthread_cond_wait(&hold_cond, &hold_lock);
	pthread_mutex_unlock(&hold_lock);
}

int main(void)
{
	pthread_t t[NJOIN];
	void *ret;

	/* Return values through pthread_join. */
	for (intptr_t i = 0; i < NJOIN; i++)
		CHECK_OK(pthread_create(&t[i], NULL, square, (void *)i));
	long sum = 0;
	for (intptr_t i = 0; i < NJOIN; i++) {
		CHECK_OK(pthread_join(t[i], &ret));
		CHECK_EQ((intptr_t)ret, i * i);
		sum += (intptr_t)ret;
	}
	printf("join: %d threads, sum of squares %ld\n", NJOIN, sum);

	/* pthread_exit(value) from a thread. */
	for (intptr_t i = 0; i < NJOIN; i++)
		CHECK_OK(pthread_create(&t[i], NULL, exit_with, (void *)i));
	for (intptr_t i = 0; i < NJOIN; i++) {
		CHECK_OK(pthread_join(t[i], &ret));
		CHECK_EQ((intptr_t)ret, i + 1000);
	}
	printf("pthread_exit: values joined\n");

	/* pthread_self / pthread_equal. */
	pthread_t a, b;
	CHECK(pthread_equal(pthread_self(), pthread_self()));
	pthread_mutex_lock(&id_lock);
	CHECK_OK(pthread_create(&created_id, NULL, report_self, NULL));
	pthread_mutex_unlock(&id_lock);
	CHECK_OK(pthread_join(created_id, &ret));
	CHECK_EQ((intptr_t)ret, 1);
	CHECK_OK(pthread_create(&a, NULL, square, (void *)1));
	CHECK_OK(pthread_create(&b, NULL, square, (void *)2));
	CHECK(!pthread_equal(a, b));
	CHECK(!pthread_equal(a, pthread_self()));
	CHECK_OK(pthread_join(a, NULL));
	CHECK_OK(pthread_join(b, NULL));
	printf("pthread_equal/pthread_self: ok\n");

	/* Joining oneself: EDEADLK, from main and from another thread. */
	CHECK_RC(pthread_join(pthread_self(), NULL), EDEADLK);
	CHECK_OK(pthread_create(&a, NULL, join_self, NULL));
	CHECK_OK(pthread_join(a, &ret));
	CHECK_EQ((intptr_t)ret, EDEADLK);
	printf("join self: EDEADLK\n");

	/* A detached (running) thread: join and a second detach give EINVAL. */
	pthread_attr_t attr;
	int state;
	CHECK_OK(pthread_attr_init(&attr));
	CHECK_OK(pthread_attr_getdetachstate(&attr, &state));
	CHECK_EQ(state, PTHREAD_CREATE_JOINABLE);
	CHECK_OK(pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED));
	CHECK_OK(pthread_attr_getdetachstate(&attr, &state));
	CHECK_EQ(state, PTHREAD_CREATE_DETACHED);
	CHECK_OK(pthread_create(&a, &attr, held, NULL));
	CHECK_RC(pthread_join(a, NULL), EINVAL);
	CHECK_RC(pthread_detach(a), EINVAL);
	release_held();
	pthread_mutex_lock(&hold_lock);
	hold_released = hold_exited = 0;
	pthread_mutex_unlock(&hold_lock);
	CHECK_OK(pthread_create(&a, NULL, held, NULL));
	CHECK_OK(pthread_detach(a));
	CHECK_RC(pthread_detach(a), EINVAL);
	CHECK_RC(pthread_join(a, NULL), EINVAL);
	release_held();
	printf("detached: join EINVAL, second detach EINVAL\n");

	/* Detached workers and a counter; main waits on a condition variable. */
	for (int i = 0; i < NDETACH; i++) {
		pthread_t d;
		if (i % 2)
			CHECK_OK(pthread_create(&d, &attr, detached_worker, NULL));
		else {
			CHECK_OK(pthread_create(&d, NULL, detached_worker, NULL));
			CHECK_OK(pthread_detach(d));
		}
	}
	pthread_mutex_lock(&count_lock);
	while (finished < NDETACH)
		pthread_cond_wait(&count_done, &count_lock);
	long total = counter;
	pthread_mutex_unlock(&count_lock);
	CHECK_EQ(total, (long)NDETACH * NINCREMENT);
	printf("detached workers: counter %ld\n", total);
	CHECK_OK(pthread_attr_destroy(&attr));
	return 0;
}
