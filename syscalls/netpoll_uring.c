/* syscalls/netpoll_uring.c - the io_uring backend (liburing for the ring
 * set-up and request preparation, raw io_uring_enter for submitting).
 *
 * Operations (netpoll.h): a G queues its read, write, recv, send or accept
 * in the submission ring under sq_lock and parks; requests go to the
 * kernel in batches, submitted by whichever M runs out of Gs (poll, before
 * it looks elsewhere or sleeps) or at once when the ring is full. Their
 * completions are reaped straight from the shared completion ring, no
 * system call, under cq_lock. A hand-off between two threads through a
 * pipe is then one io_uring_enter for the writer's write and the reader's
 * read together.
 *
 * Readiness (sockets to peers, poll/select, timeouts, threads that are not
 * Gs): each fd is added once, edge-triggered for both directions, to an
 * epoll set of the backend's own. The ring's fd is in that set too, so the
 * one M that blocks for the process waits in epoll_pwait2 for either. A
 * poll request per fd would complete through a task_work interrupt of the
 * thread that submitted it: measured here (docs/perf.md) that costs more
 * under load than epoll's callback in the waker's own context, and a
 * server's tail latency with it.
 *
 * A G's request is queued before it parks, so its completion may come
 * before it has parked: the G waits with waitq on a word the completion
 * sets (no lost wakeup: waitq_wait re-checks the word under its bucket
 * lock), and the completion handler touches the word and nothing else of
 * the G's stack frame. */
#include "arch/syscall.h"
#include "syscalls/epoll_set.h"
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
#include <sys/syscall.h>
#include <unistd.h>

/* Backend tags (netpoll.h): the ring's fd in the epoll set, and requests
 * whose completion nobody waits for (cancellations). */
#define RING_TAG   1
#define IGNORE_TAG 2
/* Completions taken per poll: half a P's run queue, so readying them never
 * spills the oldest queued Gs to the global queue behind newer ones (which
 * would reorder a server's connections and stretch its tail latency). The
 * rest stay in the ring, in order, for the next poll by any M. */
#define REAP_MAX 128

static struct io_uring ring;
static struct rtlock sq_lock;
static struct rtlock cq_lock;
static _Atomic uint32_t unsubmitted; /* queued, not yet given to the kernel */
/* Readiness registrations, the ring's fd and the break eventfd. */
static struct epoll_set set = {-1, -1, 0, 0};
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
	/* A fork's child must not see the ring: its rings are shared memory,
	 * and a child that reaped (or a stale head it advanced) would take
	 * the parent's completions. Not inherited, a stray access in the
	 * child faults instead of corrupting the parent (uring_forget). */
	r = io_uring_ring_dontfork(&ring);
	if (r < 0) {
		snprintf(why, (size_t)whylen, "io_uring_ring_dontfork: %s", strerror(-r));
		io_uring_queue_exit(&ring);
		return r;
	}
	r = epset_init(&set, why, whylen);
	if (r == 0 && (r = epset_add_level(&set, ring.ring_fd, RING_TAG)) < 0) {
		snprintf(why, (size_t)whylen, "epoll set for the ring: %s", strerror(-r));
		epset_close(&set);
	}
	if (r < 0) {
		io_uring_queue_exit(&ring);
		return r;
	}
	/* The first submission proves the ring works: a seccomp filter may
	 * allow io_uring_setup and refuse io_uring_enter. */
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	io_uring_prep_nop(sqe);
	io_uring_sqe_set_data64(sqe, IGNORE_TAG);
	r = io_uring_submit(&ring);
	if (r < 0) {
		snprintf(why, (size_t)whylen, "io_uring_enter: %s", strerror(-r));
		io_uring_queue_exit(&ring);
		epset_close(&set);
		return r;
	}
	struct io_uring_cqe *cqe;
	if (io_uring_wait_cqe(&ring, &cqe) == 0)
		io_uring_cqe_seen(&ring, cqe);
	ops_ok = probe_ops();
	return 0;
}

/* Readiness: once per fd, both directions, edge-triggered (see top). */
static int uring_arm(int fd, uint64_t tag, int dirs)
{
	(void)dirs; /* both, for the fd's life */
	return epset_arm(&set, fd, tag);
}

/* Before the fd is closed: its registration goes, and its operations in
 * flight are cancelled (they hold references to the file, and the peer of
 * a closed socket must see it closed), submitted at once. */
static void uring_disarm(int fd, uint64_t tag, int armed, bool ops)
{
	if (armed)
		epset_disarm(&set, fd, tag);
	if (!ops)
		return;
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

static int reap(void);

/* The set's other events: the ring's fd is readable, completions wait. */
static int ring_readable(uint64_t tag)
{
	return tag == RING_TAG ? reap() : 0;
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
	/* Every M looks here whenever it runs out of Gs: an empty ring must
	 * cost a read of its tail, not a locked instruction. */
	if (io_uring_cq_ready(&ring) == 0)
		return 0;
	if (!rtlock_trylock(&cq_lock))
		return 0; /* another M is reaping: it will dispatch these */
	int ops = 0;
	while (ops < REAP_MAX) {
		struct io_uring_cqe *cqes[64];
		unsigned got = io_uring_peek_batch_cqe(&ring, cqes, 64);
		if (got == 0)
			break;
		for (unsigned i = 0; i < got; i++) {
			uint64_t tag = io_uring_cqe_get_data64(cqes[i]);
			if (tag != IGNORE_TAG) {
				op_complete((struct op_wait *)(uintptr_t)tag, cqes[i]->res);
				ops++;
			}
		}
		io_uring_cq_advance(&ring, got);
	}
	rtlock_unlock(&cq_lock);
	if (ops)
		sched_stat_netpoll((uint64_t)ops);
	return ops;
}

static int uring_poll(int64_t until)
{
	if (atomic_load_explicit(&unsubmitted, memory_order_relaxed))
		submit();
	int n = reap();
	if (until != 0 && n > 0)
		return n;
	return n + epset_poll(&set, until, ring_readable);
}

static void uring_wake(void)
{
	epset_wake(&set);
}

static bool op_is_write(const struct netpoll_op *op)
{
	return op->code == NP_WRITE || op->code == NP_WRITEV || op->code == NP_SEND;
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

	/* A cancellation point (read, write, accept): a cancellation cuts
	 * the wait short, then the operation is cancelled in the kernel and
	 * its completion awaited, as it must be (the kernel writes w and the
	 * program's buffer until then). -ECANCELED sends io_call to the
	 * readiness path, whose fd_wait acts on the cancellation; an
	 * operation that finished first keeps its result. */
	bool cancelable = sched_cancelable(true);
	while (!atomic_load_explicit(&w.done, memory_order_acquire)) {
		if (waitq_wait_reason(&w.done, 0, 0,
				      op_is_write(op) ? &WAIT_FD_WRITE : &WAIT_FD_READ) != EINTR ||
		    atomic_load_explicit(&w.done, memory_order_acquire))
			continue;
		sched_cancelable(false);
		cancelable = false;
		rtlock_lock(&sq_lock);
		struct io_uring_sqe *c = get_sqe_locked();
		if (c) {
			io_uring_prep_cancel64(c, (uint64_t)(uintptr_t)&w, 0);
			io_uring_sqe_set_data64(c, IGNORE_TAG);
			queued_locked();
		}
		rtlock_unlock(&sq_lock);
		submit();
	}
	if (cancelable)
		sched_cancelable(false);
	atomic_fetch_sub(&fi->ops, 1);
	return w.res;
}

static void uring_forget(void)
{
	/* The parent keeps using its ring. The child never had its mappings
	 * (io_uring_ring_dontfork): only close our fds; io_uring_queue_exit
	 * would read the rings. */
	raw_syscall(SYS_close, ring.ring_fd);
	memset(&ring, 0, sizeof ring);
	epset_close(&set);
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
