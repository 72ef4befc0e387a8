/* pthread_once from many threads runs the routine exactly once and every
 * caller returns only after it finished; thread-specific data is per
 * thread, and destructors run once per thread with a non-NULL value, in
 * that thread, with the value already reset to NULL, repeating when a
 * destructor stores a new value. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>

#include "testutil.h"

#define NTHREADS 16

/* ---- pthread_once ---- */
static pthread_once_t once_a = PTHREAD_ONCE_INIT, once_b = PTHREAD_ONCE_INIT;
static int runs_a, runs_b, done_a;
static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t start_cond = PTHREAD_COND_INITIALIZER;
static int started, go;

static void init_a(void)
{
	runs_a++;
	usleep(20000); /* the other callers must wait for this */
	done_a = 1;
}

static void init_b(void)
{
	runs_b++;
}

static void *once_caller(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&start_lock);
	started++;
	pthread_cond_broadcast(&start_cond);
	while (!go)
		pthread_cond_wait(&start_cond, &start_lock);
	pthread_mutex_unlock(&start_lock);
	CHECK_OK(pthread_once(&once_a, init_a));
	int seen = done_a;
	CHECK_OK(pthread_once(&once_b, init_b));
	CHECK_OK(pthread_once(&once_a, init_a));
	return (void *)(intptr_t)seen;
}

static void once_test(void)
{
	pthread_t t[NTHREADS];
	void *ret;
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_create(&t[i], NULL, once_caller, NULL));
	pthread_mutex_lock(&start_lock);
	while (started < NTHREADS)
		pthread_cond_wait(&start_cond, &start_lock);
	go = 1;
	pthread_cond_broadcast(&start_cond);
	pthread_mutex_unlock(&start_lock);
	for (int i = 0; i < NTHREADS; i++) {
		CHECK_OK(pthread_join(t[i], &ret));
		CHECK_EQ((intptr_t)ret, 1);
	}
	CHECK_OK(pthread_once(&once_b, init_b));
	CHECK_EQ(runs_a, 1);
	CHECK_EQ(runs_b, 1);
	printf("pthread_once: %d callers, each routine ran once, callers saw it complete\n",
	       NTHREADS);
}

/* ---- thread-specific data ---- */
static pthread_key_t key_plain, key_rearm, key_nodtor;

struct slot {
	pthread_t owner;
	int plain_calls;
	int rearm_calls;
	int bad;
};
static struct slot slots[NTHREADS];

static void dtor_plain(void *v)
{
	struct slot *s = v;
	if (pthread_getspecific(key_plain) != NULL)
		s->bad++;
	if (!pthread_equal(pthread_self(), s->owner))
		s->bad++;
	s->plain_calls++;
}

static void dtor_rearm(void *v)
{
	struct slot *s = v;
	if (pthread_getspecific(key_rearm) != NULL)
		s->bad++;
	if (!pthread_equal(pthread_self(), s->owner))
		s->bad++;
	/* Store a value again once: the destructor must be called again. */
	if (++s->rearm_calls == 1)
		pthread_setspecific(key_rearm, s);
}

static pthread_mutex_t key_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t key_cond = PTHREAD_COND_INITIALIZER;
static int key_arrived, key_go;

static void *key_user(void *arg)
{
	intptr_t i = (intptr_t)arg;
	struct slot *s = &slots[i];
	s->owner = pthread_self();

	CHECK(pthread_getspecific(key_plain) == NULL);
	CHECK(pthread_getspecific(key_rearm) == NULL);
	CHECK_OK(pthread_setspecific(key_plain, s));
	CHECK_OK(pthread_setspecific(key_rearm, s));
	CHECK_OK(pthread_setspecific(key_nodtor, (void *)(i + 1)));

	/* Everyone holds values at the same time, then blocks. */
	pthread_mutex_lock(&key_lock);
	key_arrived++;
	pthread_cond_broadcast(&key_cond);
	while (!key_go)
		pthread_cond_wait(&key_cond, &key_lock);
	pthread_mutex_unlock(&key_lock);
	usleep(1000);

	CHECK(pthread_getspecific(key_plain) == s);
	CHECK(pthread_getspecific(key_rearm) == s);
	CHECK(pthread_getspecific(key_nodtor) == (void *)(i + 1));

	/* Every third thread clears its plain value: no destructor call. */
	if (i % 3 == 0)
		CHECK_OK(pthread_setspecific(key_plain, NULL));
	/* Half the threads leave through pthread_exit. */
	if (i % 2)
		pthread_exit((void *)i);
	return (void *)i;
}

static void key_test(void)
{
	pthread_t t[NTHREADS];
	void *ret;

	CHECK_OK(pthread_key_create(&key_plain, dtor_plain));
	CHECK_OK(pthread_key_create(&key_rearm, dtor_rearm));
	CHECK_OK(pthread_key_create(&key_nodtor, NULL));
	CHECK(pthread_getspecific(key_plain) == NULL);

	for (intptr_t i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_create(&t[i], NULL, key_user, (void *)i));
	pthread_mutex_lock(&key_lock);
	while (key_arrived < NTHREADS)
		pthread_cond_wait(&key_cond, &key_lock);
	key_go = 1;
	pthread_cond_broadcast(&key_cond);
	pthread_mutex_unlock(&key_lock);
	for (intptr_t i = 0; i < NTHREADS; i++) {
		CHECK_OK(pthread_join(t[i], &ret));
		CHECK_EQ((intptr_t)ret, i);
	}

	int plain = 0, rearm = 0;
	for (int i = 0; i < NTHREADS; i++) {
		CHECK_EQ(slots[i].bad, 0);
		CHECK_EQ(slots[i].plain_calls, i % 3 == 0 ? 0 : 1);
		CHECK_EQ(slots[i].rearm_calls, 2);
		plain += slots[i].plain_calls;
		rearm += slots[i].rearm_calls;
	}
	printf("keys: %d threads, plain destructor calls %d, re-arming destructor calls %d\n",
	       NTHREADS, plain, rearm);

	/* The main thread's values are its own; a deleted and re-created key
	 * starts out NULL. */
	CHECK(pthread_getspecific(key_plain) == NULL);
	CHECK_OK(pthread_setspecific(key_nodtor, &key_nodtor));
	CHECK(pthread_getspecific(key_nodtor) == &key_nodtor);
	CHECK_OK(pthread_key_delete(key_nodtor));
	pthread_key_t fresh;
	CHECK_OK(pthread_key_create(&fresh, NULL));
	CHECK(pthread_getspecific(fresh) == NULL);
	CHECK_OK(pthread_key_delete(fresh));
	CHECK_OK(pthread_key_delete(key_plain));
	CHECK_OK(pthread_key_delete(key_rearm));
	printf("keys: main thread values separate, re-created key starts NULL\n");
}

int main(void)
{
	once_test();
	key_test();
	return 0;
}
