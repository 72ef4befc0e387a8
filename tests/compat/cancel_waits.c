/* Cancellation where glibc's acts beyond the cancellation points a
 * thread reaches on its own: asynchronous cancellation stops a thread
 * blocked in pthread_mutex_lock (glibc's handler runs in the futex wait),
 * and deferred cancellation ends a wait on a process-shared condition
 * variable at once, with the mutex held again for the cleanup handler.
 * Each cancelled thread's join gives PTHREAD_CANCELED; a join that does
 * not come within a generous bound means the thread stayed blocked
 * (natively it comes at once), reported as such. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "testutil.h"

static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t shared_mu;
static pthread_cond_t shared_cv;
static atomic_int started, cleanups, mutex_held_in_cleanup;

static void count_cleanup(void *arg)
{
	(void)arg;
	atomic_fetch_add(&cleanups, 1);
}

static void unlock_cleanup(void *arg)
{
	pthread_mutex_t *m = arg;
	/* The owner's trylock of an error-checking mutex: EDEADLK. */
	if (pthread_mutex_trylock(m) == EBUSY)
		atomic_fetch_add(&mutex_held_in_cleanup, 1);
	pthread_mutex_unlock(m);
	atomic_fetch_add(&cleanups, 1);
}

static void *async_in_mutex_lock(void *arg)
{
	(void)arg;
	CHECK_OK(pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL));
	pthread_cleanup_push(count_cleanup, NULL);
	atomic_fetch_add(&started, 1);
	pthread_mutex_lock(&held); /* main holds it for good */
	pthread_mutex_unlock(&held);
	pthread_cleanup_pop(0);
	return NULL;
}

static void *in_shared_cond_wait(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&shared_mu);
	pthread_cleanup_push(unlock_cleanup, &shared_mu);
	atomic_fetch_add(&started, 1);
	for (;;)
		pthread_cond_wait(&shared_cv, &shared_mu);
	pthread_cleanup_pop(1);
	return NULL;
}

static void wait_started(int n)
{
	while (atomic_load(&started) < n)
		usleep(1000);
	usleep(20000); /* let it block; the result does not depend on it */
}

/* Joins t, which was cancelled: PTHREAD_CANCELED, and within 20 s. */
static void join_cancelled(pthread_t t, const char *what)
{
	void *ret;
	struct timespec dl = tu_deadline(CLOCK_REALTIME, 20000);
	int r = pthread_timedjoin_np(t, &ret, &dl);
	if (r == ETIMEDOUT) {
		printf("%s: the cancelled thread is still blocked\n", what);
		exit(1);
	}
	CHECK_OK(r);
	CHECK(ret == PTHREAD_CANCELED);
}

static void async_mutex(void)
{
	pthread_t t;
	pthread_mutex_lock(&held);
	CHECK_OK(pthread_create(&t, NULL, async_in_mutex_lock, NULL));
	wait_started(1);
	CHECK_OK(pthread_cancel(t));
	join_cancelled(t, "pthread_mutex_lock, asynchronous");
	CHECK_EQ(atomic_load(&cleanups), 1);
	pthread_mutex_unlock(&held);
	/* The mutex works on. */
	CHECK_OK(pthread_mutex_lock(&held));
	CHECK_OK(pthread_mutex_unlock(&held));
	printf("asynchronous cancellation stops a thread blocked in pthread_mutex_lock\n");
}

static void shared_cond(void)
{
	pthread_t t;
	pthread_mutexattr_t ma;
	pthread_condattr_t ca;
	CHECK_OK(pthread_mutexattr_init(&ma));
	CHECK_OK(pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED));
	CHECK_OK(pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_NORMAL));
	CHECK_OK(pthread_mutex_init(&shared_mu, &ma));
	CHECK_OK(pthread_condattr_init(&ca));
	CHECK_OK(pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED));
	CHECK_OK(pthread_cond_init(&shared_cv, &ca));
	atomic_store(&started, 0);
	atomic_store(&cleanups, 0);
	CHECK_OK(pthread_create(&t, NULL, in_shared_cond_wait, NULL));
	wait_started(1);
	CHECK_OK(pthread_cancel(t));
	join_cancelled(t, "process-shared pthread_cond_wait");
	CHECK_EQ(atomic_load(&cleanups), 1);
	CHECK_EQ(atomic_load(&mutex_held_in_cleanup), 1);
	CHECK_OK(pthread_mutex_lock(&shared_mu));
	CHECK_OK(pthread_mutex_unlock(&shared_mu));
	CHECK_OK(pthread_cond_destroy(&shared_cv));
	CHECK_OK(pthread_mutex_destroy(&shared_mu));
	printf(
	    "deferred cancellation ends a process-shared condition wait, mutex held in cleanup\n");
}

/* With an argument, runs only the parts named by its letters: m
 * (asynchronous, mutex), c (deferred, process-shared condvar). */
int main(int argc, char **argv)
{
	const char *parts = argc > 1 ? argv[1] : "mc";
	if (strchr(parts, 'm'))
		async_mutex();
	if (strchr(parts, 'c'))
		shared_cond();
	return 0;
}
