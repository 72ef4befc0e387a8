/* vfork: the child runs on its parent's memory until it execs or exits,
 * so nothing it does to its own descriptors may show in the parent.
 *
 *   a: the child closes and dup2s the ends of two pipes, then execs this
 *      program as a filter (copies stdin to stdout); the parent's read of
 *      the output pipe must block until the data comes (not EAGAIN), and
 *      the exec'd program must see blocking stdin and stdout, as natively;
 *   b: the child writes to a pipe and _exits; afterwards the parent still
 *      waits for pipes normally (a read woken by another thread's write);
 *   c: both from a second thread, with threads running;
 *   d: posix_spawn with file actions that dup2 close-on-exec pipe ends
 *      onto the spawned program's stdin and stdout (its child is glibc's
 *      own clone(CLONE_VM|CLONE_VFORK)): the same as a;
 *   e: the program's own clone(CLONE_VM|CLONE_VFORK) child closes the read
 *      end of a pipe and writes to it; the parent's read of that end must
 *      still wait for more (a second write by a thread after a while).
 *
 * Run with an argument, "filter", it is the exec'd program of part a. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static char self_path[4096];

static int filter(void)
{
	/* What the exec'd program finds: blocking descriptors. */
	int f0 = fcntl(0, F_GETFL), f1 = fcntl(1, F_GETFL);
	CHECK(f0 >= 0 && f1 >= 0);
	char line[64];
	int n = snprintf(line, sizeof line, "filter: stdin %s, stdout %s\n",
			 (f0 & O_NONBLOCK) ? "non-blocking" : "blocking",
			 (f1 & O_NONBLOCK) ? "non-blocking" : "blocking");
	CHECK(write(1, line, (size_t)n) == n);
	char buf[256];
	ssize_t r;
	while ((r = read(0, buf, sizeof buf)) > 0)
		CHECK(write(1, buf, (size_t)r) == r);
	CHECK(r == 0);
	return 0;
}

struct feed {
	int fd;
	const char *text;
};

static void *feeder(void *arg)
{
	struct feed *f = arg;
	usleep(50000); /* the reader is blocked in read() by now */
	size_t n = strlen(f->text);
	CHECK(write(f->fd, f->text, n) == (ssize_t)n);
	CHECK(close(f->fd) == 0);
	return NULL;
}

static void read_all(int fd, char *buf, size_t cap)
{
	size_t got = 0;
	for (;;) {
		ssize_t r = read(fd, buf + got, cap - 1 - got);
		if (r < 0) {
			printf("read: %s\n", strerror(errno));
			break;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	buf[got] = 0;
}

static void part_a(const char *who)
{
	int in[2], out[2];
	CHECK(pipe(in) == 0 && pipe(out) == 0);
	pid_t pid = vfork();
	if (pid == 0) {
		close(in[1]);
		close(out[0]);
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]);
		close(out[1]);
		execl(self_path, self_path, "filter", (char *)NULL);
		_exit(127);
	}
	CHECK(pid > 0);
	CHECK(close(in[0]) == 0 && close(out[1]) == 0);
	/* The parent's ends are as it made them. */
	CHECK_EQ(fcntl(out[0], F_GETFL) & O_NONBLOCK, 0);
	CHECK_EQ(fcntl(in[1], F_GETFL) & O_NONBLOCK, 0);
	struct feed f = {in[1], "through the filter\n"};
	pthread_t t;
	CHECK_OK(pthread_create(&t, NULL, feeder, &f));
	char buf[512];
	read_all(out[0], buf, sizeof buf);
	CHECK_OK(pthread_join(t, NULL));
	CHECK(close(out[0]) == 0);
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	printf("a (%s): status %d, output:\n%s", who, WIFEXITED(st) ? WEXITSTATUS(st) : -1, buf);
}

static void part_b(const char *who)
{
	int p[2];
	CHECK(pipe(p) == 0);
	pid_t pid = vfork();
	if (pid == 0) {
		ssize_t r = write(p[1], "x", 1);
		_exit(r == 1 ? 0 : 1);
	}
	CHECK(pid > 0);
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	char c = 0;
	CHECK(read(p[0], &c, 1) == 1 && c == 'x');
	/* The parent's own waits on pipes still work. */
	int q[2];
	CHECK(pipe(q) == 0);
	struct feed f = {q[1], "after the child\n"};
	pthread_t t;
	CHECK_OK(pthread_create(&t, NULL, feeder, &f));
	char buf[64];
	read_all(q[0], buf, sizeof buf);
	CHECK_OK(pthread_join(t, NULL));
	CHECK(close(q[0]) == 0 && close(p[0]) == 0 && close(p[1]) == 0);
	printf("b (%s): child wrote '%c', then: %s", who, c, buf);
}

static void part_d(void)
{
	int in[2], out[2];
	CHECK(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0);
	posix_spawn_file_actions_t fa;
	CHECK_OK(posix_spawn_file_actions_init(&fa));
	CHECK_OK(posix_spawn_file_actions_adddup2(&fa, in[0], 0));
	CHECK_OK(posix_spawn_file_actions_adddup2(&fa, out[1], 1));
	char *argv[] = {self_path, "filter", NULL};
	extern char **environ;
	pid_t pid;
	CHECK_OK(posix_spawn(&pid, self_path, &fa, NULL, argv, environ));
	CHECK_OK(posix_spawn_file_actions_destroy(&fa));
	CHECK(close(in[0]) == 0 && close(out[1]) == 0);
	CHECK_EQ(fcntl(out[0], F_GETFL) & O_NONBLOCK, 0);
	struct feed f = {in[1], "spawned\n"};
	pthread_t t;
	CHECK_OK(pthread_create(&t, NULL, feeder, &f));
	char buf[512];
	read_all(out[0], buf, sizeof buf);
	CHECK_OK(pthread_join(t, NULL));
	CHECK(close(out[0]) == 0);
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	printf("d: status %d, output:\n%s", WIFEXITED(st) ? WEXITSTATUS(st) : -1, buf);
}

static int clone_child(void *arg)
{
	int *p = arg;
	close(p[0]);
	return write(p[1], "y", 1) == 1 ? 0 : 1;
}

static void part_e(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	size_t size = 256 * 1024;
	char *stack = malloc(size);
	CHECK(stack);
	pid_t pid = clone(clone_child, stack + size, CLONE_VM | CLONE_VFORK | SIGCHLD, p);
	CHECK(pid > 0);
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	free(stack);
	char c = 0;
	CHECK(read(p[0], &c, 1) == 1 && c == 'y');
	struct feed f = {p[1], "more\n"};
	pthread_t t;
	CHECK_OK(pthread_create(&t, NULL, feeder, &f));
	char buf[64];
	read_all(p[0], buf, sizeof buf);
	CHECK_OK(pthread_join(t, NULL));
	CHECK(close(p[0]) == 0);
	printf("e: child wrote '%c', then: %s", c, buf);
}

static atomic_int stop;

static void *busy(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop))
		usleep(1000);
	return NULL;
}

static void *from_thread(void *arg)
{
	(void)arg;
	part_a("thread");
	part_b("thread");
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "filter") == 0)
		return filter();
	ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
	CHECK(n > 0);
	self_path[n] = 0;
	setvbuf(stdout, NULL, _IONBF, 0);

	part_a("main");
	part_b("main");
	part_d();
	part_e();

	pthread_t b[3], t;
	for (int i = 0; i < 3; i++)
		CHECK_OK(pthread_create(&b[i], NULL, busy, NULL));
	CHECK_OK(pthread_create(&t, NULL, from_thread, NULL));
	CHECK_OK(pthread_join(t, NULL));
	atomic_store(&stop, 1);
	for (int i = 0; i < 3; i++)
		CHECK_OK(pthread_join(b[i], NULL));
	printf("done\n");
	return 0;
}
