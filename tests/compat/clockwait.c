/* pthread_cond_clockwait and pthread_mutex_clocklock (glibc 2.30+): the
 * clock is chosen per call. libstdc++ calls both from inline code for
 * std::condition_variable::wait_for and std::timed_mutex::try_lock_for, so
 * every C++ program that waits with a timeout depends on them. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>

#include "testutil.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int flag;

static void *setter(void *arg)
{
	(void)arg;
	usleep(20000);
	pthread_mutex_lock(&lock);
	flag = 1;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	return NULL;
}

/* A thread that holds a mutex until told to let go. */
static pthread_mutex_t hold_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_cond = PTHREAD_COND_INITIALIZER;
static int held, release;

static void *holder(void *arg)
{
	pthread_mutex_t *m = arg;
	CHECK_OK(pthread_mutex_lock(m));
	pthread_mutex_lock(&hold_lock);
	held = 1;
	pthread_cond_broadcast(&hold_cond);
	while (!release)
		pthread_cond_wait(&hold_cond, &hold_lock);
	pthread_mutex_unlock(&hold_lock);
	usleep(10000);
	CHECK_OK(pthread_mutex_unlock(m));
	return NULL;
}

int main(void)
{
	const clockid_t clocks[] = {CLOCK_MONOTONIC, CLOCK_REALTIME};
	const char *const names[] = {"monotonic", "realtime"};

	for (int c = 0; c < 2; c++) {
		clockid_t clk = clocks[c];
		/* Timeout. */
		CHECK_OK(pthread_mutex_lock(&lock));
		int64_t t0 = tu_now_ns(clk);
		struct timespec dl = tu_deadline(clk, 40);
		int rc;
		do
			rc = pthread_cond_clockwait(&cond, &lock, clk, &dl);
		while (rc == 0);
		CHECK_RC(rc, ETIMEDOUT);
		CHECK(tu_now_ns(clk) - t0 >= 40000000);
		CHECK_OK(pthread_mutex_unlock(&lock));

		/* Woken before the deadline. */
		pthread_t t;
		flag = 0;
		CHECK_OK(pthread_mutex_lock(&lock));
		CHECK_OK(pthread_create(&t, NULL, setter, NULL));
		dl = tu_deadline(clk, 20000);
		rc = 0;
		while (!flag && rc == 0)
			rc = pthread_cond_clockwait(&cond, &lock, clk, &dl);
		CHECK_RC(rc, 0);
		CHECK_OK(pthread_mutex_unlock(&lock));
		CHECK_OK(pthread_join(t, NULL));
		printf("pthread_cond_clockwait %s: ETIMEDOUT after >= 40 ms, woken early\n",
		       names[c]);

		/* pthread_mutex_clocklock: times out while another thread holds
		 * the mutex, succeeds once it lets go. */
		pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
		held = release = 0;
		CHECK_OK(pthread_create(&t, NULL, holder, &m));
		pthread_mutex_lock(&hold_lock);
		while (!held)
			pthread_cond_wait(&hold_cond, &hold_lock);
		pthread_mutex_unlock(&hold_lock);
		t0 = tu_now_ns(clk);
		dl = tu_deadline(clk, 10);
		CHECK_RC(pthread_mutex_clocklock(&m, clk, &dl), ETIMEDOUT);
		CHECK(tu_now_ns(clk) - t0 >= 10000000);
		pthread_mutex_lock(&hold_lock);
		release = 1;
		pthread_cond_broadcast(&hold_cond);
		pthread_mutex_unlock(&hold_lock);
		dl = tu_deadline(clk, 20000);
		CHECK_OK(pthread_mutex_clocklock(&m, clk, &dl));
		CHECK_OK(pthread_mutex_unlock(&m));
		CHECK_OK(pthread_join(t, NULL));
		printf("pthread_mutex_clocklock %s: ETIMEDOUT, then acquired\n", names[c]);
	}

	/* A clock that cannot be used for waiting. */
	CHECK_OK(pthread_mutex_lock(&lock));
	struct timespec dl = tu_deadline(CLOCK_MONOTONIC, 10);
	CHECK_RC(pthread_cond_clockwait(&cond, &lock, CLOCK_PROCESS_CPUTIME_ID, &dl), EINVAL);
	CHECK_OK(pthread_mutex_unlock(&lock));
	printf("pthread_cond_clockwait with a CPU-time clock: EINVAL\n");
	return 0;
}
