/* The program tests/trace runs with GMPT_TRACE set: threads that do what a
 * scheduler timeline should show. The trace itself is checked afterwards
 * by check_trace.py; this program only asserts that it did its work.
 *
 *   threads      two mutex+cond ping-pong pairs, two sleepers, a pipe
 *                writer and reader, a thread in system calls that block
 *                (sigtimedwait) and that do not (reads of /proc); all named
 *   preempt      (GMPT_PROCS=1) a thread that spins until main, which
 *                sleeps meanwhile, stops it: only preemption lets main run
 *   exit-thread  a thread calls exit(0) while the others wait or spin
 *   _exit        the same with _exit(0)
 *   fork         threads run while one forks a child that makes threads
 *                and exits, and another child that execs this program
 *                (mode child) with the same environment
 *   child        a little of threads, quickly
 *   workers      main, without threads, forks two workers one after the
 *                other (a server's master): each makes a thread named
 *                "worker-<i>" and exits before the next starts
 *   segv         a thread dereferences NULL while others ping-pong (the
 *                process dies of SIGSEGV)
 *   deadlock     main joins a thread that waits for a mutex main holds
 *                (gmpt's deadlock check aborts the process) */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/wait.h>

#include "../mn/mnutil.h"

/* ---- ping-pong through a mutex and two condition variables ---- */

struct pair {
	pthread_mutex_t mu;
	pthread_cond_t cv[2];
	int turn;
	long rounds;
};

struct player {
	struct pair *pair;
	int me;
	const char *name;
};

static void *play(void *arg)
{
	struct player *pl = arg;
	struct pair *pr = pl->pair;
	CHECK_OK(pthread_setname_np(pthread_self(), pl->name));
	CHECK_OK(pthread_mutex_lock(&pr->mu));
	for (long i = 0; i < pr->rounds; i++) {
		while (pr->turn != pl->me)
			CHECK_OK(pthread_cond_wait(&pr->cv[pl->me], &pr->mu));
		pr->turn = !pl->me;
		CHECK_OK(pthread_cond_signal(&pr->cv[!pl->me]));
	}
	CHECK_OK(pthread_mutex_unlock(&pr->mu));
	return NULL;
}

static void *sleeper(void *arg)
{
	(void)arg;
	CHECK_OK(pthread_setname_np(pthread_self(), "sleeper"));
	for (int i = 0; i < 20; i++)
		CHECK_EQ(usleep(1000), 0);
	return NULL;
}

static int pipefd[2];

static void *pipe_writer(void *arg)
{
	(void)arg;
	CHECK_OK(pthread_setname_np(pthread_self(), "pipe-writer"));
	for (int i = 0; i < 200; i++) {
		char c = (char)i;
		CHECK_EQ(write(pipefd[1], &c, 1), 1);
		if (i % 50 == 0)
			usleep(500);
	}
	return NULL;
}

static void *pipe_reader(void *arg)
{
	(void)arg;
	CHECK_OK(pthread_setname_np(pthread_self(), "pipe-reader"));
	for (int i = 0; i < 200; i++) {
		char c;
		CHECK_EQ(read(pipefd[0], &c, 1), 1);
		CHECK_EQ((unsigned char)c, (unsigned char)i);
	}
	return NULL;
}

/* sigtimedwait blocks in the kernel (the P is handed off); reading a
 * file is a short system call (the P stays, marked in a system call). */
static void *syscaller(void *arg)
{
	(void)arg;
	CHECK_OK(pthread_setname_np(pthread_self(), "syscaller"));
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	CHECK_OK(pthread_sigmask(SIG_BLOCK, &set, NULL));
	struct timespec ts = {0, 2000000};
	for (int i = 0; i < 5; i++) {
		/* EINTR: a signal handler ran meanwhile (gmpt's own, too). */
		CHECK_EQ(sigtimedwait(&set, NULL, &ts), -1);
		CHECK(errno == EAGAIN || errno == EINTR);
		char buf[256];
		int fd = open("/proc/self/stat", O_RDONLY);
		CHECK(fd >= 0);
		CHECK(read(fd, buf, sizeof buf) > 0);
		close(fd);
	}
	return NULL;
}

static void threads(long rounds)
{
	static struct pair pairs[2];
	static struct player players[4];
	static const char *names[4] = {"ping0", "pong0", "ping1", "pong1"};
	pthread_t t[10];
	int n = 0;
	CHECK_EQ(pipe(pipefd), 0);
	for (int p = 0; p < 2; p++) {
		pthread_mutex_init(&pairs[p].mu, NULL);
		pthread_cond_init(&pairs[p].cv[0], NULL);
		pthread_cond_init(&pairs[p].cv[1], NULL);
		pairs[p].rounds = rounds;
		for (int k = 0; k < 2; k++) {
			players[2 * p + k] = (struct player){&pairs[p], k, names[2 * p + k]};
			CHECK_OK(pthread_create(&t[n++], NULL, play, &players[2 * p + k]));
		}
	}
	CHECK_OK(pthread_create(&t[n++], NULL, sleeper, NULL));
	CHECK_OK(pthread_create(&t[n++], NULL, sleeper, NULL));
	CHECK_OK(pthread_create(&t[n++], NULL, pipe_reader, NULL));
	CHECK_OK(pthread_create(&t[n++], NULL, pipe_writer, NULL));
	CHECK_OK(pthread_create(&t[n++], NULL, syscaller, NULL));
	for (int i = 0; i < n; i++)
		CHECK_OK(pthread_join(t[i], NULL));
	close(pipefd[0]);
	close(pipefd[1]);
}

/* ---- preemption ---- */

static atomic_int stop, spinning;

static void *spinner(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "spinner");
	long n = 0;
	atomic_store(&spinning, 1);
	while (!atomic_load_explicit(&stop, memory_order_relaxed))
		n++;
	return (void *)(intptr_t)(n > 0);
}

static void preempt(void)
{
	for (int round = 0; round < 2; round++) {
		pthread_t t;
		void *ret;
		atomic_store(&stop, 0);
		atomic_store(&spinning, 0);
		CHECK_OK(pthread_create(&t, NULL, spinner, NULL));
		while (!atomic_load(&spinning))
			usleep(1000);
		CHECK_EQ(usleep(50000), 0);
		atomic_store(&stop, 1);
		CHECK_OK(pthread_join(t, &ret));
		CHECK_EQ((intptr_t)ret, 1);
	}
}

/* ---- leaving from another thread ---- */

static pthread_mutex_t never_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never_cv = PTHREAD_COND_INITIALIZER;
static bool use_underscore_exit;

static void *waiter(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "waiter");
	pthread_mutex_lock(&never_mu);
	for (;;)
		pthread_cond_wait(&never_cv, &never_mu);
	return NULL;
}

static void *quitter(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "quitter");
	usleep(20000);
	fflush(stdout);
	if (use_underscore_exit)
		_exit(0);
	exit(0);
}

static void exit_from_thread(bool underscore)
{
	use_underscore_exit = underscore;
	pthread_t t;
	for (int i = 0; i < 3; i++)
		CHECK_OK(pthread_create(&t, NULL, waiter, NULL));
	CHECK_OK(pthread_create(&t, NULL, spinner, NULL));
	CHECK_OK(pthread_create(&t, NULL, quitter, NULL));
	pthread_join(t, NULL); /* never returns: the quitter ends the process */
	tu_fail(__FILE__, __LINE__, "the process outlived exit() in a thread");
}

/* ---- fork ---- */

static void *small(void *arg)
{
	(void)arg;
	usleep(1000);
	return NULL;
}

static void *forker(void *arg)
{
	const char *self = arg;
	pthread_setname_np(pthread_self(), "forker");
	/* A plain fork: the child makes threads and leaves through exit(),
	 * atexit handlers and all. */
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		pthread_t t;
		CHECK_OK(pthread_create(&t, NULL, small, NULL));
		CHECK_OK(pthread_join(t, NULL));
		exit(0);
	}
	int st;
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* fork and exec: the new image runs gmpt with the same GMPT_TRACE. */
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		execl(self, self, "child", (char *)NULL);
		_exit(127);
	}
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return NULL;
}

static void fork_children(const char *self)
{
	pthread_t t;
	CHECK_OK(pthread_create(&t, NULL, forker, (void *)self));
	threads(500);
	CHECK_OK(pthread_join(t, NULL));
}

static void *named_worker(void *arg)
{
	pthread_setname_np(pthread_self(), arg);
	usleep(1000);
	return NULL;
}

static void workers(void)
{
	static char *const names[] = {"worker-0", "worker-1"};
	for (int i = 0; i < 2; i++) {
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			pthread_t t;
			CHECK_OK(pthread_create(&t, NULL, named_worker, names[i]));
			CHECK_OK(pthread_join(t, NULL));
			exit(0);
		}
		int st;
		CHECK_EQ(waitpid(pid, &st, 0), pid);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
}

/* ---- dying ---- */

static void *crasher(void *arg)
{
	pthread_setname_np(pthread_self(), "crasher");
	usleep(20000);
	*(volatile int *)arg = 1;
	return NULL;
}

static void *pinger(void *arg)
{
	(void)arg;
	threads(1000000);
	return NULL;
}

static void segv(void)
{
	pthread_t t;
	CHECK_OK(pthread_create(&t, NULL, pinger, NULL));
	CHECK_OK(pthread_create(&t, NULL, crasher, NULL));
	pthread_join(t, NULL);
	tu_fail(__FILE__, __LINE__, "the process outlived a NULL dereference");
}

static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;

static void *locker(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "locker");
	pthread_mutex_lock(&held);
	return NULL;
}

static void deadlock(void)
{
	pthread_t t;
	CHECK_OK(pthread_mutex_lock(&held));
	CHECK_OK(pthread_create(&t, NULL, locker, NULL));
	pthread_join(t, NULL);
	tu_fail(__FILE__, __LINE__, "the deadlock was not detected");
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "threads";
	/* Not with deadlock: a signal handler could wake a thread, so gmpt
	 * would not call it a deadlock (run_trace.sh has a timeout). */
	if (strcmp(mode, "deadlock") != 0)
		mn_watchdog(60, mode);
	if (strcmp(mode, "threads") == 0)
		threads(2000);
	else if (strcmp(mode, "preempt") == 0)
		preempt();
	else if (strcmp(mode, "exit-thread") == 0)
		exit_from_thread(false);
	else if (strcmp(mode, "_exit") == 0)
		exit_from_thread(true);
	else if (strcmp(mode, "fork") == 0)
		fork_children("/proc/self/exe");
	else if (strcmp(mode, "child") == 0)
		threads(100);
	else if (strcmp(mode, "workers") == 0)
		workers();
	else if (strcmp(mode, "segv") == 0)
		segv();
	else if (strcmp(mode, "deadlock") == 0)
		deadlock();
	else {
		fprintf(stderr,
			"usage: %s "
			"[threads|preempt|exit-thread|_exit|fork|child|workers|segv|deadlock]\n",
			argv[0]);
		return 2;
	}
	return 0;
}
