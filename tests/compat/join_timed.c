/* pthread_tryjoin_np, pthread_timedjoin_np and pthread_clockjoin_np: EBUSY
 * and ETIMEDOUT while the thread runs, its value once it has ended. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static void *slow(void *arg)
{
	usleep(200000);
	return arg;
}

static struct timespec in_ms(clockid_t c, long ms)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

int main(void)
{
	pthread_t t;
	void *r = NULL;
	CHECK_OK(pthread_create(&t, NULL, slow, (void *)5));
	CHECK_RC(pthread_tryjoin_np(t, &r), EBUSY);
	struct timespec ts = in_ms(CLOCK_REALTIME, 30);
	CHECK_RC(pthread_timedjoin_np(t, &r, &ts), ETIMEDOUT);
	ts = in_ms(CLOCK_MONOTONIC, 30);
	CHECK_RC(pthread_clockjoin_np(t, &r, CLOCK_MONOTONIC, &ts), ETIMEDOUT);
	ts = in_ms(CLOCK_REALTIME, 5000);
	CHECK_OK(pthread_timedjoin_np(t, &r, &ts));
	CHECK((long)r == 5);
	printf("timedjoin: EBUSY, ETIMEDOUT on both clocks, then value %ld\n", (long)r);

	CHECK_OK(pthread_create(&t, NULL, slow, (void *)6));
	usleep(400000);
	CHECK_OK(pthread_tryjoin_np(t, &r));
	CHECK((long)r == 6);
	printf("tryjoin after the end: value %ld\n", (long)r);
	return 0;
}
