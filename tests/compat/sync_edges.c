/* Synchronisation edge cases where glibc's behaviour is the specification:
 *
 *   cond-recursive  pthread_cond_wait on a recursive mutex locked twice
 *                   waits (glibc unlocks one level, so the mutex stays
 *                   held: another thread's trylock is EBUSY) and gives
 *                   the level back: two unlocks succeed, a third is EPERM
 *   cond-robust     the owner of a robust mutex dies while a thread waits
 *                   on a condition with it: the wait's relock returns
 *                   EOWNERDEAD, and the mutex can be made consistent
 *   barrier-reinit  the serial thread destroys and re-initialises the
 *                   barrier as soon as it returns (glibc's tst-barrier4
 *                   pattern): the other threads of the round still leave
 *
 * With no argument every part runs. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>

#include "testutil.h"

/* ---- cond-recursive ---- */
static pthread_mutex_t rec;
static pthread_cond_t rec_cond = PTHREAD_COND_INITIALIZER;
static atomic_int rec_waiting, rec_woken;

static void *rec_other(void *arg)
{
	while (!atomic_load(&rec_waiting))
		sched_yield();
	/* The waiter holds one level still. */
	CHECK_RC(pthread_mutex_trylock(&rec), EBUSY);
	/* Signals without the mutex (nobody can take it) until the waiter
	 * is back: a signal that comes before it sleeps is not lost, as it
	 * is sent again. */
	while (!atomic_load(&rec_woken)) {
		CHECK_OK(pthread_cond_signal(&rec_cond));
		sched_yield();
	}
	return arg;
}

static void cond_recursive(void)
{
	pthread_mutexattr_t at;
	CHECK_OK(pthread_mutexattr_init(&at));
	CHECK_OK(pthread_mutexattr_settype(&at, PTHREAD_MUTEX_RECURSIVE));
	CHECK_OK(pthread_mutex_init(&rec, &at));
	CHECK_OK(pthread_mutex_lock(&rec));
	CHECK_OK(pthread_mutex_lock(&rec));
	pthread_t t;
	CHECK_OK(pthread_create(&t, NULL, rec_other, NULL));
	atomic_store(&rec_waiting, 1);
	CHECK_OK(pthread_cond_wait(&rec_cond, &rec));
	atomic_store(&rec_woken, 1);
	CHECK_OK(pthread_join(t, NULL));
	CHECK_OK(pthread_mutex_unlock(&rec));
	CHECK_OK(pthread_mutex_unlock(&rec));
	CHECK_RC(pthread_mutex_unlock(&rec), EPERM);
	puts("cond-recursive: waited holding one level, both levels back");
}

/* ---- cond-robust ---- */
static pthread_mutex_t robust;
static pthread_cond_t robust_cond = PTHREAD_COND_INITIALIZER;

static void *dies_holding(void *arg)
{
	CHECK_OK(pthread_mutex_lock(&robust));
	CHECK_OK(pthread_cond_signal(&robust_cond));
	return arg; /* ends with the mutex locked */
}

static void cond_robust(void)
{
	pthread_mutexattr_t at;
	CHECK_OK(pthread_mutexattr_init(&at));
	CHECK_OK(pthread_mutexattr_setrobust(&at, PTHREAD_MUTEX_ROBUST));
	CHECK_OK(pthread_mutex_init(&robust, &at));
	CHECK_OK(pthread_mutex_lock(&robust));
	pthread_t t;
	CHECK_OK(pthread_create(&t, NULL, dies_holding, NULL));
	/* The thread can only lock once this wait released the mutex, and
	 * it signals while holding it, so the wait cannot miss it. */
	CHECK_RC(pthread_cond_wait(&robust_cond, &robust), EOWNERDEAD);
	CHECK_OK(pthread_mutex_consistent(&robust));
	CHECK_OK(pthread_mutex_unlock(&robust));
	CHECK_OK(pthread_join(t, NULL));
	CHECK_OK(pthread_mutex_lock(&robust));
	CHECK_OK(pthread_mutex_unlock(&robust));
	puts("cond-robust: EOWNERDEAD from the wait");
}

/* ---- barrier-reinit ---- */
#define BARRIER_THREADS 20
#define BARRIER_ROUNDS	30
static pthread_barrier_t bar1, bar2;
static atomic_int serials;

static void wait_and_renew(pthread_barrier_t *b)
{
	int r = pthread_barrier_wait(b);
	if (r == PTHREAD_BARRIER_SERIAL_THREAD) {
		atomic_fetch_add(&serials, 1);
		CHECK_OK(pthread_barrier_destroy(b));
		CHECK_OK(pthread_barrier_init(b, NULL, BARRIER_THREADS));
	} else {
		CHECK_OK(r);
	}
}

static void *barrier_rounds(void *arg)
{
	for (int round = 0; round < BARRIER_ROUNDS; round++) {
		wait_and_renew(&bar1);
		wait_and_renew(&bar2);
	}
	return arg;
}

static void barrier_reinit(void)
{
	CHECK_OK(pthread_barrier_init(&bar1, NULL, BARRIER_THREADS));
	CHECK_OK(pthread_barrier_init(&bar2, NULL, BARRIER_THREADS));
	pthread_t t[BARRIER_THREADS - 1];
	for (int i = 0; i < BARRIER_THREADS - 1; i++)
		CHECK_OK(pthread_create(&t[i], NULL, barrier_rounds, NULL));
	barrier_rounds(NULL);
	for (int i = 0; i < BARRIER_THREADS - 1; i++)
		CHECK_OK(pthread_join(t[i], NULL));
	CHECK_EQ(atomic_load(&serials), 2 * BARRIER_ROUNDS);
	CHECK_OK(pthread_barrier_destroy(&bar1));
	CHECK_OK(pthread_barrier_destroy(&bar2));
	printf("barrier-reinit: %d rounds, one serial thread each\n", 2 * BARRIER_ROUNDS);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*run)(void);
	} parts[] = {{"cond-recursive", cond_recursive},
		     {"cond-robust", cond_robust},
		     {"barrier-reinit", barrier_reinit}};
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
		if (argc < 2 || strcmp(argv[1], parts[i].name) == 0)
			parts[i].run();
	return 0;
}
