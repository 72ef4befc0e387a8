/* tests/stress/stress.c - every primitive at once, under randomised
 * scheduling (GMPT_STRESS=seed) and several GMPT_PROCS values. Linked
 * straight against libgmpt, so the ASan+UBSan build runs it instrumented.
 *
 * Asserts: no lost wakeup (every waiter finishes under a watchdog), mutual
 * exclusion (a counter with a non-atomic read-modify-write and an owner
 * check), once-only initialisation, per-thread keys with destructors, join
 * values, detached threads all finish. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WORKERS 64
#define ROUNDS	300

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #c);               \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long counter;
static int inside;
static int turn;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int once_runs;
static pthread_key_t key;
static int dtor_runs;
static pthread_mutex_t dtor_mu = PTHREAD_MUTEX_INITIALIZER;

static pthread_mutex_t done_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;
static int detached_done;

static void once_init(void)
{
	once_runs++;
}

static void dtor(void *p)
{
	CHECK(p != NULL);
	pthread_mutex_lock(&dtor_mu);
	dtor_runs++;
	pthread_mutex_unlock(&dtor_mu);
	free(p);
}

static void *worker(void *arg)
{
	long id = (long)arg;
	pthread_once(&once, once_init);
	long *mine = malloc(sizeof *mine);
	*mine = id;
	CHECK(pthread_setspecific(key, mine) == 0);
	for (int r = 0; r < ROUNDS; r++) {
		pthread_mutex_lock(&mu);
		CHECK(inside == 0);
		inside = 1;
		long c = counter;
		if (r % 7 == 0)
			sched_yield();
		counter = c + 1;
		inside = 0;
		pthread_mutex_unlock(&mu);

		/* A token ring on one condvar: thread id waits for its turn. */
		if (r % 50 == 0) {
			pthread_mutex_lock(&mu);
			while (turn % WORKERS != id)
				pthread_cond_wait(&cv, &mu);
			turn++;
			pthread_cond_broadcast(&cv);
			pthread_mutex_unlock(&mu);
		}
		if (r % 97 == 0) {
			struct timespec ts = {0, 100000};
			nanosleep(&ts, NULL);
		}
		CHECK(*(long *)pthread_getspecific(key) == id);
	}
	return (void *)(id * 3);
}

static void *detached(void *arg)
{
	(void)arg;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 200000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	pthread_mutex_lock(&m);
	CHECK(pthread_cond_timedwait(&c, &m, &ts) == ETIMEDOUT);
	pthread_mutex_unlock(&m);
	pthread_mutex_lock(&done_mu);
	detached_done++;
	pthread_cond_signal(&done_cv);
	pthread_mutex_unlock(&done_mu);
	return NULL;
}

static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "FAIL: stress test hung (lost wakeup?)\n";
	ssize_t w = write(2, msg, sizeof msg - 1);
	(void)w;
	_exit(1);
}

int main(void)
{
	signal(SIGALRM, on_alarm);
	alarm(60);
	CHECK(pthread_key_create(&key, dtor) == 0);
	for (int iter = 0; iter < 3; iter++) {
		counter = 0;
		turn = 0;
		dtor_runs = 0;
		detached_done = 0;
		pthread_t t[WORKERS];
		for (long i = 0; i < WORKERS; i++)
			CHECK(pthread_create(&t[i], NULL, worker, (void *)i) == 0);
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		for (int i = 0; i < 16; i++) {
			pthread_t d;
			CHECK(pthread_create(&d, &a, detached, NULL) == 0);
		}
		pthread_attr_destroy(&a);
		for (long i = 0; i < WORKERS; i++) {
			void *r;
			CHECK(pthread_join(t[i], &r) == 0);
			CHECK((long)r == i * 3);
		}
		pthread_mutex_lock(&done_mu);
		while (detached_done < 16)
			pthread_cond_wait(&done_cv, &done_mu);
		pthread_mutex_unlock(&done_mu);
		CHECK(counter == (long)WORKERS * ROUNDS);
		CHECK(dtor_runs == WORKERS);
	}
	CHECK(once_runs == 1);
	printf("stress: ok\n");
	return 0;
}
