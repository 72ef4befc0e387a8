/* Signals sent to the process (alarm, kill(getpid()), a signal from
 * another process) reach the thread Linux chooses - the main thread unless
 * it blocks the signal, else one that does not - and cut short the wait
 * that thread is in:
 *   - alarm(1) ends main's sleep(3) early, and a 3 s sem_timedwait with
 *     EINTR (no SA_RESTART), in a program whose only other thread is idle;
 *   - main's `while (!stop) pause();` ends after system() moved it;
 *   - with main blocking SIGUSR1, kill(getpid()) runs the handler on the
 *     thread that leaves it unblocked, while that thread waits in read;
 *   - with every thread blocking SIGUSR2, kill() leaves it pending in the
 *     process: sigwait in a thread takes it;
 *   - a signal from another process (a child's kill(getppid())) interrupts
 *     main's poll;
 *   - SIGTERM with no handler ends the process (checked last: exit status
 *   128+15 via the caller's EXPECT_STATUS). */
#define _GNU_SOURCE
#include "testutil.h"

#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

static volatile sig_atomic_t stop;
static atomic_int handled_usr1;
static _Atomic pthread_t handler_thread;

static void on_alarm(int sig)
{
	(void)sig;
	stop = 1;
}

static void on_usr1(int sig)
{
	(void)sig;
	atomic_store(&handler_thread, pthread_self());
	atomic_fetch_add(&handled_usr1, 1);
}

static void set_handler(int sig, void (*h)(int), int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = h;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(sig, &sa, NULL) == 0);
}

static int idle_pipe[2];
static void *idle_thread(void *arg)
{
	(void)arg;
	char c;
	ssize_t r = read(idle_pipe[0], &c, 1); /* parks until main writes */
	(void)r;
	return NULL;
}

static int usr1_pipe[2];
static atomic_int reader_done;
static void *usr1_reader(void *arg)
{
	(void)arg;
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &s, NULL);
	/* A signal that came before the read started ran its handler
	 * without cutting anything short: main sends another until one
	 * finds the thread in read (natively too, on a loaded machine). */
	char c;
	errno = 0;
	ssize_t r = read(usr1_pipe[0], &c, 1);
	printf("reader: read %s\n", r < 0 && errno_now() == EINTR ? "EINTR" : "data");
	atomic_store(&reader_done, 1);
	return NULL;
}

static void *usr2_waiter(void *arg)
{
	(void)arg;
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR2);
	int sig = 0;
	CHECK(sigwait(&s, &sig) == 0);
	printf("sigwait: got %s\n", sig == SIGUSR2 ? "SIGUSR2" : "other");
	return NULL;
}

static double elapsed(struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Every thread but the reader below blocks SIGUSR1 and SIGUSR2
	 * until main unblocks them itself. */
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	sigaddset(&s, SIGUSR2);
	CHECK_OK(pthread_sigmask(SIG_BLOCK, &s, NULL));
	CHECK(pipe(idle_pipe) == 0);
	pthread_t idle;
	CHECK_OK(pthread_create(&idle, NULL, idle_thread, NULL));

	/* alarm vs sleep(3): cut short, about 2 s left. */
	set_handler(SIGALRM, on_alarm, 0);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	alarm(1);
	unsigned left = sleep(3);
	printf("sleep: %s, stop %d\n", left >= 1 && left <= 2 ? "cut short" : "not cut short",
	       (int)stop);

	/* alarm vs sem_timedwait(3 s). */
	stop = 0;
	sem_t sem;
	CHECK(sem_init(&sem, 0, 0) == 0);
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 3;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	alarm(1);
	int r = sem_timedwait(&sem, &dl);
	printf("sem_timedwait: %s, early %d\n", r < 0 && errno_now() == EINTR ? "EINTR" : "other",
	       elapsed(&t0) < 2.5);

	/* After system(), main waits in pause() for the alarm. */
	CHECK(system("true") == 0);
	stop = 0;
	alarm(1);
	while (!stop)
		pause();
	printf("pause loop: ended\n");

	/* Main blocks SIGUSR1: the thread that does not gets it. */
	set_handler(SIGUSR1, on_usr1, 0);
	CHECK(pipe(usr1_pipe) == 0);
	pthread_t reader, waiter;
	CHECK_OK(pthread_create(&reader, NULL, usr1_reader, NULL));
	struct timespec ms100 = {0, 100000000};
	while (!atomic_load(&reader_done)) {
		nanosleep(&ms100, NULL);
		CHECK(kill(getpid(), SIGUSR1) == 0);
	}
	CHECK_OK(pthread_join(reader, NULL));
	printf("usr1: handled %d, on the reader %d\n", atomic_load(&handled_usr1) > 0,
	       pthread_equal(atomic_load(&handler_thread), reader) != 0);

	/* Every thread blocks SIGUSR2 (the waiter inherits main's mask). */
	CHECK(kill(getpid(), SIGUSR2) == 0);
	CHECK_OK(pthread_create(&waiter, NULL, usr2_waiter, NULL));
	CHECK_OK(pthread_join(waiter, NULL));
	CHECK_OK(pthread_sigmask(SIG_UNBLOCK, &s, NULL));

	/* Another process's signal interrupts main's poll. */
	set_handler(SIGUSR1, on_usr1, SA_RESTART);
	pid_t child = fork();
	if (child == 0) {
		struct timespec t = {0, 200000000};
		nanosleep(&t, NULL);
		kill(getppid(), SIGUSR1);
		_exit(0);
	}
	struct pollfd p = {idle_pipe[0], POLLIN, 0};
	errno = 0;
	r = poll(&p, 1, 5000);
	printf("poll: %s\n", r < 0 && errno_now() == EINTR ? "EINTR" : "other");
	CHECK(waitpid(child, NULL, 0) == child);

	CHECK(write(idle_pipe[1], "x", 1) == 1);
	CHECK_OK(pthread_join(idle, NULL));

	/* No handler: SIGTERM ends the process while main waits in read. */
	CHECK_OK(pthread_create(&idle, NULL, idle_thread, NULL));
	child = fork();
	if (child == 0) {
		struct timespec t = {0, 200000000};
		nanosleep(&t, NULL);
		kill(getppid(), SIGTERM);
		_exit(0);
	}
	printf("waiting for SIGTERM\n");
	char c;
	r = (int)read(usr1_pipe[0], &c, 1);
	printf("read returned %d: SIGTERM did not end the process\n", r);
	return 0;
}
