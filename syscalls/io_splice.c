/* syscalls/io_splice.c - sendfile and splice. Either end may be one of
 * our non-blocking fds; the attempt is non-blocking and, on EAGAIN, the G
 * waits for whichever end is ours (both, if both are: any event retries). */
#include "syscalls/io_common.h"

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>

struct xfer_ctx {
	long nr;
	long a[6];
};

static long xfer_attempt(void *p)
{
	struct xfer_ctx *c = p;
	return raw_syscall(c->nr, c->a[0], c->a[1], c->a[2], c->a[3], c->a[4], c->a[5]);
}

/* out is written, in is read: park on the end that is ours. When both are
 * ours, the G parks on the input (what usually runs dry) and also retries
 * every millisecond, since the output's events do not wake it. */
static long xfer(int in, int out, struct xfer_ctx *c)
{
	struct fdinfo *fo = fdtab_parkable(out), *fin = fdtab_parkable(in);
	if (!fo && !fin)
		return sys_in_kernel(c->nr, c->a[0], c->a[1], c->a[2], c->a[3], c->a[4], c->a[5]);
	if (fo && !fin)
		return io_park_loop(out, fo, IO_WRITE, xfer_attempt, c);
	if (fin && !fo)
		return io_park_loop(in, fin, IO_READ, xfer_attempt, c);
	uint32_t gen = atomic_load(&fin->gen);
	for (;;) {
		uint32_t seq = atomic_load(&fin->seq);
		long r = xfer_attempt(c);
		if (r != -EAGAIN)
			return r;
		if (fd_wait(fin, in, ARM_R, seq, gen, nanotime() + 1000000) == EBADF)
			return -EBADF;
	}
}

EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t n)
{
	STEP_ASIDE_FORWARD(sendfile, out, in, off, n);
	struct xfer_ctx c = {SYS_sendfile, {out, in, (long)off, (long)n, 0, 0}};
	return sys_ret(xfer(in, out, &c));
}
EXPORT ssize_t sendfile64(int out, int in, off_t *off, size_t n) __attribute__((alias("sendfile")));

EXPORT ssize_t splice(int in, loff_t *off_in, int out, loff_t *off_out, size_t n,
		      unsigned int flags)
{
	STEP_ASIDE_FORWARD(splice, in, off_in, out, off_out, n, flags);
	struct xfer_ctx c = {SYS_splice, {in, (long)off_in, out, (long)off_out, (long)n, flags}};
	if (flags & SPLICE_F_NONBLOCK)
		return sys_ret(xfer_attempt(&c));
	return sys_ret(xfer(in, out, &c));
}
