/* pthread_exit in C (no -fexceptions): pthread_cleanup_push handlers run,
 * innermost first, in the exiting thread, also after the thread blocked;
 * a popped handler does not run, pthread_cleanup_pop(1) runs its own. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "testutil.h"

static int order, ran[4];
static pthread_t who[4];

static void handler(void *arg)
{
	int i = (int)(intptr_t)arg;
	ran[i] = ++order;
	who[i] = pthread_self();
}

static void *worker(void *arg)
{
	(void)arg;
	pthread_cleanup_push(handler, (void *)0);
	pthread_cleanup_push(handler, (void *)1);
	pthread_cleanup_push(handler, (void *)2);
	pthread_cleanup_pop(0); /* 2 never runs */
	pthread_cleanup_push(handler, (void *)3);
	pthread_cleanup_pop(1); /* 3 runs now */
	usleep(2000);
	pthread_exit((void *)7);
	pthread_cleanup_pop(0);
	pthread_cleanup_pop(0);
	return NULL;
}

int main(void)
{
	for (int round = 0; round < 3; round++) {
		order = 0;
		for (int i = 0; i < 4; i++)
			ran[i] = 0;
		pthread_t t;
		CHECK_EQ(pthread_create(&t, NULL, worker, NULL), 0);
		void *ret;
		CHECK_EQ(pthread_join(t, &ret), 0);
		CHECK_EQ((intptr_t)ret, 7);
		CHECK_EQ(ran[3], 1);
		CHECK_EQ(ran[2], 0);
		CHECK_EQ(ran[1], 2);
		CHECK_EQ(ran[0], 3);
		CHECK(pthread_equal(who[0], t) && pthread_equal(who[1], t));
	}
	printf("pthread_exit: cleanup handlers ran innermost first in the thread\n");
	return 0;
}
