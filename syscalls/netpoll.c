/* syscalls/netpoll.c - backend choice, registration, event dispatch and
 * the fd wait every interposed call parks in. */
#include "syscalls/netpoll.h"
#include "syscalls/fdtab.h"
#include "sched/sched.h"
#include "shim/config.h"

#include "arch/syscall.h"

#include <errno.h>
#include <poll.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

_Atomic int32_t netpoll_waiters;

static int choice = NETPOLL_AUTO;
static const struct netpoll_backend *_Atomic backend;
static struct rtlock init_lock;
static _Atomic int init_state; /* 0 not tried, 1 ready, -1 none works */
static struct sched_poller poller;

void netpoll_configure(int c)
{
	choice = c;
}

const char *netpoll_backend_name(void)
{
	const struct netpoll_backend *b = atomic_load(&backend);
	if (b)
		return b->name;
	return choice == NETPOLL_EPOLL ? "epoll(unused)" : "io_uring(unused)";
}

static void netpoll_forget_after_fork(void);

static bool forget_registration(int fd, struct fdinfo *fi, void *ctx)
{
	(void)fd;
	(void)ctx;
	atomic_store(&fi->armed, 0);
	return false;
}

/* First use: io_uring unless told otherwise, epoll if io_uring cannot be
 * set up (kernel.io_uring_disabled, a seccomp profile, an old kernel),
 * saying so once, or if this build has no io_uring backend. A forced backend that fails is fatal:
 * the user asked for it by name. */
static bool netpoll_init(void)
{
	char why[160] = "";
	const struct netpoll_backend *b = NULL;
	if (choice == NETPOLL_URING && !netpoll_uring_backend.init)
		sched_fatal("GMPT_NETPOLL=uring: this gmpt was built without io_uring support "
			    "(liburing 2.2 or newer)");
	if (choice != NETPOLL_EPOLL && netpoll_uring_backend.init) {
		int r = netpoll_uring_backend.init(why, sizeof why);
		if (r == 0)
			b = &netpoll_uring_backend;
		else if (choice == NETPOLL_URING)
			sched_fatal("GMPT_NETPOLL=uring: io_uring cannot be set up: %s", why);
		else
			sched_notice("io_uring unavailable (%s); using epoll", why);
	}
	if (!b) {
		why[0] = 0;
		if (netpoll_epoll_backend.init(why, sizeof why) != 0) {
			sched_notice("epoll unavailable too (%s); blocking calls keep their "
				     "kernel thread",
				     why);
			return false;
		}
		b = &netpoll_epoll_backend;
	}
	static bool atfork_done;
	if (!atfork_done) {
		atfork_done = true;
		pthread_atfork(NULL, NULL, netpoll_forget_after_fork);
	}
	poller.poll = b->poll;
	poller.wake = b->wake;
	atomic_store(&backend, b);
	sched_set_poller(&poller);
	return true;
}

static bool netpoll_ensure(void)
{
	/* A vfork child's netpoller would be its parent's once it is gone
	 * (fd_wait does not ask for one there; this is the backstop). */
	if (sched_in_vfork_child())
		return false;
	int st = atomic_load_explicit(&init_state, memory_order_acquire);
	if (st != 0)
		return st > 0;
	rtlock_lock(&init_lock);
	st = atomic_load(&init_state);
	if (st == 0) {
		st = netpoll_init() ? 1 : -1;
		atomic_store_explicit(&init_state, st, memory_order_release);
	}
	rtlock_unlock(&init_lock);
	return st > 0;
}

/* The child of a fork has the parent's ring or epoll set, shared with the
 * parent: it must not reap the parent's events. It starts over, and every
 * fd it inherited is registered again on its first wait. */
static void netpoll_forget_after_fork(void)
{
	const struct netpoll_backend *b = atomic_load(&backend);
	if (b)
		b->forget();
	atomic_store(&backend, NULL);
	sched_set_poller(NULL);
	atomic_store(&init_state, 0);
	fdtab_for_each(forget_registration, NULL);
}

int netpoll_arm(int fd, struct fdinfo *fi, int dirs)
{
	int a = atomic_load_explicit(&fi->armed, memory_order_acquire);
	if ((a & dirs) == dirs || (a & ARM_NEVER))
		return a;
	if (!netpoll_ensure())
		return -1;
	const struct netpoll_backend *b = atomic_load(&backend);
	rtlock_lock(&fi->lock);
	a = atomic_load(&fi->armed);
	int want = dirs & ~a;
	if (want && !(a & ARM_NEVER)) {
		uint32_t epoch = atomic_load(&fi->arm_tag);
		int r = b->arm(fd, netpoll_tag(fd, epoch), want);
		if (r == -EPERM)
			a |= ARM_NEVER;
		else if (r >= 0)
			a |= r;
		else
			a = -1;
		if (a >= 0)
			atomic_store_explicit(&fi->armed, (uint8_t)a, memory_order_release);
	}
	rtlock_unlock(&fi->lock);
	return a;
}

void netpoll_disarm(int fd, struct fdinfo *fi)
{
	const struct netpoll_backend *b = atomic_load(&backend);
	rtlock_lock(&fi->lock);
	uint32_t epoch = atomic_fetch_add(&fi->arm_tag, 1);
	int armed = atomic_load(&fi->armed) & (ARM_R | ARM_W);
	bool ops = atomic_load(&fi->ops) != 0;
	if (b && (armed || ops))
		b->disarm(fd, netpoll_tag(fd, epoch), armed, ops);
	atomic_store(&fi->armed, 0);
	rtlock_unlock(&fi->lock);
}

long netpoll_op(struct fdinfo *fi, const struct netpoll_op *op)
{
	if (!netpoll_ensure())
		return -ENOSYS;
	const struct netpoll_backend *b = atomic_load(&backend);
	if (!b->do_op)
		return -ENOSYS;
	return b->do_op(fi, op);
}

void netpoll_fd_event(struct fdinfo *fi)
{
	atomic_fetch_add(&fi->seq, 1);
	int n = waitq_wake(&fi->seq, INT_MAX);
	if (atomic_load_explicit((_Atomic(struct fd_multiwait *) *)&fi->waiters,
				 memory_order_acquire)) {
		rtlock_lock(&fi->lock);
		for (struct fd_multiwait *w = fi->waiters; w; w = w->next) {
			atomic_fetch_add(w->word, 1);
			n += waitq_wake(w->word, 1);
		}
		rtlock_unlock(&fi->lock);
	}
	if (n > 0)
		sched_stat_netpoll((uint64_t)n);
}

int netpoll_dispatch(uint64_t tag)
{
	struct fdinfo *fi = fdtab_get((int)((tag >> 32) & 0x7fffffff), false);
	/* A stale epoch: the event of a registration dropped at a close (the
	 * fd number may be in use again, with a registration of its own). */
	if (!fi || atomic_load(&fi->arm_tag) != (uint32_t)tag)
		return 0;
	netpoll_fd_event(fi);
	return 1;
}

/* A vfork child waits in the kernel: the fd is non-blocking underneath,
 * and the child may use nothing of its parent's netpoller. */
static int vfork_child_wait(int fd, int dir, int64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = dir == ARM_W ? POLLOUT : POLLIN};
	struct timespec ts, *tp = NULL;
	if (deadline) {
		int64_t left = deadline - nanotime();
		if (left <= 0)
			return ETIMEDOUT;
		ts.tv_sec = left / 1000000000;
		ts.tv_nsec = left % 1000000000;
		tp = &ts;
	}
	long r = raw_syscall(SYS_ppoll, &p, 1, tp, NULL, 0);
	return r == 0 ? ETIMEDOUT : 0;
}

int fd_wait(struct fdinfo *fi, int fd, int dir, uint32_t seq, uint32_t gen, int64_t deadline)
{
	/* A cancellation point: every blocking call on an fd parks here,
	 * and its callers hold nothing across the wait. A wait cut short by
	 * a cancellation returns 0: the caller retries, and the cancellation
	 * point on the way back in acts. */
	sched_cancel_point();
	if (atomic_load(&fi->gen) != gen)
		return EBADF;
	if (sched_in_vfork_child())
		return vfork_child_wait(fd, dir, deadline);
	int a = netpoll_arm(fd, fi, dir);
	if (a >= 0 && (a & ARM_NEVER))
		return 0; /* always ready: the retry will not say EAGAIN */
	bool cancelable = sched_cancelable(true);
	int r;
	if (a < 0) {
		/* No netpoller (or it refused this fd): poll the fd slowly
		 * rather than spin or hang. */
		int64_t t = 1000000 + nanotime();
		sched_sleep_until(deadline && deadline < t ? deadline : t);
		r = deadline && nanotime() >= deadline ? ETIMEDOUT : 0;
	} else {
		atomic_fetch_add(&netpoll_waiters, 1);
		r = waitq_wait_reason(&fi->seq, seq, deadline,
				      dir == ARM_W ? &WAIT_FD_WRITE : &WAIT_FD_READ);
		atomic_fetch_sub(&netpoll_waiters, 1);
	}
	if (cancelable)
		sched_cancelable(false);
	if (atomic_load(&fi->gen) != gen)
		return EBADF;
	if (r == EINTR) {
		/* Cut short by a signal whose handler has run: the caller
		 * decides between EINTR and a restart (signal(7)). */
		unsigned h = sched_sig_handled_take();
		if (h)
			return h & SCHED_SIG_NORESTART ? EINTR : ERESTART;
	}
	return r == ETIMEDOUT ? ETIMEDOUT : 0;
}
