/* C11 <threads.h>: thrd_*, mtx_*, cnd_*, tss_*, call_once, with the
 * results and error codes C11 (glibc) gives, in C11 threads and in
 * pthreads mixing both APIs. Under GMPT_PROCS=1 a C11 wait that kept the
 * only P would hang: the holder must run for it to end. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <threads.h>
#include <time.h>

#include "testutil.h"

#define NTHREADS 8
#define ROUNDS	 2000

static mtx_t counter_lock; /* recursive */
static long counter;
static mtx_t q_lock;
static cnd_t q_nonempty, q_nonfull;
static int queue_len;
static long consumed_sum;
static tss_t tss_key;
static atomic_int tss_dtors;
static once_flag once = ONCE_FLAG_INIT;
static atomic_int once_runs;
static thrd_t worker_ids[NTHREADS];
static atomic_int ids_match;

static void tss_dtor(void *p)
{
	CHECK(p != NULL);
	atomic_fetch_add(&tss_dtors, 1);
}

static void init_once(void)
{
	struct timespec ms = {0, 2000000};
	CHECK_EQ(thrd_sleep(&ms, NULL), 0); /* others wait in call_once */
	atomic_fetch_add(&once_runs, 1);
}

static int worker(void *arg)
{
	long id = (long)(intptr_t)arg;
	call_once(&once, init_once);
	CHECK_EQ(tss_get(tss_key) == NULL, 1);
	CHECK_EQ(tss_set(tss_key, (void *)(intptr_t)(id + 1)), thrd_success);
	for (int i = 0; i < ROUNDS; i++) {
		CHECK_EQ(mtx_lock(&counter_lock), thrd_success);
		CHECK_EQ(mtx_lock(&counter_lock), thrd_success); /* recursive */
		counter++;
		if (i % 100 == 0)
			thrd_yield();
		CHECK_EQ(mtx_unlock(&counter_lock), thrd_success);
		CHECK_EQ(mtx_unlock(&counter_lock), thrd_success);
	}
	CHECK_EQ((intptr_t)tss_get(tss_key), id + 1);
	if (thrd_equal(thrd_current(), worker_ids[id]))
		atomic_fetch_add(&ids_match, 1);
	if (id == 0)
		thrd_exit(100);
	return (int)id;
}

static int producer(void *arg)
{
	(void)arg;
	for (int i = 1; i <= 1000; i++) {
		mtx_lock(&q_lock);
		while (queue_len == 4)
			CHECK_EQ(cnd_wait(&q_nonfull, &q_lock), thrd_success);
		queue_len++;
		consumed_sum += i;
		cnd_signal(&q_nonempty);
		mtx_unlock(&q_lock);
	}
	return 0;
}

static int consumer(void *arg)
{
	(void)arg;
	for (int i = 0; i < 1000; i++) {
		mtx_lock(&q_lock);
		while (queue_len == 0)
			CHECK_EQ(cnd_wait(&q_nonempty, &q_lock), thrd_success);
		queue_len--;
		cnd_broadcast(&q_nonfull);
		mtx_unlock(&q_lock);
	}
	return 0;
}

static mtx_t plain;

static int try_plain(void *arg)
{
	(void)arg;
	CHECK_EQ(mtx_trylock(&plain), thrd_busy);
	struct timespec soon;
	timespec_get(&soon, TIME_UTC);
	soon.tv_nsec += 20000000;
	if (soon.tv_nsec >= 1000000000) {
		soon.tv_sec++;
		soon.tv_nsec -= 1000000000;
	}
	CHECK_EQ(mtx_timedlock(&plain, &soon), thrd_timedout);
	return 0;
}

/* pthreads using C11 calls: thrd_current is pthread_self, a contended
 * mtx_lock lets the holder (asleep) run, tss destructors run at exit. */
static mtx_t mixed_lock;
static atomic_int mixed_held;

static void *mixed_holder(void *arg)
{
	(void)arg;
	CHECK(thrd_equal(thrd_current(), (thrd_t)pthread_self()));
	CHECK_EQ(tss_set(tss_key, (void *)1), thrd_success);
	CHECK_EQ(mtx_lock(&mixed_lock), thrd_success);
	atomic_store(&mixed_held, 1);
	struct timespec ms20 = {0, 20000000};
	CHECK_EQ(thrd_sleep(&ms20, NULL), 0);
	CHECK_EQ(mtx_unlock(&mixed_lock), thrd_success);
	return NULL;
}

static void *mixed_waiter(void *arg)
{
	(void)arg;
	while (!atomic_load(&mixed_held))
		thrd_yield();
	CHECK_EQ(mtx_lock(&mixed_lock), thrd_success);
	CHECK_EQ(mtx_unlock(&mixed_lock), thrd_success);
	return NULL;
}

static void mixed(void)
{
	CHECK_EQ(mtx_init(&mixed_lock, mtx_plain), thrd_success);
	int before = atomic_load(&tss_dtors);
	pthread_t a, b;
	CHECK_EQ(pthread_create(&a, NULL, mixed_holder, NULL), 0);
	CHECK_EQ(pthread_create(&b, NULL, mixed_waiter, NULL), 0);
	CHECK_EQ(pthread_join(a, NULL), 0);
	CHECK_EQ(pthread_join(b, NULL), 0);
	CHECK_EQ(atomic_load(&tss_dtors), before + 1);
	mtx_destroy(&mixed_lock);
	printf("pthreads with C11 calls: contended mtx_lock, thrd_current, tss destructor\n");
}

int main(void)
{
	CHECK_EQ(mtx_init(&counter_lock, mtx_plain | mtx_recursive), thrd_success);
	CHECK_EQ(mtx_init(&q_lock, mtx_plain), thrd_success);
	CHECK_EQ(mtx_init(&plain, mtx_timed), thrd_success);
	CHECK_EQ(cnd_init(&q_nonempty), thrd_success);
	CHECK_EQ(cnd_init(&q_nonfull), thrd_success);
	CHECK_EQ(tss_create(&tss_key, tss_dtor), thrd_success);

	/* Workers are created while main holds the lock they all need. */
	CHECK_EQ(mtx_lock(&counter_lock), thrd_success);
	for (long i = 0; i < NTHREADS; i++)
		CHECK_EQ(thrd_create(&worker_ids[i], worker, (void *)(intptr_t)i), thrd_success);
	struct timespec ms = {0, 5000000};
	CHECK_EQ(thrd_sleep(&ms, NULL), 0);
	CHECK_EQ(mtx_unlock(&counter_lock), thrd_success);
	for (long i = 0; i < NTHREADS; i++) {
		int res = -1;
		CHECK_EQ(thrd_join(worker_ids[i], &res), thrd_success);
		CHECK_EQ(res, i == 0 ? 100 : i);
	}
	CHECK_EQ(counter, (long)NTHREADS * ROUNDS);
	CHECK_EQ(atomic_load(&once_runs), 1);
	CHECK_EQ(atomic_load(&tss_dtors), NTHREADS);
	CHECK_EQ(atomic_load(&ids_match), NTHREADS);
	printf("thrd/mtx/tss/call_once: %d threads, counter %ld, exit code via thrd_exit\n",
	       NTHREADS, counter);

	thrd_t p, c;
	CHECK_EQ(thrd_create(&c, consumer, NULL), thrd_success);
	CHECK_EQ(thrd_create(&p, producer, NULL), thrd_success);
	CHECK_EQ(thrd_join(p, NULL), thrd_success);
	CHECK_EQ(thrd_join(c, NULL), thrd_success);
	CHECK_EQ(consumed_sum, 500500L);
	printf("cnd_wait/signal/broadcast: 1000 items through a queue of 4\n");

	CHECK_EQ(mtx_lock(&plain), thrd_success);
	thrd_t t;
	CHECK_EQ(thrd_create(&t, try_plain, NULL), thrd_success);
	CHECK_EQ(thrd_join(t, NULL), thrd_success);
	CHECK_EQ(mtx_unlock(&plain), thrd_success);

	struct timespec past;
	timespec_get(&past, TIME_UTC);
	mtx_lock(&q_lock);
	CHECK_EQ(cnd_timedwait(&q_nonempty, &q_lock, &past), thrd_timedout);
	mtx_unlock(&q_lock);
	CHECK_EQ(thrd_detach(thrd_current()) == thrd_success, 1);
	printf("thrd_busy and thrd_timedout as C11 says\n");
	mixed();

	mtx_destroy(&counter_lock);
	mtx_destroy(&q_lock);
	mtx_destroy(&plain);
	cnd_destroy(&q_nonempty);
	cnd_destroy(&q_nonfull);
	tss_delete(tss_key);
	return 0;
}
