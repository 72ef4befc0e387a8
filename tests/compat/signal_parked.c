/* pthread_kill to a thread waiting in pthread_mutex_lock,
 * pthread_barrier_wait or pthread_rwlock_rdlock runs its handler at once,
 * on that thread, while it still waits (glibc's futex wait runs handlers
 * and then waits on: these calls never fail with EINTR), and the wait
 * then goes on until the lock or barrier lets the thread through.
 *
 * The main thread holds the lock (or stays out of the barrier), waits
 * until the thread is about to wait and 100 ms more, then sends the signal
 * again every 20 ms until the handler has run: a signal that came before
 * the thread was in the wait would run its handler too, and the lock is
 * still held either way, so the output does not depend on timing. Natively the first signal's
 * handler runs within microseconds; a thread whose handler has not run after 5 s of signals never
 * will while it waits. */
#define _GNU_SOURCE
#include "testutil.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

static atomic_int handled;
static _Atomic pthread_t handler_thread;
static atomic_int passed;
static atomic_int waiting; /* the thread is about to wait */

static void on_usr1(int sig)
{
	(void)sig;
	atomic_store(&handler_thread, pthread_self());
	atomic_fetch_add(&handled, 1);
}

static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t rwlock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_barrier_t barrier;

static void *lock_mutex(void *arg)
{
	(void)arg;
	atomic_store(&waiting, 1);
	CHECK_OK(pthread_mutex_lock(&mutex));
	atomic_store(&passed, 1);
	CHECK_OK(pthread_mutex_unlock(&mutex));
	return NULL;
}

static void *read_lock(void *arg)
{
	(void)arg;
	atomic_store(&waiting, 1);
	CHECK_OK(pthread_rwlock_rdlock(&rwlock));
	atomic_store(&passed, 1);
	CHECK_OK(pthread_rwlock_unlock(&rwlock));
	return NULL;
}

static void *wait_barrier(void *arg)
{
	(void)arg;
	atomic_store(&waiting, 1);
	int r = pthread_barrier_wait(&barrier);
	CHECK(r == 0 || r == PTHREAD_BARRIER_SERIAL_THREAD);
	atomic_store(&passed, 1);
	return NULL;
}

/* Signals t until its handler ran (or 5 s passed); then lets it through
 * with release and joins it. */
static void run(const char *name, void *(*fn)(void *), void (*release)(void))
{
	atomic_store(&handled, 0);
	atomic_store(&passed, 0);
	atomic_store(&waiting, 0);
	pthread_t t;
	CHECK_OK(pthread_create(&t, NULL, fn, NULL));
	struct timespec ms20 = {0, 20 * 1000 * 1000}, ms100 = {0, 100 * 1000 * 1000};
	/* Most likely in the wait by then: the output is the same if not. */
	while (!atomic_load(&waiting))
		nanosleep(&ms20, NULL);
	nanosleep(&ms100, NULL);
	for (int i = 0; i < 250 && !atomic_load(&handled); i++) {
		CHECK_OK(pthread_kill(t, SIGUSR1));
		nanosleep(&ms20, NULL);
	}
	int ran = atomic_load(&handled) > 0;
	int on_t = ran && pthread_equal(atomic_load(&handler_thread), t);
	int still_waiting = !atomic_load(&passed);
	release();
	CHECK_OK(pthread_join(t, NULL));
	printf("%s: handler ran %d, on the waiter %d, while it waited %d, then passed %d\n", name,
	       ran, on_t, still_waiting, atomic_load(&passed));
}

static void unlock_mutex(void)
{
	CHECK_OK(pthread_mutex_unlock(&mutex));
}

static void unlock_rwlock(void)
{
	CHECK_OK(pthread_rwlock_unlock(&rwlock));
}

static void join_barrier(void)
{
	int r = pthread_barrier_wait(&barrier);
	CHECK(r == 0 || r == PTHREAD_BARRIER_SERIAL_THREAD);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);

	CHECK_OK(pthread_mutex_lock(&mutex));
	run("mutex", lock_mutex, unlock_mutex);
	CHECK_OK(pthread_rwlock_wrlock(&rwlock));
	run("rwlock", read_lock, unlock_rwlock);
	CHECK_OK(pthread_barrier_init(&barrier, NULL, 2));
	run("barrier", wait_barrier, join_barrier);
	CHECK_OK(pthread_barrier_destroy(&barrier));
	return 0;
}
