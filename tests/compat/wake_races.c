/* wake_races: timeouts and cancellations racing wakeups.
 *
 * A waiter whose deadline passes, or that is cancelled, leaves its wait
 * queue from wherever it is in it while other threads wake waiters of
 * the same queue (and, under GMPT_DEBUG=waitqbuckets=1, of every other
 * address too, all in one bucket). Each part checks a count that a lost
 * or doubled wakeup, or a waiter left behind in a queue, would break (or
 * hangs, which the test's timeout catches):
 *
 *   sem     sem_timedwait with deadlines from past to 200 us racing
 *           sem_post: acquired + the value left = posted
 *   cond    timed and untimed consumers of tokens a producer signals
 *           one by one: every token consumed exactly once
 *   mutex   pthread_mutex_timedlock with short deadlines racing
 *           unlocks: the count kept under the lock = the locks won
 *   cancel  threads cancelled in pthread_cond_wait while broadcasts and
 *           signals wake the others: each ends cancelled, its cleanup
 *           handler unlocks the mutex, the others keep being woken */
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>

#include "testutil.h"

#define NTHREADS 8

/* ---- sem ---- */

#define SEM_POSTS 6000
static sem_t sem;
static atomic_int sem_acquired;
static atomic_int sem_posters_done;

static void *sem_taker(void *arg)
{
	long id = (long)arg;
	for (int i = 0; atomic_load(&sem_posters_done) < 2 || i % 64 != 0; i++) {
		/* Deadlines already past, imminent and a little later: the
		 * timeout fires while posts arrive. */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		long add = ((i + id) % 5 - 1) * 50000L;
		ts.tv_nsec += add;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		} else if (ts.tv_nsec < 0) {
			ts.tv_sec--;
			ts.tv_nsec += 1000000000L;
		}
		int r = sem_timedwait(&sem, &ts);
		if (r == 0)
			atomic_fetch_add(&sem_acquired, 1);
		else
			CHECK(errno == ETIMEDOUT || errno == EINTR);
	}
	return NULL;
}

static void *sem_poster(void *arg)
{
	(void)arg;
	for (int i = 0; i < SEM_POSTS / 2; i++) {
		CHECK_EQ(sem_post(&sem), 0);
		/* Slower than the takers: they queue, and time out while
		 * posts wake others. */
		if (i % 4 == 0)
			usleep(20);
	}
	atomic_fetch_add(&sem_posters_done, 1);
	return NULL;
}

static void part_sem(void)
{
	CHECK_EQ(sem_init(&sem, 0, 0), 0);
	pthread_t t[NTHREADS], p[2];
	for (long i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_create(&t[i], NULL, sem_taker, (void *)i));
	for (int i = 0; i < 2; i++)
		CHECK_OK(pthread_create(&p[i], NULL, sem_poster, NULL));
	for (int i = 0; i < 2; i++)
		CHECK_OK(pthread_join(p[i], NULL));
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_join(t[i], NULL));
	int left;
	CHECK_EQ(sem_getvalue(&sem, &left), 0);
	CHECK_EQ(atomic_load(&sem_acquired) + left, SEM_POSTS);
	CHECK_EQ(sem_destroy(&sem), 0);
	printf("sem: ok\n");
}

/* ---- cond ---- */

#define TOKENS 6000
static pthread_mutex_t cmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ccv = PTHREAD_COND_INITIALIZER;
static int tokens;   /* under cmu */
static int consumed; /* under cmu */

static void *consumer(void *arg)
{
	long id = (long)arg;
	CHECK_OK(pthread_mutex_lock(&cmu));
	for (int i = 0; consumed < TOKENS; i++) {
		if (tokens > 0) {
			tokens--;
			if (++consumed == TOKENS)
				CHECK_OK(pthread_cond_broadcast(&ccv));
			continue;
		}
		if (id % 2 == 0) {
			CHECK_OK(pthread_cond_wait(&ccv, &cmu));
		} else {
			struct timespec ts = tu_deadline(CLOCK_REALTIME, 0);
			ts.tv_nsec += (i % 4) * 40000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			int r = pthread_cond_timedwait(&ccv, &cmu, &ts);
			CHECK(r == 0 || r == ETIMEDOUT);
		}
	}
	CHECK_OK(pthread_mutex_unlock(&cmu));
	return NULL;
}

static void part_cond(void)
{
	pthread_t t[NTHREADS];
	for (long i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_create(&t[i], NULL, consumer, (void *)i));
	for (int i = 0; i < TOKENS; i++) {
		CHECK_OK(pthread_mutex_lock(&cmu));
		tokens++;
		CHECK_OK(pthread_cond_signal(&ccv));
		CHECK_OK(pthread_mutex_unlock(&cmu));
		if (i % 8 == 0)
			sched_yield();
	}
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_join(t[i], NULL));
	CHECK_EQ(consumed, TOKENS);
	CHECK_EQ(tokens, 0);
	printf("cond: ok\n");
}

/* ---- mutex ---- */

#define MUTEX_ROUNDS 3000
static pthread_mutex_t tmu = PTHREAD_MUTEX_INITIALIZER;
static long inside; /* under tmu */
static atomic_long won;

static void *locker(void *arg)
{
	long id = (long)arg;
	for (int i = 0; i < MUTEX_ROUNDS; i++) {
		struct timespec ts = tu_deadline(CLOCK_REALTIME, 0);
		ts.tv_nsec += ((i + id) % 3) * 30000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		int r = id == 0 ? pthread_mutex_lock(&tmu) : pthread_mutex_timedlock(&tmu, &ts);
		if (r == ETIMEDOUT)
			continue;
		CHECK_EQ(r, 0);
		inside++;
		atomic_fetch_add(&won, 1);
		/* Hold it a little, so that others queue and time out. */
		for (volatile int k = 0; k < 2000; k++)
			;
		CHECK_OK(pthread_mutex_unlock(&tmu));
	}
	return NULL;
}

static void part_mutex(void)
{
	pthread_t t[NTHREADS];
	for (long i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_create(&t[i], NULL, locker, (void *)i));
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_join(t[i], NULL));
	CHECK_EQ(inside, atomic_load(&won));
	CHECK(inside >= MUTEX_ROUNDS); /* thread 0 never times out */
	CHECK_OK(pthread_mutex_trylock(&tmu));
	CHECK_OK(pthread_mutex_unlock(&tmu));
	printf("mutex: ok\n");
}

/* ---- cancel ---- */

#define CANCEL_ROUNDS 300
static pthread_mutex_t kmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t kcv = PTHREAD_COND_INITIALIZER;
static long generation; /* under kmu */
static atomic_long wakeups;

static void unlock_kmu(void *arg)
{
	(void)arg;
	CHECK_OK(pthread_mutex_unlock(&kmu));
}

static void *sleeper(void *arg)
{
	(void)arg;
	CHECK_OK(pthread_mutex_lock(&kmu));
	pthread_cleanup_push(unlock_kmu, NULL);
	for (;;) {
		long seen = generation;
		while (generation == seen)
			CHECK_OK(pthread_cond_wait(&kcv, &kmu));
		atomic_fetch_add(&wakeups, 1);
	}
	pthread_cleanup_pop(1);
	return NULL;
}

static void part_cancel(void)
{
	pthread_t t[NTHREADS];
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_create(&t[i], NULL, sleeper, NULL));
	int cancelled = 0;
	for (int round = 0; round < CANCEL_ROUNDS; round++) {
		CHECK_OK(pthread_mutex_lock(&kmu));
		generation++;
		if (round % 2)
			CHECK_OK(pthread_cond_broadcast(&kcv));
		else
			for (int k = 0; k < NTHREADS / 2; k++)
				CHECK_OK(pthread_cond_signal(&kcv));
		CHECK_OK(pthread_mutex_unlock(&kmu));
		if (round % 3 == 0) {
			/* One of them, wherever it is: waiting, just woken,
			 * relocking. It is replaced at once. */
			int k = round % NTHREADS;
			CHECK_OK(pthread_cancel(t[k]));
			void *res;
			CHECK_OK(pthread_join(t[k], &res));
			CHECK(res == PTHREAD_CANCELED);
			cancelled++;
			CHECK_OK(pthread_create(&t[k], NULL, sleeper, NULL));
		}
	}
	for (int i = 0; i < NTHREADS; i++) {
		CHECK_OK(pthread_cancel(t[i]));
		void *res;
		CHECK_OK(pthread_join(t[i], &res));
		CHECK(res == PTHREAD_CANCELED);
	}
	/* Every cleanup handler unlocked: the mutex is free. */
	CHECK_OK(pthread_mutex_trylock(&kmu));
	CHECK_OK(pthread_mutex_unlock(&kmu));
	CHECK(atomic_load(&wakeups) > 0);
	printf("cancel: ok, %d cancelled while others were woken\n", cancelled + NTHREADS);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	part_sem();
	part_cond();
	part_mutex();
	part_cancel();
	return 0;
}
