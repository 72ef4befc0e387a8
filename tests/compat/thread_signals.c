/* Signals and threads: pthread_sigqueue's value reaches the target
 * thread's SA_SIGINFO handler; a signal sent to a thread that blocks it
 * waits until that thread unblocks it, then runs there before
 * pthread_sigmask returns; raise() runs the handler in the caller; and the
 * block-everything-then-sigwait pattern (the main thread blocks a signal,
 * its threads inherit the mask, one sigwaits for a signal sent to the
 * process) works while other threads keep busy, and with the signal sent
 * to the waiting thread (pthread_kill, pthread_sigqueue's value through
 * sigwaitinfo), before or during its wait; pthread_attr_setsigmask_np
 * gives a new thread its mask. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

#include "testutil.h"

static pthread_t target;
static atomic_int handled, handled_in_target, last_value, last_code;

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (pthread_equal(pthread_self(), target))
		atomic_fetch_add(&handled_in_target, 1);
	atomic_store(&last_value, si->si_value.sival_int);
	atomic_store(&last_code, si->si_code);
	atomic_fetch_add(&handled, 1);
}

static atomic_int phase;

static void wait_phase(int p)
{
	while (atomic_load(&phase) < p)
		usleep(200);
}

static void *signalled(void *arg)
{
	(void)arg;
	/* 1: sigqueue while running/sleeping here. */
	atomic_store(&phase, 1);
	while (atomic_load(&handled) < 1)
		usleep(200);
	CHECK_EQ(atomic_load(&last_value), 4242);
	CHECK_EQ(atomic_load(&last_code), SI_QUEUE);
	/* 2: block SIGUSR1; main sends it; nothing may run until unblocked. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	CHECK_OK(pthread_sigmask(SIG_BLOCK, &set, NULL));
	atomic_store(&phase, 2);
	wait_phase(3);
	for (int i = 0; i < 10; i++)
		usleep(1000); /* blocked: stays pending, here and on other threads */
	CHECK_EQ(atomic_load(&handled), 1);
	CHECK_OK(pthread_sigmask(SIG_UNBLOCK, &set, NULL));
	CHECK_EQ(atomic_load(&handled), 2); /* delivered before the return */
	/* 3: raise in this thread. */
	CHECK_EQ(raise(SIGUSR1), 0);
	CHECK_EQ(atomic_load(&handled), 3);
	return NULL;
}

static atomic_int stop_busy;

static void *busy(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_busy))
		usleep(100);
	return NULL;
}

static void *sigwaiter(void *arg)
{
	(void)arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	int sig = 0;
	CHECK_OK(sigwait(&set, &sig));
	CHECK_EQ(sig, SIGUSR2);
	return (void *)(intptr_t)sig;
}

/* 1 if this thread blocks SIGUSR1 and not SIGUSR2. */
static __attribute__((unused)) void *report_mask(void *arg)
{
	(void)arg;
	sigset_t now;
	CHECK_OK(pthread_sigmask(SIG_BLOCK, NULL, &now));
	return (void *)(intptr_t)(sigismember(&now, SIGUSR1) == 1 &&
				  sigismember(&now, SIGUSR2) == 0);
}

static void *block_usr1_and_end(void *arg)
{
	(void)arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	CHECK_OK(pthread_sigmask(SIG_BLOCK, &set, NULL));
	return NULL;
}

static void *sigwaiter_info(void *arg)
{
	(void)arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	siginfo_t si;
	CHECK_EQ(sigwaitinfo(&set, &si), SIGUSR2);
	CHECK_EQ(si.si_code, SI_QUEUE);
	return (void *)(intptr_t)si.si_value.sival_int;
}

/* Signals to threads parked in waits: the handler runs in the thread at
 * once (not when the wait ends); a condition wait goes on waiting, sleep
 * returns early with the time left, read on a pipe goes on (SA_RESTART). */
static pthread_mutex_t pmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pcv = PTHREAD_COND_INITIALIZER;
static int release_parked;
static atomic_int parked_handled, parked_ready;
static pthread_t parked_ids[3];
static int parked_pipe[2];
static unsigned sleep_left;

static void on_usr2(int sig)
{
	(void)sig;
	for (int i = 0; i < 3; i++)
		if (pthread_equal(pthread_self(), parked_ids[i]))
			atomic_fetch_add(&parked_handled, 1);
}

static void *parked_cond(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&pmu);
	atomic_fetch_add(&parked_ready, 1);
	while (!release_parked)
		pthread_cond_wait(&pcv, &pmu);
	pthread_mutex_unlock(&pmu);
	return NULL;
}

static void *parked_sleep(void *arg)
{
	(void)arg;
	atomic_fetch_add(&parked_ready, 1);
	sleep_left = sleep(100);
	return NULL;
}

static void *parked_read(void *arg)
{
	(void)arg;
	atomic_fetch_add(&parked_ready, 1);
	char c;
	CHECK(read(parked_pipe[0], &c, 1) == 1);
	return NULL;
}

static void signal_parked(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr2;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR2, &sa, NULL) == 0);
	CHECK(pipe(parked_pipe) == 0);
	void *(*fns[3])(void *) = {parked_cond, parked_sleep, parked_read};
	for (int i = 0; i < 3; i++)
		CHECK_OK(pthread_create(&parked_ids[i], NULL, fns[i], NULL));
	while (atomic_load(&parked_ready) < 3)
		usleep(500);
	usleep(20000); /* all three parked */
	for (int i = 0; i < 3; i++)
		CHECK_OK(pthread_kill(parked_ids[i], SIGUSR2));
	for (int i = 0; i < 200 && atomic_load(&parked_handled) < 3; i++)
		usleep(5000);
	CHECK_EQ(atomic_load(&parked_handled), 3); /* all ran while parked */
	CHECK_OK(pthread_join(parked_ids[1], NULL));
	CHECK(sleep_left > 90); /* woken early, the rest reported */
	pthread_mutex_lock(&pmu);
	release_parked = 1;
	pthread_cond_broadcast(&pcv);
	pthread_mutex_unlock(&pmu);
	CHECK_OK(pthread_join(parked_ids[0], NULL));
	CHECK(write(parked_pipe[1], "x", 1) == 1);
	CHECK_OK(pthread_join(parked_ids[2], NULL));
	printf("pthread_kill to parked threads: handlers ran at once; sleep ended early\n");
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_usr1;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);

	CHECK_OK(pthread_create(&target, NULL, signalled, NULL));
	wait_phase(1);
	union sigval v = {.sival_int = 4242};
	CHECK_OK(pthread_sigqueue(target, SIGUSR1, v));
	wait_phase(2);
	CHECK_OK(pthread_kill(target, SIGUSR1));
	atomic_store(&phase, 3);
	CHECK_OK(pthread_join(target, NULL));
	CHECK_EQ(atomic_load(&handled), 3);
	CHECK_EQ(atomic_load(&handled_in_target), 3);
	CHECK_EQ(atomic_load(&last_code), SI_TKILL);
	printf("pthread_sigqueue value, blocked then unblocked, raise: all in the target\n");
	/* Exited but not joined yet: accepted and dropped. The thread is
	 * created with the signal blocked (inherited), so a slow start or
	 * exit on a loaded machine cannot run the handler either. */
	pthread_t quick;
	sigset_t usr1, old_mask;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	CHECK_OK(pthread_sigmask(SIG_BLOCK, &usr1, &old_mask));
	CHECK_OK(pthread_create(&quick, NULL, block_usr1_and_end, NULL));
	CHECK_OK(pthread_sigmask(SIG_SETMASK, &old_mask, NULL));
	usleep(20000);
	/* 0 from glibc 2.34 on, ESRCH before: printed, so the preloaded run
	 * must match the native one on each glibc. */
	int rc = pthread_kill(quick, SIGUSR1);
	CHECK(rc == 0 || rc == ESRCH);
	printf("pthread_kill to an exited thread: %s\n", rc == 0 ? "0" : "ESRCH");
	CHECK_OK(pthread_join(quick, NULL));
	CHECK_EQ(atomic_load(&handled), 3);

	/* Block SIGUSR2 everywhere (inherited), then sigwait for it. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	CHECK_OK(pthread_sigmask(SIG_BLOCK, &set, NULL));
	pthread_t waiter, workers[4];
	for (int i = 0; i < 4; i++)
		CHECK_OK(pthread_create(&workers[i], NULL, busy, NULL));
	CHECK_OK(pthread_create(&waiter, NULL, sigwaiter, NULL));
	usleep(20000);
	CHECK(kill(getpid(), SIGUSR2) == 0);
	void *ret;
	CHECK_OK(pthread_join(waiter, &ret));
	CHECK_EQ((intptr_t)ret, SIGUSR2);
	atomic_store(&stop_busy, 1);
	for (int i = 0; i < 4; i++)
		CHECK_OK(pthread_join(workers[i], NULL));
	printf("block then sigwait: the waiting thread got the process's signal\n");

	/* The same with the signal sent to the waiting thread itself, while
	 * it waits and before it starts waiting; and a queued value through
	 * sigwaitinfo. */
	CHECK_OK(pthread_create(&waiter, NULL, sigwaiter, NULL));
	usleep(20000);
	CHECK_OK(pthread_kill(waiter, SIGUSR2));
	CHECK_OK(pthread_join(waiter, &ret));
	CHECK_EQ((intptr_t)ret, SIGUSR2);
	CHECK_OK(pthread_create(&waiter, NULL, sigwaiter, NULL));
	CHECK_OK(pthread_kill(waiter, SIGUSR2));
	CHECK_OK(pthread_join(waiter, &ret));
	CHECK_EQ((intptr_t)ret, SIGUSR2);
	CHECK_OK(pthread_create(&waiter, NULL, sigwaiter_info, NULL));
	usleep(20000);
	CHECK_OK(pthread_sigqueue(waiter, SIGUSR2, (union sigval){.sival_int = 77}));
	CHECK_OK(pthread_join(waiter, &ret));
	CHECK_EQ((intptr_t)ret, 77);
	printf("block then sigwait: pthread_kill and pthread_sigqueue to the waiting thread\n");

#ifdef HAVE_PTHREAD_ATTR_SETSIGMASK_NP /* glibc 2.32 */
	/* pthread_attr_setsigmask_np: the new thread starts with that mask
	 * (SIGUSR2 unblocked, SIGUSR1 blocked), not its creator's. */
	pthread_attr_t attr;
	CHECK_OK(pthread_attr_init(&attr));
	sigset_t attr_mask;
	sigemptyset(&attr_mask);
	sigaddset(&attr_mask, SIGUSR1);
	CHECK_OK(pthread_attr_setsigmask_np(&attr, &attr_mask));
	CHECK_OK(pthread_create(&waiter, &attr, report_mask, NULL));
	CHECK_OK(pthread_join(waiter, &ret));
	CHECK_EQ((intptr_t)ret, 1);
	CHECK_OK(pthread_attr_destroy(&attr));
	printf("pthread_attr_setsigmask_np: the new thread started with the attribute's mask\n");
#endif
	CHECK_OK(pthread_sigmask(SIG_UNBLOCK, &set, NULL));
	signal_parked();
	return 0;
}
