/* The observable behaviour of blocking and non-blocking I/O calls, which
 * must be the same natively and under a runtime that makes descriptors
 * non-blocking underneath and waits for readiness itself:
 *
 * - timeouts: poll, ppoll, select, pselect, epoll_wait, epoll_pwait and
 *   epoll_pwait2 on an idle pipe return 0 after at least the timeout (and
 *   not absurdly later); select clears the set and the remaining time;
 * - wakeups: each of them, blocked with a timeout and with none, returns
 *   the one descriptor another thread made readable; poll for POLLOUT on a
 *   full pipe returns when another thread drains it;
 * - connect: non-blocking to a listening socket (0 or EINPROGRESS, then
 *   POLLOUT and SO_ERROR 0) and to a port nobody listens on (SO_ERROR
 *   ECONNREFUSED); blocking to both;
 * - SO_RCVTIMEO / SO_SNDTIMEO: EAGAIN after the timeout, data before it;
 * - O_NONBLOCK as the program set it: pipe2, fcntl, ioctl(FIONBIO),
 *   SOCK_NONBLOCK for socket/socketpair/accept4, eventfd, a FIFO: EAGAIN
 *   when set, waiting when not, F_GETFL reporting exactly what the program
 *   set, also on duplicates (dup/dup2/dup3/F_DUPFD) and after clearing
 *   it again (a flag changed through one duplicate: see fd_sharing.c);
 * - partial reads (also for a blocked read), recv(MSG_WAITALL) waiting for
 *   all, MSG_DONTWAIT on a blocking socket, end of file, EPIPE, including
 *   for a thread blocked at the time;
 * - readv/writev/pread/pwrite/preadv/pwritev on a regular file;
 * - UDP: sendto/recvfrom, sendmsg/recvmsg (MSG_TRUNC), sendmmsg/recvmmsg
 *   (a blocking recvmmsg waits for all vlen datagrams), connected UDP;
 * - sendfile from a file to a socket, splice between pipes and from a file.
 *
 * Then the same checks run in 8 threads at once next to 32 threads blocked
 * in read() on pipes that other threads write to later. Run with
 * GMPT_PROCS=1, every wakeup above needs the blocked thread to have let go
 * of the only P.
 *
 * Stdout carries only deterministic facts; timings go to stderr. */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "../mn/mnutil.h"
#include "netutil.h"

struct ctx {
	int quiet;     /* print nothing (the concurrent runs) */
	long slack_ms; /* how much later than asked a timed wait may return */
};

#define SAY(c, ...)                                                                                \
	do {                                                                                       \
		if (!(c)->quiet)                                                                   \
			printf(__VA_ARGS__);                                                       \
	} while (0)

/* A timed wait of `ms` milliseconds that started at t0 must have lasted at
 * least `ms - early_ms` and at most `ms + slack`. */
static void check_waited(const struct ctx *c, const char *what, int64_t t0, long ms, long early_ms)
{
	int64_t el = tu_now_ns(CLOCK_MONOTONIC) - t0;
	if (el < (ms - early_ms) * 1000000 || el > (ms + c->slack_ms) * 1000000) {
		fflush(stdout);
		fprintf(stderr, "FAIL: %s with a %ld ms timeout returned after %.3f ms\n", what, ms,
			el / 1e6);
		_exit(1);
	}
}

/* ---- waiting for readiness ---------------------------------------------- */

#ifndef HAVE_EPOLL_PWAIT2
#include <stdlib.h>
/* glibc before 2.35 has no epoll_pwait2 (a program there calls the kernel
 * itself, which no runtime sees): the checks leave it out. */
static int epoll_pwait2(int ep, struct epoll_event *ev, int max, const struct timespec *ts,
			const sigset_t *mask)
{
	(void)ep, (void)ev, (void)max, (void)ts, (void)mask;
	abort();
}
#define CHECKED_APIS EPOLL_PWAIT2
#else
#define CHECKED_APIS NAPI
#endif

enum api { POLL, PPOLL, SELECT, PSELECT, EPOLL_WAIT, EPOLL_PWAIT, EPOLL_PWAIT2, NAPI };
static const char *const api_name[NAPI] = {"poll",	 "ppoll",	"select",      "pselect",
					   "epoll_wait", "epoll_pwait", "epoll_pwait2"};

/* Waits the given way until fa or fb is readable or timeout_ms (-1: no
 * timeout) passes. Returns the call's result; *ready gets bit 0 for fa and
 * bit 1 for fb. Checks what each call does to its arguments on timeout. */
static int wait_readable(enum api api, int fa, int fb, long timeout_ms, int *ready)
{
	struct timespec ts = {.tv_sec = timeout_ms / 1000,
			      .tv_nsec = (timeout_ms % 1000) * 1000000};
	const struct timespec *tsp = timeout_ms < 0 ? NULL : &ts;
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	sigset_t empty;
	sigemptyset(&empty);
	int rc = -1;
	*ready = 0;

	switch (api) {
	case POLL:
	case PPOLL: {
		struct pollfd p[2] = {{.fd = fa, .events = POLLIN}, {.fd = fb, .events = POLLIN}};
		if (api == POLL)
			rc = poll(p, 2, (int)timeout_ms);
		else
			rc = ppoll(p, 2, tsp, &empty);
		if (rc < 0)
			return rc;
		for (int i = 0; i < 2; i++) {
			CHECK(p[i].revents == 0 || p[i].revents == POLLIN);
			if (p[i].revents)
				*ready |= 1 << i;
		}
		CHECK_EQ(__builtin_popcount((unsigned)*ready), rc);
		return rc;
	}
	case SELECT:
	case PSELECT: {
		fd_set r;
		FD_ZERO(&r);
		FD_SET(fa, &r);
		FD_SET(fb, &r);
		int nfds = (fa > fb ? fa : fb) + 1;
		if (api == SELECT)
			rc = select(nfds, &r, NULL, NULL, timeout_ms < 0 ? NULL : &tv);
		else
			rc = pselect(nfds, &r, NULL, NULL, tsp, &empty);
		if (rc < 0)
			return rc;
		*ready = (FD_ISSET(fa, &r) ? 1 : 0) | (FD_ISSET(fb, &r) ? 2 : 0);
		CHECK_EQ(__builtin_popcount((unsigned)*ready), rc);
		/* Linux's select writes back the time not slept: none on timeout. */
		if (api == SELECT && rc == 0 && timeout_ms >= 0)
			CHECK(tv.tv_sec == 0 && tv.tv_usec == 0);
		/* pselect does not modify its timeout. */
		if (api == PSELECT && timeout_ms >= 0)
			CHECK(ts.tv_sec == timeout_ms / 1000 &&
			      ts.tv_nsec == (timeout_ms % 1000) * 1000000);
		return rc;
	}
	case EPOLL_WAIT:
	case EPOLL_PWAIT:
	case EPOLL_PWAIT2: {
		int ep = (int)SYS_OK(epoll_create1(EPOLL_CLOEXEC));
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 1};
		SYS_OK(epoll_ctl(ep, EPOLL_CTL_ADD, fa, &ev));
		ev.data.u32 = 2;
		SYS_OK(epoll_ctl(ep, EPOLL_CTL_ADD, fb, &ev));
		struct epoll_event out[4];
		memset(out, 0, sizeof out);
		if (api == EPOLL_WAIT)
			rc = epoll_wait(ep, out, 4, (int)timeout_ms);
		else if (api == EPOLL_PWAIT)
			rc = epoll_pwait(ep, out, 4, (int)timeout_ms, &empty);
		else
			rc = epoll_pwait2(ep, out, 4, tsp, &empty);
		int err = nu_errno();
		SYS_OK(close(ep));
		errno = err;
		if (rc < 0)
			return rc;
		for (int i = 0; i < rc; i++) {
			CHECK_EQ(out[i].events, EPOLLIN);
			CHECK(out[i].data.u32 == 1 || out[i].data.u32 == 2);
			*ready |= (int)out[i].data.u32;
		}
		return rc;
	}
	case NAPI:
		break;
	}
	CHECK(0);
	return -1;
}

static void check_timeouts(const struct ctx *c)
{
	int p[2], q[2];
	SYS_OK(pipe(p));
	SYS_OK(pipe(q));
	for (int api = 0; api < CHECKED_APIS; api++) {
		int ready;
		int64_t t0 = tu_now_ns(CLOCK_MONOTONIC);
		SYS_EQ(wait_readable((enum api)api, p[0], q[0], 50, &ready), 0);
		check_waited(c, api_name[api], t0, 50, 0);
		CHECK_EQ(ready, 0);
		t0 = tu_now_ns(CLOCK_MONOTONIC);
		SYS_EQ(wait_readable((enum api)api, p[0], q[0], 0, &ready), 0);
		check_waited(c, api_name[api], t0, 0, 0);
		SAY(c, "%s: 50 ms and 0 ms timeouts on idle pipes return 0\n", api_name[api]);
	}
	/* A write end with room is writable at once, an idle read end is not. */
	struct pollfd pf[2] = {{.fd = p[1], .events = POLLOUT}, {.fd = p[0], .events = POLLIN}};
	SYS_EQ(poll(pf, 2, 1000), 1);
	CHECK_EQ(pf[0].revents, POLLOUT);
	CHECK_EQ(pf[1].revents, 0);
	SAY(c, "poll: an empty pipe's write end is writable, its read end is not readable\n");
	for (int i = 0; i < 2; i++) {
		SYS_OK(close(p[i]));
		SYS_OK(close(q[i]));
	}
}

/* Fills a pipe (or socket) until a 1-byte write would block, with
 * O_NONBLOCK set only meanwhile. Returns how many bytes it holds. */
static long fill_pipe(int fd)
{
	static const char zeros[4096];
	int fl = (int)SYS_OK(fcntl(fd, F_GETFL));
	SYS_OK(fcntl(fd, F_SETFL, fl | O_NONBLOCK));
	long filled = 0;
	for (size_t chunk = sizeof zeros; chunk > 0; chunk /= 8) {
		for (;;) {
			ssize_t n = write(fd, zeros, chunk);
			if (n < 0) {
				CHECK_EQ(nu_errno(), EAGAIN);
				break;
			}
			filled += n;
		}
	}
	SYS_OK(fcntl(fd, F_SETFL, fl));
	return filled;
}

struct drain {
	int fd;
	long n;
};

/* After 30 ms, reads d->n bytes from d->fd. */
static void *drainer(void *arg)
{
	struct drain *d = arg;
	nu_sleep_ms(30);
	char *buf = malloc((size_t)d->n);
	CHECK(buf != NULL);
	nu_read_all(d->fd, buf, (size_t)d->n);
	free(buf);
	return NULL;
}

static void check_wakeups(const struct ctx *c)
{
	for (int api = 0; api < CHECKED_APIS; api++) {
		for (int infinite = 0; infinite < 2; infinite++) {
			int a[2], b[2], ready;
			SYS_OK(pipe(a));
			SYS_OK(pipe(b));
			struct nu_later w;
			nu_later_write(&w, b[1], 30, "x", 1);
			int64_t t0 = tu_now_ns(CLOCK_MONOTONIC);
			SYS_EQ(
			    wait_readable((enum api)api, a[0], b[0], infinite ? -1 : 5000, &ready),
			    1);
			CHECK_EQ(ready, 2);
			CHECK(nu_ms_since(t0) < 5000);
			char ch;
			SYS_EQ(read(b[0], &ch, 1), 1);
			CHECK_EQ(ch, 'x');
			nu_later_join(&w);
			for (int i = 0; i < 2; i++) {
				SYS_OK(close(a[i]));
				SYS_OK(close(b[i]));
			}
		}
		SAY(c,
		    "%s: blocked (5 s timeout and none), returns the pipe another thread wrote\n",
		    api_name[api]);
	}

	/* POLLOUT on a full pipe, drained by another thread. */
	int p[2];
	SYS_OK(pipe(p));
	struct drain d = {.fd = p[0], .n = fill_pipe(p[1])};
	struct pollfd pf = {.fd = p[1], .events = POLLOUT};
	SYS_EQ(poll(&pf, 1, 0), 0);
	pthread_t t;
	CHECK_OK(pthread_create(&t, NULL, drainer, &d));
	SYS_EQ(poll(&pf, 1, 5000), 1);
	CHECK_EQ(pf.revents, POLLOUT);
	CHECK_OK(pthread_join(t, NULL));
	SYS_OK(close(p[0]));
	SYS_OK(close(p[1]));
	SAY(c, "poll: POLLOUT on a full pipe once another thread drains it\n");
}

/* ---- connect ------------------------------------------------------------- */

static int so_error(int fd)
{
	int err = -1;
	socklen_t len = sizeof err;
	SYS_OK(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len));
	return err;
}

/* A TCP port on 127.0.0.1 that is bound but not listening (so a connection
 * to it is refused, and no other socket can take the port meanwhile). */
static int refusing_port(int *port)
{
	int fd = (int)SYS_OK(socket(AF_INET, SOCK_STREAM, 0));
	struct sockaddr_in a = nu_loopback(0);
	socklen_t len = sizeof a;
	SYS_OK(bind(fd, (struct sockaddr *)&a, sizeof a));
	SYS_OK(getsockname(fd, (struct sockaddr *)&a, &len));
	*port = ntohs(a.sin_port);
	return fd;
}

static void check_connect(const struct ctx *c)
{
	int port, cport;
	int l = nu_listen_tcp(0, &port);
	int r = refusing_port(&cport);
	struct sockaddr_in la = nu_loopback(port), ca = nu_loopback(cport);

	/* Non-blocking, to a listener. */
	int s = (int)SYS_OK(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
	int rc = connect(s, (struct sockaddr *)&la, sizeof la);
	CHECK(rc == 0 || nu_errno() == EINPROGRESS);
	struct pollfd pf = {.fd = s, .events = POLLOUT};
	SYS_EQ(poll(&pf, 1, 5000), 1);
	CHECK(pf.revents & POLLOUT);
	CHECK_EQ(so_error(s), 0);
	int a = (int)SYS_OK(accept(l, NULL, NULL));
	SYS_EQ(write(s, "ping", 4), 4);
	char buf[8];
	nu_read_all(a, buf, 4);
	CHECK(memcmp(buf, "ping", 4) == 0);
	SYS_OK(close(a));
	SYS_OK(close(s));
	SAY(c, "connect: non-blocking to a listener: 0 or EINPROGRESS, POLLOUT, SO_ERROR 0\n");

	/* Blocking, to a listener. */
	s = (int)SYS_OK(socket(AF_INET, SOCK_STREAM, 0));
	SYS_EQ(connect(s, (struct sockaddr *)&la, sizeof la), 0);
	CHECK_EQ(so_error(s), 0);
	a = (int)SYS_OK(accept(l, NULL, NULL));
	struct sockaddr_in peer;
	socklen_t plen = sizeof peer;
	SYS_OK(getpeername(s, (struct sockaddr *)&peer, &plen));
	CHECK_EQ(ntohs(peer.sin_port), port);
	SYS_OK(close(a));
	SYS_OK(close(s));
	SAY(c, "connect: blocking to a listener: 0\n");

	/* Non-blocking, refused. */
	s = (int)SYS_OK(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
	rc = connect(s, (struct sockaddr *)&ca, sizeof ca);
	CHECK_EQ(rc, -1);
	if (nu_errno() == EINPROGRESS) {
		pf = (struct pollfd){.fd = s, .events = POLLOUT};
		SYS_EQ(poll(&pf, 1, 5000), 1);
		CHECK(pf.revents & (POLLOUT | POLLERR));
		CHECK_EQ(so_error(s), ECONNREFUSED);
	} else {
		CHECK_EQ(nu_errno(), ECONNREFUSED);
	}
	SYS_OK(close(s));
	SAY(c, "connect: non-blocking to a closed port: ECONNREFUSED\n");

	/* Blocking, refused. */
	s = (int)SYS_OK(socket(AF_INET, SOCK_STREAM, 0));
	SYS_ERR(connect(s, (struct sockaddr *)&ca, sizeof ca), ECONNREFUSED);
	SYS_OK(close(s));
	SAY(c, "connect: blocking to a closed port: ECONNREFUSED\n");

	SYS_OK(close(r));
	SYS_OK(close(l));
}

/* ---- SO_RCVTIMEO, SO_SNDTIMEO --------------------------------------------- */

static void set_timeo(int fd, int opt, long ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	SYS_OK(setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv));
}

/* Fills a connected stream socket until a 1-byte send would block. TCP
 * keeps moving data to the peer's receive buffer for a moment, so this
 * repeats until a pass finds no room at all. */
static void fill_socket(int fd)
{
	static const char zeros[65536];
	for (int pass = 0; pass < 100; pass++) {
		long sent = 0;
		for (size_t chunk = sizeof zeros; chunk > 0; chunk /= 8) {
			for (;;) {
				ssize_t n = send(fd, zeros, chunk, MSG_DONTWAIT);
				if (n < 0) {
					CHECK_EQ(nu_errno(), EAGAIN);
					break;
				}
				sent += n;
			}
		}
		if (sent == 0 && pass > 0)
			return;
		nu_sleep_ms(10);
	}
	CHECK(!"the socket never filled up");
}

static void check_sockopt_timeouts(const struct ctx *c)
{
	/* The kernel counts socket timeouts in jiffies: allow 10 ms early. */
	const long early = 10;
	int t[2], u[2];
	char buf[16];
	nu_tcp_pair(t);
	SYS_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, u));

	set_timeo(t[0], SO_RCVTIMEO, 100);
	struct timeval tv;
	socklen_t len = sizeof tv;
	SYS_OK(getsockopt(t[0], SOL_SOCKET, SO_RCVTIMEO, &tv, &len));
	SAY(c, "SO_RCVTIMEO reads back as %ld.%06ld s\n", (long)tv.tv_sec, (long)tv.tv_usec);
	int64_t t0 = tu_now_ns(CLOCK_MONOTONIC);
	SYS_ERR(recv(t[0], buf, sizeof buf, 0), EAGAIN);
	check_waited(c, "recv on TCP with SO_RCVTIMEO", t0, 100, early);
	t0 = tu_now_ns(CLOCK_MONOTONIC);
	SYS_ERR(read(t[0], buf, sizeof buf), EAGAIN);
	check_waited(c, "read on TCP with SO_RCVTIMEO", t0, 100, early);
	SAY(c, "SO_RCVTIMEO 100 ms, TCP: recv and read fail with EAGAIN after the timeout\n");

	set_timeo(u[0], SO_RCVTIMEO, 100);
	t0 = tu_now_ns(CLOCK_MONOTONIC);
	SYS_ERR(recv(u[0], buf, sizeof buf, 0), EAGAIN);
	check_waited(c, "recv on a unix socket with SO_RCVTIMEO", t0, 100, early);
	SAY(c, "SO_RCVTIMEO 100 ms, unix stream: recv fails with EAGAIN after the timeout\n");

	/* Data that arrives before the timeout is returned. */
	set_timeo(t[0], SO_RCVTIMEO, 5000);
	struct nu_later w;
	nu_later_write(&w, t[1], 30, "abc", 3);
	t0 = tu_now_ns(CLOCK_MONOTONIC);
	SYS_EQ(recv(t[0], buf, sizeof buf, 0), 3);
	CHECK(nu_ms_since(t0) < 5000);
	nu_later_join(&w);
	SAY(c, "SO_RCVTIMEO 5 s: data written 30 ms later is returned\n");

	/* SO_SNDTIMEO on full sockets. */
	fill_socket(u[0]);
	set_timeo(u[0], SO_SNDTIMEO, 100);
	t0 = tu_now_ns(CLOCK_MONOTONIC);
	SYS_ERR(send(u[0], "x", 1, 0), EAGAIN);
	check_waited(c, "send on a full unix socket with SO_SNDTIMEO", t0, 100, early);
	t0 = tu_now_ns(CLOCK_MONOTONIC);
	SYS_ERR(write(u[0], "x", 1), EAGAIN);
	check_waited(c, "write on a full unix socket with SO_SNDTIMEO", t0, 100, early);
	SAY(c, "SO_SNDTIMEO 100 ms, full unix stream: send and write fail with EAGAIN\n");

	fill_socket(t[0]);
	set_timeo(t[0], SO_SNDTIMEO, 100);
	t0 = tu_now_ns(CLOCK_MONOTONIC);
	SYS_ERR(send(t[0], "x", 1, 0), EAGAIN);
	check_waited(c, "send on a full TCP socket with SO_SNDTIMEO", t0, 100, early);
	SAY(c, "SO_SNDTIMEO 100 ms, full TCP socket: send fails with EAGAIN\n");

	for (int i = 0; i < 2; i++) {
		SYS_OK(close(t[i]));
		SYS_OK(close(u[i]));
	}
}

/* ---- O_NONBLOCK as the program sets it ------------------------------------ */

static int getfl(int fd)
{
	return (int)SYS_OK(fcntl(fd, F_GETFL));
}

static void check_nonblock_flags(const struct ctx *c)
{
	char buf[64];
	int p[2], q[2], s[2];

	/* pipe() and pipe2(). */
	SYS_OK(pipe(p));
	CHECK(!nu_is_nonblock(p[0]) && !nu_is_nonblock(p[1]));
	SAY(c, "pipe(): F_GETFL 0x%x 0x%x\n", getfl(p[0]), getfl(p[1]));
	nu_check_read_waits(p[0], p[1]);
	SYS_OK(pipe2(q, O_NONBLOCK));
	CHECK(nu_is_nonblock(q[0]) && nu_is_nonblock(q[1]));
	SYS_ERR(read(q[0], buf, sizeof buf), EAGAIN);
	SAY(c, "pipe2(O_NONBLOCK): F_GETFL 0x%x 0x%x, read: EAGAIN\n", getfl(q[0]), getfl(q[1]));
	SYS_OK(close(q[0]));
	SYS_OK(close(q[1]));
	SYS_OK(pipe2(q, O_CLOEXEC));
	CHECK(!nu_is_nonblock(q[0]) && !nu_is_nonblock(q[1]));
	SAY(c, "pipe2(O_CLOEXEC): F_GETFL 0x%x 0x%x\n", getfl(q[0]), getfl(q[1]));
	SYS_OK(close(q[0]));
	SYS_OK(close(q[1]));

	/* fcntl(F_SETFL) on and off again. */
	SYS_OK(fcntl(p[0], F_SETFL, getfl(p[0]) | O_NONBLOCK));
	CHECK(nu_is_nonblock(p[0]) && !nu_is_nonblock(p[1]));
	SYS_ERR(read(p[0], buf, sizeof buf), EAGAIN);
	SAY(c, "fcntl(F_SETFL, O_NONBLOCK) on a pipe: F_GETFL 0x%x, read: EAGAIN\n", getfl(p[0]));
	SYS_OK(fcntl(p[0], F_SETFL, getfl(p[0]) & ~O_NONBLOCK));
	CHECK(!nu_is_nonblock(p[0]));
	nu_check_read_waits(p[0], p[1]);
	SAY(c, "fcntl(F_SETFL) clearing it: F_GETFL 0x%x, read waits for data\n", getfl(p[0]));

	/* ioctl(FIONBIO) on a socket. */
	SYS_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, s));
	CHECK(!nu_is_nonblock(s[0]) && !nu_is_nonblock(s[1]));
	SAY(c, "socketpair(): F_GETFL 0x%x 0x%x\n", getfl(s[0]), getfl(s[1]));
	int on = 1;
	SYS_OK(ioctl(s[0], FIONBIO, &on));
	CHECK(nu_is_nonblock(s[0]) && !nu_is_nonblock(s[1]));
	SYS_ERR(recv(s[0], buf, sizeof buf, 0), EAGAIN);
	SYS_ERR(read(s[0], buf, sizeof buf), EAGAIN);
	SAY(c, "ioctl(FIONBIO, 1) on a socket: F_GETFL 0x%x, recv and read: EAGAIN\n", getfl(s[0]));
	on = 0;
	SYS_OK(ioctl(s[0], FIONBIO, &on));
	CHECK(!nu_is_nonblock(s[0]));
	nu_check_read_waits(s[0], s[1]);
	SAY(c, "ioctl(FIONBIO, 0): F_GETFL 0x%x, read waits for data\n", getfl(s[0]));
	/* MSG_DONTWAIT on a blocking socket does not block and changes no flag. */
	SYS_ERR(recv(s[0], buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
	CHECK(!nu_is_nonblock(s[0]));
	SAY(c, "recv(MSG_DONTWAIT) on a blocking socket: EAGAIN, F_GETFL still 0x%x\n",
	    getfl(s[0]));
	SYS_OK(close(s[0]));
	SYS_OK(close(s[1]));

	SYS_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s));
	CHECK(nu_is_nonblock(s[0]) && nu_is_nonblock(s[1]));
	SYS_ERR(recv(s[0], buf, sizeof buf, 0), EAGAIN);
	SAY(c, "socketpair(SOCK_NONBLOCK): F_GETFL 0x%x, recv: EAGAIN\n", getfl(s[0]));
	SYS_OK(close(s[0]));
	SYS_OK(close(s[1]));

	/* socket(), accept() and accept4() on TCP. */
	int port;
	int l = nu_listen_tcp(0, &port);
	CHECK(!nu_is_nonblock(l));
	struct sockaddr_in la = nu_loopback(port);
	int b = (int)SYS_OK(socket(AF_INET, SOCK_STREAM, 0));
	CHECK(!nu_is_nonblock(b));
	SAY(c, "socket(): F_GETFL 0x%x\n", getfl(b));
	SYS_OK(connect(b, (struct sockaddr *)&la, sizeof la));
	int nb = (int)SYS_OK(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
	CHECK(nu_is_nonblock(nb));
	int rc = connect(nb, (struct sockaddr *)&la, sizeof la);
	CHECK(rc == 0 || nu_errno() == EINPROGRESS);
	struct pollfd pf = {.fd = nb, .events = POLLOUT};
	SYS_EQ(poll(&pf, 1, 5000), 1);
	SYS_ERR(recv(nb, buf, sizeof buf, 0), EAGAIN);
	SAY(c, "socket(SOCK_NONBLOCK): F_GETFL 0x%x, recv: EAGAIN\n", getfl(nb));

	int a1 = (int)SYS_OK(accept(l, NULL, NULL));
	CHECK(!nu_is_nonblock(a1));
	SAY(c, "accept(): F_GETFL 0x%x\n", getfl(a1));
	nu_check_read_waits(a1, b);
	int a2 = (int)SYS_OK(accept4(l, NULL, NULL, SOCK_NONBLOCK));
	CHECK(nu_is_nonblock(a2));
	SYS_ERR(recv(a2, buf, sizeof buf, 0), EAGAIN);
	SAY(c, "accept4(SOCK_NONBLOCK): F_GETFL 0x%x, recv: EAGAIN\n", getfl(a2));

	/* A non-blocking listener: accept fails at once; what it accepts later
	 * is blocking (Linux does not inherit O_NONBLOCK through accept). */
	SYS_OK(fcntl(l, F_SETFL, getfl(l) | O_NONBLOCK));
	SYS_ERR(accept(l, NULL, NULL), EAGAIN);
	int b2 = (int)SYS_OK(socket(AF_INET, SOCK_STREAM, 0));
	SYS_OK(connect(b2, (struct sockaddr *)&la, sizeof la));
	pf = (struct pollfd){.fd = l, .events = POLLIN};
	SYS_EQ(poll(&pf, 1, 5000), 1);
	int a3 = (int)SYS_OK(accept4(l, NULL, NULL, SOCK_CLOEXEC));
	CHECK(!nu_is_nonblock(a3));
	nu_check_read_waits(a3, b2);
	SAY(c, "non-blocking listener: accept: EAGAIN; accepted later: F_GETFL 0x%x, read waits\n",
	    getfl(a3));
	int fds[] = {l, b, nb, a1, a2, b2, a3};
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
		SYS_OK(close(fds[i]));

	/* dup, dup2, dup3, F_DUPFD, F_DUPFD_CLOEXEC of a blocking descriptor. */
	int d[5];
	d[0] = (int)SYS_OK(dup(p[0]));
	/* dup2/dup3 onto descriptors this thread holds (other threads may be
	 * opening and closing descriptors meanwhile): replaces /dev/null. */
	d[1] = (int)SYS_OK(open("/dev/null", O_RDONLY));
	SYS_EQ(dup2(p[0], d[1]), d[1]);
	d[2] = (int)SYS_OK(open("/dev/null", O_RDONLY));
	SYS_EQ(dup3(p[0], d[2], O_CLOEXEC), d[2]);
	d[3] = (int)SYS_OK(fcntl(p[0], F_DUPFD, 320));
	d[4] = (int)SYS_OK(fcntl(p[0], F_DUPFD_CLOEXEC, 320));
	CHECK_EQ(SYS_OK(fcntl(d[2], F_GETFD)), FD_CLOEXEC);
	CHECK_EQ(SYS_OK(fcntl(d[1], F_GETFD)), 0);
	for (int i = 0; i < 5; i++) {
		CHECK(!nu_is_nonblock(d[i]));
		nu_check_read_waits(d[i], p[1]);
	}
	SAY(c,
	    "dup/dup2/dup3/F_DUPFD/F_DUPFD_CLOEXEC of a blocking pipe: F_GETFL 0x%x, read "
	    "waits\n",
	    getfl(d[4]));

	for (int i = 0; i < 5; i++)
		SYS_OK(close(d[i]));
	/* A duplicate made after the program set O_NONBLOCK has it too. (What
	 * happens when the flag changes later through one of them is
	 * fd_sharing's business.) */
	SYS_OK(fcntl(p[0], F_SETFL, getfl(p[0]) | O_NONBLOCK));
	int dn = (int)SYS_OK(dup(p[0]));
	CHECK(nu_is_nonblock(dn));
	SYS_ERR(read(dn, buf, sizeof buf), EAGAIN);
	SAY(c, "dup after fcntl(F_SETFL, O_NONBLOCK): F_GETFL 0x%x, read: EAGAIN\n", getfl(dn));
	SYS_OK(fcntl(dn, F_SETFL, getfl(dn) & ~O_NONBLOCK));
	SYS_OK(fcntl(p[0], F_SETFL, getfl(p[0]) & ~O_NONBLOCK));
	CHECK(!nu_is_nonblock(dn) && !nu_is_nonblock(p[0]));
	SYS_OK(close(dn));
	/* A duplicate of the non-blocking end of a pipe2(O_NONBLOCK) pipe. */
	SYS_OK(pipe2(q, O_NONBLOCK));
	int dq = (int)SYS_OK(dup(q[0]));
	CHECK(nu_is_nonblock(dq));
	SYS_ERR(read(dq, buf, sizeof buf), EAGAIN);
	SAY(c, "dup of a pipe2(O_NONBLOCK) end: F_GETFL 0x%x, read: EAGAIN\n", getfl(dq));
	SYS_OK(close(dq));
	SYS_OK(close(q[0]));
	SYS_OK(close(q[1]));

	/* eventfd. */
	int e = (int)SYS_OK(eventfd(0, 0));
	CHECK(!nu_is_nonblock(e));
	uint64_t v = 0;
	struct nu_later w;
	static const uint64_t seven = 7;
	nu_later_write(&w, e, 30, &seven, sizeof seven);
	SYS_EQ(read(e, &v, sizeof v), sizeof v);
	CHECK_EQ(v, 7);
	nu_later_join(&w);
	SAY(c, "eventfd(0, 0): F_GETFL 0x%x, read waits for another thread's write\n", getfl(e));
	SYS_OK(close(e));
	e = (int)SYS_OK(eventfd(0, EFD_NONBLOCK));
	CHECK(nu_is_nonblock(e));
	SYS_ERR(read(e, &v, sizeof v), EAGAIN);
	SAY(c, "eventfd(EFD_NONBLOCK): F_GETFL 0x%x, read: EAGAIN\n", getfl(e));
	SYS_OK(close(e));

	/* A FIFO, in a private directory that is gone again once it is open. */
	const char *tmp = getenv("TMPDIR");
	char dir[4096], path[4200];
	snprintf(dir, sizeof dir, "%s/gmpt-io.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/fifo", dir);
	SYS_OK(mkfifo(path, 0600));
	int fr = (int)open(path, O_RDWR);
	int fw = (int)open(path, O_WRONLY);
	int fn = (int)open(path, O_RDONLY | O_NONBLOCK);
	SYS_OK(unlink(path));
	SYS_OK(rmdir(dir));
	CHECK(fr >= 0 && fw >= 0 && fn >= 0);
	CHECK(!nu_is_nonblock(fr) && !nu_is_nonblock(fw));
	nu_check_read_waits(fr, fw);
	SAY(c, "FIFO opened O_RDWR: F_GETFL 0x%x, read waits for data\n", getfl(fr));
	CHECK(nu_is_nonblock(fn));
	SYS_ERR(read(fn, buf, sizeof buf), EAGAIN);
	SAY(c, "FIFO opened O_RDONLY|O_NONBLOCK: F_GETFL 0x%x, read: EAGAIN\n", getfl(fn));
	SYS_OK(close(fn));
	SYS_OK(close(fw));
	SYS_OK(close(fr));

	SYS_OK(close(p[0]));
	SYS_OK(close(p[1]));
}

/* ---- partial reads, end of file, EPIPE ------------------------------------ */

struct blocked_io {
	pthread_t thread;
	int fd;
	int is_write;
	ssize_t ret;
	int err;
	long first; /* the first bytes read */
};

static void *blocked_io_main(void *arg)
{
	struct blocked_io *b = arg;
	char buf[4096];
	if (b->is_write)
		b->ret = write(b->fd, "x", 1);
	else
		b->ret = read(b->fd, buf, sizeof buf);
	b->err = nu_errno();
	if (b->ret >= (ssize_t)sizeof b->first)
		memcpy(&b->first, buf, sizeof b->first);
	return NULL;
}

/* Starts a thread blocked in read() (or a 1-byte write()) on fd. */
static void blocked_start(struct blocked_io *b, int fd, int is_write)
{
	*b = (struct blocked_io){.fd = fd, .is_write = is_write};
	CHECK_OK(pthread_create(&b->thread, NULL, blocked_io_main, b));
}

static void check_eof_epipe_partial(const struct ctx *c)
{
	char buf[4096];
	int p[2], s[2], t[2];
	struct nu_later w;

	/* Partial reads: what is there, not what was asked for. */
	SYS_OK(pipe(p));
	SYS_EQ(write(p[1], "0123456789", 10), 10);
	SYS_EQ(read(p[0], buf, sizeof buf), 10);
	nu_later_write(&w, p[1], 30, "abcde", 5);
	SYS_EQ(read(p[0], buf, sizeof buf), 5);
	nu_later_join(&w);
	SAY(c,
	    "pipe: read(4096) returns the 10 bytes there; a blocked read returns the 5 written\n");
	SYS_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, s));
	SYS_EQ(send(s[1], "0123456789", 10, 0), 10);
	SYS_EQ(recv(s[0], buf, sizeof buf, 0), 10);
	nu_later_write(&w, s[1], 30, "abcde", 5);
	SYS_EQ(recv(s[0], buf, sizeof buf, 0), 5);
	nu_later_join(&w);
	SAY(c, "unix stream: the same with recv\n");
	nu_tcp_pair(t);
	SYS_EQ(send(t[1], "0123456789", 10, 0), 10);
	nu_read_all(t[0], buf, 10);
	nu_later_write(&w, t[1], 30, "abcde", 5);
	SYS_EQ(read(t[0], buf, sizeof buf), 5);
	nu_later_join(&w);
	SAY(c, "TCP: a blocked read returns the 5 bytes written\n");

	/* MSG_WAITALL waits for everything asked for. */
	SYS_EQ(send(t[1], "0123", 4, 0), 4);
	nu_later_write(&w, t[1], 30, "456789", 6);
	SYS_EQ(recv(t[0], buf, 10, MSG_WAITALL), 10);
	CHECK(memcmp(buf, "0123456789", 10) == 0);
	nu_later_join(&w);
	SAY(c, "TCP: recv(MSG_WAITALL) with 4 bytes there waits for all 10\n");

	/* End of file. */
	struct blocked_io r;
	blocked_start(&r, p[0], 0);
	nu_later_close(&w, p[1], 30);
	nu_later_join(&w);
	CHECK_OK(pthread_join(r.thread, NULL));
	CHECK_EQ(r.ret, 0);
	SYS_EQ(read(p[0], buf, sizeof buf), 0);
	SYS_OK(close(p[0]));
	SAY(c, "pipe: a blocked read returns 0 when the writer closes; so does the next read\n");
	blocked_start(&r, t[0], 0);
	nu_later_close(&w, t[1], 30);
	nu_later_join(&w);
	CHECK_OK(pthread_join(r.thread, NULL));
	CHECK_EQ(r.ret, 0);
	SYS_EQ(recv(t[0], buf, sizeof buf, 0), 0);
	SYS_OK(close(t[0]));
	SAY(c, "TCP: a blocked read returns 0 when the peer closes\n");
	nu_tcp_pair(t);
	SYS_OK(shutdown(t[1], SHUT_WR));
	SYS_EQ(read(t[0], buf, sizeof buf), 0);
	SYS_OK(close(t[0]));
	SYS_OK(close(t[1]));
	SAY(c, "TCP: read returns 0 after the peer's shutdown(SHUT_WR)\n");

	/* EPIPE (SIGPIPE is ignored). */
	SYS_OK(pipe(p));
	SYS_OK(close(p[0]));
	SYS_ERR(write(p[1], "x", 1), EPIPE);
	SYS_OK(close(p[1]));
	SYS_OK(pipe(p));
	fill_pipe(p[1]);
	blocked_start(&r, p[1], 1);
	nu_later_close(&w, p[0], 30);
	nu_later_join(&w);
	CHECK_OK(pthread_join(r.thread, NULL));
	if (r.ret != -1 || r.err != EPIPE)
		nu_fail_errno(__FILE__, __LINE__, "write blocked on a full pipe", (long)r.ret,
			      r.err, EPIPE);
	SYS_OK(close(p[1]));
	SAY(c, "pipe: write with the reader closed: EPIPE; a blocked write too\n");
	SYS_OK(close(s[0]));
	SYS_ERR(send(s[1], "x", 1, 0), EPIPE);
	SYS_ERR(write(s[1], "x", 1), EPIPE);
	SYS_OK(close(s[1]));
	SAY(c, "unix stream: send and write with the peer closed: EPIPE\n");
}

/* ---- regular files -------------------------------------------------------- */

static void check_file_io(const struct ctx *c)
{
	int fd = nu_tmpfile();
	unsigned char a[10000], b[10000];
	nu_fill(a, sizeof a, 11, 0);
	SYS_EQ(pwrite(fd, a, sizeof a, 0), sizeof a);
	SYS_EQ(lseek(fd, 0, SEEK_CUR), 0);
	SYS_EQ(pwrite(fd, "tail", 4, 20000), 4);
	struct stat st;
	SYS_OK(fstat(fd, &st));
	CHECK_EQ(st.st_size, 20004);
	memset(b, 0xff, sizeof b);
	SYS_EQ(pread(fd, b, 3000, 7000), 3000);
	CHECK(memcmp(b, a + 7000, 3000) == 0);
	SYS_EQ(pread(fd, b, sizeof b, 15000), 5004);
	for (int i = 0; i < 5000; i++)
		CHECK_EQ(b[i], 0);
	CHECK(memcmp(b + 5000, "tail", 4) == 0);
	SYS_EQ(pread(fd, b, sizeof b, 30000), 0);
	SAY(c, "file: pwrite/pread at offsets, a hole reads as zeros, pread past the end: 0\n");

	/* writev/readv move the file offset. */
	SYS_EQ(lseek(fd, 100, SEEK_SET), 100);
	struct iovec wv[3] = {{"abc", 3}, {"", 0}, {"defghij", 7}};
	SYS_EQ(writev(fd, wv, 3), 10);
	SYS_EQ(lseek(fd, 0, SEEK_CUR), 110);
	char x[4], y[2], z[100];
	struct iovec rv[3] = {{x, sizeof x}, {y, sizeof y}, {z, sizeof z}};
	SYS_EQ(lseek(fd, 100, SEEK_SET), 100);
	SYS_EQ(readv(fd, rv, 3), 106);
	CHECK(memcmp(x, "abcd", 4) == 0 && memcmp(y, "ef", 2) == 0 && memcmp(z, "ghij", 4) == 0);
	CHECK(memcmp(z + 4, a + 110, 96) == 0);
	SYS_EQ(lseek(fd, 0, SEEK_CUR), 206);
	SAY(c, "file: writev/readv across iovecs, offset 100 -> 110 -> 206\n");

	/* pwritev/preadv leave it alone. */
	struct iovec pv[2] = {{"PQ", 2}, {"RS", 2}};
	SYS_EQ(pwritev(fd, pv, 2, 5), 4);
	struct iovec qv[2] = {{x, 3}, {y, 2}};
	SYS_EQ(preadv(fd, qv, 2, 4), 5);
	CHECK(x[0] == (char)a[4] && memcmp(x + 1, "PQ", 2) == 0 && memcmp(y, "RS", 2) == 0);
	SYS_EQ(lseek(fd, 0, SEEK_CUR), 206);
	SYS_EQ(lseek(fd, 0, SEEK_END), 20004);
	SYS_EQ(read(fd, b, sizeof b), 0);
	SAY(c, "file: pwritev/preadv keep the offset; read at the end: 0\n");
	SYS_OK(close(fd));
}

/* ---- UDP ------------------------------------------------------------------ */

struct udp_sender {
	pthread_t thread;
	int fd, port, count;
};

static void *udp_sender_main(void *arg)
{
	struct udp_sender *u = arg;
	struct sockaddr_in to = nu_loopback(u->port);
	for (int i = 0; i < u->count; i++) {
		nu_sleep_ms(20);
		char msg[32];
		int len = snprintf(msg, sizeof msg, "datagram %d", i);
		SYS_EQ(sendto(u->fd, msg, (size_t)len, 0, (struct sockaddr *)&to, sizeof to), len);
	}
	return NULL;
}

static void check_udp(const struct ctx *c)
{
	int pa, pb;
	int a = nu_udp_bound(&pa), b = nu_udp_bound(&pb);
	struct sockaddr_in ta = nu_loopback(pa), tb = nu_loopback(pb), from;
	socklen_t flen = sizeof from;
	char buf[256];

	SYS_EQ(sendto(a, "hello", 5, 0, (struct sockaddr *)&tb, sizeof tb), 5);
	SYS_EQ(recvfrom(b, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen), 5);
	CHECK(memcmp(buf, "hello", 5) == 0);
	CHECK_EQ(ntohs(from.sin_port), pa);
	SYS_ERR(recvfrom(b, buf, sizeof buf, MSG_DONTWAIT, NULL, NULL), EAGAIN);
	SAY(c, "UDP: sendto/recvfrom with the sender's address; MSG_DONTWAIT: EAGAIN\n");

	struct udp_sender us = {.fd = a, .port = pb, .count = 1};
	CHECK_OK(pthread_create(&us.thread, NULL, udp_sender_main, &us));
	SYS_EQ(recvfrom(b, buf, sizeof buf, 0, NULL, NULL), 10);
	CHECK(memcmp(buf, "datagram 0", 10) == 0);
	CHECK_OK(pthread_join(us.thread, NULL));
	SAY(c, "UDP: a blocked recvfrom returns a datagram sent 20 ms later\n");

	/* sendmsg/recvmsg, and MSG_TRUNC for a datagram bigger than the buffer. */
	struct iovec sv[2] = {{"abc", 3}, {"defg", 4}};
	struct msghdr m = {
	    .msg_name = &tb, .msg_namelen = sizeof tb, .msg_iov = sv, .msg_iovlen = 2};
	SYS_EQ(sendmsg(a, &m, 0), 7);
	char r1[2], r2[10];
	struct iovec rv[2] = {{r1, sizeof r1}, {r2, sizeof r2}};
	struct msghdr rm = {
	    .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = rv, .msg_iovlen = 2};
	SYS_EQ(recvmsg(b, &rm, 0), 7);
	CHECK(memcmp(r1, "ab", 2) == 0 && memcmp(r2, "cdefg", 5) == 0);
	CHECK_EQ(rm.msg_flags, 0);
	CHECK_EQ(ntohs(from.sin_port), pa);
	char big[100];
	memset(big, 'z', sizeof big);
	SYS_EQ(sendto(a, big, sizeof big, 0, (struct sockaddr *)&tb, sizeof tb), 100);
	rm.msg_namelen = sizeof from;
	SYS_EQ(recvmsg(b, &rm, 0), 12);
	CHECK(rm.msg_flags & MSG_TRUNC);
	SAY(c, "UDP: sendmsg/recvmsg with iovecs; a 100-byte datagram into 12 bytes: 12, "
	       "MSG_TRUNC\n");

	/* sendmmsg/recvmmsg. */
	struct mmsghdr mm[5];
	struct iovec mv[5];
	char data[5][8];
	memset(mm, 0, sizeof mm);
	for (int i = 0; i < 5; i++) {
		memset(data[i], 'a' + i, sizeof data[i]);
		mv[i] = (struct iovec){data[i], (size_t)i + 1};
		mm[i].msg_hdr = (struct msghdr){
		    .msg_name = &tb, .msg_namelen = sizeof tb, .msg_iov = &mv[i], .msg_iovlen = 1};
	}
	SYS_EQ(sendmmsg(a, mm, 5, 0), 5);
	for (int i = 0; i < 5; i++)
		CHECK_EQ(mm[i].msg_len, i + 1);
	char rd[5][16];
	struct iovec rmv[5];
	struct mmsghdr rmm[5];
	memset(rmm, 0, sizeof rmm);
	for (int i = 0; i < 5; i++) {
		rmv[i] = (struct iovec){rd[i], sizeof rd[i]};
		rmm[i].msg_hdr = (struct msghdr){.msg_iov = &rmv[i], .msg_iovlen = 1};
	}
	SYS_EQ(recvmmsg(b, rmm, 5, 0, NULL), 5);
	for (int i = 0; i < 5; i++) {
		CHECK_EQ(rmm[i].msg_len, i + 1);
		CHECK(memcmp(rd[i], data[i], (size_t)i + 1) == 0);
	}
	SAY(c, "UDP: sendmmsg sends 5, recvmmsg receives the 5 in order\n");

	/* A blocking recvmmsg without MSG_WAITFORONE waits for all vlen. */
	us = (struct udp_sender){.fd = a, .port = pb, .count = 3};
	CHECK_OK(pthread_create(&us.thread, NULL, udp_sender_main, &us));
	for (int i = 0; i < 5; i++)
		rmm[i].msg_len = 0;
	SYS_EQ(recvmmsg(b, rmm, 3, 0, NULL), 3);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(rmm[i].msg_len, 10);
		CHECK(memcmp(rd[i], "datagram ", 9) == 0 && rd[i][9] == '0' + i);
	}
	CHECK_OK(pthread_join(us.thread, NULL));
	SAY(c, "UDP: a blocking recvmmsg(vlen 3) waits for 3 datagrams sent 20 ms apart\n");
	us = (struct udp_sender){.fd = a, .port = pb, .count = 1};
	CHECK_OK(pthread_create(&us.thread, NULL, udp_sender_main, &us));
	SYS_EQ(recvmmsg(b, rmm, 3, MSG_WAITFORONE, NULL), 1);
	CHECK_EQ(rmm[0].msg_len, 10);
	CHECK_OK(pthread_join(us.thread, NULL));
	SAY(c, "UDP: a blocking recvmmsg(vlen 3, MSG_WAITFORONE) returns the one datagram sent\n");

	/* connect()ed UDP sockets: send/recv. */
	SYS_OK(connect(a, (struct sockaddr *)&tb, sizeof tb));
	SYS_OK(connect(b, (struct sockaddr *)&ta, sizeof ta));
	SYS_EQ(send(a, "xyz", 3, 0), 3);
	SYS_EQ(recv(b, buf, sizeof buf, 0), 3);
	SYS_OK(close(a));
	SYS_OK(close(b));
	SAY(c, "UDP: send/recv on connected sockets\n");
}

/* ---- sendfile, splice ----------------------------------------------------- */

struct sink {
	pthread_t thread;
	int fd;
	size_t len;
	uint64_t seed, off;
};

/* Reads len bytes from fd and checks them against the pattern. */
static void *sink_main(void *arg)
{
	struct sink *s = arg;
	unsigned char *buf = malloc(s->len);
	CHECK(buf != NULL);
	nu_read_all(s->fd, buf, s->len);
	CHECK_EQ(nu_mismatch(buf, s->len, s->seed, s->off), -1);
	free(buf);
	return NULL;
}

static void check_sendfile_splice(const struct ctx *c)
{
	const size_t size = 1 << 20;
	unsigned char *data = malloc(size);
	CHECK(data != NULL);
	nu_fill(data, size, 23, 0);
	int f = nu_tmpfile();
	nu_write_all(f, data, size);
	int t[2];
	nu_tcp_pair(t);

	struct sink s = {.fd = t[1], .len = size, .seed = 23, .off = 0};
	CHECK_OK(pthread_create(&s.thread, NULL, sink_main, &s));
	off_t off = 0;
	while ((size_t)off < size) {
		ssize_t n = sendfile(t[0], f, &off, size - (size_t)off);
		CHECK(n > 0);
	}
	CHECK_EQ(off, size);
	CHECK_OK(pthread_join(s.thread, NULL));
	SYS_EQ(lseek(f, 0, SEEK_CUR), size);
	SAY(c,
	    "sendfile: 1 MiB from a file to a TCP socket; the offset ends at %lld, the file "
	    "position stays\n",
	    (long long)off);

	SYS_EQ(lseek(f, 1000, SEEK_SET), 1000);
	s = (struct sink){.fd = t[1], .len = 5000, .seed = 23, .off = 1000};
	CHECK_OK(pthread_create(&s.thread, NULL, sink_main, &s));
	size_t sent = 0;
	while (sent < 5000) {
		ssize_t n = sendfile(t[0], f, NULL, 5000 - sent);
		CHECK(n > 0);
		sent += (size_t)n;
	}
	CHECK_OK(pthread_join(s.thread, NULL));
	SYS_EQ(lseek(f, 0, SEEK_CUR), 6000);
	SAY(c, "sendfile without an offset: sends from the file position and moves it\n");
	SYS_OK(close(t[0]));
	SYS_OK(close(t[1]));

	/* splice pipe -> pipe, file -> pipe, and a splice that waits for data. */
	int a[2], b[2];
	SYS_OK(pipe(a));
	SYS_OK(pipe(b));
	SYS_EQ(write(a[1], data, 1000), 1000);
	SYS_EQ(splice(a[0], NULL, b[1], NULL, 4096, 0), 1000);
	unsigned char buf[4096];
	nu_read_all(b[0], buf, 1000);
	CHECK(memcmp(buf, data, 1000) == 0);
	SAY(c, "splice: pipe to pipe moves the 1000 bytes there\n");
	loff_t foff = 4096;
	SYS_EQ(splice(f, &foff, b[1], NULL, 3000, 0), 3000);
	CHECK_EQ(foff, 4096 + 3000);
	nu_read_all(b[0], buf, 3000);
	CHECK(memcmp(buf, data + 4096, 3000) == 0);
	SAY(c, "splice: file to pipe at an offset\n");
	struct nu_later w;
	nu_later_write(&w, a[1], 30, data, 100);
	SYS_EQ(splice(a[0], NULL, b[1], NULL, 4096, 0), 100);
	nu_later_join(&w);
	nu_read_all(b[0], buf, 100);
	CHECK(memcmp(buf, data, 100) == 0);
	nu_later_close(&w, a[1], 30);
	SYS_EQ(splice(a[0], NULL, b[1], NULL, 4096, 0), 0);
	nu_later_join(&w);
	SAY(c, "splice: from an empty pipe waits for the write, then returns 0 at EOF\n");
	SYS_OK(close(a[0]));
	SYS_OK(close(b[0]));
	SYS_OK(close(b[1]));
	SYS_OK(close(f));
	free(data);
}

/* ---- all of it, alone and at once ------------------------------------------ */

static void run_all(const struct ctx *c)
{
	check_timeouts(c);
	check_wakeups(c);
	check_connect(c);
	check_sockopt_timeouts(c);
	check_nonblock_flags(c);
	check_eof_epipe_partial(c);
	check_file_io(c);
	check_udp(c);
	check_sendfile_splice(c);
}

static void *run_all_quietly(void *arg)
{
	(void)arg;
	struct ctx c = {.quiet = 1, .slack_ms = 5000};
	run_all(&c);
	return NULL;
}

enum { NRUNNERS = 8, NPAIRS = 32 };

struct pair {
	int p[2];
	long value;
	struct blocked_io reader;
};

static void *pair_writer(void *arg)
{
	struct pair *pr = arg;
	nu_sleep_ms(20);
	nu_write_all(pr->p[1], &pr->value, sizeof pr->value);
	return NULL;
}

int main(void)
{
	mn_watchdog(18, "io_semantics");
	CHECK(signal(SIGPIPE, SIG_IGN) != SIG_ERR);
	setvbuf(stdout, NULL, _IOLBF, 0);

	struct ctx c = {.quiet = 0, .slack_ms = 1000};
	int64_t t0 = tu_now_ns(CLOCK_MONOTONIC);
	run_all(&c);
	fprintf(stderr, "sequential checks: %.0f ms\n", (tu_now_ns(CLOCK_MONOTONIC) - t0) / 1e6);

	/* Readers block first, then every check runs in NRUNNERS threads, then
	 * the writers wake the readers. */
	t0 = tu_now_ns(CLOCK_MONOTONIC);
	static struct pair pairs[NPAIRS];
	for (int i = 0; i < NPAIRS; i++) {
		SYS_OK(pipe(pairs[i].p));
		pairs[i].value = 1000 + i;
		blocked_start(&pairs[i].reader, pairs[i].p[0], 0);
	}
	pthread_t runners[NRUNNERS], writers[NPAIRS];
	for (int i = 0; i < NRUNNERS; i++)
		CHECK_OK(pthread_create(&runners[i], NULL, run_all_quietly, NULL));
	for (int i = 0; i < NPAIRS; i++)
		CHECK_OK(pthread_create(&writers[i], NULL, pair_writer, &pairs[i]));
	for (int i = 0; i < NRUNNERS; i++)
		CHECK_OK(pthread_join(runners[i], NULL));
	for (int i = 0; i < NPAIRS; i++) {
		CHECK_OK(pthread_join(writers[i], NULL));
		CHECK_OK(pthread_join(pairs[i].reader.thread, NULL));
		CHECK_EQ(pairs[i].reader.ret, sizeof(long));
		CHECK_EQ(pairs[i].reader.first, 1000 + i);
		SYS_OK(close(pairs[i].p[0]));
		SYS_OK(close(pairs[i].p[1]));
	}
	fprintf(stderr, "concurrent checks: %.0f ms\n", (tu_now_ns(CLOCK_MONOTONIC) - t0) / 1e6);
	printf("concurrently: %d threads ran every check while %d threads blocked in read() got "
	       "their data\n",
	       NRUNNERS, NPAIRS);
	return 0;
}
