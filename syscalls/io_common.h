/* syscalls/io_common.h - the shape every interposed blocking call takes.
 *
 *   fi = fdtab_parkable(fd)   NULL: not ours, or the program wants
 *                             O_NONBLOCK, or not called from a G
 *   if (!fi) -> the plain system call, inside entersyscall/exitsyscall
 *   else     -> io_park_loop: attempt without blocking; on EAGAIN park
 *               on the netpoller until the fd's seq moves, then retry.
 *
 * Attempts return what the raw system call returns: >= 0, or -errno. */
/* The interposed symbols are the plain names (pread, not pread64): with
 * _FILE_OFFSET_BITS=64 glibc's headers would rename our definitions. The
 * 64-bit names are aliases; on x86-64 both take a 64-bit off_t. */
#undef _FILE_OFFSET_BITS

#ifndef GMPT_IO_COMMON_H
#define GMPT_IO_COMMON_H

#include "arch/syscall.h"
#include "sched/sched.h"
#include "sched/step_aside.h"
#include "syscalls/fdtab.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EXPORT __attribute__((visibility("default")))

/* A system call that may block, made by the kernel thread itself. The P
 * stays with it unless sysmon sees the call last (retake). */
#define sys_in_kernel(...)                                                                         \
	({                                                                                         \
		sched_enter_syscall();                                                             \
		long r_ = raw_syscall(__VA_ARGS__);                                                \
		sched_exit_syscall();                                                              \
		r_;                                                                                \
	})
/* The same at a cancellation point (read, recv, poll ...): a
 * cancellation stops the call before or while it blocks
 * (sched_syscall_cancelable); sys_cancelable comes from sched.h. */
/* libc's convention from a raw result. */
static inline long sys_ret(long r)
{
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

enum io_dir { IO_READ, IO_WRITE };

/* One non-blocking attempt of the call being made. */
typedef long (*io_attempt_fn)(void *ctx);

/* Attempt until the call does not fail with EAGAIN, parking between
 * attempts; honours SO_RCVTIMEO/SO_SNDTIMEO (EAGAIN at the deadline, as
 * Linux) and a close by another thread (EBADF). Returns a raw result. */
long io_park_loop(int fd, struct fdinfo *fi, enum io_dir dir, io_attempt_fn attempt, void *ctx);

/* io_park_loop, or the whole call as one netpoller operation (op) when
 * the backend can (io_uring): the G parks once and the request goes to
 * the kernel with the next batch. op NULL: readiness only. */
struct netpoll_op;
long io_call(int fd, struct fdinfo *fi, enum io_dir dir, const struct netpoll_op *op,
	     io_attempt_fn attempt, void *ctx);

/* Drops the first skip bytes of iov[0..cnt) in place; *first is the
 * first iovec left, the return value how many are left. */
struct iovec;
int io_iov_advance(struct iovec *iov, int cnt, size_t skip, struct iovec **first);

/* A length the kernel's 32-bit operation fields can carry (read and
 * write never move more than this in one call anyway). */
static inline size_t io_len(size_t n)
{
	return n > 0x7ffff000 ? 0x7ffff000 : n;
}

/* The timeout in force for dir on fi, as a deadline (0: none). */
int64_t io_deadline(struct fdinfo *fi, enum io_dir dir);

#endif
