/* errno and __thread variables are private to each thread across blocking
 * calls (condition waits, sleeps, yields, contended mutexes), and every
 * new thread starts from the TLS initialisation image. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>

#include "testutil.h"

#define NTHREADS 8
#define ROUNDS	 20

static __thread int tls_init = 42;
static __thread long tls_zero;
static __thread char tls_buf[256];

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int arrived, generation;
static int *errno_addr[NTHREADS];

/* All threads meet here each round, so they block while the others run. */
static void barrier(void)
{
	pthread_mutex_lock(&lock);
	int gen = generation;
	if (++arrived == NTHREADS) {
		arrived = 0;
		generation++;
		pthread_cond_broadcast(&cond);
	} else {
		while (gen == generation)
			pthread_cond_wait(&cond, &lock);
	}
	pthread_mutex_unlock(&lock);
}

static void check_mine(int id, int round)
{
	CHECK_EQ(errno, 1000 + id * 100 + round);
	CHECK_EQ(tls_zero, id * 7L + round);
	CHECK_EQ(tls_init, 42 + id);
	for (int i = 0; i < (int)sizeof tls_buf; i++)
		CHECK_EQ(tls_buf[i], (char)(id + round));
}

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	CHECK_EQ(tls_init, 42);
	CHECK_EQ(tls_zero, 0);
	for (int i = 0; i < (int)sizeof tls_buf; i++)
		CHECK_EQ(tls_buf[i], 0);
	errno_addr[id] = &errno;
	tls_init = 42 + id;

	for (int round = 0; round < ROUNDS; round++) {
		errno = 1000 + id * 100 + round;
		tls_zero = id * 7L + round;
		memset(tls_buf, id + round, sizeof tls_buf);

		barrier();
		check_mine(id, round);

		struct timespec ts = {0, 200000 + id * 10000};
		CHECK_EQ(nanosleep(&ts, NULL), 0);
		check_mine(id, round);

		CHECK_OK(sched_yield());
		check_mine(id, round);

		pthread_mutex_lock(&lock);
		struct timespec dl = tu_deadline(CLOCK_REALTIME, 1);
		int rc;
		do
			rc = pthread_cond_timedwait(&cond, &lock, &dl);
		while (rc == 0);
		pthread_mutex_unlock(&lock);
		CHECK_RC(rc, ETIMEDOUT);
		check_mine(id, round);

		/* A failing call in one thread sets only that thread's errno. */
		if (id == round % NTHREADS) {
			CHECK_EQ(close(-1), -1);
			CHECK_EQ(errno, EBADF);
			errno = 1000 + id * 100 + round;
		}
		barrier();
		check_mine(id, round);
	}
	return NULL;
}

int main(void)
{
	pthread_t t[NTHREADS];
	tls_init = 7; /* must not leak into new threads */
	tls_zero = -1;
	errno = 12345;
	for (intptr_t i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_create(&t[i], NULL, worker, (void *)i));
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_join(t[i], NULL));
	for (int i = 0; i < NTHREADS; i++) {
		CHECK(errno_addr[i] != &errno);
		for (int j = 0; j < i; j++)
			CHECK(errno_addr[i] != errno_addr[j]);
	}
	CHECK_EQ(errno, 12345);
	CHECK_EQ(tls_init, 7);
	CHECK_EQ(tls_zero, -1);
	printf("errno and __thread: private in %d threads over %d rounds of blocking calls\n",
	       NTHREADS, ROUNDS);
	return 0;
}
