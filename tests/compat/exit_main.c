/* pthread_exit from main keeps the process alive until the last thread
 * ends: the threads join the main thread (getting its pthread_exit value),
 * print after it is gone, and the process exits with status 0 with their
 * buffered output flushed. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>

#include "testutil.h"

#define NTHREADS 4

static pthread_t main_thread;
static pthread_t threads[NTHREADS];

static void *worker(void *arg)
{
	intptr_t i = (intptr_t)arg;
	void *ret;
	/* Thread 0 waits for main, thread i for thread i-1: a fixed order. */
	if (i == 0) {
		CHECK_OK(pthread_join(main_thread, &ret));
		CHECK_EQ((intptr_t)ret, 99);
		printf("thread 0: main has exited with value %ld\n", (long)(intptr_t)ret);
	} else {
		CHECK_OK(pthread_join(threads[i - 1], &ret));
		CHECK_EQ((intptr_t)ret, i - 1);
	}
	usleep(10000);
	printf("thread %ld: still running after main's pthread_exit\n", (long)i);
	return (void *)i;
}

static void at_exit(void)
{
	printf("atexit handler ran\n");
}

int main(void)
{
	main_thread = pthread_self();
	CHECK(atexit(at_exit) == 0);
	for (intptr_t i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_create(&threads[i], NULL, worker, (void *)i));
	printf("main: calling pthread_exit\n");
	pthread_exit((void *)99);
}
