/* The rest of the pthread synchronisation surface a program may use:
 * read-write locks (shared readers, exclusive writers, try and timed
 * variants), barriers (one PTHREAD_BARRIER_SERIAL_THREAD per round), POSIX
 * semaphores (wait/post/trywait/timedwait) and spin locks. Under
 * GMPT_PROCS=1 a primitive that blocks its kernel thread instead of
 * parking would hang here. */
#define _GNU_SOURCE
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>

#include "testutil.h"

#define NTHREADS 6

/* ---- rwlock ---- */
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static atomic_int readers_in, max_readers, writer_in;
static long rw_value;
static pthread_barrier_t rw_start;

static void *rw_reader(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&rw_start);
	for (int i = 0; i < 200; i++) {
		CHECK_OK(pthread_rwlock_rdlock(&rw));
		int n = atomic_fetch_add(&readers_in, 1) + 1;
		int m = atomic_load(&max_readers);
		while (n > m && !atomic_compare_exchange_weak(&max_readers, &m, n))
			;
		CHECK_EQ(atomic_load(&writer_in), 0);
		if (i % 50 == 0)
			usleep(2000); /* hold it while the others come in */
		atomic_fetch_sub(&readers_in, 1);
		CHECK_OK(pthread_rwlock_unlock(&rw));
	}
	return NULL;
}

static void *rw_writer(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&rw_start);
	for (int i = 0; i < 200; i++) {
		CHECK_OK(pthread_rwlock_wrlock(&rw));
		CHECK_EQ(atomic_fetch_add(&writer_in, 1), 0);
		CHECK_EQ(atomic_load(&readers_in), 0);
		rw_value++;
		atomic_fetch_sub(&writer_in, 1);
		CHECK_OK(pthread_rwlock_unlock(&rw));
	}
	return NULL;
}

static void *try_locks(void *arg)
{
	(void)arg;
	int r = 0;
	r |= pthread_rwlock_trywrlock(&rw) == EBUSY;
	struct timespec dl = tu_deadline(CLOCK_REALTIME, 30);
	r |= (pthread_rwlock_timedwrlock(&rw, &dl) == ETIMEDOUT) << 1;
	return (void *)(intptr_t)r;
}

static void rwlock_test(void)
{
	pthread_t t[NTHREADS];
	CHECK_OK(pthread_barrier_init(&rw_start, NULL, NTHREADS));
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_create(&t[i], NULL, i < 4 ? rw_reader : rw_writer, NULL));
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_join(t[i], NULL));
	CHECK_OK(pthread_barrier_destroy(&rw_start));
	CHECK_EQ(rw_value, 2 * 200);
	CHECK(atomic_load(&max_readers) >= 2);
	printf("rwlock: writers exclusive, readers shared, value %ld\n", rw_value);

	/* A reader holds it: another thread's trywrlock is EBUSY and its
	 * timedwrlock times out; tryrdlock succeeds. */
	CHECK_OK(pthread_rwlock_rdlock(&rw));
	CHECK_OK(pthread_rwlock_tryrdlock(&rw));
	CHECK_OK(pthread_rwlock_unlock(&rw));
	void *ret;
	pthread_t t1;
	CHECK_OK(pthread_create(&t1, NULL, try_locks, NULL));
	CHECK_OK(pthread_join(t1, &ret));
	CHECK_EQ((intptr_t)ret, 3);
	CHECK_OK(pthread_rwlock_unlock(&rw));
	CHECK_OK(pthread_rwlock_wrlock(&rw));
	CHECK_RC(pthread_rwlock_tryrdlock(&rw), EBUSY);
	CHECK_OK(pthread_rwlock_unlock(&rw));
	printf("rwlock: trywrlock EBUSY, timedwrlock ETIMEDOUT, tryrdlock EBUSY under a writer\n");
}

/* ---- barrier ---- */
#define ROUNDS 50
static pthread_barrier_t barrier;
static atomic_int serial_count, phase_count[ROUNDS];

static void *barrier_user(void *arg)
{
	(void)arg;
	for (int r = 0; r < ROUNDS; r++) {
		atomic_fetch_add(&phase_count[r], 1);
		int rc = pthread_barrier_wait(&barrier);
		CHECK(rc == 0 || rc == PTHREAD_BARRIER_SERIAL_THREAD);
		/* Everyone has arrived for round r. */
		CHECK_EQ(atomic_load(&phase_count[r]), NTHREADS);
		if (rc == PTHREAD_BARRIER_SERIAL_THREAD)
			atomic_fetch_add(&serial_count, 1);
	}
	return NULL;
}

static void barrier_test(void)
{
	pthread_t t[NTHREADS];
	CHECK_OK(pthread_barrier_init(&barrier, NULL, NTHREADS));
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_create(&t[i], NULL, barrier_user, NULL));
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_join(t[i], NULL));
	CHECK_OK(pthread_barrier_destroy(&barrier));
	CHECK_EQ(atomic_load(&serial_count), ROUNDS);
	printf("barrier: %d threads, %d rounds, one serial thread per round\n", NTHREADS, ROUNDS);
}

/* ---- semaphores ---- */
static sem_t items, slots;
static long sem_sum;

static void *sem_producer(void *arg)
{
	(void)arg;
	for (long i = 1; i <= 1000; i++) {
		CHECK_EQ(sem_wait(&slots), 0);
		CHECK_EQ(sem_post(&items), 0);
	}
	return NULL;
}

static void *sem_consumer(void *arg)
{
	(void)arg;
	long n = 0;
	for (long i = 1; i <= 1000; i++) {
		CHECK_EQ(sem_wait(&items), 0);
		n += i;
		CHECK_EQ(sem_post(&slots), 0);
	}
	return (void *)n;
}

static void semaphore_test(void)
{
	CHECK_EQ(sem_init(&items, 0, 0), 0);
	CHECK_EQ(sem_init(&slots, 0, 4), 0);
	errno = 0;
	CHECK_EQ(sem_trywait(&items), -1);
	CHECK_EQ(errno, EAGAIN);
	struct timespec dl = tu_deadline(CLOCK_REALTIME, 30);
	int64_t t0 = tu_now_ns(CLOCK_REALTIME);
	errno = 0;
	CHECK_EQ(sem_timedwait(&items, &dl), -1);
	CHECK_EQ(errno, ETIMEDOUT);
	CHECK(tu_now_ns(CLOCK_REALTIME) - t0 >= 30000000);

	pthread_t p[2], c[2];
	for (int i = 0; i < 2; i++) {
		CHECK_OK(pthread_create(&c[i], NULL, sem_consumer, NULL));
		CHECK_OK(pthread_create(&p[i], NULL, sem_producer, NULL));
	}
	for (int i = 0; i < 2; i++) {
		void *ret;
		CHECK_OK(pthread_join(p[i], NULL));
		CHECK_OK(pthread_join(c[i], &ret));
		sem_sum += (long)ret;
	}
	int v;
	CHECK_EQ(sem_getvalue(&items, &v), 0);
	CHECK_EQ(v, 0);
	CHECK_EQ(sem_getvalue(&slots, &v), 0);
	CHECK_EQ(v, 4);
	CHECK_EQ(sem_sum, 2 * 500500L);
	CHECK_EQ(sem_destroy(&items), 0);
	CHECK_EQ(sem_destroy(&slots), 0);
	printf("semaphore: trywait EAGAIN, timedwait ETIMEDOUT, 2000 items passed\n");
}

/* ---- spin locks ---- */
static pthread_spinlock_t spin;
static long spin_count;

static void *spinner(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20000; i++) {
		CHECK_OK(pthread_spin_lock(&spin));
		spin_count++;
		CHECK_OK(pthread_spin_unlock(&spin));
	}
	return NULL;
}

static void spin_test(void)
{
	pthread_t t[4];
	CHECK_OK(pthread_spin_init(&spin, PTHREAD_PROCESS_PRIVATE));
	CHECK_OK(pthread_spin_lock(&spin));
	CHECK_RC(pthread_spin_trylock(&spin), EBUSY);
	CHECK_OK(pthread_spin_unlock(&spin));
	for (int i = 0; i < 4; i++)
		CHECK_OK(pthread_create(&t[i], NULL, spinner, NULL));
	for (int i = 0; i < 4; i++)
		CHECK_OK(pthread_join(t[i], NULL));
	CHECK_OK(pthread_spin_destroy(&spin));
	CHECK_EQ(spin_count, 4 * 20000);
	printf("spinlock: count %ld\n", spin_count);
}

int main(void)
{
	rwlock_test();
	barrier_test();
	semaphore_test();
	spin_test();
	return 0;
}
