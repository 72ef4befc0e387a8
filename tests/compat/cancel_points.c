/* Cancellation of threads blocked inside system calls that glibc makes
 * cancellation points: a sleep that began before the program's first
 * cancellation, open() of a FIFO nobody writes, waitpid() for a
 * child that does not exit, sigwait() for a signal nobody sends,
 * lockf(F_LOCK) on a file a child process holds locked, msgrcv() on an
 * empty queue, read() on a FIFO opened blocking; and asynchronous
 * cancellation of a thread spinning in a loop that calls nothing. Each
 * thread pushes a cleanup handler; each join must give PTHREAD_CANCELED
 * and the handler must have run. Then a race: 200 threads cancelled after
 * a random delay around the moment they enter waitpid or sigwait; none
 * may hang. Finally a cancellation made while disabled does not stop the
 * call, and acts once enabled. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static atomic_int started, cleanups;
static char fifo_path[64], lock_path[64];
static pid_t sleeper_pid, locker_pid;
static int msq;

static void count_cleanup(void *arg)
{
	(void)arg;
	atomic_fetch_add(&cleanups, 1);
}

static void *in_sleep(void *arg)
{
	(void)arg;
	pthread_cleanup_push(count_cleanup, NULL);
	atomic_fetch_add(&started, 1);
	sleep(30);
	pthread_cleanup_pop(0);
	return (void *)1;
}

static void *in_open_fifo(void *arg)
{
	(void)arg;
	pthread_cleanup_push(count_cleanup, NULL);
	atomic_fetch_add(&started, 1);
	int fd = open(fifo_path, O_RDONLY); /* blocks: no writer */
	(void)fd;
	pthread_cleanup_pop(0);
	return (void *)1;
}

static void *in_waitpid(void *arg)
{
	(void)arg;
	pthread_cleanup_push(count_cleanup, NULL);
	atomic_fetch_add(&started, 1);
	int st;
	waitpid(sleeper_pid, &st, 0);
	pthread_cleanup_pop(0);
	return (void *)1;
}

static void *in_sigwait(void *arg)
{
	(void)arg;
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	pthread_cleanup_push(count_cleanup, NULL);
	atomic_fetch_add(&started, 1);
	int sig;
	sigwait(&s, &sig);
	pthread_cleanup_pop(0);
	return (void *)1;
}

static void *in_lockf(void *arg)
{
	(void)arg;
	int fd = open(lock_path, O_RDWR);
	CHECK(fd >= 0);
	pthread_cleanup_push(count_cleanup, NULL);
	atomic_fetch_add(&started, 1);
	lockf(fd, F_LOCK, 0); /* the child holds it */
	pthread_cleanup_pop(0);
	return (void *)1;
}

static void *in_msgrcv(void *arg)
{
	(void)arg;
	struct {
		long type;
		char text[16];
	} m;
	pthread_cleanup_push(count_cleanup, NULL);
	atomic_fetch_add(&started, 1);
	msgrcv(msq, &m, sizeof m.text, 0, 0);
	pthread_cleanup_pop(0);
	return (void *)1;
}

static int fifo_rdwr_fd;
static void *in_read_fifo(void *arg)
{
	(void)arg;
	char c;
	pthread_cleanup_push(count_cleanup, NULL);
	atomic_fetch_add(&started, 1);
	ssize_t n = read(fifo_rdwr_fd, &c, 1);
	(void)n;
	pthread_cleanup_pop(0);
	return (void *)1;
}

static volatile unsigned long spins;
static void *spin_async(void *arg)
{
	(void)arg;
	CHECK_OK(pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL));
	pthread_cleanup_push(count_cleanup, NULL);
	atomic_fetch_add(&started, 1);
	for (;;)
		spins++;
	pthread_cleanup_pop(0);
	return (void *)1;
}

static void wait_started(int n)
{
	while (atomic_load(&started) < n)
		usleep(1000);
	usleep(20000); /* let it block in the call */
}

static void cancel_one(const char *what, void *(*fn)(void *))
{
	pthread_t t;
	atomic_store(&started, 0);
	int before = atomic_load(&cleanups);
	CHECK_OK(pthread_create(&t, NULL, fn, NULL));
	wait_started(1);
	CHECK_OK(pthread_cancel(t));
	void *res;
	CHECK_OK(pthread_join(t, &res));
	CHECK(res == PTHREAD_CANCELED);
	CHECK_EQ(atomic_load(&cleanups), before + 1);
	printf("%s: cancelled, cleanup ran\n", what);
}

static pid_t spawn_sleeper(void)
{
	pid_t p = fork();
	CHECK(p >= 0);
	if (p == 0) {
		sleep(30);
		_exit(0);
	}
	return p;
}

/* Cancelled at a random moment around its entry into the call. */
static void *race_waitpid(void *arg)
{
	int st;
	waitpid(*(pid_t *)arg, &st, 0);
	return (void *)1;
}

static void *race_sigwait(void *arg)
{
	(void)arg;
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	int sig;
	sigwait(&s, &sig);
	return (void *)1;
}

static void race(void)
{
	pid_t child = spawn_sleeper();
	unsigned seed = 12345;
	for (int i = 0; i < 200; i++) {
		pthread_t t;
		CHECK_OK(pthread_create(&t, NULL, i % 2 ? race_waitpid : race_sigwait, &child));
		usleep(rand_r(&seed) % 300);
		CHECK_OK(pthread_cancel(t));
		void *res;
		CHECK_OK(pthread_join(t, &res));
		CHECK(res == PTHREAD_CANCELED);
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	printf("race: 200 threads cancelled around waitpid/sigwait entry\n");
}

static atomic_int disabled_stage;
static void *disabled_open(void *arg)
{
	(void)arg;
	CHECK_OK(pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL));
	pthread_cleanup_push(count_cleanup, NULL);
	atomic_fetch_add(&started, 1);
	int fd = open(fifo_path, O_RDONLY); /* not stopped: cancellation is disabled */
	CHECK(fd >= 0);
	atomic_store(&disabled_stage, 1);
	close(fd);
	CHECK_OK(pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL));
	pthread_testcancel();
	pthread_cleanup_pop(0);
	return (void *)1;
}

static void disabled_then_enabled(void)
{
	pthread_t t;
	atomic_store(&started, 0);
	int before = atomic_load(&cleanups);
	CHECK_OK(pthread_create(&t, NULL, disabled_open, NULL));
	wait_started(1);
	CHECK_OK(pthread_cancel(t));
	usleep(20000);
	CHECK_EQ(atomic_load(&disabled_stage), 0); /* still blocked in open */
	int w = open(fifo_path, O_WRONLY);	   /* lets its open finish */
	CHECK(w >= 0);
	void *res;
	CHECK_OK(pthread_join(t, &res));
	close(w);
	CHECK(res == PTHREAD_CANCELED);
	CHECK_EQ(atomic_load(&disabled_stage), 1);
	CHECK_EQ(atomic_load(&cleanups), before + 1);
	printf("disabled: open completed, cancelled once enabled\n");
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	snprintf(fifo_path, sizeof fifo_path, "/tmp/gmpt-cp-fifo.%d", (int)getpid());
	snprintf(lock_path, sizeof lock_path, "/tmp/gmpt-cp-lock.%d", (int)getpid());
	unlink(fifo_path);
	CHECK_OK(mkfifo(fifo_path, 0600));

	/* The program's first cancellation: the sleep began before it. */
	cancel_one("sleep begun before any cancellation", in_sleep);
	cancel_one("open(fifo)", in_open_fifo);

	sleeper_pid = spawn_sleeper();
	cancel_one("waitpid", in_waitpid);
	kill(sleeper_pid, SIGKILL);
	CHECK_EQ(waitpid(sleeper_pid, NULL, 0), sleeper_pid);

	cancel_one("sigwait", in_sigwait);

	int lfd = open(lock_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(lfd >= 0);
	int ready[2];
	CHECK_OK(pipe(ready));
	locker_pid = fork();
	CHECK(locker_pid >= 0);
	if (locker_pid == 0) {
		CHECK_OK(lockf(lfd, F_LOCK, 0));
		char c = 'x';
		CHECK_EQ(write(ready[1], &c, 1), 1);
		sleep(30);
		_exit(0);
	}
	char c;
	CHECK_EQ(read(ready[0], &c, 1), 1);
	cancel_one("lockf(F_LOCK)", in_lockf);
	kill(locker_pid, SIGKILL);
	CHECK_EQ(waitpid(locker_pid, NULL, 0), locker_pid);
	close(lfd);
	unlink(lock_path);

	msq = msgget(IPC_PRIVATE, 0600);
	CHECK(msq >= 0);
	cancel_one("msgrcv", in_msgrcv);
	CHECK_OK(msgctl(msq, IPC_RMID, NULL));

	/* O_RDWR on a FIFO never blocks in open; reads block with no data. */
	fifo_rdwr_fd = open(fifo_path, O_RDWR);
	CHECK(fifo_rdwr_fd >= 0);
	cancel_one("read(fifo)", in_read_fifo);
	close(fifo_rdwr_fd);

	cancel_one("asynchronous, spinning", spin_async);

	race();
	disabled_then_enabled();
	unlink(fifo_path);
	printf("done\n");
	return 0;
}
