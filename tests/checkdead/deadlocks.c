/* deadlocks.c SCENARIO - a program that deadlocks for good: every thread
 * ends up waiting for another. Natively it hangs; under gmpt the deadlock
 * check must print "gmpt: all threads are asleep - deadlock!" with the
 * thread dump and abort (check_deadlock.sh).
 *
 *   abba      two threads take two mutexes in opposite orders
 *   cond      a thread waits on a condition nobody signals; main joins it
 *   join      main joins a thread that waits for a mutex main holds
 *   sem       main waits on a semaphore nobody posts
 *   barrier   two threads wait at a barrier for three
 *   rwlock    main holds a write lock and joins a thread that wants to read
 *   once      a once routine joins a thread that calls the same once
 *   exited    main calls pthread_exit while its threads wait on a mutex */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t mutex_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t mutex_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t both_hold_one;

static void *take_a_then_b(void *arg)
{
	pthread_mutex_lock(&mutex_a);
	pthread_barrier_wait(&both_hold_one);
	pthread_mutex_lock(&mutex_b);
	return arg;
}

static void *take_b_then_a(void *arg)
{
	pthread_mutex_lock(&mutex_b);
	pthread_barrier_wait(&both_hold_one);
	pthread_mutex_lock(&mutex_a);
	return arg;
}

static void abba(void)
{
	pthread_barrier_init(&both_hold_one, NULL, 2);
	pthread_t x, y;
	pthread_create(&x, NULL, take_a_then_b, NULL);
	pthread_create(&y, NULL, take_b_then_a, NULL);
	pthread_join(x, NULL);
	pthread_join(y, NULL);
}

static pthread_cond_t never_signalled = PTHREAD_COND_INITIALIZER;

static void *wait_for_signal(void *arg)
{
	pthread_mutex_lock(&mutex_a);
	pthread_cond_wait(&never_signalled, &mutex_a);
	pthread_mutex_unlock(&mutex_a);
	return arg;
}

static void cond(void)
{
	pthread_t t;
	pthread_create(&t, NULL, wait_for_signal, NULL);
	pthread_join(t, NULL);
}

static void *lock_a(void *arg)
{
	pthread_mutex_lock(&mutex_a);
	pthread_mutex_unlock(&mutex_a);
	return arg;
}

static void join(void)
{
	pthread_mutex_lock(&mutex_a);
	pthread_t t;
	pthread_create(&t, NULL, lock_a, NULL);
	pthread_join(t, NULL);
}

static void sem(void)
{
	sem_t s;
	sem_init(&s, 0, 0);
	sem_wait(&s);
}

static pthread_barrier_t three;

static void *wait_at_barrier(void *arg)
{
	pthread_barrier_wait(&three);
	return arg;
}

static void barrier(void)
{
	pthread_barrier_init(&three, NULL, 3);
	pthread_t x, y;
	pthread_create(&x, NULL, wait_at_barrier, NULL);
	pthread_create(&y, NULL, wait_at_barrier, NULL);
	pthread_join(x, NULL);
	pthread_join(y, NULL);
}

static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;

static void *read_lock(void *arg)
{
	pthread_rwlock_rdlock(&rw);
	pthread_rwlock_unlock(&rw);
	return arg;
}

static void rwlock(void)
{
	pthread_rwlock_wrlock(&rw);
	pthread_t t;
	pthread_create(&t, NULL, read_lock, NULL);
	pthread_join(t, NULL);
}

static pthread_once_t once_control = PTHREAD_ONCE_INIT;
static void once_routine(void);

static void *call_once(void *arg)
{
	pthread_once(&once_control, once_routine);
	return arg;
}

static void once_routine(void)
{
	pthread_t t;
	pthread_create(&t, NULL, call_once, NULL);
	pthread_join(t, NULL);
}

static void once(void)
{
	pthread_once(&once_control, once_routine);
}

static void exited(void)
{
	pthread_mutex_lock(&mutex_a);
	pthread_t t;
	pthread_create(&t, NULL, lock_a, NULL);
	pthread_exit(NULL);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*run)(void);
	} scenarios[] = {{"abba", abba}, {"cond", cond},       {"join", join},
			 {"sem", sem},	 {"barrier", barrier}, {"rwlock", rwlock},
			 {"once", once}, {"exited", exited}};
	for (size_t i = 0; argc == 2 && i < sizeof scenarios / sizeof *scenarios; i++)
		if (strcmp(argv[1], scenarios[i].name) == 0) {
			scenarios[i].run();
			puts("not deadlocked");
			return 1;
		}
	fprintf(stderr, "usage: deadlocks abba|cond|join|sem|barrier|rwlock|once|exited\n");
	return 2;
}
