/* Spin locks whose holder blocks: a holder that sleeps inside the critical
 * section must get to run again while others spin on the lock. With
 * GMPT_PROCS=1 a spinner that never gave up its P would wait forever (a
 * G is never preempted inside libc, where glibc's spin loop is). Also
 * trylock's EBUSY, and the count under contention. */
#define _GNU_SOURCE
#include <pthread.h>
#include <unistd.h>

#include "testutil.h"

#define NTHREADS 4
#define ROUNDS	 200

static pthread_spinlock_t lock;
static long counter;

static void *worker(void *arg)
{
	long id = (long)arg;
	for (int i = 0; i < ROUNDS; i++) {
		CHECK_EQ(pthread_spin_lock(&lock), 0);
		long c = counter;
		if (i % 20 == (int)id)
			usleep(200); /* blocks while holding the lock */
		counter = c + 1;
		CHECK_EQ(pthread_spin_unlock(&lock), 0);
	}
	return NULL;
}

int main(void)
{
	CHECK_EQ(pthread_spin_init(&lock, PTHREAD_PROCESS_PRIVATE), 0);
	CHECK_EQ(pthread_spin_lock(&lock), 0);
	CHECK_EQ(pthread_spin_trylock(&lock), EBUSY);
	CHECK_EQ(pthread_spin_unlock(&lock), 0);
	CHECK_EQ(pthread_spin_trylock(&lock), 0);
	CHECK_EQ(pthread_spin_unlock(&lock), 0);

	pthread_t t[NTHREADS];
	for (long i = 0; i < NTHREADS; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, worker, (void *)i), 0);
	for (int i = 0; i < NTHREADS; i++)
		CHECK_EQ(pthread_join(t[i], NULL), 0);
	CHECK_EQ(counter, (long)NTHREADS * ROUNDS);
	CHECK_EQ(pthread_spin_destroy(&lock), 0);
	printf("spin lock: %d threads x %d, holders sleeping inside: %ld\n", NTHREADS, ROUNDS,
	       counter);
	return 0;
}
