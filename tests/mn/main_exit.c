/* main returns while threads run: one thread spins, three loop on 1 ms
 * sleeps, none ever ends. main waits until all four are running, prints a
 * line and returns 7. The process must exit with status 7 promptly (the
 * test runs it with EXPECT_STATUS=7 and a short timeout), with the line
 * flushed by exit(). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "mnutil.h"

#define NSLEEPERS 3

static atomic_int started;
static atomic_long spins, naps;

static void *spinner(void *arg)
{
	(void)arg;
	atomic_fetch_add(&started, 1);
	for (;;)
		atomic_fetch_add(&spins, 1);
	return NULL;
}

static void *napper(void *arg)
{
	(void)arg;
	atomic_fetch_add(&started, 1);
	for (;;) {
		usleep(1000);
		atomic_fetch_add(&naps, 1);
	}
	return NULL;
}

int main(void)
{
	mn_watchdog(10, "main's return with threads running");
	pthread_t t;
	CHECK_OK(pthread_create(&t, NULL, spinner, NULL));
	for (int i = 0; i < NSLEEPERS; i++)
		CHECK_OK(pthread_create(&t, NULL, napper, NULL));
	while (atomic_load(&started) < 1 + NSLEEPERS || atomic_load(&naps) < 10 * NSLEEPERS ||
	       atomic_load(&spins) < 1000)
		usleep(1000);
	printf("main: returning 7 with %d threads running\n", 1 + NSLEEPERS);
	return 7;
}
