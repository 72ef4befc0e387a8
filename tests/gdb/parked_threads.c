/* tests/gdb/parked_threads.c - a program for the gdb script's test.
 *
 * Four threads park in functions whose names the test looks for in their
 * backtraces: one in a condition wait, one on a mutex main holds, one
 * joining the first, one sleeping. A fifth spins in spinning_on_a_p, so
 * one G is running on a kernel thread when gdb stops the program. Each
 * thread names itself (pthread_setname_np) after its role.
 *
 * Once every thread has said it is about to block, main calls
 * all_threads_parked(), where the test's breakpoint is, and then exits
 * (the threads are never released). Run it with GMPT_PROCS=2 GMPT_PREEMPT=0: the
 * spinner keeps one P for good (nothing preempts it), so the four others
 * run only on main's P, one at a time, and main's sched_yield loop sees
 * the last announcement only after every announcer has parked (none can
 * be stopped between announcing and blocking: nothing preempts it and it
 * makes no system call there). Natively the program runs too, but then
 * nothing says the threads have reached their waits. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define PARKERS 4

static atomic_int announced;
static atomic_int spinner_started;
static atomic_int release; /* never set: the threads wait for good */
static pthread_mutex_t cond_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never_signalled = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t held_by_main = PTHREAD_MUTEX_INITIALIZER;
static pthread_t cond_thread;

static void name_self(const char *name)
{
	int err = pthread_setname_np(pthread_self(), name);
	if (err) {
		fprintf(stderr, "pthread_setname_np(%s): error %d\n", name, err);
		exit(1);
	}
}

/* The distinctive functions. noinline, and each does something after its
 * blocking call, so the call is not a tail call and the frame stays. */
__attribute__((noinline)) static void *waiting_in_cond_wait(void *arg)
{
	name_self("cond-waiter");
	pthread_mutex_lock(&cond_lock);
	atomic_fetch_add(&announced, 1);
	while (!atomic_load(&release))
		pthread_cond_wait(&never_signalled, &cond_lock);
	pthread_mutex_unlock(&cond_lock);
	return arg;
}

__attribute__((noinline)) static void *waiting_for_mutex(void *arg)
{
	name_self("mutex-waiter");
	atomic_fetch_add(&announced, 1);
	pthread_mutex_lock(&held_by_main);
	pthread_mutex_unlock(&held_by_main);
	return arg;
}

__attribute__((noinline)) static void *waiting_in_join(void *arg)
{
	name_self("joiner");
	atomic_fetch_add(&announced, 1);
	void *ret;
	pthread_join(cond_thread, &ret);
	return ret == arg ? arg : NULL;
}

__attribute__((noinline)) static void *waiting_in_sleep(void *arg)
{
	name_self("sleeper");
	atomic_fetch_add(&announced, 1);
	while (!atomic_load(&release))
		sleep(1000);
	return arg;
}

/* Inlined, so that when gdb stops the spinner its innermost frame is an
 * inline frame: "gmpt bt" run from that thread must look past it. */
static inline __attribute__((always_inline)) void spin_until_released(void)
{
	while (!atomic_load(&release))
		__asm__ volatile("pause" ::: "memory");
}

__attribute__((noinline)) static void *spinning_on_a_p(void *arg)
{
	name_self("spinner");
	atomic_store(&spinner_started, 1);
	spin_until_released();
	return arg;
}

/* The test's breakpoint: every parker is parked when this is called. */
__attribute__((noinline)) void all_threads_parked(void)
{
	__asm__ volatile("" ::: "memory");
}

static void start(void *(*fn)(void *), pthread_t *t)
{
	int err = pthread_create(t, NULL, fn, NULL);
	if (err) {
		fprintf(stderr, "pthread_create: error %d\n", err);
		exit(1);
	}
}

int main(void)
{
	pthread_t spinner, others[PARKERS - 1];

	start(spinning_on_a_p, &spinner);
	while (!atomic_load(&spinner_started))
		sched_yield();

	pthread_mutex_lock(&held_by_main);
	start(waiting_in_cond_wait, &cond_thread);
	start(waiting_for_mutex, &others[0]);
	start(waiting_in_join, &others[1]);
	start(waiting_in_sleep, &others[2]);
	while (atomic_load(&announced) < PARKERS)
		sched_yield();

	all_threads_parked();
	printf("all threads parked\n");
	return 0;
}
