/* syscalls/netpoll_uring.c - the io_uring backend (liburing for the ring
 * set-up and layout, raw io_uring_enter for waiting).
 *
 * Each fd gets one multishot poll (IORING_POLL_ADD_MULTI), submitted at
 * its first wait: every wakeup of the fd posts a completion until it is
 * removed at close. Completions are reaped straight from the shared ring,
 * with no system call, by findrunnable on any M; one M at a time may block
 * in io_uring_enter with a timeout (IORING_ENTER_EXT_ARG), and an eventfd
 * with its own multishot poll breaks that wait.
 *
 * Locks: sq_lock serialises submissions (any thread may arm or disarm an
 * fd); cq_lock serialises reaping. A blocked io_uring_enter does not
 * touch either ring's head, so waiting needs no lock. */
#include "arch/syscall.h"
#include "syscalls/netpoll.h"
#include "sched/lock.h"
#include "sched/sched.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#define WAKE_TAG   UINT64_MAX
#define REMOVE_TAG (UINT64_MAX - 1)
#define POLL_MASK  (POLLIN | POLLOUT | POLLPRI | POLLRDHUP | POLLERR | POLLHUP)

static struct io_uring ring;
static struct rtlock sq_lock;
static struct rtlock cq_lock;
static int wake_fd = -1;
static _Atomic uint32_t wake_pending;

static int submit_locked(void)
{
	for (;;) {
		int r = io_uring_submit(&ring);
		if (r != -EINTR && r != -EAGAIN && r != -EBUSY)
			return r;
	}
}

static struct io_uring_sqe *get_sqe_locked(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	if (!sqe) {
		submit_locked();
		sqe = io_uring_get_sqe(&ring);
	}
	return sqe;
}

static int arm_locked(int fd, uint64_t tag)
{
	struct io_uring_sqe *sqe = get_sqe_locked();
	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_multishot(sqe, fd, POLL_MASK);
	io_uring_sqe_set_data64(sqe, tag);
	int r = submit_locked();
	return r < 0 ? r : 0;
}

static int uring_init(char *why, int whylen)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof p);
	/* Room for a completion per fd and then some: 10,000 connections
	 * each with a pending event must not overflow into the kernel's
	 * backlog list (which would cost a system call to flush). */
	p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
	p.cq_entries = 32768;
	int r = io_uring_queue_init_params(256, &ring, &p);
	if (r < 0) {
		snprintf(why, (size_t)whylen, "io_uring_setup: %s", strerror(-r));
		return r;
	}
	if (!(p.features & IORING_FEAT_EXT_ARG) || !(p.features & IORING_FEAT_NODROP)) {
		snprintf(why, (size_t)whylen, "kernel too old (needs IORING_FEAT_EXT_ARG)");
		io_uring_queue_exit(&ring);
		return -ENOSYS;
	}
	fcntl(ring.ring_fd, F_SETFD, FD_CLOEXEC);
	wake_fd = (int)raw_syscall(SYS_eventfd2, 0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (wake_fd < 0) {
		snprintf(why, (size_t)whylen, "eventfd: %s", strerror(-wake_fd));
		io_uring_queue_exit(&ring);
		return -ENOSYS;
	}
	/* The first submission proves the ring works: a seccomp filter may
	 * allow io_uring_setup and refuse io_uring_enter. */
	r = arm_locked(wake_fd, WAKE_TAG);
	if (r < 0) {
		snprintf(why, (size_t)whylen, "io_uring_enter: %s", strerror(-r));
		io_uring_queue_exit(&ring);
		raw_syscall(SYS_close, wake_fd);
		wake_fd = -1;
		return r;
	}
	return 0;
}

static int uring_arm(int fd, uint64_t tag)
{
	rtlock_lock(&sq_lock);
	int r = arm_locked(fd, tag);
	rtlock_unlock(&sq_lock);
	return r;
}

/* Submitted now, not batched: the multishot poll holds a reference to the
 * file, and the peer of a closed socket must see it closed at once. */
static void uring_disarm(int fd, uint64_t tag)
{
	(void)fd;
	rtlock_lock(&sq_lock);
	struct io_uring_sqe *sqe = get_sqe_locked();
	if (sqe) {
		io_uring_prep_poll_remove(sqe, tag);
		io_uring_sqe_set_data64(sqe, REMOVE_TAG);
		submit_locked();
	}
	rtlock_unlock(&sq_lock);
}

static int reap(void)
{
	if (!rtlock_trylock(&cq_lock))
		return 0; /* another M is reaping: it will dispatch these */
	int n = 0;
	for (;;) {
		struct io_uring_cqe *cqes[64];
		unsigned got = io_uring_peek_batch_cqe(&ring, cqes, 64);
		if (got == 0)
			break;
		for (unsigned i = 0; i < got; i++) {
			uint64_t tag = io_uring_cqe_get_data64(cqes[i]);
			bool ended = !(cqes[i]->flags & IORING_CQE_F_MORE);
			if (tag == WAKE_TAG) {
				atomic_store(&wake_pending, 0);
				if (ended) { /* re-arm the break fd */
					rtlock_lock(&sq_lock);
					arm_locked(wake_fd, WAKE_TAG);
					rtlock_unlock(&sq_lock);
				}
			} else if (tag != REMOVE_TAG) {
				n += netpoll_dispatch(tag, ended);
			}
		}
		io_uring_cq_advance(&ring, got);
	}
	rtlock_unlock(&cq_lock);
	return n;
}

static int uring_poll(int64_t until)
{
	int n = reap();
	if (n > 0 || until == 0)
		return n;
	/* Completions the kernel could not fit in the ring wait in its
	 * backlog until an io_uring_enter flushes them. */
	unsigned flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG;
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
	raw_syscall(SYS_io_uring_enter, ring.ring_fd, 0, 1, flags, &arg, sizeof arg);
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

static void uring_forget(void)
{
	/* The parent keeps using its ring: unmap ours without telling the
	 * kernel anything else. */
	io_uring_queue_exit(&ring);
	raw_syscall(SYS_close, wake_fd);
	wake_fd = -1;
	atomic_store(&wake_pending, 0);
}

const struct netpoll_backend netpoll_uring_backend = {
    .name = "io_uring",
    .init = uring_init,
    .arm = uring_arm,
    .disarm = uring_disarm,
    .poll = uring_poll,
    .wake = uring_wake,
    .forget = uring_forget,
};
