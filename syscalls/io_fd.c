/* syscalls/io_fd.c - the calls that create, copy, close and configure
 * descriptors, keeping the fd table true (fdtab.h).
 *
 * Created here non-blocking underneath: pipes, sockets (io_socket.c),
 * eventfd, timerfd, signalfd, inotify and epoll fds. The program's own
 * O_NONBLOCK lives in the table: fcntl(F_GETFL) reports it, F_SETFL and
 * ioctl(FIONBIO) change it there while the fd stays non-blocking. */
#include "syscalls/io_common.h"
#include "sched/real.h"

#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

static bool ours(int fd)
{
	struct fdinfo *fi = fdtab_get(fd, false);
	return fi && atomic_load(&fi->kind) == FD_POLLED;
}

EXPORT int close(int fd)
{
	STEP_ASIDE_FORWARD(close, fd);
	/* A cancellation point, acting before anything is closed (close
	 * does not block, so nothing is stopped half-way). */
	sched_cancel_point();
	/* Before the close: once the number is free another thread may get
	 * it from open() and must not find our state (or our waiters). */
	fdtab_closing(fd);
	return (int)sys_ret(raw_syscall(SYS_close, fd));
}

EXPORT int dup(int fd)
{
	STEP_ASIDE_FORWARD(dup, fd);
	long r = raw_syscall(SYS_dup, fd);
	if (r >= 0)
		fdtab_dup(fd, (int)r);
	return (int)sys_ret(r);
}

/* A descriptor put at 0, 1 or 2 is stdio's, which reads and writes
 * through libc's internal calls: it must be blocking underneath. Its
 * description is shared with oldfd, whose calls then go the blocking way
 * too (they would be correct anyway: see exec.c). */
static void stdio_slot(int oldfd, int newfd)
{
	if (newfd > 2 || sched_in_vfork_child() || !ours(newfd))
		return;
	long fl = raw_syscall(SYS_fcntl, newfd, F_GETFL);
	if (fl >= 0 && !fdtab_user_nonblock(fdtab_get(newfd, false)))
		raw_syscall(SYS_fcntl, newfd, F_SETFL, fl & ~O_NONBLOCK);
	atomic_store(&fdtab_get(newfd, false)->kind, FD_BLOCKING);
	if (ours(oldfd))
		atomic_store(&fdtab_get(oldfd, false)->kind, FD_BLOCKING);
}

/* dup2 and dup3 close newfd first; its netpoll registration and
 * operations in flight must go before that (they name the old file), but
 * not if the call then fails on oldfd and leaves newfd as it was. Checking
 * oldfd first leaves only a race the program itself made (another thread
 * closing oldfd meanwhile). */
static long dup_onto(long nr, int oldfd, int newfd, int flags)
{
	if (oldfd != newfd && newfd >= 0) {
		if (raw_syscall(SYS_fcntl, oldfd, F_GETFD) < 0)
			return -EBADF;
		fdtab_closing(newfd);
	}
	long r = nr == SYS_dup3 ? raw_syscall(SYS_dup3, oldfd, newfd, flags)
				: raw_syscall(SYS_dup2, oldfd, newfd);
	if (r >= 0 && oldfd != newfd) {
		fdtab_dup(oldfd, newfd);
		stdio_slot(oldfd, newfd);
	}
	return r;
}

EXPORT int dup3(int oldfd, int newfd, int flags)
{
	STEP_ASIDE_FORWARD(dup3, oldfd, newfd, flags);
	return (int)sys_ret(dup_onto(SYS_dup3, oldfd, newfd, flags));
}

EXPORT int dup2(int oldfd, int newfd)
{
	STEP_ASIDE_FORWARD(dup2, oldfd, newfd);
	return (int)sys_ret(dup_onto(SYS_dup2, oldfd, newfd, 0));
}

EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	long arg = va_arg(ap, long);
	va_end(ap);
	STEP_ASIDE_FORWARD(fcntl, fd, cmd, arg);
	struct fdinfo *fi;
	long r;
	switch (cmd) {
	case F_GETFL:
		r = raw_syscall(SYS_fcntl, fd, cmd);
		if (r >= 0 && ours(fd)) {
			fi = fdtab_get(fd, false);
			r = (r & ~O_NONBLOCK) | (fdtab_user_nonblock(fi) ? O_NONBLOCK : 0);
		}
		return (int)sys_ret(r);
	case F_SETFL:
		/* A vfork child cannot record it: the kernel's, as asked. */
		if (!ours(fd) || sched_in_vfork_child())
			break;
		r = raw_syscall(SYS_fcntl, fd, cmd, arg | O_NONBLOCK);
		if (r == 0)
			fdtab_set_user_nonblock(fdtab_get(fd, false), (arg & O_NONBLOCK) != 0);
		return (int)sys_ret(r);
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		r = raw_syscall(SYS_fcntl, fd, cmd, arg);
		if (r >= 0)
			fdtab_dup(fd, (int)r);
		return (int)sys_ret(r);
	case F_SETLKW:
	case F_OFD_SETLKW:
		/* Waits for another process: hand the P off at once. A
		 * cancellation point (glibc's fcntl is one for these). */
		return (int)sys_ret(sys_cancelable_blocking(SYS_fcntl, fd, cmd, arg));
	}
	return (int)sys_ret(raw_syscall(SYS_fcntl, fd, cmd, arg));
}
EXPORT int fcntl64(int fd, int cmd, ...) __attribute__((alias("fcntl")));

EXPORT int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	va_start(ap, req);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	STEP_ASIDE_FORWARD(ioctl, fd, req, arg);
	if (req == FIONBIO && ours(fd) && !sched_in_vfork_child()) {
		/* Recorded, not passed on: underneath it stays non-blocking. */
		int on;
		if (!arg)
			return (int)sys_ret(-EFAULT);
		on = *(int *)arg;
		fdtab_set_user_nonblock(fdtab_get(fd, false), on != 0);
		return 0;
	}
	return (int)sys_ret(raw_syscall(SYS_ioctl, fd, req, arg));
}

/* ---- creation ---- */

static int created2(long r, int fds[2], bool nonblock, bool stream)
{
	if (r == 0 && sched_ready()) {
		fdtab_created(fds[0], nonblock, stream);
		fdtab_created(fds[1], nonblock, stream);
		fdtab_mark_pair(fds[0]);
		fdtab_mark_pair(fds[1]);
	}
	return (int)sys_ret(r);
}

EXPORT int pipe2(int fds[2], int flags)
{
	STEP_ASIDE_FORWARD(pipe2, fds, flags);
	int extra = sched_ready() ? O_NONBLOCK : 0;
	long r = raw_syscall(SYS_pipe2, fds, flags | extra);
	return created2(r, fds, flags & O_NONBLOCK, !(flags & O_DIRECT));
}

EXPORT int pipe(int fds[2])
{
	STEP_ASIDE_FORWARD(pipe, fds);
	return pipe2(fds, 0);
}

static int created1(long r, bool nonblock)
{
	if (r >= 0 && sched_ready())
		fdtab_created((int)r, nonblock, false);
	return (int)sys_ret(r);
}

EXPORT int eventfd(unsigned int initval, int flags)
{
	STEP_ASIDE_FORWARD(eventfd, initval, flags);
	int extra = sched_ready() ? EFD_NONBLOCK : 0;
	return created1(raw_syscall(SYS_eventfd2, initval, flags | extra), flags & EFD_NONBLOCK);
}

EXPORT int timerfd_create(int clockid, int flags)
{
	STEP_ASIDE_FORWARD(timerfd_create, clockid, flags);
	int extra = sched_ready() ? TFD_NONBLOCK : 0;
	return created1(raw_syscall(SYS_timerfd_create, clockid, flags | extra),
			flags & TFD_NONBLOCK);
}

EXPORT int signalfd(int fd, const sigset_t *mask, int flags)
{
	STEP_ASIDE_FORWARD(signalfd, fd, mask, flags);
	if (fd != -1) /* changes the mask of an existing signalfd */
		return (int)sys_ret(raw_syscall(SYS_signalfd4, fd, mask, _NSIG / 8, flags));
	int extra = sched_ready() ? SFD_NONBLOCK : 0;
	return created1(raw_syscall(SYS_signalfd4, fd, mask, _NSIG / 8, flags | extra),
			flags & SFD_NONBLOCK);
}

EXPORT int inotify_init1(int flags)
{
	STEP_ASIDE_FORWARD(inotify_init1, flags);
	int extra = sched_ready() ? IN_NONBLOCK : 0;
	return created1(raw_syscall(SYS_inotify_init1, flags | extra), flags & IN_NONBLOCK);
}

EXPORT int inotify_init(void)
{
	STEP_ASIDE_FORWARD(inotify_init);
	return inotify_init1(0);
}

/* epoll_wait's blocking is done by waiting for the epoll fd itself; the
 * fd's O_NONBLOCK does not matter to epoll_wait, so nothing to set. */
EXPORT int epoll_create1(int flags)
{
	STEP_ASIDE_FORWARD(epoll_create1, flags);
	return created1(raw_syscall(SYS_epoll_create1, flags), false);
}

EXPORT int epoll_create(int size)
{
	STEP_ASIDE_FORWARD(epoll_create, size);
	if (size <= 0)
		return (int)sys_ret(-EINVAL);
	return epoll_create1(0);
}

/* ---- stdio over our descriptors ---- */

/* stdio reads and writes through libc's internal calls, which gmpt does
 * not see: on one of our fds they would meet EAGAIN, or, made blocking,
 * hold the P while they wait (a deadlock with one P if the other end is a
 * thread of this process). So fdopen of one of our fds makes a cookie
 * stream whose reads and writes are gmpt's own read() and write(), and
 * fileno() on it still answers the fd. Other fds get glibc's fdopen. */
struct fd_cookie {
	int fd;
	FILE *file;
	struct fd_cookie *next;
};

static struct rtlock cookies_lock;
static struct fd_cookie *cookies;

static ssize_t cookie_read(void *c, char *buf, size_t n)
{
	return read(((struct fd_cookie *)c)->fd, buf, n);
}

static ssize_t cookie_write(void *c, const char *buf, size_t n)
{
	ssize_t r = write(((struct fd_cookie *)c)->fd, buf, n);
	return r < 0 ? 0 : r; /* fopencookie: 0 reports the error */
}

static int cookie_close(void *p)
{
	struct fd_cookie *c = p;
	rtlock_lock(&cookies_lock);
	for (struct fd_cookie **pp = &cookies; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	rtlock_unlock(&cookies_lock);
	int r = close(c->fd);
	free(c);
	return r;
}

typedef FILE *(*fdopen_fn)(int, const char *);
typedef int (*fileno_fn)(FILE *);

EXPORT FILE *fdopen(int fd, const char *mode)
{
	STEP_ASIDE_FORWARD(fdopen, fd, mode);
	if (!ours(fd) || !mode)
		return REAL(fdopen_fn, fdopen)(fd, mode);
	long fl = raw_syscall(SYS_fcntl, fd, F_GETFL);
	if (fl < 0) {
		sys_ret(fl);
		return NULL;
	}
	bool wants_write = mode[0] != 'r' || strchr(mode, '+');
	bool wants_read = mode[0] == 'r' || strchr(mode, '+');
	int acc = (int)(fl & O_ACCMODE);
	if ((wants_write && acc == O_RDONLY) || (wants_read && acc == O_WRONLY)) {
		errno = EINVAL; /* glibc's fdopen checks the same */
		return NULL;
	}
	struct fd_cookie *c = malloc(sizeof *c);
	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	c->fd = fd;
	cookie_io_functions_t io = {cookie_read, cookie_write, NULL, cookie_close};
	FILE *f = fopencookie(c, mode, io);
	if (!f) {
		free(c);
		return NULL;
	}
	c->file = f;
	rtlock_lock(&cookies_lock);
	c->next = cookies;
	cookies = c;
	rtlock_unlock(&cookies_lock);
	return f;
}

static int cookie_fd(FILE *f)
{
	int fd = -1;
	if (!atomic_load_explicit((_Atomic(struct fd_cookie *) *)&cookies, memory_order_relaxed))
		return -1;
	rtlock_lock(&cookies_lock);
	for (struct fd_cookie *c = cookies; c; c = c->next)
		if (c->file == f)
			fd = c->fd;
	rtlock_unlock(&cookies_lock);
	return fd;
}

EXPORT int fileno(FILE *f)
{
	STEP_ASIDE_FORWARD(fileno, f);
	int fd = cookie_fd(f);
	return fd >= 0 ? fd : REAL(fileno_fn, fileno)(f);
}

EXPORT int fileno_unlocked(FILE *f)
{
	STEP_ASIDE_FORWARD(fileno_unlocked, f);
	int fd = cookie_fd(f);
	return fd >= 0 ? fd : REAL(fileno_fn, fileno_unlocked)(f);
}

typedef int (*fclose_fn)(FILE *);

/* fclose closes the fd inside libc: the netpoller must let go of it too
 * (a poll or operation in flight would keep the file open). f is never
 * NULL (glibc's fclose would crash on it; newer headers declare it
 * nonnull). */
EXPORT int fclose(FILE *f)
{
	STEP_ASIDE_FORWARD(fclose, f);
	if (cookie_fd(f) < 0) {
		int fd = REAL(fileno_fn, fileno)(f);
		if (fd >= 0)
			fdtab_closing(fd);
	}
	return REAL(fclose_fn, fclose)(f);
}
