/* Per-thread CPU-time clocks: pthread_getcpuclockid and
 * CLOCK_THREAD_CPUTIME_ID give each thread its own CPU time (not that of
 * the kernel thread it happens to run on, which would count every thread
 * that ran there), another thread's clock can be read and its resolution
 * asked for, the clock of a thread that has been joined is invalid
 * (EINVAL), and a sleep on a thread's own CPU clock is refused (EINVAL).
 *
 * Limits come from this run: the work a burner does is first timed on the
 * main thread with the process CPU clock (the kernel's, whatever gmpt
 * does), and every bound is a fraction of that. The program uses a thread
 * CPU clock before it creates any thread: gmpt counts threads' time from
 * the first use (docs/compat.md). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "testutil.h"

#define WORK 20000000L

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int done_count, release;
static _Atomic int burning;

static void work(void)
{
	volatile long x = 0;
	for (long i = 0; i < WORK; i++)
		x = x + i;
}

static int64_t cpu_of(clockid_t c)
{
	struct timespec ts;
	CHECK(clock_gettime(c, &ts) == 0);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Reports in and waits for release, so the thread's clock stays valid. */
static void done_and_wait(void)
{
	pthread_mutex_lock(&lock);
	done_count++;
	pthread_cond_broadcast(&cond);
	while (!release)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
}

static int64_t self_time[3];

static void *burner(void *arg)
{
	int i = (int)(intptr_t)arg;
	atomic_fetch_add(&burning, 1);
	work();
	self_time[i] = cpu_of(CLOCK_THREAD_CPUTIME_ID);
	done_and_wait();
	return NULL;
}

static void *sleeper(void *arg)
{
	int i = (int)(intptr_t)arg;
	usleep(50000);
	self_time[i] = cpu_of(CLOCK_THREAD_CPUTIME_ID);
	done_and_wait();
	return NULL;
}

static void wait_done(int n)
{
	pthread_mutex_lock(&lock);
	while (done_count < n)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
}

/* Whether f (clock_gettime or clock_getres) on c fails with EINVAL
 * within 2 s. The kernel may keep a joined thread's task for a moment
 * after the join (it clears the thread id before the task is gone), and
 * the thread's clock answers meanwhile. */
static int clock_goes_einval(clockid_t c, int (*f)(clockid_t, struct timespec *))
{
	for (int i = 0; i < 2000; i++) {
		struct timespec ts, ms = {0, 1000000};
		errno = 0;
		if (f(c, &ts) == -1 && errno == EINVAL)
			return 1;
		nanosleep(&ms, NULL);
	}
	return 0;
}

int main(void)
{
	clockid_t mine;
	struct timespec res;
	CHECK_OK(pthread_getcpuclockid(pthread_self(), &mine));

	/* The reference: the work on this thread, by the process clock. */
	int64_t p0 = cpu_of(CLOCK_PROCESS_CPUTIME_ID);
	int64_t t0 = cpu_of(CLOCK_THREAD_CPUTIME_ID);
	int64_t c0 = cpu_of(mine);
	work();
	int64_t ref = cpu_of(CLOCK_PROCESS_CPUTIME_ID) - p0;
	int64_t t1 = cpu_of(CLOCK_THREAD_CPUTIME_ID);
	int64_t c1 = cpu_of(mine);
	CHECK(ref > 0);
	CHECK(t1 - t0 >= ref / 4 && t1 - t0 <= ref * 2);
	CHECK(c1 - c0 >= ref / 4 && c1 - c0 <= ref * 2);
	CHECK(clock_getres(mine, &res) == 0);
	CHECK(res.tv_sec == 0 && res.tv_nsec == 1);
	printf("own clock: pthread_getcpuclockid and CLOCK_THREAD_CPUTIME_ID count this thread's "
	       "work\n");

	/* Two burners and a sleeper at once; with one processor they share
	 * one kernel thread under gmpt. */
	pthread_t t[3];
	clockid_t cid[3];
	int64_t pstart = cpu_of(CLOCK_PROCESS_CPUTIME_ID);
	CHECK_OK(pthread_create(&t[0], NULL, burner, (void *)0));
	CHECK_OK(pthread_create(&t[1], NULL, burner, (void *)1));
	CHECK_OK(pthread_create(&t[2], NULL, sleeper, (void *)2));
	for (int i = 0; i < 3; i++)
		CHECK_OK(pthread_getcpuclockid(t[i], &cid[i]));
	/* Another thread's clock never goes back while it runs. */
	while (atomic_load(&burning) == 0)
		sched_yield();
	int64_t last = 0;
	for (int k = 0; k < 2000; k++) {
		int64_t now = cpu_of(cid[0]);
		CHECK(now >= last);
		last = now;
	}
	wait_done(3);
	int64_t process = cpu_of(CLOCK_PROCESS_CPUTIME_ID) - pstart;
	int64_t sum = 0;
	for (int i = 0; i < 3; i++) {
		int64_t v = cpu_of(cid[i]);
		CHECK(v >= self_time[i]); /* read later, by another thread */
		sum += v;
		if (i < 2)
			CHECK(v >= ref / 4);
		else
			CHECK(v < ref / 4); /* slept: not the others' time */
		CHECK(clock_getres(cid[i], &res) == 0);
		CHECK(res.tv_sec == 0 && res.tv_nsec == 1);
	}
	CHECK(self_time[2] < ref / 4);
	/* Each thread's time is its own: together no more than the process
	 * used (plus the clock reads' rounding). */
	CHECK(sum <= process + 1000000);
	printf("other threads' clocks: each its own work, together within the process's\n");

	pthread_mutex_lock(&lock);
	release = 1;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	for (int i = 0; i < 3; i++)
		CHECK_OK(pthread_join(t[i], NULL));
	CHECK(clock_goes_einval(cid[0], clock_gettime));
	CHECK(clock_goes_einval(cid[1], clock_getres));
	printf("a joined thread's clock: EINVAL\n");

	struct timespec shortly = {0, 1000000};
	CHECK_RC(clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &shortly, NULL), EINVAL);
	CHECK_RC(clock_nanosleep(mine, 0, &shortly, NULL), EINVAL);
	CHECK(clock_getres(CLOCK_THREAD_CPUTIME_ID, &res) == 0);
	int64_t m0 = tu_now_ns(CLOCK_MONOTONIC);
	CHECK(tu_now_ns(CLOCK_MONOTONIC) >= m0);
	printf("clock_nanosleep on the own CPU clock: EINVAL\n");
	return 0;
}
