/* syscalls/io_socket.c - making sockets, accepting and connecting them,
 * and the two socket options gmpt must see (SO_RCVTIMEO, SO_SNDTIMEO). */
#include "syscalls/io_common.h"
#include "syscalls/netpoll.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>

static bool is_stream(int type)
{
	return (type & 0xf) == SOCK_STREAM;
}

EXPORT int socket(int domain, int type, int protocol)
{
	STEP_ASIDE_FORWARD(socket, domain, type, protocol);
	if (!sched_ready())
		return (int)sys_ret(raw_syscall(SYS_socket, domain, type, protocol));
	long fd = raw_syscall(SYS_socket, domain, type | SOCK_NONBLOCK, protocol);
	if (fd >= 0)
		fdtab_created((int)fd, type & SOCK_NONBLOCK, is_stream(type));
	return (int)sys_ret(fd);
}

EXPORT int socketpair(int domain, int type, int protocol, int sv[2])
{
	STEP_ASIDE_FORWARD(socketpair, domain, type, protocol, sv);
	if (!sched_ready())
		return (int)sys_ret(raw_syscall(SYS_socketpair, domain, type, protocol, sv));
	long r = raw_syscall(SYS_socketpair, domain, type | SOCK_NONBLOCK, protocol, sv);
	if (r == 0) {
		fdtab_created(sv[0], type & SOCK_NONBLOCK, is_stream(type));
		fdtab_created(sv[1], type & SOCK_NONBLOCK, is_stream(type));
		fdtab_mark_pair(sv[0]);
		fdtab_mark_pair(sv[1]);
	}
	return (int)sys_ret(r);
}

struct accept_ctx {
	int fd;
	struct sockaddr *addr;
	socklen_t *len;
	int flags;
};

static long accept_attempt(void *p)
{
	struct accept_ctx *c = p;
	return raw_syscall(SYS_accept4, c->fd, c->addr, c->len, c->flags | SOCK_NONBLOCK);
}

EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	STEP_ASIDE_FORWARD(accept4, fd, addr, len, flags);
	struct fdinfo *fi = fdtab_parkable(fd);
	long r;
	if (!fi) {
		if (!sched_ready())
			return (int)sys_ret(raw_syscall(SYS_accept4, fd, addr, len, flags));
		/* The listener is not ours (or the program made it
		 * non-blocking): the new socket still is. */
		r = sys_cancelable(SYS_accept4, fd, addr, len, flags | SOCK_NONBLOCK);
	} else {
		struct accept_ctx c = {fd, addr, len, flags};
		struct netpoll_op op = {.code = NP_ACCEPT,
					.fd = fd,
					.flags = flags | SOCK_NONBLOCK,
					.addr = addr,
					.addrlen = len};
		r = io_call(fd, fi, IO_READ, &op, accept_attempt, &c);
	}
	if (r >= 0) {
		int type = 0;
		socklen_t tl = sizeof type;
		raw_syscall(SYS_getsockopt, r, SOL_SOCKET, SO_TYPE, &type, &tl);
		fdtab_created((int)r, flags & SOCK_NONBLOCK, is_stream(type));
	}
	return (int)sys_ret(r);
}

EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	STEP_ASIDE_FORWARD(accept, fd, addr, len);
	return accept4(fd, addr, len, 0);
}

/* Whether fd is writable now (connect finished, or failed). */
static bool writable_now(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	struct timespec zero = {0, 0};
	return raw_syscall(SYS_ppoll, &p, 1, &zero, NULL, 0, 0) > 0;
}

EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	STEP_ASIDE_FORWARD(connect, fd, addr, len);
	struct fdinfo *fi = fdtab_parkable(fd);
	if (!fi)
		return (int)sys_ret(sys_cancelable(SYS_connect, fd, addr, len));
	sched_cancel_point(); /* also when the connection completes at once */
	uint32_t gen = atomic_load(&fi->gen);
	int64_t deadline = io_deadline(fi, IO_WRITE);
	for (;;) {
		uint32_t seq = atomic_load(&fi->seq);
		long r = raw_syscall(SYS_connect, fd, addr, len);
		if (r == -EINPROGRESS)
			break;
		if (r != -EAGAIN) /* connected, refused at once, or a unix socket's backlog */
			return (int)sys_ret(r);
		int w = fd_wait(fi, fd, ARM_W, seq, gen, deadline);
		if (w)
			return (int)sys_ret(w == ETIMEDOUT ? -EINPROGRESS : -w);
	}
	/* In progress: wait until the socket is writable, then the outcome
	 * is in SO_ERROR (Go's connect). A timeout (SO_SNDTIMEO) leaves it
	 * in progress, as Linux reports it. */
	for (;;) {
		uint32_t seq = atomic_load(&fi->seq);
		if (writable_now(fd))
			break;
		int w = fd_wait(fi, fd, ARM_W, seq, gen, deadline);
		if (w)
			return (int)sys_ret(w == ETIMEDOUT ? -EINPROGRESS : -w);
	}
	int err = 0;
	socklen_t el = sizeof err;
	long r = raw_syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_ERROR, &err, &el);
	if (r < 0)
		return (int)sys_ret(r);
	return err ? (int)sys_ret(-err) : 0;
}

EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	STEP_ASIDE_FORWARD(setsockopt, fd, level, name, val, len);
	long r = raw_syscall(SYS_setsockopt, fd, level, name, val, len, 0);
	if (r == 0 && level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO) &&
	    len >= (socklen_t)sizeof(struct timeval)) {
		/* The kernel keeps the value (getsockopt reads it there); the
		 * waits happen here, since the fd never blocks underneath. */
		struct fdinfo *fi = sched_in_vfork_child() ? NULL : fdtab_get(fd, false);
		if (fi) {
			const struct timeval *tv = val;
			int64_t ns = (int64_t)tv->tv_sec * 1000000000 + (int64_t)tv->tv_usec * 1000;
			atomic_store(name == SO_RCVTIMEO ? &fi->rcvtimeo_ns : &fi->sndtimeo_ns, ns);
		}
	}
	return (int)sys_ret(r);
}
