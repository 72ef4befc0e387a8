/* Descriptors the program used with blocking calls stay blocking where
 * others share their open file description (one O_NONBLOCK flag for all
 * who share it), whatever a runtime does underneath. In this order:
 *
 *   dup      one open file description, one O_NONBLOCK: set with fcntl
 *            through a dup (dup, dup2, dup3, F_DUPFD), it shows on the
 *            original and every other duplicate, and read() fails with
 *            EAGAIN through all of them; cleared through the original,
 *            every duplicate's read() waits again. ioctl(FIONBIO) likewise.
 *   rights   descriptors received with SCM_RIGHTS keep the sender's flags:
 *            a blocking pipe end (used before) arrives blocking and its
 *            read waits for data; a pipe2(O_NONBLOCK) end arrives
 *            non-blocking and its read fails with EAGAIN.
 *   stdio    fwrite() of 1 MiB through fdopen() on a pipe the program has
 *            used with read/write (glibc's stdio calls the kernel
 *            directly, not through any interposed write) succeeds while a
 *            thread drains the pipe slowly; fread() of 1 MiB from a socket
 *            likewise.
 *   exec     a pipe and a socket pair the program has read and written
 *            (with a thread blocked in read) are inherited by a fork()ed
 *            and exec()ed child, once without LD_PRELOAD in its
 *            environment and once with the parent's environment. The child
 *            reports F_GETFL of both and writes 1 MiB into each with
 *            plain blocking write() while the parent starts reading only
 *            after 200 ms: a child that gets EAGAIN fails.
 *
 * usage: fd_sharing            (the child mode, --child, is internal) */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

#include "../mn/mnutil.h"
#include "netutil.h"

extern char **environ;

enum { BIG = 1 << 20 };

static int child_main(int pipe_w, int sock_w)
{
	printf("child: inherited pipe F_GETFL 0x%x, socket F_GETFL 0x%x\n",
	       (int)SYS_OK(fcntl(pipe_w, F_GETFL)), (int)SYS_OK(fcntl(sock_w, F_GETFL)));
	fflush(stdout);
	unsigned char *buf = malloc(BIG);
	CHECK(buf != NULL);
	int fds[2] = {pipe_w, sock_w};
	for (int i = 0; i < 2; i++) {
		nu_fill(buf, BIG, 31 + (uint64_t)i, 0);
		size_t off = 0;
		while (off < BIG) {
			ssize_t n = write(fds[i], buf + off, BIG - off);
			if (n < 0 && nu_errno() == EINTR)
				continue;
			if (n <= 0) {
				fprintf(
				    stderr, "FAIL: child: blocking write to the inherited %s: %s\n",
				    i ? "socket" : "pipe", n < 0 ? nu_errname(nu_errno()) : "0");
				return 1;
			}
			off += (size_t)n;
		}
	}
	printf("child: wrote 1 MiB into each with blocking writes\n");
	return 0;
}

static void read_and_check(int fd, uint64_t seed)
{
	unsigned char *buf = malloc(BIG);
	CHECK(buf != NULL);
	nu_read_all(fd, buf, BIG);
	CHECK_EQ(nu_mismatch(buf, BIG, seed, 0), -1);
	free(buf);
}

static void case_exec(int keep_preload)
{
	int p[2], s[2];
	SYS_OK(pipe(p));
	SYS_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, s));
	nu_check_read_waits(p[0], p[1]);
	nu_check_read_waits(s[0], s[1]);
	nu_check_read_waits(s[1], s[0]);

	/* Everything the child needs, prepared before fork(). */
	char a1[16], a2[16];
	snprintf(a1, sizeof a1, "%d", p[1]);
	snprintf(a2, sizeof a2, "%d", s[1]);
	char *argv[] = {"fd_sharing", "--child", a1, a2, NULL};
	size_t n = 0;
	while (environ[n])
		n++;
	char **envp = calloc(n + 1, sizeof *envp);
	CHECK(envp != NULL);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (keep_preload || strncmp(environ[i], "LD_PRELOAD=", 11) != 0)
			envp[k++] = environ[i];
	fflush(stdout);

	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		close(s[0]);
		execve("/proc/self/exe", argv, envp);
		_exit(127);
	}
	free(envp);
	SYS_OK(close(p[1]));
	SYS_OK(close(s[1]));
	nu_sleep_ms(200); /* the child fills the pipe meanwhile */
	read_and_check(p[0], 31);
	read_and_check(s[0], 32);
	int status;
	SYS_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
	SYS_OK(close(p[0]));
	SYS_OK(close(s[0]));
	printf("exec (%s): the child's blocking writes all went through\n",
	       keep_preload ? "same environment" : "without LD_PRELOAD");
}

struct slow_reader {
	int fd;
	uint64_t seed;
};

static void *slow_reader_main(void *arg)
{
	struct slow_reader *r = arg;
	nu_sleep_ms(100);
	read_and_check(r->fd, r->seed);
	return NULL;
}

static void *slow_writer_main(void *arg)
{
	struct slow_reader *r = arg;
	unsigned char *buf = malloc(BIG);
	CHECK(buf != NULL);
	nu_fill(buf, BIG, r->seed, 0);
	nu_sleep_ms(100);
	nu_write_all(r->fd, buf, BIG);
	free(buf);
	return NULL;
}

static void case_stdio(void)
{
	int p[2], s[2];
	SYS_OK(pipe(p));
	nu_check_read_waits(p[0], p[1]);
	FILE *f = fdopen(p[1], "w");
	CHECK(f != NULL);
	unsigned char *buf = malloc(BIG);
	CHECK(buf != NULL);
	nu_fill(buf, BIG, 41, 0);
	struct slow_reader r = {.fd = p[0], .seed = 41};
	pthread_t t;
	CHECK_OK(pthread_create(&t, NULL, slow_reader_main, &r));
	size_t put = fwrite(buf, 1, BIG, f);
	int flushed = fflush(f);
	if (put != BIG || flushed != 0 || ferror(f)) {
		fflush(stdout);
		fprintf(stderr, "FAIL: fwrite to a pipe: %zu of %d bytes, fflush %d: %s\n", put,
			BIG, flushed, strerror(nu_errno()));
		_exit(1);
	}
	CHECK_OK(pthread_join(t, NULL));
	CHECK_EQ(fclose(f), 0);
	SYS_OK(close(p[0]));
	printf("stdio: fwrite of 1 MiB to a pipe the program also used with write()\n");

	SYS_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, s));
	nu_check_read_waits(s[0], s[1]);
	f = fdopen(s[0], "r");
	CHECK(f != NULL);
	r = (struct slow_reader){.fd = s[1], .seed = 43};
	CHECK_OK(pthread_create(&t, NULL, slow_writer_main, &r));
	size_t got = fread(buf, 1, BIG, f);
	if (got != BIG || ferror(f)) {
		fflush(stdout);
		fprintf(stderr, "FAIL: fread from a socket: %zu of %d bytes: %s\n", got, BIG,
			strerror(nu_errno()));
		_exit(1);
	}
	CHECK_EQ(nu_mismatch(buf, BIG, 43, 0), -1);
	CHECK_OK(pthread_join(t, NULL));
	CHECK_EQ(fclose(f), 0);
	SYS_OK(close(s[1]));
	free(buf);
	printf("stdio: fread of 1 MiB from a socket the program also used with read()\n");
}

static void case_dup(void)
{
	int p[2], d[4];
	char buf[16];
	SYS_OK(pipe(p));
	nu_check_read_waits(p[0], p[1]);
	d[0] = (int)SYS_OK(dup(p[0]));
	/* dup2/dup3 onto descriptors this thread holds (other threads may be
	 * opening and closing descriptors meanwhile): replaces /dev/null. */
	d[1] = (int)SYS_OK(open("/dev/null", O_RDONLY));
	SYS_EQ(dup2(p[0], d[1]), d[1]);
	d[2] = (int)SYS_OK(open("/dev/null", O_RDONLY));
	SYS_EQ(dup3(p[0], d[2], O_CLOEXEC), d[2]);
	d[3] = (int)SYS_OK(fcntl(p[0], F_DUPFD, 420));
	nu_check_read_waits(d[1], p[1]);

	int fl = (int)SYS_OK(fcntl(d[1], F_GETFL));
	SYS_OK(fcntl(d[1], F_SETFL, fl | O_NONBLOCK));
	CHECK(nu_is_nonblock(p[0]));
	SYS_ERR(read(p[0], buf, sizeof buf), EAGAIN);
	for (int i = 0; i < 4; i++) {
		CHECK(nu_is_nonblock(d[i]));
		SYS_ERR(read(d[i], buf, sizeof buf), EAGAIN);
	}
	int late = (int)SYS_OK(dup(p[0]));
	CHECK(nu_is_nonblock(late));
	printf("dup: O_NONBLOCK set through dup2's copy: F_GETFL 0x%x on the original, EAGAIN "
	       "through all\n",
	       (int)SYS_OK(fcntl(p[0], F_GETFL)));

	fl = (int)SYS_OK(fcntl(p[0], F_GETFL));
	SYS_OK(fcntl(p[0], F_SETFL, fl & ~O_NONBLOCK));
	CHECK(!nu_is_nonblock(late));
	for (int i = 0; i < 4; i++) {
		CHECK(!nu_is_nonblock(d[i]));
		nu_check_read_waits(d[i], p[1]);
	}
	nu_check_read_waits(late, p[1]);
	printf("dup: cleared through the original: F_GETFL 0x%x on every copy, reads wait\n",
	       (int)SYS_OK(fcntl(d[2], F_GETFL)));

	int on = 1;
	SYS_OK(ioctl(d[3], FIONBIO, &on));
	CHECK(nu_is_nonblock(p[0]) && nu_is_nonblock(d[0]));
	SYS_ERR(read(d[0], buf, sizeof buf), EAGAIN);
	on = 0;
	SYS_OK(ioctl(p[0], FIONBIO, &on));
	CHECK(!nu_is_nonblock(d[3]));
	nu_check_read_waits(d[3], p[1]);
	printf("dup: ioctl(FIONBIO) through one copy shows on the others\n");
	for (int i = 0; i < 4; i++)
		SYS_OK(close(d[i]));
	SYS_OK(close(late));
	SYS_OK(close(p[0]));
	SYS_OK(close(p[1]));
}

static void case_rights(void)
{
	int u[2], q[2], r[2];
	SYS_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, u));
	SYS_OK(pipe(q));
	SYS_OK(pipe2(r, O_NONBLOCK));
	nu_check_read_waits(q[0], q[1]);

	int send_fds[2] = {q[0], r[0]};
	char cbuf[CMSG_SPACE(sizeof send_fds)];
	memset(cbuf, 0, sizeof cbuf);
	struct iovec iov = {"F", 1};
	struct msghdr m = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof send_fds);
	memcpy(CMSG_DATA(cm), send_fds, sizeof send_fds);
	SYS_EQ(sendmsg(u[0], &m, 0), 1);

	char one;
	char rbuf[CMSG_SPACE(sizeof send_fds)];
	struct iovec riov = {&one, 1};
	struct msghdr rm = {
	    .msg_iov = &riov, .msg_iovlen = 1, .msg_control = rbuf, .msg_controllen = sizeof rbuf};
	SYS_EQ(recvmsg(u[1], &rm, 0), 1);
	cm = CMSG_FIRSTHDR(&rm);
	CHECK(cm != NULL && cm->cmsg_type == SCM_RIGHTS &&
	      cm->cmsg_len == CMSG_LEN(sizeof send_fds));
	int got[2];
	memcpy(got, CMSG_DATA(cm), sizeof got);

	CHECK(!nu_is_nonblock(got[0]));
	nu_check_read_waits(got[0], q[1]);
	CHECK(nu_is_nonblock(got[1]));
	char buf[16];
	SYS_ERR(read(got[1], buf, sizeof buf), EAGAIN);
	printf("rights: received blocking pipe end F_GETFL 0x%x (read waits), non-blocking one "
	       "0x%x (read: EAGAIN)\n",
	       (int)SYS_OK(fcntl(got[0], F_GETFL)), (int)SYS_OK(fcntl(got[1], F_GETFL)));
	CHECK(!nu_is_nonblock(q[0]));
	int fds[] = {u[0], u[1], q[0], q[1], r[0], r[1], got[0], got[1]};
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
		SYS_OK(close(fds[i]));
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--child") == 0)
		return child_main(atoi(argv[2]), atoi(argv[3]));
	if (argc != 1) {
		fprintf(stderr, "usage: fd_sharing\n");
		return 2;
	}
	mn_watchdog(15, "fd_sharing");
	CHECK(signal(SIGPIPE, SIG_IGN) != SIG_ERR);
	setvbuf(stdout, NULL, _IOLBF, 0);
	case_dup();
	case_rights();
	case_stdio();
	case_exec(0);
	case_exec(1);
	return 0;
}
