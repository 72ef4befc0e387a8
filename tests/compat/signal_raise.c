/* raise and sigpending are per thread. A thread that blocks SIGUSR1 and
 * raises it has it pending - for itself only: another thread (with one P
 * under gmpt, on the same kernel thread) neither sees it in sigpending nor
 * runs its handler when it unblocks SIGUSR1. The raising thread does,
 * once it unblocks it. A signal sent to the process that every thread
 * blocks shows in each thread's sigpending. raise of an unblocked signal
 * returns after its handler ran. A thread's kill(getpid()) makes the
 * signal pending in the main thread before kill returns: main, woken from
 * sem_wait by that thread's later sem_post, has run the handler by then
 * (checked 200 times). */
#define _GNU_SOURCE
#include "testutil.h"

#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>

static atomic_int handled;
static _Atomic pthread_t handler_thread;
static sem_t raiser_go, other_go;
static pthread_t raiser_t, other_t;

static void on_usr1(int sig)
{
	(void)sig;
	atomic_store(&handler_thread, pthread_self());
	atomic_fetch_add(&handled, 1);
}

static int pending(int sig)
{
	sigset_t p;
	CHECK(sigpending(&p) == 0);
	return sigismember(&p, sig);
}

static const char *who(void)
{
	pthread_t h = atomic_load(&handler_thread);
	if (!atomic_load(&handled))
		return "none";
	return pthread_equal(h, raiser_t) ? "raiser" : pthread_equal(h, other_t) ? "other" : "?";
}

static void *raiser(void *arg)
{
	(void)arg;
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	CHECK_OK(pthread_sigmask(SIG_BLOCK, &s, NULL));
	CHECK(raise(SIGUSR1) == 0);
	printf("raiser: pending after raise %d, handled %d\n", pending(SIGUSR1),
	       atomic_load(&handled));
	CHECK(sem_post(&other_go) == 0);
	while (sem_wait(&raiser_go) != 0)
		;
	printf("raiser: pending after the other ran %d\n", pending(SIGUSR1));
	CHECK_OK(pthread_sigmask(SIG_UNBLOCK, &s, NULL));
	printf("raiser: unblocked, handled %d by %s, pending %d\n", atomic_load(&handled), who(),
	       pending(SIGUSR1));
	/* Unblocked: the handler has run when raise returns. */
	CHECK(raise(SIGUSR1) == 0);
	printf("raiser: raised unblocked, handled %d\n", atomic_load(&handled));
	return NULL;
}

static void *other(void *arg)
{
	(void)arg;
	while (sem_wait(&other_go) != 0)
		;
	printf("other: pending %d\n", pending(SIGUSR1));
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	CHECK_OK(pthread_sigmask(SIG_UNBLOCK, &s, NULL));
	printf("other: unblocked, handled %d by %s\n", atomic_load(&handled), who());
	CHECK(sem_post(&raiser_go) == 0);
	return NULL;
}

static atomic_int usr2_handled;
static sem_t posted;

static void on_usr2(int sig)
{
	(void)sig;
	atomic_fetch_add(&usr2_handled, 1);
}

static void *kill_then_post(void *arg)
{
	(void)arg;
	CHECK(kill(getpid(), SIGUSR2) == 0);
	CHECK(sem_post(&posted) == 0);
	return NULL;
}

/* Rounds in which main came back from sem_wait before its handler ran. */
static int kill_before_post(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr2;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR2, &sa, NULL) == 0);
	CHECK(sem_init(&posted, 0, 0) == 0);
	int late = 0;
	for (int i = 0; i < 200; i++) {
		atomic_store(&usr2_handled, 0);
		pthread_t t;
		CHECK_OK(pthread_create(&t, NULL, kill_then_post, NULL));
		while (sem_wait(&posted) != 0)
			;
		late += atomic_load(&usr2_handled) == 0;
		CHECK_OK(pthread_join(t, NULL));
	}
	return late;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	CHECK(sem_init(&raiser_go, 0, 0) == 0);
	CHECK(sem_init(&other_go, 0, 0) == 0);

	/* Both threads start with SIGUSR1 blocked (main's mask). */
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	CHECK_OK(pthread_sigmask(SIG_BLOCK, &s, NULL));
	CHECK_OK(pthread_create(&other_t, NULL, other, NULL));
	CHECK_OK(pthread_create(&raiser_t, NULL, raiser, NULL));
	CHECK_OK(pthread_join(raiser_t, NULL));
	CHECK_OK(pthread_join(other_t, NULL));

	printf("main: handler not run before the post in %d of 200 rounds\n", kill_before_post());

	/* Sent to the process while every thread blocks SIGUSR2: pending
	 * for main too. */
	sigset_t s2;
	sigemptyset(&s2);
	sigaddset(&s2, SIGUSR2);
	CHECK_OK(pthread_sigmask(SIG_BLOCK, &s2, NULL));
	CHECK(kill(getpid(), SIGUSR2) == 0);
	printf("main: SIGUSR2 pending %d, SIGUSR1 pending %d\n", pending(SIGUSR2),
	       pending(SIGUSR1));
	int sig;
	CHECK_OK(sigwait(&s2, &sig));
	printf("main: sigwait %d, SIGUSR2 pending %d\n", sig == SIGUSR2, pending(SIGUSR2));
	return 0;
}
