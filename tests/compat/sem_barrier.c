/* Semaphores and barriers: waits park the thread (under GMPT_PROCS=1 a
 * wait that blocked its kernel thread would hang: the poster is queued on
 * the same P), and the error returns are glibc's: EAGAIN from trywait,
 * ETIMEDOUT from timedwait/clockwait, EINVAL for a bad timespec, clock or
 * initial value, EOVERFLOW at SEM_VALUE_MAX, EINVAL for a zero-count
 * barrier. A named semaphore (sem_open, glibc's) works with the same
 * waits. One serial thread per barrier round. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "testutil.h"

#define NTHREADS 5
#define ROUNDS	 50
#define ITEMS	 2000

/* errno read through a call: the compiler would otherwise compute errno's
 * address once per function, and until gmpt gives every thread its own
 * TLS (issue 4) a thread that waited may resume on another kernel thread
 * whose errno that address is not. */
__attribute__((noinline)) static int err(void)
{
	return errno;
}

static sem_t items, slots;
static long sum;

static void *producer(void *arg)
{
	sem_t *done = arg;
	for (long i = 1; i <= ITEMS; i++) {
		CHECK_OK(sem_wait(&slots));
		CHECK_OK(sem_post(&items));
	}
	CHECK_OK(sem_post(done));
	return NULL;
}

static void *consumer(void *arg)
{
	(void)arg;
	for (long i = 1; i <= ITEMS; i++) {
		CHECK_OK(sem_wait(&items));
		sum += i;
		CHECK_OK(sem_post(&slots));
	}
	return NULL;
}

static void semaphores(void)
{
	CHECK_OK(sem_init(&items, 0, 0));
	CHECK_OK(sem_init(&slots, 0, 4));
	sem_t done;
	CHECK_OK(sem_init(&done, 0, 0));
	pthread_t p, c;
	CHECK_OK(pthread_create(&c, NULL, consumer, NULL));
	CHECK_OK(pthread_create(&p, NULL, producer, &done));
	CHECK_OK(sem_wait(&done));
	CHECK_OK(pthread_join(p, NULL));
	CHECK_OK(pthread_join(c, NULL));
	CHECK_EQ(sum, (long)ITEMS * (ITEMS + 1) / 2);
	int v = -1;
	CHECK_OK(sem_getvalue(&slots, &v));
	CHECK_EQ(v, 4);
	printf("semaphores: %d items through a 4-slot buffer, sum %ld\n", ITEMS, sum);

	errno = 0;
	CHECK_EQ(sem_trywait(&items), -1);
	CHECK_EQ(err(), EAGAIN);
	struct timespec t = tu_deadline(CLOCK_REALTIME, 30);
	int64_t t0 = tu_now_ns(CLOCK_MONOTONIC);
	errno = 0;
	CHECK_EQ(sem_timedwait(&items, &t), -1);
	CHECK_EQ(err(), ETIMEDOUT);
	CHECK(tu_now_ns(CLOCK_MONOTONIC) - t0 >= 25000000);
	t = tu_deadline(CLOCK_MONOTONIC, 20);
	errno = 0;
	CHECK_EQ(sem_clockwait(&items, CLOCK_MONOTONIC, &t), -1);
	CHECK_EQ(err(), ETIMEDOUT);
	struct timespec bad = {0, 1000000000};
	errno = 0;
	CHECK_EQ(sem_timedwait(&items, &bad), -1);
	CHECK_EQ(err(), EINVAL);
	errno = 0;
	CHECK_EQ(sem_clockwait(&items, CLOCK_PROCESS_CPUTIME_ID, &t), -1);
	CHECK_EQ(err(), EINVAL);
	/* Checked first, as glibc does, even with a unit to take. */
	CHECK_OK(sem_post(&items));
	errno = 0;
	CHECK_EQ(sem_timedwait(&items, &bad), -1);
	CHECK_EQ(err(), EINVAL);
	CHECK_OK(sem_trywait(&items));
	printf("semaphores: trywait EAGAIN, timedwait/clockwait ETIMEDOUT, bad timespec "
	       "or clock EINVAL\n");

	sem_t big;
	errno = 0;
	CHECK_EQ(sem_init(&big, 0, (unsigned)SEM_VALUE_MAX + 1), -1);
	CHECK_EQ(err(), EINVAL);
	CHECK_OK(sem_init(&big, 0, SEM_VALUE_MAX));
	errno = 0;
	CHECK_EQ(sem_post(&big), -1);
	CHECK_EQ(err(), EOVERFLOW);
	printf("semaphores: init above SEM_VALUE_MAX EINVAL, post at it EOVERFLOW\n");
	CHECK_OK(sem_destroy(&big));
	CHECK_OK(sem_destroy(&items));
	CHECK_OK(sem_destroy(&slots));
	CHECK_OK(sem_destroy(&done));
}

static void *named_poster(void *arg)
{
	usleep(20000);
	CHECK_OK(sem_post(arg));
	return NULL;
}

static void named(void)
{
	char name[64];
	snprintf(name, sizeof name, "/gmpt-sem-barrier-%d", (int)getpid());
	sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0600, 0);
	CHECK(s != SEM_FAILED);
	CHECK_OK(sem_unlink(name));
	pthread_t t;
	CHECK_OK(pthread_create(&t, NULL, named_poster, s));
	CHECK_OK(sem_wait(s));
	CHECK_OK(pthread_join(t, NULL));
	CHECK_OK(sem_close(s));
	printf("named semaphore: a wait ended by another thread's post\n");
}

static pthread_barrier_t barrier;
static atomic_int serial, arrived[ROUNDS];

static void *barrier_user(void *arg)
{
	(void)arg;
	for (int r = 0; r < ROUNDS; r++) {
		atomic_fetch_add(&arrived[r], 1);
		int rc = pthread_barrier_wait(&barrier);
		CHECK(rc == 0 || rc == PTHREAD_BARRIER_SERIAL_THREAD);
		CHECK_EQ(atomic_load(&arrived[r]), NTHREADS);
		if (rc == PTHREAD_BARRIER_SERIAL_THREAD)
			atomic_fetch_add(&serial, 1);
	}
	return NULL;
}

static void barriers(void)
{
	pthread_barrier_t b0;
	CHECK_RC(pthread_barrier_init(&b0, NULL, 0), EINVAL);
	CHECK_OK(pthread_barrier_init(&barrier, NULL, NTHREADS));
	pthread_t t[NTHREADS];
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_create(&t[i], NULL, barrier_user, NULL));
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_join(t[i], NULL));
	CHECK_EQ(atomic_load(&serial), ROUNDS);
	CHECK_OK(pthread_barrier_destroy(&barrier));
	printf("barrier: %d threads, %d rounds, one serial thread per round; count 0 EINVAL\n",
	       NTHREADS, ROUNDS);
}

int main(void)
{
	semaphores();
	named();
	barriers();
	return 0;
}
