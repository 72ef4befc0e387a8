// The life of a thread's TLS: every thread starts from the initialisation
// images with errno 0, the global locale and its own resolver state, even
// when the runtime reuses an old thread's TLS; TLS addresses stay put while
// threads block and move; thread_local destructors run at thread exit
// (also through pthread_exit), before key destructors, as glibc does.
#include <clocale>
#include <cstdio>
#include <cstring>
#include <locale.h>
#include <pthread.h>
#include <resolv.h>
#include <sched.h>
#include <unistd.h>

#include "testutil.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char events[64][16];
static int nevents;

static void log_event(const char *what)
{
	pthread_mutex_lock(&log_lock);
	CHECK(nevents < 64);
	snprintf(events[nevents++], sizeof events[0], "%s", what);
	pthread_mutex_unlock(&log_lock);
}

struct Tracked {
	int value = 11;
	~Tracked()
	{
		log_event("thread_local");
	}
};
static thread_local Tracked tracked;
static thread_local int tl_counter = 5;
static thread_local char tl_buf[64] = "initial";
static pthread_key_t key;

static void key_dtor(void *)
{
	log_event("key");
}

static locale_t c_locale;

// A fresh thread, whatever thread ran before it on the same TLS.
static void *fresh(void *arg)
{
	long round = (long)arg;
	CHECK_EQ(errno, 0);
	CHECK_EQ(tl_counter, 5);
	CHECK(strcmp(tl_buf, "initial") == 0);
	CHECK(uselocale((locale_t)0) == LC_GLOBAL_LOCALE);
	CHECK(sched_getcpu() >= 0);
	// Leave everything changed for whoever comes next.
	tl_counter = (int)round;
	snprintf(tl_buf, sizeof tl_buf, "round %ld", round);
	errno = EIO;
	uselocale(c_locale);
	return nullptr;
}

static void *with_dtors(void *arg)
{
	CHECK_EQ(tracked.value, 11);
	pthread_setspecific(key, (void *)1);
	if (arg)
		pthread_exit(nullptr);
	return nullptr;
}

static res_state main_res;
static pthread_barrier_t both;

static void *own_res(void *arg)
{
	res_state mine = &_res;
	CHECK(mine != main_res);
	*(res_state *)arg = mine;
	pthread_barrier_wait(&both); // two threads alive at once
	return nullptr;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int turn;

static void *stable_addresses(void *arg)
{
	long id = (long)arg;
	int *counter_addr = &tl_counter;
	int *errno_addr = &errno;
	for (int i = 0; i < 300; i++) {
		tl_counter = (int)(id * 1000 + i);
		errno = (int)id + 1;
		switch (i % 3) {
		case 0:
			sched_yield();
			break;
		case 1:
			usleep(50);
			break;
		default:
			pthread_mutex_lock(&mu);
			turn++;
			pthread_cond_broadcast(&cv);
			pthread_mutex_unlock(&mu);
			break;
		}
		CHECK(&tl_counter == counter_addr);
		CHECK(&errno == errno_addr);
		CHECK_EQ(tl_counter, (int)(id * 1000 + i));
		CHECK_EQ(errno, (int)id + 1);
	}
	return nullptr;
}

int main()
{
	c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	CHECK(c_locale != (locale_t)0);
	main_res = &_res;

	for (long round = 0; round < 200; round++) {
		pthread_t t;
		CHECK_EQ(pthread_create(&t, nullptr, fresh, (void *)round), 0);
		CHECK_EQ(pthread_join(t, nullptr), 0);
	}
	printf("200 threads in a row each started from fresh TLS, errno 0, global locale\n");

	CHECK_EQ(pthread_key_create(&key, key_dtor), 0);
	for (long how = 0; how < 2; how++) {
		nevents = 0;
		pthread_t t;
		CHECK_EQ(pthread_create(&t, nullptr, with_dtors, (void *)how), 0);
		CHECK_EQ(pthread_join(t, nullptr), 0);
		CHECK_EQ(nevents, 2);
		CHECK(strcmp(events[0], "thread_local") == 0);
		CHECK(strcmp(events[1], "key") == 0);
	}
	printf("thread_local destructors run at return and at pthread_exit, before keys\n");

	res_state r1 = nullptr, r2 = nullptr;
	pthread_t a, b;
	CHECK_EQ(pthread_barrier_init(&both, nullptr, 2), 0);
	CHECK_EQ(pthread_create(&a, nullptr, own_res, &r1), 0);
	CHECK_EQ(pthread_create(&b, nullptr, own_res, &r2), 0);
	CHECK_EQ(pthread_join(a, nullptr), 0);
	CHECK_EQ(pthread_join(b, nullptr), 0);
	CHECK(r1 != r2);
	printf("each thread has its own resolver state\n");

	pthread_t ts[8];
	for (long i = 0; i < 8; i++)
		CHECK_EQ(pthread_create(&ts[i], nullptr, stable_addresses, (void *)i), 0);
	stable_addresses((void *)8);
	for (int i = 0; i < 8; i++)
		CHECK_EQ(pthread_join(ts[i], nullptr), 0);
	printf("TLS addresses and values held across 300 blocking calls in 9 threads\n");
	return 0;
}
