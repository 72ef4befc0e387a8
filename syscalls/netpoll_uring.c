/* syscalls/netpoll_uring.c - the io_uring backend (liburing for the ring
 * set-up and request preparation, raw io_uring_enter for submitting and
 * waiting).
 *
 * Requests (one-shot polls for readiness waits, and whole operations,
 * see netpoll.h) are queued in the submission ring under sq_lock and sent
 * to the kernel in batches: by any M that runs out of Gs (poll(0), before
 * it looks elsewhere or sleeps), by the M that blocks in io_uring_enter
 * for completions (same system call), or at once when the ring is full.
 * Completions are reaped straight from the shared completion ring, no
 * system call, under cq_lock; an eventfd with a multishot poll breaks a
 * blocked io_uring_enter.
 *
 * A G's request is queued before it parks, so its completion may come
 * before it has parked: the G waits with waitq on a word the completion
 * sets (no lost wakeup: waitq_wait re-checks the word under its bucket
 * lock), and the completion handler touches the word and nothing else of
 * the G's stack frame. */
#include "arch/syscall.h"
#include "syscalls/fdtab.h"
#include "syscalls/netpoll.h"
#include "sched/lock.h"
#include "sched/sched.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <liburing.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#define WAKE_TAG   UINT64_MAX
#define IGNORE_TAG (UINT64_MAX - 1)
#define ERR_MASK   (POLLERR | POLLHUP)

static struct io_uring ring;
static struct rtlock sq_lock;
static struct rtlock cq_lock;
static _Atomic uint32_t unsubmitted; /* queued, not yet given to the kernel */
static int wake_fd = -1;
static _Atomic uint32_t wake_pending;
static bool ops_ok; /* the kernel waits in operations on O_NONBLOCK files */

/* A parked G's operation: the completion's result and the word it waits on. */
struct op_wait {
	_Atomic uint32_t done;
	int32_t res;
};

/* Makes everything queued visible to the kernel (liburing's
 * __io_uring_flush_sq, which is not public in 2.3). sq_lock held.
 * Returns how many requests the kernel has not consumed yet. */
static unsigned publish_locked(void)
{
	struct io_uring_sq *sq = &ring.sq;
	if (sq->sqe_head != sq->sqe_tail) {
		sq->sqe_head = sq->sqe_tail;
		atomic_store_explicit((_Atomic unsigned *)sq->ktail, sq->sqe_tail,
				      memory_order_release);
	}
	atomic_store(&unsubmitted, 0);
	return sq->sqe_tail -
	       atomic_load_explicit((_Atomic unsigned *)sq->khead, memory_order_acquire);
}

static long enter(unsigned to_submit, unsigned min_complete, unsigned flags, void *arg,
		  size_t argsz)
{
	long r;
	do
		r = raw_syscall(SYS_io_uring_enter, ring.ring_fd, to_submit, min_complete, flags,
				arg, argsz);
	while (r == -EINTR && min_complete == 0);
	return r;
}

/* Submits everything queued, now. */
static long submit(void)
{
	rtlock_lock(&sq_lock);
	unsigned n = publish_locked();
	rtlock_unlock(&sq_lock);
	return n ? enter(n, 0, 0, NULL, 0) : 0;
}

static struct io_uring_sqe *get_sqe_locked(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	if (!sqe) {
		/* Full: hand the batch over now (under the lock: nobody can
		 * queue until there is room anyway). */
		unsigned n = publish_locked();
		if (n)
			enter(n, 0, 0, NULL, 0);
		sqe = io_uring_get_sqe(&ring);
	}
	return sqe;
}

static void queued_locked(void)
{
	atomic_fetch_add_explicit(&unsubmitted, 1, memory_order_relaxed);
}

/* Whether an O_NONBLOCK pipe read through io_uring waits for data (it
 * does on recent kernels) or fails with EAGAIN at once (older ones): only
 * in the first case can operations replace readiness waits. */
static bool probe_ops(void)
{
	int p[2];
	if (raw_syscall(SYS_pipe2, p, O_NONBLOCK | O_CLOEXEC) < 0)
		return false;
	char c;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read(sqe, p[0], &c, 1, (uint64_t)-1);
	io_uring_sqe_set_data64(sqe, 1);
	io_uring_submit(&ring);
	struct io_uring_cqe *cqe;
	bool ok;
	if (io_uring_peek_cqe(&ring, &cqe) == 0) {
		ok = false; /* completed at once: -EAGAIN */
		io_uring_cqe_seen(&ring, cqe);
	} else {
		ok = true;
		sqe = io_uring_get_sqe(&ring);
		io_uring_prep_cancel64(sqe, 1, 0);
		io_uring_sqe_set_data64(sqe, 2);
		io_uring_submit(&ring);
		for (int i = 0; i < 2; i++)
			if (io_uring_wait_cqe(&ring, &cqe) == 0)
				io_uring_cqe_seen(&ring, cqe);
	}
	raw_syscall(SYS_close, p[0]);
	raw_syscall(SYS_close, p[1]);
	return ok;
}

static int uring_init(char *why, int whylen)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof p);
	/* A completion per connection and then some: overflowing into the
	 * kernel's backlog would cost a system call to flush. */
	p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
	p.cq_entries = 65536;
	int r = io_uring_queue_init_params(4096, &ring, &p);
	if (r < 0) {
		snprintf(why, (size_t)whylen, "io_uring_setup: %s", strerror(-r));
		return r;
	}
	if (!(p.features & IORING_FEAT_EXT_ARG) || !(p.features & IORING_FEAT_NODROP)) {
		snprintf(why, (size_t)whylen, "kernel too old (needs IORING_FEAT_EXT_ARG)");
		io_uring_queue_exit(&ring);
		return -ENOSYS;
	}
	raw_syscall(SYS_fcntl, ring.ring_fd, F_SETFD, FD_CLOEXEC);
	wake_fd = (int)raw_syscall(SYS_eventfd2, 0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (wake_fd < 0) {
		snprintf(why, (size_t)whylen, "eventfd: %s", strerror(-wake_fd));
		io_uring_queue_exit(&ring);
		return -ENOSYS;
	}
	/* The first submission proves the ring works: a seccomp filter may
	 * allow io_uring_setup and refuse io_uring_enter. */
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	io_uring_prep_poll_multishot(sqe, wake_fd, POLLIN);
	io_uring_sqe_set_data64(sqe, WAKE_TAG);
	r = io_uring_submit(&ring);
	if (r < 0) {
		snprintf(why, (size_t)whylen, "io_uring_enter: %s", strerror(-r));
		io_uring_queue_exit(&ring);
		raw_syscall(SYS_close, wake_fd);
		wake_fd = -1;
		return r;
	}
	ops_ok = probe_ops();
	return 0;
}

static int uring_arm(int fd, uint64_t tag, int dirs)
{
	rtlock_lock(&sq_lock);
	for (int dir = ARM_R; dir <= ARM_W; dir <<= 1) {
		if (!(dirs & dir))
			continue;
		struct io_uring_sqe *sqe = get_sqe_locked();
		if (!sqe) {
			rtlock_unlock(&sq_lock);
			return -EBUSY;
		}
		io_uring_prep_poll_add(sqe, fd,
				       (dir == ARM_R ? POLLIN | POLLRDHUP : POLLOUT) | ERR_MASK);
		io_uring_sqe_set_data64(sqe, tag | (uint64_t)dir << 61);
		queued_locked();
	}
	rtlock_unlock(&sq_lock);
	return dirs;
}

/* Submitted at once, before the fd is closed: a poll or operation in
 * flight holds a reference to the file, and the peer of a closed socket
 * must see it closed. */
static void uring_disarm(int fd, uint64_t tag, int armed, bool ops)
{
	(void)tag;
	(void)armed;
	(void)ops;
	rtlock_lock(&sq_lock);
	struct io_uring_sqe *sqe = get_sqe_locked();
	if (sqe) {
		io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
		io_uring_sqe_set_data64(sqe, IGNORE_TAG);
		queued_locked();
	}
	rtlock_unlock(&sq_lock);
	submit();
}

static void op_complete(struct op_wait *w, int32_t res)
{
	w->res = res;
	atomic_store_explicit(&w->done, 1, memory_order_release);
	/* Only the word's address from here on: the G may have seen done
	 * already and left the frame w lives in. */
	waitq_wake(&w->done, 1);
}

static int reap(void)
{
	if (!rtlock_trylock(&cq_lock))
		return 0; /* another M is reaping: it will dispatch these */
	int n = 0, ops = 0;
	for (;;) {
		struct io_uring_cqe *cqes[64];
		unsigned got = io_uring_peek_batch_cqe(&ring, cqes, 64);
		if (got == 0)
			break;
		for (unsigned i = 0; i < got; i++) {
			uint64_t tag = io_uring_cqe_get_data64(cqes[i]);
			if (tag == WAKE_TAG) {
				atomic_store(&wake_pending, 0);
				if (!(cqes[i]->flags & IORING_CQE_F_MORE)) {
					rtlock_lock(&sq_lock);
					struct io_uring_sqe *sqe = get_sqe_locked();
					io_uring_prep_poll_multishot(sqe, wake_fd, POLLIN);
					io_uring_sqe_set_data64(sqe, WAKE_TAG);
					queued_locked();
					rtlock_unlock(&sq_lock);
				}
			} else if (tag == IGNORE_TAG) {
			} else if (netpoll_is_tag(tag)) {
				n += netpoll_dispatch(tag, true);
			} else {
				op_complete((struct op_wait *)(uintptr_t)tag, cqes[i]->res);
				ops++;
			}
		}
		io_uring_cq_advance(&ring, got);
	}
	rtlock_unlock(&cq_lock);
	if (ops)
		sched_stat_netpoll((uint64_t)ops);
	return n + ops;
}

static int uring_poll(int64_t until)
{
	if (until == 0) {
		if (atomic_load_explicit(&unsubmitted, memory_order_relaxed))
			submit();
		return reap();
	}
	int n = reap();
	if (n > 0)
		return n;
	struct __kernel_timespec ts;
	struct io_uring_getevents_arg arg = {0};
	if (until > 0) {
		int64_t d = until - nanotime();
		if (d <= 0)
			return reap();
		ts.tv_sec = d / 1000000000;
		ts.tv_nsec = d % 1000000000;
		arg.ts = (uint64_t)(uintptr_t)&ts;
	}
	/* One system call submits the batch and waits for a completion. */
	rtlock_lock(&sq_lock);
	unsigned k = publish_locked();
	rtlock_unlock(&sq_lock);
	enter(k, 1, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg, sizeof arg);
	return reap();
}

static void uring_wake(void)
{
	uint32_t z = 0;
	if (!atomic_compare_exchange_strong(&wake_pending, &z, 1))
		return; /* a break is already on its way */
	uint64_t one = 1;
	raw_syscall(SYS_write, wake_fd, &one, sizeof one);
}

static long uring_do_op(struct fdinfo *fi, const struct netpoll_op *op)
{
	if (!ops_ok)
		return -ENOSYS;
	struct op_wait w = {0};
	rtlock_lock(&sq_lock);
	struct io_uring_sqe *sqe = get_sqe_locked();
	if (!sqe) {
		rtlock_unlock(&sq_lock);
		return -ENOSYS;
	}
	switch (op->code) {
	case NP_READ:
		io_uring_prep_read(sqe, op->fd, op->buf, (unsigned)op->len, (uint64_t)-1);
		break;
	case NP_WRITE:
		io_uring_prep_write(sqe, op->fd, op->buf, (unsigned)op->len, (uint64_t)-1);
		break;
	case NP_READV:
		io_uring_prep_readv(sqe, op->fd, op->buf, (unsigned)op->len, (uint64_t)-1);
		break;
	case NP_WRITEV:
		io_uring_prep_writev(sqe, op->fd, op->buf, (unsigned)op->len, (uint64_t)-1);
		break;
	case NP_RECV:
		io_uring_prep_recv(sqe, op->fd, op->buf, op->len, op->flags);
		break;
	case NP_SEND:
		io_uring_prep_send(sqe, op->fd, op->buf, op->len, op->flags);
		break;
	case NP_ACCEPT:
		io_uring_prep_accept(sqe, op->fd, op->addr, op->addrlen, op->flags);
		break;
	}
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)&w);
	queued_locked();
	atomic_fetch_add(&fi->ops, 1);
	rtlock_unlock(&sq_lock);

	atomic_fetch_add(&netpoll_waiters, 1);
	while (!atomic_load_explicit(&w.done, memory_order_acquire))
		waitq_wait(&w.done, 0, 0);
	atomic_fetch_sub(&netpoll_waiters, 1);
	atomic_fetch_sub(&fi->ops, 1);
	return w.res;
}

static void uring_forget(void)
{
	/* The parent keeps using its ring: unmap ours and close our fds. */
	io_uring_queue_exit(&ring);
	raw_syscall(SYS_close, wake_fd);
	wake_fd = -1;
	atomic_store(&wake_pending, 0);
	atomic_store(&unsubmitted, 0);
}

const struct netpoll_backend netpoll_uring_backend = {
    .name = "io_uring",
    .init = uring_init,
    .arm = uring_arm,
    .disarm = uring_disarm,
    .poll = uring_poll,
    .wake = uring_wake,
    .do_op = uring_do_op,
    .forget = uring_forget,
};
