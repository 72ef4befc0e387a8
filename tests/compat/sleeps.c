/* sleep, usleep, nanosleep and clock_nanosleep (relative, and TIMER_ABSTIME
 * on CLOCK_MONOTONIC and CLOCK_REALTIME) sleep at least as long as asked,
 * alone and from several threads at once; bad arguments give EINVAL;
 * sched_yield and pthread_yield let two threads take turns. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#include "testutil.h"

enum how { NANOSLEEP, USLEEP, CLOCK_REL, CLOCK_ABS_MONO, CLOCK_ABS_REAL, NHOW };
static const char *const how_name[NHOW] = {"nanosleep", "usleep", "clock_nanosleep relative",
					   "clock_nanosleep TIMER_ABSTIME monotonic",
					   "clock_nanosleep TIMER_ABSTIME realtime"};

/* Sleeps `ms` milliseconds the given way; returns 1 if at least that long
 * passed on the monotonic clock (and on the realtime clock for the realtime
 * absolute sleep). */
static int sleep_ms(enum how how, long ms)
{
	int64_t t0 = tu_now_ns(CLOCK_MONOTONIC);
	int64_t r0 = tu_now_ns(CLOCK_REALTIME);
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
	switch (how) {
	case NANOSLEEP:
		CHECK_EQ(nanosleep(&ts, NULL), 0);
		break;
	case USLEEP:
		CHECK_EQ(usleep((useconds_t)ms * 1000), 0);
		break;
	case CLOCK_REL:
		CHECK_OK(clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL));
		break;
	case CLOCK_ABS_MONO:
		ts = tu_deadline(CLOCK_MONOTONIC, ms);
		CHECK_OK(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL));
		break;
	case CLOCK_ABS_REAL:
		ts = tu_deadline(CLOCK_REALTIME, ms);
		CHECK_OK(clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL));
		if (tu_now_ns(CLOCK_REALTIME) - r0 < ms * 1000000)
			return 0;
		break;
	default:
		CHECK(0);
	}
	return tu_now_ns(CLOCK_MONOTONIC) - t0 >= ms * 1000000;
}

struct sleeper {
	enum how how;
	long ms;
	int ok;
};

static void *sleeper_main(void *arg)
{
	struct sleeper *s = arg;
	s->ok = 1;
	for (int i = 0; i < 3; i++)
		s->ok &= sleep_ms(s->how, s->ms);
	return NULL;
}

/* Turn taking with yields only (no blocking call). */
#define NTURNS 2000
static atomic_int turn;

static void *taker(void *arg)
{
	int me = (int)(intptr_t)arg;
	for (int i = 0; i < NTURNS; i++) {
		while (atomic_load(&turn) % 2 != me) {
			if (i % 2)
				CHECK_OK(sched_yield());
			else {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
				CHECK_OK(pthread_yield());
#pragma GCC diagnostic pop
			}
		}
		atomic_fetch_add(&turn, 1);
	}
	return NULL;
}

int main(void)
{
	/* Each way, from main. */
	for (int h = 0; h < NHOW; h++) {
		CHECK(sleep_ms((enum how)h, 30));
		CHECK(sleep_ms((enum how)h, 1));
		printf("%s: ok\n", how_name[h]);
	}
	/* Zero-length and past-deadline sleeps return at once with success. */
	struct timespec zero = {0, 0};
	CHECK_EQ(nanosleep(&zero, NULL), 0);
	CHECK_EQ(usleep(0), 0);
	struct timespec past = tu_deadline(CLOCK_MONOTONIC, -1000);
	CHECK_OK(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &past, NULL));
	printf("zero and past sleeps: ok\n");

	/* sleep(1) */
	int64_t t0 = tu_now_ns(CLOCK_MONOTONIC);
	CHECK_EQ(sleep(1), 0);
	CHECK(tu_now_ns(CLOCK_MONOTONIC) - t0 >= 1000000000);
	printf("sleep(1): ok\n");

	/* Invalid arguments. */
	struct timespec bad = {.tv_sec = 0, .tv_nsec = 1000000000};
	errno = 0;
	CHECK_EQ(nanosleep(&bad, NULL), -1);
	CHECK_EQ(errno, EINVAL);
	bad.tv_nsec = -1;
	errno = 0;
	CHECK_EQ(nanosleep(&bad, NULL), -1);
	CHECK_EQ(errno, EINVAL);
	bad.tv_nsec = 1000000000;
	CHECK_RC(clock_nanosleep(CLOCK_MONOTONIC, 0, &bad, NULL), EINVAL);
	CHECK_RC(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &bad, NULL), EINVAL);
	struct timespec one = {0, 1000};
	CHECK_RC(clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &one, NULL), EINVAL);
	printf("invalid arguments: EINVAL\n");

	/* Many threads sleeping at once, every way. */
	struct sleeper s[2 * NHOW];
	pthread_t t[2 * NHOW];
	for (int i = 0; i < 2 * NHOW; i++) {
		s[i] = (struct sleeper){.how = (enum how)(i % NHOW), .ms = 20 + 7 * i};
		CHECK_OK(pthread_create(&t[i], NULL, sleeper_main, &s[i]));
	}
	for (int i = 0; i < 2 * NHOW; i++) {
		CHECK_OK(pthread_join(t[i], NULL));
		CHECK(s[i].ok);
	}
	printf("%d threads sleeping concurrently: ok\n", 2 * NHOW);

	/* Yield-based turn taking. */
	pthread_t a, b;
	CHECK_OK(pthread_create(&a, NULL, taker, (void *)0));
	CHECK_OK(pthread_create(&b, NULL, taker, (void *)1));
	CHECK_OK(pthread_join(a, NULL));
	CHECK_OK(pthread_join(b, NULL));
	CHECK_EQ(atomic_load(&turn), 2 * NTURNS);
	CHECK_OK(sched_yield());
	printf("sched_yield/pthread_yield: %d turns taken\n", 2 * NTURNS);
	return 0;
}
