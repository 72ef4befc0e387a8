/* A handler run on a thread blocked in a call ends or restarts the call as
 * signal(7) says: calls that are never restarted (epoll_wait, poll,
 * select, nanosleep, sigsuspend...) fail with EINTR even with SA_RESTART;
 * reads, writes and accept on pipes and sockets restart with SA_RESTART
 * and fail with EINTR without it, or with SO_RCVTIMEO set; an ignored
 * signal interrupts nothing. Each case: a thread enters the call, the main
 * thread sends it three signals 50 ms apart, then makes the call able to
 * finish (writes, connects, posts). The thread prints what the call
 * returned and how many handlers ran: the native run is the reference. */
#define _GNU_SOURCE
#include <errno.h>

#include "testutil.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>

static atomic_int handled;
static atomic_int in_call;

static void on_signal(int sig)
{
	(void)sig;
	atomic_fetch_add(&handled, 1);
}

static int pipe_fds[2], sock_fds[2], listen_fd, epoll_fd, full_pipe[2];
static sem_t sem;

static long call_epoll(void)
{
	struct epoll_event ev;
	return epoll_wait(epoll_fd, &ev, 1, -1);
}

static long call_poll(void)
{
	struct pollfd p = {pipe_fds[0], POLLIN, 0};
	return poll(&p, 1, -1);
}

static long call_ppoll(void)
{
	struct pollfd p = {pipe_fds[0], POLLIN, 0};
	return ppoll(&p, 1, NULL, NULL);
}

static long call_select(void)
{
	fd_set r;
	FD_ZERO(&r);
	FD_SET(pipe_fds[0], &r);
	return select(pipe_fds[0] + 1, &r, NULL, NULL, NULL);
}

static long call_pselect(void)
{
	fd_set r;
	FD_ZERO(&r);
	FD_SET(pipe_fds[0], &r);
	return pselect(pipe_fds[0] + 1, &r, NULL, NULL, NULL, NULL);
}

static long call_read_pipe(void)
{
	char c;
	return read(pipe_fds[0], &c, 1);
}

static long call_read_sock(void)
{
	char c;
	return recv(sock_fds[0], &c, 1, 0);
}

static long call_accept(void)
{
	int fd = accept(listen_fd, NULL, NULL);
	if (fd >= 0)
		close(fd);
	return fd >= 0 ? 0 : -1;
}

static long call_write_pipe(void)
{
	char c = 'w';
	return write(full_pipe[1], &c, 1);
}

static long call_sem(void)
{
	return sem_wait(&sem);
}

static long call_nanosleep(void)
{
	struct timespec ts = {3, 0};
	return nanosleep(&ts, NULL);
}

static long call_sigsuspend(void)
{
	sigset_t none;
	sigemptyset(&none);
	return sigsuspend(&none);
}

struct call {
	const char *name;
	long (*fn)(void);
	void (*provide)(void); /* makes the call able to finish */
	void (*drain)(void);   /* undoes what the call or provide left */
};

static void provide_pipe(void)
{
	CHECK(write(pipe_fds[1], "x", 1) == 1);
}
static void drain_pipe(void)
{
	char c;
	int fl = fcntl(pipe_fds[0], F_GETFL);
	fcntl(pipe_fds[0], F_SETFL, fl | O_NONBLOCK);
	while (read(pipe_fds[0], &c, 1) == 1)
		;
	fcntl(pipe_fds[0], F_SETFL, fl);
}
static void provide_sock(void)
{
	CHECK(write(sock_fds[1], "x", 1) == 1);
}
static void drain_sock(void)
{
	char c;
	while (recv(sock_fds[0], &c, 1, MSG_DONTWAIT) == 1)
		;
}
static void provide_connect(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof a;
	CHECK(getsockname(listen_fd, (struct sockaddr *)&a, &len) == 0);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(connect(fd, (struct sockaddr *)&a, len) == 0);
	close(fd);
}
static void drain_accept(void)
{
	int fl = fcntl(listen_fd, F_GETFL);
	fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK);
	int fd;
	while ((fd = accept(listen_fd, NULL, NULL)) >= 0)
		close(fd);
	fcntl(listen_fd, F_SETFL, fl);
}
static void fill_pipe(void)
{
	int fl = fcntl(full_pipe[1], F_GETFL);
	fcntl(full_pipe[1], F_SETFL, fl | O_NONBLOCK);
	char buf[4096] = {0};
	while (write(full_pipe[1], buf, sizeof buf) > 0)
		;
	while (write(full_pipe[1], buf, 1) > 0)
		;
	fcntl(full_pipe[1], F_SETFL, fl);
}
static void provide_room(void)
{
	char buf[8192];
	CHECK(read(full_pipe[0], buf, sizeof buf) > 0);
}
static void drain_full(void)
{
	char buf[4096];
	int fl = fcntl(full_pipe[0], F_GETFL);
	fcntl(full_pipe[0], F_SETFL, fl | O_NONBLOCK);
	while (read(full_pipe[0], buf, sizeof buf) > 0)
		;
	fcntl(full_pipe[0], F_SETFL, fl);
	fill_pipe();
}
static void provide_sem(void)
{
	CHECK(sem_post(&sem) == 0);
}
static void drain_sem(void)
{
	while (sem_trywait(&sem) == 0)
		;
}
static void nothing(void)
{
}

static const struct call *current;

static void *caller(void *arg)
{
	(void)arg;
	atomic_store(&in_call, 1);
	errno = 0;
	long r = current->fn();
	int e = errno_now();
	printf("%s: %s", current->name, r < 0 ? (e == EINTR ? "EINTR" : strerror(e)) : "done");
	return NULL;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {0, ms * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

static void run(const struct call *c, int sig, const char *signame)
{
	current = c;
	atomic_store(&in_call, 0);
	int before = atomic_load(&handled);
	pthread_t t;
	CHECK_OK(pthread_create(&t, NULL, caller, NULL));
	while (!atomic_load(&in_call))
		sleep_ms(1);
	for (int i = 0; i < 3; i++) {
		sleep_ms(50);
		/* A call the first signal ended lets the thread exit: glibc
		 * before 2.34 then says ESRCH, later ones 0. */
		int r = pthread_kill(t, sig);
		CHECK(r == 0 || r == ESRCH);
	}
	sleep_ms(50);
	c->provide();
	CHECK_OK(pthread_join(t, NULL));
	printf(" (%s, %d handled)\n", signame, atomic_load(&handled) - before);
	c->drain();
	fflush(stdout);
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

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	set_handler(SIGUSR1, on_signal, SA_RESTART);
	set_handler(SIGUSR2, on_signal, 0);
	set_handler(SIGPWR, SIG_IGN, 0);

	CHECK(pipe(pipe_fds) == 0);
	CHECK(pipe(full_pipe) == 0);
	fill_pipe();
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sock_fds) == 0);
	listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	CHECK(bind(listen_fd, (struct sockaddr *)&a, sizeof a) == 0);
	CHECK(listen(listen_fd, 8) == 0);
	epoll_fd = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN};
	CHECK(epoll_ctl(epoll_fd, EPOLL_CTL_ADD, pipe_fds[0], &ev) == 0);
	CHECK(sem_init(&sem, 0, 0) == 0);

	const struct call calls[] = {
	    {"epoll_wait", call_epoll, provide_pipe, drain_pipe},
	    {"poll", call_poll, provide_pipe, drain_pipe},
	    {"ppoll", call_ppoll, provide_pipe, drain_pipe},
	    {"select", call_select, provide_pipe, drain_pipe},
	    {"pselect", call_pselect, provide_pipe, drain_pipe},
	    {"read pipe", call_read_pipe, provide_pipe, drain_pipe},
	    {"recv socket", call_read_sock, provide_sock, drain_sock},
	    {"accept", call_accept, provide_connect, drain_accept},
	    {"write pipe", call_write_pipe, provide_room, drain_full},
	    {"sem_wait", call_sem, provide_sem, drain_sem},
	    {"nanosleep", call_nanosleep, nothing, nothing},
	    {"sigsuspend", call_sigsuspend, nothing, nothing},
	};
	for (size_t i = 0; i < sizeof calls / sizeof *calls; i++) {
		run(&calls[i], SIGUSR1, "SA_RESTART");
		run(&calls[i], SIGUSR2, "no SA_RESTART");
	}
	/* Ignored signals, explicitly or by default, interrupt nothing. */
	run(&calls[0], SIGPWR, "SIG_IGN");
	run(&calls[5], SIGPWR, "SIG_IGN");
	run(&calls[1], SIGWINCH, "SIG_DFL ignored");
	run(&calls[7], SIGWINCH, "SIG_DFL ignored");

	/* SO_RCVTIMEO: a socket read fails with EINTR even with SA_RESTART. */
	struct timeval tv = {30, 0};
	CHECK(setsockopt(sock_fds[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
	run(&calls[6], SIGUSR1, "SA_RESTART, SO_RCVTIMEO");
	return 0;
}
