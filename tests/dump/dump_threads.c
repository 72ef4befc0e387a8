/* tests/dump/dump_threads.c - parked threads for the thread dump test
 * (dump_test.py drives it).
 *
 * dump_threads parked SIG: five threads, each named after its role, wait
 * in functions whose names the test looks for in the dump's backtraces: a
 * condition wait, a mutex main holds, a join of the condition waiter, a
 * sleep, and a spinner that runs until the end. Main prints "ready" once
 * every thread has announced itself, then waits for commands on stdin:
 * "s" makes main send SIG to itself from main_dumps_itself_zq (its own
 * backtrace must show that function), "q" releases every thread, joins
 * them and exits 0. The test sends SIG from outside meanwhile.
 *
 * dump_threads all-parked SIG: main joins a thread ("pipe-reader") that
 * reads a pipe the program made, so every thread is parked and SIG lands
 * on a kernel thread in its scheduler; the program's SIGUSR2 handler
 * writes to the pipe, and the program exits 0.
 *
 * dump_threads storm SIG: eight workers create and join short threads
 * until "q" comes on stdin, while the test sends SIG again and again;
 * prints "done ok" (every thread ran) and exits 0.
 *
 * dump_threads own-handler SIG: the program installs a handler for SIG,
 * sends it to itself and checks that the handler ran; exits 0.
 *
 * Compiled with frame pointers and unwind tables; the distinctive
 * functions are noinline and do something after their blocking call, so
 * that call is no tail call and their frames stay on the stack. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_int announced;
static atomic_int release;
static pthread_mutex_t cond_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
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

__attribute__((noinline)) static void *wait_in_cond_zq(void *arg)
{
	name_self("cond-waiter");
	pthread_mutex_lock(&cond_lock);
	atomic_fetch_add(&announced, 1);
	while (!atomic_load(&release))
		pthread_cond_wait(&cond, &cond_lock);
	pthread_mutex_unlock(&cond_lock);
	return arg;
}

__attribute__((noinline)) static void *wait_for_mutex_zq(void *arg)
{
	name_self("mutex-waiter");
	atomic_fetch_add(&announced, 1);
	pthread_mutex_lock(&held_by_main);
	pthread_mutex_unlock(&held_by_main);
	return arg;
}

__attribute__((noinline)) static void *wait_in_join_zq(void *arg)
{
	name_self("joiner");
	atomic_fetch_add(&announced, 1);
	void *ret = NULL;
	pthread_join(cond_thread, &ret);
	return ret == (void *)(intptr_t)1 ? arg : NULL; /* the cond waiter's */
}

__attribute__((noinline)) static void *wait_in_sleep_zq(void *arg)
{
	name_self("sleeper");
	atomic_fetch_add(&announced, 1);
	while (!atomic_load(&release))
		sleep(1);
	return arg;
}

__attribute__((noinline)) static void *spin_zq(void *arg)
{
	name_self("spinner");
	atomic_fetch_add(&announced, 1);
	volatile unsigned long n = 0;
	while (!atomic_load_explicit(&release, memory_order_relaxed))
		n++;
	return n ? arg : arg;
}

static volatile sig_atomic_t handled;
static int wake_pipe[2];

__attribute__((noinline)) static void *wait_on_pipe_zq(void *arg)
{
	name_self("pipe-reader");
	char c;
	ssize_t n = read(wake_pipe[0], &c, 1);
	return n == 1 ? arg : NULL;
}

static void wake_reader(int sig)
{
	(void)sig;
	ssize_t w = write(wake_pipe[1], "x", 1);
	(void)w;
}

/* storm: threads come and go (create, a mutex and a condition handoff,
 * join) while the test sends dump signals as fast as it can. */
static pthread_mutex_t storm_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t storm_cond = PTHREAD_COND_INITIALIZER;
static long storm_counter;

static void *storm_leaf(void *arg)
{
	pthread_mutex_lock(&storm_lock);
	storm_counter++;
	pthread_cond_broadcast(&storm_cond);
	pthread_mutex_unlock(&storm_lock);
	return arg;
}

static atomic_int storm_stop;

static void *storm_worker(void *arg)
{
	long made = 0;
	while (!atomic_load(&storm_stop)) {
		pthread_t t[4];
		for (int k = 0; k < 4; k++)
			if (pthread_create(&t[k], NULL, storm_leaf, arg) != 0)
				exit(1);
		for (int k = 0; k < 4; k++)
			pthread_join(t[k], NULL);
		made += 4;
	}
	return (void *)made;
}

static int storm_mode(void)
{
	enum { W = 8 };
	pthread_t w[W];
	for (int i = 0; i < W; i++)
		if (pthread_create(&w[i], NULL, storm_worker, NULL) != 0)
			return 1;
	printf("ready\n");
	fflush(stdout);
	char c;
	while (read(0, &c, 1) == 1 && c != 'q')
		;
	atomic_store(&storm_stop, 1);
	long made = 0;
	for (int i = 0; i < W; i++) {
		void *ret;
		pthread_join(w[i], &ret);
		made += (long)ret;
	}
	printf("done %s\n", made == storm_counter && made > 0 ? "ok" : "wrong count");
	return made == storm_counter && made > 0 ? 0 : 1;
}

/* Every thread parked: a dump signal lands on a kernel thread with no G,
 * in its scheduler. SIGUSR2 (the program's own handler) ends it. */
static int all_parked_mode(void)
{
	if (pipe(wake_pipe) != 0)
		return 1;
	signal(SIGUSR2, wake_reader);
	pthread_t t;
	static int token;
	if (pthread_create(&t, NULL, wait_on_pipe_zq, &token) != 0)
		return 1;
	printf("ready\n");
	fflush(stdout);
	void *ret;
	pthread_join(t, &ret);
	printf(ret == &token ? "done\n" : "bad return\n");
	return ret == &token ? 0 : 1;
}

static void own_handler(int sig)
{
	(void)sig;
	handled = 1;
}

__attribute__((noinline)) static void main_dumps_itself_zq(int sig)
{
	int err = pthread_kill(pthread_self(), sig);
	if (err) {
		fprintf(stderr, "pthread_kill: error %d\n", err);
		exit(1);
	}
	/* The handler ran before pthread_kill returned; gmpt writes the dump
	 * from another thread. */
	fprintf(stderr, "self dump done\n");
}

static int own_handler_mode(int sig)
{
	struct sigaction old;
	if (sigaction(sig, NULL, &old) != 0 || (old.sa_flags & SA_SIGINFO) ||
	    old.sa_handler != SIG_DFL) {
		fprintf(stderr, "sigaction reports an action for %d before the program set one\n",
			sig);
		return 1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = own_handler;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, &old) != 0 || old.sa_handler != SIG_DFL) {
		fprintf(stderr, "sigaction(%d) failed or reported an old action\n", sig);
		return 1;
	}
	struct sigaction now;
	if (sigaction(sig, NULL, &now) != 0 || now.sa_handler != own_handler) {
		fprintf(stderr, "sigaction does not report the program's handler\n");
		return 1;
	}
	for (int i = 0; i < 3; i++) {
		handled = 0;
		kill(getpid(), sig);
		/* A process-directed signal may land on another kernel thread. */
		for (int w = 0; !handled && w < 10000; w++)
			usleep(1000);
		if (!handled) {
			fprintf(stderr, "the program's handler did not run\n");
			return 1;
		}
	}
	printf("handled\n");
	return 0;
}

static int parked_mode(int sig)
{
	void *(*fns[])(void *) = {wait_in_cond_zq, wait_for_mutex_zq, wait_in_join_zq,
				  wait_in_sleep_zq, spin_zq};
	enum { N = sizeof fns / sizeof *fns };
	pthread_t t[N];
	pthread_mutex_lock(&held_by_main);
	for (int i = 0; i < N; i++) {
		if (pthread_create(&t[i], NULL, fns[i], (void *)(intptr_t)(i + 1)) != 0) {
			fprintf(stderr, "pthread_create failed\n");
			return 1;
		}
		if (i == 0)
			cond_thread = t[0];
	}
	while (atomic_load(&announced) < N)
		usleep(1000);
	printf("ready\n");
	fflush(stdout);

	/* read(2), not stdio: glibc's stdio calls its internal read, which
	 * gmpt does not see, and main would block its kernel thread instead
	 * of parking. Commands are one byte each: s(elf), q(uit). */
	char c;
	while (read(0, &c, 1) == 1 && c != 'q')
		if (c == 's')
			main_dumps_itself_zq(sig);
	atomic_store(&release, 1);
	pthread_mutex_unlock(&held_by_main);
	pthread_mutex_lock(&cond_lock);
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&cond_lock);
	for (int i = 1; i < N; i++) { /* the joiner joins t[0] */
		void *ret;
		pthread_join(t[i], &ret);
		if (ret != (void *)(intptr_t)(i + 1)) {
			fprintf(stderr, "thread %d returned %p\n", i, ret);
			return 1;
		}
	}
	printf("done\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s parked|all-parked|storm|own-handler SIGNUM\n", argv[0]);
		return 2;
	}
	int sig = atoi(argv[2]);
	if (strcmp(argv[1], "parked") == 0)
		return parked_mode(sig);
	if (strcmp(argv[1], "storm") == 0)
		return storm_mode();
	if (strcmp(argv[1], "all-parked") == 0)
		return all_parked_mode();
	if (strcmp(argv[1], "own-handler") == 0)
		return own_handler_mode(sig);
	fprintf(stderr, "unknown mode %s\n", argv[1]);
	return 2;
}
