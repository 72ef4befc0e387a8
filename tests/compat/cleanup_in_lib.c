/* Cleanup handlers of C code built with -fexceptions, in a shared
 * library, run when a thread inside it calls pthread_exit or is
 * cancelled: glibc's forced unwind hands each frame to GCC's personality
 * routine, which must reach GCC's own unwinder (not another library's
 * functions of the same names). */
#include <pthread.h>
#include <unistd.h>

#include "testutil.h"

void cleanup_lib_call(void (*fn)(void), const char *what);

static void exit_now(void)
{
	pthread_exit(NULL);
}

static void sleep_long(void)
{
	sleep(100); /* cancelled here */
}

static void *exits(void *arg)
{
	cleanup_lib_call(exit_now, "pthread_exit");
	return arg;
}

static void *sleeps(void *arg)
{
	cleanup_lib_call(sleep_long, "cancellation");
	return arg;
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	pthread_t t;
	CHECK_OK(pthread_create(&t, NULL, exits, NULL));
	CHECK_OK(pthread_join(t, NULL));
	CHECK_OK(pthread_create(&t, NULL, sleeps, NULL));
	/* Cancellation is pending until sleep acts on it, whenever the
	 * thread gets there. */
	CHECK_OK(pthread_cancel(t));
	void *ret;
	CHECK_OK(pthread_join(t, &ret));
	CHECK(ret == PTHREAD_CANCELED);
	return 0;
}
