/* syscalls/io_rw.c - read, write and their vector and positional forms.
 *
 * On a polled fd the G parks instead of the kernel thread. A blocking
 * write to a pipe or stream socket returns only when everything is
 * written (or on an error or SO_SNDTIMEO after part of it), as the kernel
 * does for a blocking fd; the attempt underneath is non-blocking and may
 * write less. Positional calls (pread, pwrite, ...) are for files: plain
 * system calls inside entersyscall. */
#include "syscalls/io_common.h"
#include "syscalls/netpoll.h"

#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

struct rw_ctx {
	int fd;
	void *buf;
	size_t n;
	const struct iovec *iov;
	int iovcnt;
};

static long read_attempt(void *p)
{
	struct rw_ctx *c = p;
	return raw_syscall(SYS_read, c->fd, c->buf, c->n);
}

static long readv_attempt(void *p)
{
	struct rw_ctx *c = p;
	return raw_syscall(SYS_readv, c->fd, c->iov, c->iovcnt);
}

static long write_attempt(void *p)
{
	struct rw_ctx *c = p;
	return raw_syscall(SYS_write, c->fd, c->buf, c->n);
}

static long writev_attempt(void *p)
{
	struct rw_ctx *c = p;
	return raw_syscall(SYS_writev, c->fd, c->iov, c->iovcnt);
}

EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	STEP_ASIDE_FORWARD(read, fd, buf, n);
	struct fdinfo *fi = fdtab_parkable(fd);
	if (!fi)
		return sys_ret(sys_cancelable(SYS_read, fd, buf, n));
	struct rw_ctx c = {.fd = fd, .buf = buf, .n = n};
	struct netpoll_op op = {.code = NP_READ, .fd = fd, .buf = buf, .len = io_len(n)};
	return sys_ret(io_call(fd, fi, IO_READ, &op, read_attempt, &c));
}

EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	STEP_ASIDE_FORWARD(__read_chk, fd, buf, n, buflen);
	if (n > buflen)
		__builtin_trap(); /* glibc's __chk_fail: a buffer overflow */
	return read(fd, buf, n);
}

EXPORT ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
	STEP_ASIDE_FORWARD(readv, fd, iov, iovcnt);
	struct fdinfo *fi = fdtab_parkable(fd);
	if (!fi)
		return sys_ret(sys_cancelable(SYS_readv, fd, iov, iovcnt));
	struct rw_ctx c = {.fd = fd, .iov = iov, .iovcnt = iovcnt};
	struct netpoll_op op = {
	    .code = NP_READV, .fd = fd, .buf = (void *)iov, .len = (size_t)iovcnt};
	return sys_ret(io_call(fd, fi, IO_READ, iovcnt > 0 ? &op : NULL, readv_attempt, &c));
}

EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	STEP_ASIDE_FORWARD(write, fd, buf, n);
	struct fdinfo *fi = fdtab_parkable(fd);
	if (!fi)
		return sys_ret(sys_cancelable(SYS_write, fd, buf, n));
	bool stream = atomic_load_explicit(&fi->stream, memory_order_relaxed);
	size_t done = 0;
	do {
		struct rw_ctx c = {.fd = fd, .buf = (char *)buf + done, .n = n - done};
		struct netpoll_op op = {
		    .code = NP_WRITE, .fd = fd, .buf = c.buf, .len = io_len(c.n)};
		long r = io_call(fd, fi, IO_WRITE, &op, write_attempt, &c);
		if (r < 0)
			return done ? (ssize_t)done : sys_ret(r);
		done += (size_t)r;
	} while (stream && done < n);
	return (ssize_t)done;
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	STEP_ASIDE_FORWARD(writev, fd, iov, iovcnt);
	struct fdinfo *fi = fdtab_parkable(fd);
	if (!fi)
		return sys_ret(sys_cancelable(SYS_writev, fd, iov, iovcnt));
	struct rw_ctx c = {.fd = fd, .iov = iov, .iovcnt = iovcnt};
	struct netpoll_op op = {
	    .code = NP_WRITEV, .fd = fd, .buf = (void *)iov, .len = (size_t)iovcnt};
	long r = io_call(fd, fi, IO_WRITE, iovcnt > 0 ? &op : NULL, writev_attempt, &c);
	if (r < 0 || !atomic_load(&fi->stream) || iovcnt <= 0)
		return sys_ret(r);
	size_t total = 0;
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if ((size_t)r >= total)
		return r;
	/* Partial: the rest goes out from a copy of the vector, advanced
	 * past what was written. */
	struct iovec small[16], *copy = iovcnt <= 16 ? small : malloc(sizeof *copy * iovcnt);
	if (!copy)
		return r;
	size_t done = (size_t)r;
	while (done < total) {
		memcpy(copy, iov, sizeof *copy * iovcnt);
		struct iovec *first;
		int left = io_iov_advance(copy, iovcnt, done, &first);
		struct rw_ctx c2 = {.fd = fd, .iov = first, .iovcnt = left};
		struct netpoll_op op2 = {
		    .code = NP_WRITEV, .fd = fd, .buf = first, .len = (size_t)left};
		long w = io_call(fd, fi, IO_WRITE, &op2, writev_attempt, &c2);
		if (w < 0)
			break;
		done += (size_t)w;
	}
	if (copy != small)
		free(copy);
	return (ssize_t)done;
}

EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	STEP_ASIDE_FORWARD(pread, fd, buf, n, off);
	return sys_ret(sys_cancelable(SYS_pread64, fd, buf, n, off));
}
EXPORT ssize_t pread64(int fd, void *buf, size_t n, off_t off) __attribute__((alias("pread")));

EXPORT ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
{
	STEP_ASIDE_FORWARD(__pread_chk, fd, buf, n, off, buflen);
	if (n > buflen)
		__builtin_trap();
	return pread(fd, buf, n, off);
}
EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
    __attribute__((alias("__pread_chk")));

EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	STEP_ASIDE_FORWARD(pwrite, fd, buf, n, off);
	return sys_ret(sys_cancelable(SYS_pwrite64, fd, buf, n, off));
}
EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
    __attribute__((alias("pwrite")));

/* The kernel takes the offset in two halves (low, high); on x86-64 the
 * high half is 0. */
EXPORT ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
	STEP_ASIDE_FORWARD(preadv, fd, iov, cnt, off);
	return sys_ret(sys_cancelable(SYS_preadv, fd, iov, cnt, off, 0, 0));
}
EXPORT ssize_t preadv64(int fd, const struct iovec *iov, int cnt, off_t off)
    __attribute__((alias("preadv")));

EXPORT ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	STEP_ASIDE_FORWARD(pwritev, fd, iov, cnt, off);
	return sys_ret(sys_cancelable(SYS_pwritev, fd, iov, cnt, off, 0, 0));
}
EXPORT ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off_t off)
    __attribute__((alias("pwritev")));
