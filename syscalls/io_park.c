/* syscalls/io_park.c - the retry loop of every interposed blocking call
 * on a polled fd (Go: poll.FD.Read's loop around pollDesc.waitRead). */
#include "syscalls/io_common.h"
#include "syscalls/netpoll.h"

#include <sys/uio.h>

int64_t io_deadline(struct fdinfo *fi, enum io_dir dir)
{
	int64_t t = atomic_load_explicit(dir == IO_READ ? &fi->rcvtimeo_ns : &fi->sndtimeo_ns,
					 memory_order_relaxed);
	return t ? nanotime() + t : 0;
}

long io_park_loop(int fd, struct fdinfo *fi, enum io_dir dir, io_attempt_fn attempt, void *ctx)
{
	/* Every caller is a cancellation point: a pending cancellation acts
	 * before the call, as glibc's, even when the call would not wait (a
	 * write that gets EPIPE, an accept with a connection queued). */
	sched_cancel_point();
	uint32_t gen = atomic_load(&fi->gen);
	int64_t deadline = io_deadline(fi, dir);
	sched_sig_handled_clear();
	for (;;) {
		/* seq before the attempt: an event after the attempt's
		 * EAGAIN moves it, and fd_wait then does not park. */
		uint32_t seq = atomic_load(&fi->seq);
		/* Inside entersyscall although it should not block: the fd's
		 * description may have been made blocking under us (shared
		 * with an exec'd child, exec.c); then sysmon retakes the P. */
		sched_enter_syscall();
		long r = attempt(ctx);
		sched_exit_syscall();
		if (r != -EAGAIN)
			return r;
		int w = fd_wait(fi, fd, dir == IO_READ ? ARM_R : ARM_W, seq, gen, deadline);
		if (w == EBADF)
			return -EBADF;
		if (w == ETIMEDOUT)
			return -EAGAIN; /* what Linux returns when SO_*TIMEO expires */
		/* A handler ran while the call waited: reads, writes, accept
		 * restart with SA_RESTART, unless a socket timeout is set
		 * (then Linux fails them with EINTR whatever the flag says). */
		if (w == EINTR || (w == ERESTART && deadline))
			return -EINTR;
	}
}

int io_iov_advance(struct iovec *iov, int cnt, size_t skip, struct iovec **first)
{
	int i = 0;
	while (i < cnt && skip >= iov[i].iov_len)
		skip -= iov[i++].iov_len;
	if (i < cnt) {
		iov[i].iov_base = (char *)iov[i].iov_base + skip;
		iov[i].iov_len -= skip;
	}
	*first = iov + i;
	return cnt - i;
}

long io_call(int fd, struct fdinfo *fi, enum io_dir dir, const struct netpoll_op *op,
	     io_attempt_fn attempt, void *ctx)
{
	sched_cancel_point(); /* as in io_park_loop */
	/* A whole operation in the kernel when the backend can do it for a
	 * G and no socket timeout needs the readiness path's deadline, on an
	 * end of a pipe or socketpair: a hand-off between threads of this
	 * process, where queuing the writer's write with the reader's read
	 * makes the hand-off one io_uring_enter. Sockets to peers use
	 * readiness: an operation's completion costs a task_work interrupt
	 * of the submitting thread, which on this kind of VM costs more than
	 * the retry it saves (docs/perf.md). */
	if (op && sched_current() && atomic_load_explicit(&fi->pair, memory_order_relaxed) &&
	    !atomic_load_explicit(dir == IO_READ ? &fi->rcvtimeo_ns : &fi->sndtimeo_ns,
				  memory_order_relaxed)) {
		uint32_t gen = atomic_load(&fi->gen);
		sched_sig_handled_clear();
		long r = netpoll_op(fi, op);
		if (r == -ECANCELED && atomic_load(&fi->gen) != gen)
			return -EBADF; /* closed by another thread while in flight */
		/* Cancelled because a handler without SA_RESTART ran. */
		if (r == -ECANCELED && (sched_sig_handled_take() & SCHED_SIG_NORESTART))
			return -EINTR;
		if (r != -ENOSYS && r != -EAGAIN && r != -ECANCELED)
			return r;
	}
	return io_park_loop(fd, fi, dir, attempt, ctx);
}
