/* Signals and threads: pthread_sigqueue's value reaches the target
 * thread's SA_SIGINFO handler; a signal sent to a thread that blocks it
 * waits until that thread unblocks it, then runs there before
 * pthread_sigmask returns; raise() runs the handler in the caller; and the
 * block-everything-then-sigwait pattern (the main thread blocks a signal,
 * its threads inherit the mask, one sigwaits for a signal sent to the
 * process) works while other threads keep busy. */
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
	/* Exited but not joined yet: accepted and dropped. */
	pthread_t quick;
	CHECK_OK(pthread_create(&quick, NULL, busy, NULL));
	atomic_store(&stop_busy, 1);
	usleep(20000);
	CHECK_EQ(pthread_kill(quick, SIGUSR1), 0);
	CHECK_OK(pthread_join(quick, NULL));
	CHECK_EQ(atomic_load(&handled), 3);
	atomic_store(&stop_busy, 0);

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
	return 0;
}
