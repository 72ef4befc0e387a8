/* exit() called from a non-main thread while other threads run (yielding
 * loops), sleep and wait: atexit handlers run in the exiting thread,
 * buffered output is flushed and the process exits with that status. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#include "testutil.h"

static pthread_t main_thread, exiter_thread;
static atomic_int running;
static atomic_long spins;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;

static void *spinner(void *arg)
{
	(void)arg;
	atomic_fetch_add(&running, 1);
	for (;;) {
		atomic_fetch_add(&spins, 1);
		sched_yield();
	}
	return NULL;
}

static void *sleeper(void *arg)
{
	(void)arg;
	atomic_fetch_add(&running, 1);
	for (;;)
		usleep(1000);
	return NULL;
}

static void *waiter(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	atomic_fetch_add(&running, 1);
	for (;;)
		pthread_cond_wait(&never, &lock);
	return NULL;
}

static void *exiter(void *arg)
{
	(void)arg;
	exiter_thread = pthread_self();
	/* Let the spinners spin a while. */
	long start = atomic_load(&spins);
	while (atomic_load(&spins) < start + 1000)
		usleep(1000);
	printf("exiter: calling exit(3) while the others run\n");
	exit(3);
}

static void at_exit(void)
{
	printf("atexit: in the exiting thread: %s, in main: %s\n",
	       pthread_equal(pthread_self(), exiter_thread) ? "yes" : "no",
	       pthread_equal(pthread_self(), main_thread) ? "yes" : "no");
}

int main(void)
{
	pthread_t t;
	void *(*const kinds[])(void *) = {spinner, spinner, sleeper, sleeper, waiter, waiter};
	const int nkinds = (int)(sizeof kinds / sizeof kinds[0]);

	main_thread = pthread_self();
	CHECK(atexit(at_exit) == 0);
	for (int i = 0; i < nkinds; i++)
		CHECK_OK(pthread_create(&t, NULL, kinds[i], NULL));
	while (atomic_load(&running) < nkinds)
		usleep(1000);
	printf("main: %d threads running, starting the exiter\n", nkinds);
	CHECK_OK(pthread_create(&t, NULL, exiter, NULL));
	pthread_join(t, NULL);
	printf("main: not reached\n");
	return 1;
}
