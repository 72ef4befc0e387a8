/* syscalls/cancel_points.c - glibc's cancellation points that gmpt would
 * otherwise leave to glibc: opening files, syncing them, draining a
 * terminal, waiting for a lock or a message. glibc tests its own
 * cancellation state in these, which gmpt's threads never set; here the
 * call is made through sched_syscall_cancelable, so pthread_cancel stops
 * a thread blocked in one (a FIFO's open, a lockf on a file another
 * process holds, an fsync on a slow disk). Calls that only might block
 * keep the P (sysmon retakes it); those that wait for another process
 * hand it off. Outside a G, the plain system call. */
#include "syscalls/io_common.h"
#include "sched/real.h"

#include <fcntl.h>
#include <mqueue.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

/* open's mode argument exists only with O_CREAT or O_TMPFILE. */
#define OPEN_MODE(flags, mode)                                                                     \
	do {                                                                                       \
		if ((flags)&O_CREAT || ((flags)&O_TMPFILE) == O_TMPFILE) {                         \
			va_list ap;                                                                \
			va_start(ap, flags);                                                       \
			mode = va_arg(ap, mode_t);                                                 \
			va_end(ap);                                                                \
		}                                                                                  \
	} while (0)

static int open_at(int dirfd, const char *path, int flags, mode_t mode)
{
	return (int)sys_ret(sys_cancelable(SYS_openat, dirfd, path, flags, mode));
}

EXPORT int open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	OPEN_MODE(flags, mode);
	STEP_ASIDE_FORWARD(open, path, flags, mode);
	return open_at(AT_FDCWD, path, flags, mode);
}
EXPORT int open64(const char *path, int flags, ...) __attribute__((alias("open")));

EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	OPEN_MODE(flags, mode);
	STEP_ASIDE_FORWARD(openat, dirfd, path, flags, mode);
	return open_at(dirfd, path, flags, mode);
}
EXPORT int openat64(int dirfd, const char *path, int flags, ...) __attribute__((alias("openat")));

EXPORT int creat(const char *path, mode_t mode)
{
	STEP_ASIDE_FORWARD(creat, path, mode);
	return open_at(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}
EXPORT int creat64(const char *path, mode_t mode) __attribute__((alias("creat")));

/* _FORTIFY_SOURCE's checked forms: called when the mode argument was
 * not needed, and glibc aborts if the flags did need one. */
EXPORT int __open_2(const char *path, int flags)
{
	STEP_ASIDE_FORWARD(__open_2, path, flags);
	if (flags & O_CREAT || (flags & O_TMPFILE) == O_TMPFILE)
		__builtin_trap(); /* glibc's __fortify_fail: open with O_CREAT needs a mode */
	return open_at(AT_FDCWD, path, flags, 0);
}
EXPORT int __open64_2(const char *path, int flags) __attribute__((alias("__open_2")));

EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	STEP_ASIDE_FORWARD(__openat_2, dirfd, path, flags);
	if (flags & O_CREAT || (flags & O_TMPFILE) == O_TMPFILE)
		__builtin_trap();
	return open_at(dirfd, path, flags, 0);
}
EXPORT int __openat64_2(int dirfd, const char *path, int flags)
    __attribute__((alias("__openat_2")));

EXPORT int fsync(int fd)
{
	STEP_ASIDE_FORWARD(fsync, fd);
	return (int)sys_ret(sys_cancelable(SYS_fsync, fd));
}

EXPORT int fdatasync(int fd)
{
	STEP_ASIDE_FORWARD(fdatasync, fd);
	return (int)sys_ret(sys_cancelable(SYS_fdatasync, fd));
}

EXPORT int msync(void *addr, size_t len, int flags)
{
	STEP_ASIDE_FORWARD(msync, addr, len, flags);
	return (int)sys_ret(sys_cancelable(SYS_msync, addr, len, flags));
}

/* glibc's tcdrain: TCSBRK with a non-zero argument waits for the output
 * to drain and sends no break. */
EXPORT int tcdrain(int fd)
{
	STEP_ASIDE_FORWARD(tcdrain, fd);
	return (int)sys_ret(sys_cancelable_blocking(SYS_ioctl, fd, TCSBRK, 1));
}

/* lockf(F_LOCK) waits for another process's lock: a cancellation point
 * (the others do not block and stay glibc's). The region is glibc's:
 * from the current offset, len bytes (0: to the end, for ever). */
typedef int (*lockf_fn)(int, int, off_t);
EXPORT int lockf(int fd, int cmd, off_t len)
{
	STEP_ASIDE_FORWARD(lockf, fd, cmd, len);
	if (cmd != F_LOCK)
		return REAL(lockf_fn, lockf)(fd, cmd, len);
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_CUR, .l_start = 0, .l_len = len};
	return (int)sys_ret(sys_cancelable_blocking(SYS_fcntl, fd, F_SETLKW, &fl));
}
EXPORT int lockf64(int fd, int cmd, off_t len) __attribute__((alias("lockf")));

EXPORT ssize_t msgrcv(int id, void *msg, size_t size, long type, int flags)
{
	STEP_ASIDE_FORWARD(msgrcv, id, msg, size, type, flags);
	if (flags & IPC_NOWAIT) {
		sched_cancel_point();
		return sys_ret(raw_syscall(SYS_msgrcv, id, msg, size, type, flags));
	}
	return sys_ret(sys_cancelable_blocking(SYS_msgrcv, id, msg, size, type, flags));
}

EXPORT int msgsnd(int id, const void *msg, size_t size, int flags)
{
	STEP_ASIDE_FORWARD(msgsnd, id, msg, size, flags);
	if (flags & IPC_NOWAIT) {
		sched_cancel_point();
		return (int)sys_ret(raw_syscall(SYS_msgsnd, id, msg, size, flags));
	}
	return (int)sys_ret(sys_cancelable_blocking(SYS_msgsnd, id, msg, size, flags));
}

/* POSIX message queues (in libc since glibc 2.34). A queue opened with
 * O_NONBLOCK fails with EAGAIN instead of blocking; the P is handed off
 * either way, which costs a non-blocking call little. */
static long mq_send_raw(mqd_t q, const char *msg, size_t len, unsigned prio,
			const struct timespec *abs)
{
	return sys_cancelable_blocking(SYS_mq_timedsend, q, msg, len, prio, abs);
}

static long mq_receive_raw(mqd_t q, char *msg, size_t len, unsigned *prio,
			   const struct timespec *abs)
{
	return sys_cancelable_blocking(SYS_mq_timedreceive, q, msg, len, prio, abs);
}

EXPORT int mq_timedsend(mqd_t q, const char *msg, size_t len, unsigned prio,
			const struct timespec *abs)
{
	STEP_ASIDE_FORWARD(mq_timedsend, q, msg, len, prio, abs);
	return (int)sys_ret(mq_send_raw(q, msg, len, prio, abs));
}

EXPORT ssize_t mq_timedreceive(mqd_t q, char *msg, size_t len, unsigned *prio,
			       const struct timespec *abs)
{
	STEP_ASIDE_FORWARD(mq_timedreceive, q, msg, len, prio, abs);
	return sys_ret(mq_receive_raw(q, msg, len, prio, abs));
}

EXPORT int mq_send(mqd_t q, const char *msg, size_t len, unsigned prio)
{
	STEP_ASIDE_FORWARD(mq_send, q, msg, len, prio);
	return (int)sys_ret(mq_send_raw(q, msg, len, prio, NULL));
}

EXPORT ssize_t mq_receive(mqd_t q, char *msg, size_t len, unsigned *prio)
{
	STEP_ASIDE_FORWARD(mq_receive, q, msg, len, prio);
	return sys_ret(mq_receive_raw(q, msg, len, prio, NULL));
}
