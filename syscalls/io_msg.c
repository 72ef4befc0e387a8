/* syscalls/io_msg.c - recv and send in all their forms.
 *
 * MSG_DONTWAIT asks for one non-blocking attempt: no parking. MSG_WAITALL
 * on a stream socket collects until the buffer is full, the peer shuts
 * down, or an error/timeout, as the kernel does for a blocking socket.
 * Blocking sends on stream sockets write everything (see io_rw.c). */
#include "syscalls/deadline.h"
#include "syscalls/io_common.h"
#include "syscalls/netpoll.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>

struct msg_ctx {
	int fd;
	void *buf;
	size_t n;
	int flags;
	void *addr;    /* sockaddr * */
	void *addrlen; /* socklen_t * (recvfrom) or socklen_t (sendto) */
	void *msg;     /* msghdr or mmsghdr */
	unsigned vlen;
};

static long recvfrom_attempt(void *p)
{
	struct msg_ctx *c = p;
	return raw_syscall(SYS_recvfrom, c->fd, c->buf, c->n, c->flags | MSG_DONTWAIT, c->addr,
			   c->addrlen);
}

static long sendto_attempt(void *p)
{
	struct msg_ctx *c = p;
	return raw_syscall(SYS_sendto, c->fd, c->buf, c->n, c->flags | MSG_DONTWAIT, c->addr,
			   (socklen_t)(uintptr_t)c->addrlen);
}

static long recvmsg_attempt(void *p)
{
	struct msg_ctx *c = p;
	return raw_syscall(SYS_recvmsg, c->fd, c->msg, c->flags | MSG_DONTWAIT);
}

static long sendmsg_attempt(void *p)
{
	struct msg_ctx *c = p;
	return raw_syscall(SYS_sendmsg, c->fd, c->msg, c->flags | MSG_DONTWAIT);
}

static long recvmmsg_attempt(void *p)
{
	struct msg_ctx *c = p;
	return raw_syscall(SYS_recvmmsg, c->fd, c->msg, c->vlen, c->flags | MSG_DONTWAIT, NULL, 0);
}

static long sendmmsg_attempt(void *p)
{
	struct msg_ctx *c = p;
	return raw_syscall(SYS_sendmmsg, c->fd, c->msg, c->vlen, c->flags | MSG_DONTWAIT);
}

/* The fd's entry if this call should park: ours, blocking for the
 * program, and not asked for MSG_DONTWAIT. */
static struct fdinfo *parkable(int fd, int flags)
{
	return (flags & MSG_DONTWAIT) ? NULL : fdtab_parkable(fd);
}

EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr,
			socklen_t *addrlen)
{
	STEP_ASIDE_FORWARD(recvfrom, fd, buf, n, flags, addr, addrlen);
	struct fdinfo *fi = parkable(fd, flags);
	if (!fi)
		return sys_ret(sys_cancelable(SYS_recvfrom, fd, buf, n, flags, addr, addrlen));
	bool all = (flags & MSG_WAITALL) && atomic_load(&fi->stream);
	size_t done = 0;
	do {
		struct msg_ctx c = {.fd = fd,
				    .buf = (char *)buf + done,
				    .n = n - done,
				    .flags = flags & ~MSG_WAITALL,
				    .addr = addr,
				    .addrlen = addrlen};
		long r = io_park_loop(fd, fi, IO_READ, recvfrom_attempt, &c);
		if (r < 0)
			return done ? (ssize_t)done : sys_ret(r);
		if (r == 0)
			break;
		done += (size_t)r;
	} while (all && done < n);
	return (ssize_t)done;
}

EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	STEP_ASIDE_FORWARD(recv, fd, buf, n, flags);
	return recvfrom(fd, buf, n, flags, NULL, NULL);
}

EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
	STEP_ASIDE_FORWARD(__recv_chk, fd, buf, n, buflen, flags);
	if (n > buflen)
		__builtin_trap();
	return recvfrom(fd, buf, n, flags, NULL, NULL);
}

EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
			      struct sockaddr *addr, socklen_t *addrlen)
{
	STEP_ASIDE_FORWARD(__recvfrom_chk, fd, buf, n, buflen, flags, addr, addrlen);
	if (n > buflen)
		__builtin_trap();
	return recvfrom(fd, buf, n, flags, addr, addrlen);
}

EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr,
		      socklen_t addrlen)
{
	STEP_ASIDE_FORWARD(sendto, fd, buf, n, flags, addr, addrlen);
	struct fdinfo *fi = parkable(fd, flags);
	if (!fi)
		return sys_ret(sys_cancelable(SYS_sendto, fd, buf, n, flags, addr, addrlen));
	bool stream = atomic_load(&fi->stream);
	size_t done = 0;
	do {
		struct msg_ctx c = {.fd = fd,
				    .buf = (char *)buf + done,
				    .n = n - done,
				    .flags = flags,
				    .addr = (void *)addr,
				    .addrlen = (void *)(uintptr_t)addrlen};
		long r = io_park_loop(fd, fi, IO_WRITE, sendto_attempt, &c);
		if (r < 0)
			return done ? (ssize_t)done : sys_ret(r);
		done += (size_t)r;
	} while (stream && done < n);
	return (ssize_t)done;
}

EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	STEP_ASIDE_FORWARD(send, fd, buf, n, flags);
	return sendto(fd, buf, n, flags, NULL, 0);
}

/* Descriptors that arrive in SCM_RIGHTS may be our own (fdtab.c). */
static long adopt_rights(long r, struct msghdr *msg)
{
	if (r < 0 || !msg->msg_control || !sched_ready())
		return r;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof fd, sizeof fd);
			fdtab_adopt_received(fd);
		}
	}
	return r;
}

EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	STEP_ASIDE_FORWARD(recvmsg, fd, msg, flags);
	struct fdinfo *fi = parkable(fd, flags);
	if (!fi)
		return sys_ret(adopt_rights(sys_cancelable(SYS_recvmsg, fd, msg, flags), msg));
	struct msg_ctx c = {.fd = fd, .msg = msg, .flags = flags};
	return sys_ret(adopt_rights(io_park_loop(fd, fi, IO_READ, recvmsg_attempt, &c), msg));
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	STEP_ASIDE_FORWARD(sendmsg, fd, msg, flags);
	struct fdinfo *fi = parkable(fd, flags);
	if (!fi)
		return sys_ret(sys_cancelable(SYS_sendmsg, fd, msg, flags));
	struct msg_ctx c = {.fd = fd, .msg = (void *)msg, .flags = flags};
	long r = io_park_loop(fd, fi, IO_WRITE, sendmsg_attempt, &c);
	if (r <= 0 || !atomic_load(&fi->stream))
		return sys_ret(r);
	size_t total = 0;
	for (size_t i = 0; i < msg->msg_iovlen; i++)
		total += msg->msg_iov[i].iov_len;
	if ((size_t)r >= total)
		return r;
	/* Partial on a stream: send the rest (ancillary data went with the
	 * first part). */
	int cnt = (int)msg->msg_iovlen;
	struct iovec *copy = malloc(sizeof *copy * (size_t)cnt);
	if (!copy)
		return r;
	size_t done = (size_t)r;
	while (done < total) {
		memcpy(copy, msg->msg_iov, sizeof *copy * (size_t)cnt);
		struct iovec *first;
		int left = io_iov_advance(copy, cnt, done, &first);
		struct msghdr m2 = {.msg_name = msg->msg_name,
				    .msg_namelen = msg->msg_namelen,
				    .msg_iov = first,
				    .msg_iovlen = (size_t)left};
		struct msg_ctx c2 = {.fd = fd, .msg = &m2, .flags = flags};
		long w = io_park_loop(fd, fi, IO_WRITE, sendmsg_attempt, &c2);
		if (w < 0)
			break;
		done += (size_t)w;
	}
	free(copy);
	return (ssize_t)done;
}

/* A blocking recvmmsg waits until vlen datagrams have arrived; with
 * MSG_WAITFORONE, until the first; with a timeout, Linux checks it only
 * after each datagram, so the wait for the first has no deadline. */
EXPORT int recvmmsg(int fd, struct mmsghdr *msgs, unsigned vlen, int flags,
		    struct timespec *timeout)
{
	STEP_ASIDE_FORWARD(recvmmsg, fd, msgs, vlen, flags, timeout);
	struct fdinfo *fi = parkable(fd, flags);
	if (!fi)
		return (int)sys_ret(sys_cancelable(SYS_recvmmsg, fd, msgs, vlen, flags, timeout));
	int64_t deadline = timeout ? deadline_from_relative(timeout) : 0;
	unsigned got = 0;
	while (got < vlen) {
		struct msg_ctx c = {.fd = fd,
				    .msg = msgs + got,
				    .vlen = vlen - got,
				    .flags = flags & ~MSG_WAITFORONE};
		long r = got == 0 ? io_park_loop(fd, fi, IO_READ, recvmmsg_attempt, &c)
				  : recvmmsg_attempt(&c);
		if (r == -EAGAIN && got > 0) {
			if ((flags & MSG_WAITFORONE) || (deadline && nanotime() >= deadline))
				break;
			uint32_t seq = atomic_load(&fi->seq);
			r = recvmmsg_attempt(&c);
			if (r == -EAGAIN) {
				int w =
				    fd_wait(fi, fd, ARM_R, seq, atomic_load(&fi->gen), deadline);
				if (w == EBADF || w == ETIMEDOUT)
					break;
				continue;
			}
		}
		if (r < 0)
			return got ? (int)got : (int)sys_ret(r);
		got += (unsigned)r;
		if (flags & MSG_WAITFORONE)
			break;
	}
	return (int)got;
}

EXPORT int sendmmsg(int fd, struct mmsghdr *msgs, unsigned vlen, int flags)
{
	STEP_ASIDE_FORWARD(sendmmsg, fd, msgs, vlen, flags);
	struct fdinfo *fi = parkable(fd, flags);
	if (!fi)
		return (int)sys_ret(sys_cancelable(SYS_sendmmsg, fd, msgs, vlen, flags));
	unsigned done = 0;
	while (done < vlen) {
		struct msg_ctx c = {
		    .fd = fd, .msg = msgs + done, .vlen = vlen - done, .flags = flags};
		long r = io_park_loop(fd, fi, IO_WRITE, sendmmsg_attempt, &c);
		if (r < 0)
			return done ? (int)done : (int)sys_ret(r);
		done += (unsigned)r;
	}
	return (int)done;
}
