/* syscalls/io_park.c - the retry loop of every interposed blocking call
 * on a polled fd (Go: poll.FD.Read's loop around pollDesc.waitRead). */
#include "syscalls/io_common.h"

#include <sys/uio.h>

int64_t io_deadline(struct fdinfo *fi, enum io_dir dir)
{
	int64_t t = atomic_load_explicit(dir == IO_READ ? &fi->rcvtimeo_ns : &fi->sndtimeo_ns,
					 memory_order_relaxed);
	return t ? nanotime() + t : 0;
}

long io_park_loop(int fd, struct fdinfo *fi, enum io_dir dir, io_attempt_fn attempt, void *ctx)
{
	uint32_t gen = atomic_load(&fi->gen);
	int64_t deadline = io_deadline(fi, dir);
	for (;;) {
		/* seq before the attempt: an event after the attempt's
		 * EAGAIN moves it, and fd_wait then does not park. */
		uint32_t seq = atomic_load(&fi->seq);
		long r = attempt(ctx);
		if (r != -EAGAIN)
			return r;
		int w = fd_wait(fi, fd, seq, gen, deadline);
		if (w == EBADF)
			return -EBADF;
		if (w == ETIMEDOUT)
			return -EAGAIN; /* what Linux returns when SO_*TIMEO expires */
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
