/* no_deadlock.c SCENARIO - programs whose threads all wait on each other
 * for a while, but where one thread waits for something else: the
 * deadlock check must stay quiet, and the program must finish as it does
 * natively (run-compare.sh: same output and status, no "gmpt:" line).
 * In every scenario the other threads wait in mutex, condition, join or
 * semaphore waits that only a thread can end, so the process is idle with
 * nothing but the one outside waker pending.
 *
 *   sleep      a thread sleeps while holding the mutex the others want
 *   timedwait  a thread waits on a condition with a timeout that expires
 *   pipe       a thread reads a pipe (through gmpt's netpoller) that a
 *              child process writes a second later
 *   popen      the same through popen's pipe, made inside libc: gmpt does
 *              not poll it, the read blocks in the kernel
 *   waitpid    a thread waits for a child process that exits a second later
 *   sigwait    a thread waits in sigwait for a signal a child sends
 *   sigsuspend a thread waits in sigsuspend for a signal a child sends
 *   handler    main waits on a semaphore that a signal handler posts (the
 *              signal comes from a child process)
 *   foreign    main waits on a semaphore that a kernel thread gmpt does not
 *              run (made by glibc's own pthread_create) posts a second later
 *   named-sem  main waits on a named semaphore (sem_open) that a child
 *              process posts a second later (glibc's tst-sem4)
 *   cancel-async a thread with asynchronous cancellation waits for a
 *              mutex main holds; main cancels and joins it (tst-cancel1) */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static int done;

static void die(const char *what)
{
	perror(what);
	exit(3);
}

/* The other threads: one waits for the mutex, one for the condition. */
static void *wait_for_done(void *arg)
{
	pthread_mutex_lock(&lock);
	while (!done)
		pthread_cond_wait(&changed, &lock);
	pthread_mutex_unlock(&lock);
	return arg;
}

static void *take_lock(void *arg)
{
	pthread_mutex_lock(&lock);
	pthread_mutex_unlock(&lock);
	return arg;
}

static void set_done(void)
{
	pthread_mutex_lock(&lock);
	done = 1;
	pthread_cond_broadcast(&changed);
	pthread_mutex_unlock(&lock);
}

/* Runs waker in a thread next to a condition waiter and a mutex waiter,
 * and joins them all: main waits in pthread_join meanwhile. */
static void run_with_waiters(void *(*waker)(void *))
{
	pthread_t w, c, m;
	pthread_create(&c, NULL, wait_for_done, NULL);
	pthread_create(&w, NULL, waker, NULL);
	pthread_create(&m, NULL, take_lock, NULL);
	pthread_join(w, NULL);
	pthread_join(c, NULL);
	pthread_join(m, NULL);
}

static void *sleep_holding_lock(void *arg)
{
	pthread_mutex_lock(&lock);
	struct timespec ts = {0, 300 * 1000 * 1000};
	nanosleep(&ts, NULL);
	done = 1;
	pthread_cond_broadcast(&changed);
	pthread_mutex_unlock(&lock);
	puts("slept");
	return arg;
}

static void *timed_wait(void *arg)
{
	static pthread_cond_t nobody = PTHREAD_COND_INITIALIZER;
	static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	struct timespec abs;
	clock_gettime(CLOCK_REALTIME, &abs);
	abs.tv_nsec += 300 * 1000 * 1000;
	if (abs.tv_nsec >= 1000000000) {
		abs.tv_sec++;
		abs.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&m);
	int r = pthread_cond_timedwait(&nobody, &m, &abs);
	pthread_mutex_unlock(&m);
	printf("timedwait: %s\n", r == ETIMEDOUT ? "timed out" : "woken");
	set_done();
	return arg;
}

/* A child process that sleeps a second, then writes a line to fd. */
static pid_t child_writes_later(int fd)
{
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		sleep(1);
		if (write(fd, "late\n", 5) != 5)
			_exit(1);
		_exit(0);
	}
	return pid;
}

static int pipe_fds[2];

static void *read_pipe(void *arg)
{
	char buf[16] = {0};
	ssize_t n = read(pipe_fds[0], buf, sizeof buf - 1);
	printf("read %zd: %s", n, buf);
	set_done();
	return arg;
}

static void pipe_from_child(void)
{
	if (pipe(pipe_fds) != 0)
		die("pipe");
	pid_t pid = child_writes_later(pipe_fds[1]);
	run_with_waiters(read_pipe);
	waitpid(pid, NULL, 0);
}

static FILE *popened;

static void *read_popen(void *arg)
{
	char buf[16] = {0};
	ssize_t n = read(fileno(popened), buf, sizeof buf - 1);
	printf("read %zd: %s", n, buf);
	set_done();
	return arg;
}

static void popen_from_child(void)
{
	popened = popen("sleep 1; echo late", "r");
	if (!popened)
		die("popen");
	run_with_waiters(read_popen);
	pclose(popened);
}

static pid_t child;

static void *wait_child(void *arg)
{
	int status;
	if (waitpid(child, &status, 0) != child)
		die("waitpid");
	printf("child exited with %d\n", WEXITSTATUS(status));
	set_done();
	return arg;
}

static void waitpid_child(void)
{
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		sleep(1);
		_exit(7);
	}
	run_with_waiters(wait_child);
}

/* A child that sends SIGUSR1 to this process a second after it starts. */
static pid_t child_signals_later(void)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		sleep(1);
		kill(parent, SIGUSR1);
		_exit(0);
	}
	return pid;
}

static sigset_t usr1;

static void *wait_signal(void *arg)
{
	int sig;
	if (sigwait(&usr1, &sig) != 0)
		die("sigwait");
	printf("sigwait: %s\n", sig == SIGUSR1 ? "SIGUSR1" : "other");
	set_done();
	return arg;
}

static void sigwait_child(void)
{
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL); /* inherited by the threads */
	pid_t pid = child_signals_later();
	run_with_waiters(wait_signal);
	waitpid(pid, NULL, 0);
}

static volatile sig_atomic_t got_usr1;
static sem_t posted;

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

static void *suspend_for_signal(void *arg)
{
	sigset_t none;
	sigemptyset(&none);
	while (!got_usr1)
		sigsuspend(&none);
	puts("sigsuspend: SIGUSR1");
	set_done();
	return arg;
}

static void sigsuspend_child(void)
{
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	signal(SIGUSR1, on_usr1);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	pid_t pid = child_signals_later();
	run_with_waiters(suspend_for_signal);
	waitpid(pid, NULL, 0);
}

static void post_on_usr1(int sig)
{
	(void)sig;
	sem_post(&posted); /* async-signal-safe */
}

static void handler_posts(void)
{
	sem_init(&posted, 0, 0);
	struct sigaction sa = {.sa_handler = post_on_usr1};
	sigaction(SIGUSR1, &sa, NULL);
	pid_t pid = child_signals_later();
	while (sem_wait(&posted) != 0 && errno == EINTR)
		;
	puts("handler posted");
	waitpid(pid, NULL, 0);
}

static void *foreign_posts(void *arg)
{
	sleep(1);
	sem_post(&posted);
	return arg;
}

static void foreign_thread_posts(void)
{
	/* glibc's own pthread_create, past gmpt's: a kernel thread gmpt does
	 * not run (natively, just another thread). */
	typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	create_fn create = libc ? (create_fn)dlsym(libc, "pthread_create") : NULL;
	if (!create)
		die("dlsym pthread_create");
	sem_init(&posted, 0, 0);
	pthread_t t;
	if (create(&t, NULL, foreign_posts, NULL) != 0)
		die("pthread_create");
	sem_wait(&posted);
	puts("foreign thread posted");
}

static void named_sem_from_child(void)
{
	char name[64];
	snprintf(name, sizeof name, "/gmpt-no-deadlock-%d", (int)getpid());
	sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0600, 0);
	if (s == SEM_FAILED)
		die("sem_open");
	sem_unlink(name);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		sleep(1);
		sem_post(s);
		_exit(0);
	}
	while (sem_wait(s) != 0 && errno == EINTR)
		;
	puts("child posted");
	waitpid(pid, NULL, 0);
}

static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static sem_t started;
static int cleaned;

static void note_cleanup(void *arg)
{
	(void)arg;
	cleaned = 1;
}

static void *lock_async_cancelable(void *arg)
{
	pthread_cleanup_push(note_cleanup, NULL);
	pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL);
	sem_post(&started);
	pthread_mutex_lock(&held); /* never returns: cancelled while waiting */
	pthread_cleanup_pop(0);
	return arg;
}

static void cancel_async_waiter(void)
{
	sem_init(&started, 0, 0);
	pthread_mutex_lock(&held);
	pthread_t t;
	if (pthread_create(&t, NULL, lock_async_cancelable, NULL) != 0)
		die("pthread_create");
	sem_wait(&started);
	pthread_cancel(t);
	void *ret;
	pthread_join(t, &ret);
	printf("cancelled %d, cleanup ran %d\n", ret == PTHREAD_CANCELED, cleaned);
	pthread_mutex_unlock(&held);
}

static void sleeper(void)
{
	run_with_waiters(sleep_holding_lock);
}

static void timedwait(void)
{
	run_with_waiters(timed_wait);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*run)(void);
	} scenarios[] = {{"sleep", sleeper},
			 {"timedwait", timedwait},
			 {"pipe", pipe_from_child},
			 {"popen", popen_from_child},
			 {"waitpid", waitpid_child},
			 {"sigwait", sigwait_child},
			 {"sigsuspend", sigsuspend_child},
			 {"handler", handler_posts},
			 {"foreign", foreign_thread_posts},
			 {"named-sem", named_sem_from_child},
			 {"cancel-async", cancel_async_waiter}};
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; argc == 2 && i < sizeof scenarios / sizeof *scenarios; i++)
		if (strcmp(argv[1], scenarios[i].name) == 0) {
			scenarios[i].run();
			puts("finished");
			return 0;
		}
	fprintf(stderr, "usage: no_deadlock SCENARIO (see the source)\n");
	return 2;
}
