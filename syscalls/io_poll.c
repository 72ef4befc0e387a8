/* syscalls/io_poll.c - poll, ppoll, select, pselect and the epoll waits.
 *
 * Each first asks the kernel with a zero timeout. If nothing is ready and
 * the caller is a G willing to wait, the G parks on a word of its own
 * that every watched fd's netpoll events bump (fd_multiwait, linked into
 * each fd's entry), or on its deadline in the timer heap, and asks again.
 * Any fd can be watched this way, not only the ones gmpt created: the
 * netpoller registration does not change the fd.
 *
 * While parked, the signal mask of ppoll/pselect/epoll_pwait is not in
 * force (it is for each attempt). A handler run while the thread waits
 * ends the wait with EINTR, SA_RESTART or not (signal(7)). */
#include "syscalls/deadline.h"
#include "syscalls/io_common.h"
#include "syscalls/netpoll.h"
#include "sched/header_gaps.h"

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/time.h>

struct multiwait {
	_Atomic uint32_t word;
	int n;
	int *fds;
	struct fd_multiwait *nodes;
	struct fd_multiwait small_nodes[8];
	int small_fds[8];
	bool fallback; /* no netpoller: poll in 1 ms steps */
};

static bool multiwait_begin(struct multiwait *mw, int n)
{
	atomic_store(&mw->word, 0);
	mw->n = 0;
	mw->fallback = false;
	if (n <= 8) {
		mw->nodes = mw->small_nodes;
		mw->fds = mw->small_fds;
		return true;
	}
	mw->nodes = malloc(sizeof *mw->nodes * (size_t)n);
	mw->fds = malloc(sizeof *mw->fds * (size_t)n);
	return mw->nodes && mw->fds;
}

/* dirs: ARM_R and/or ARM_W, what the caller waits for on fd. */
static void multiwait_add(struct multiwait *mw, int fd, int dirs)
{
	struct fdinfo *fi = fdtab_get(fd, true);
	if (!fi) {
		mw->fallback = true;
		return;
	}
	int a = netpoll_arm(fd, fi, dirs);
	if (a < 0)
		mw->fallback = true;
	struct fd_multiwait *node = &mw->nodes[mw->n];
	node->word = &mw->word;
	rtlock_lock(&fi->lock);
	node->next = fi->waiters;
	atomic_store_explicit((_Atomic(struct fd_multiwait *) *)&fi->waiters, node,
			      memory_order_release);
	rtlock_unlock(&fi->lock);
	mw->fds[mw->n++] = fd;
}

static void multiwait_end(struct multiwait *mw)
{
	for (int i = 0; i < mw->n; i++) {
		struct fdinfo *fi = fdtab_get(mw->fds[i], false);
		rtlock_lock(&fi->lock);
		for (struct fd_multiwait **pp = &fi->waiters; *pp; pp = &(*pp)->next)
			if (*pp == &mw->nodes[i]) {
				*pp = mw->nodes[i].next;
				break;
			}
		rtlock_unlock(&fi->lock);
	}
	if (mw->nodes != mw->small_nodes) {
		free(mw->nodes);
		free(mw->fds);
	}
}

/* Parks until a watched fd has an event after `seen`, or the deadline. */
static int multiwait_wait(struct multiwait *mw, uint32_t seen, int64_t deadline)
{
	/* Cut short by a cancellation: EINTR, and the caller unregisters
	 * before it acts (see wait_any). */
	bool cancelable = sched_cancelable(true);
	int r;
	if (mw->fallback) {
		int64_t t = nanotime() + 1000000;
		r = sched_sleep_until(deadline && deadline < t ? deadline : t);
		if (r != EINTR && deadline && nanotime() >= deadline)
			r = ETIMEDOUT;
	} else {
		atomic_fetch_add(&netpoll_waiters, 1);
		r = waitq_wait_reason(&mw->word, seen, deadline, &WAIT_POLL);
		atomic_fetch_sub(&netpoll_waiters, 1);
	}
	if (cancelable)
		sched_cancelable(false);
	return r == ETIMEDOUT || r == EINTR ? r : 0;
}

typedef long (*ready_check_fn)(void *ctx); /* one zero-timeout attempt */

/* The loop poll and select share. Returns a raw result. */
static long wait_any(const int *fds, const int *dirs, int n, int64_t deadline, ready_check_fn check,
		     void *ctx)
{
	sched_cancel_point(); /* poll, select: cancellation points */
	struct multiwait mw;
	if (!multiwait_begin(&mw, n))
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			multiwait_add(&mw, fds[i], dirs[i]);
	long r;
	sched_sig_handled_clear();
	for (;;) {
		uint32_t seen = atomic_load(&mw.word);
		r = check(ctx);
		if (r != 0)
			break;
		int w = multiwait_wait(&mw, seen, deadline);
		/* poll and select are never restarted after a handler
		 * (signal(7)); a wait cut short without one (a cancellation
		 * the thread does not act on, an ignored signal) goes on. */
		if (w == EINTR && sched_sig_handled_take()) {
			r = -EINTR;
			break;
		}
		if (w == EINTR) {
			sched_cancel_point();
			continue;
		}
		if (w == ETIMEDOUT) {
			r = check(ctx);
			break;
		}
	}
	multiwait_end(&mw);
	if (r == -EINTR)
		sched_cancel_point(); /* not acted on: interrupted, as by a signal */
	return r;
}

/* ---- poll ---- */

struct poll_ctx {
	struct pollfd *fds;
	nfds_t n;
	const sigset_t *mask;
};

static long poll_check(void *p)
{
	struct poll_ctx *c = p;
	struct timespec zero = {0, 0};
	long r;
	/* The kernel's poll and select fail with EINTR when a signal is
	 * pending, even with a zero timeout: gmpt's preemption signal may be.
	 * A look is not a wait the program made, and a parked wait is never
	 * interrupted (see the top of this file): look again. */
	do
		r = raw_syscall(SYS_ppoll, c->fds, c->n, &zero, c->mask, c->mask ? _NSIG / 8 : 0,
				0);
	while (r == -EINTR);
	return r;
}

static int do_poll(struct pollfd *fds, nfds_t n, int64_t deadline, bool forever,
		   const sigset_t *mask)
{
	struct poll_ctx c = {fds, n, mask};
	if (!sched_current() || (!forever && deadline == -1))
		return -2; /* caller makes the plain call */
	int small[32] = {0}, *list = n <= 16 ? small : malloc(sizeof *list * n * 2);
	if (!list)
		return (int)sys_ret(-ENOMEM);
	int *dirs = list + n;
	for (nfds_t i = 0; i < n; i++) {
		list[i] = fds[i].fd;
		/* Errors and hang-ups are reported whatever was asked. */
		dirs[i] = ((fds[i].events & (POLLIN | POLLPRI | POLLRDHUP)) ? ARM_R : 0) |
			  ((fds[i].events & POLLOUT) ? ARM_W : 0);
		if (!dirs[i])
			dirs[i] = ARM_R;
	}
	long r = wait_any(list, dirs, (int)n, forever ? 0 : deadline, poll_check, &c);
	if (list != small)
		free(list);
	return (int)sys_ret(r);
}

EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	STEP_ASIDE_FORWARD(poll, fds, n, timeout);
	int64_t deadline = timeout > 0 ? nanotime() + (int64_t)timeout * 1000000 : -1;
	int r = do_poll(fds, n, deadline, timeout < 0, NULL);
	if (r != -2)
		return r;
	struct timespec ts = {timeout / 1000, (timeout % 1000) * 1000000};
	return (int)sys_ret(
	    sys_cancelable(SYS_ppoll, fds, n, timeout < 0 ? NULL : &ts, NULL, 0, 0));
}

EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
	STEP_ASIDE_FORWARD(__poll_chk, fds, n, timeout, fdslen);
	if (fdslen / sizeof *fds < n)
		__builtin_trap();
	return poll(fds, n, timeout);
}

EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *tmo, const sigset_t *mask)
{
	STEP_ASIDE_FORWARD(ppoll, fds, n, tmo, mask);
	if (tmo && !timespec_valid(tmo))
		return (int)sys_ret(-EINVAL);
	bool zero = tmo && tmo->tv_sec == 0 && tmo->tv_nsec == 0;
	int r = do_poll(fds, n, tmo && !zero ? deadline_from_relative(tmo) : -1, !tmo, mask);
	if (r != -2)
		return r;
	struct timespec copy, *t = NULL;
	if (tmo) {
		copy = *tmo;
		t = &copy;
	}
	return (int)sys_ret(sys_cancelable(SYS_ppoll, fds, n, t, mask, mask ? _NSIG / 8 : 0, 0));
}

EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *tmo,
		       const sigset_t *mask, size_t fdslen)
{
	STEP_ASIDE_FORWARD(__ppoll_chk, fds, n, tmo, mask, fdslen);
	if (fdslen / sizeof *fds < n)
		__builtin_trap();
	return ppoll(fds, n, tmo, mask);
}

/* ---- select ---- */

struct select_ctx {
	int nfds;
	fd_set *in[3];	/* the caller's sets (may be NULL), results go here */
	fd_set want[3]; /* what was asked */
	const sigset_t *mask;
};

static long select_check(void *p)
{
	struct select_ctx *c = p;
	fd_set *sets[3];
	long r;
again:
	for (int k = 0; k < 3; k++) {
		sets[k] = c->in[k];
		if (sets[k])
			*sets[k] = c->want[k];
	}
	struct timespec zero = {0, 0};
	struct {
		const sigset_t *ss;
		size_t len;
	} sig = {c->mask, _NSIG / 8};
	r = raw_syscall(SYS_pselect6, c->nfds, sets[0], sets[1], sets[2], &zero,
			c->mask ? &sig : NULL);
	if (r == -EINTR) /* as in poll_check; the sets are set again */
		goto again;
	return r;
}

/* deadline: -1 none (zero timeout: do not wait), 0 forever. */
static int do_select(int nfds, fd_set *r, fd_set *w, fd_set *e, int64_t deadline,
		     const sigset_t *mask)
{
	if (nfds < 0 || nfds > FD_SETSIZE)
		return (int)sys_ret(-EINVAL);
	struct select_ctx c = {.nfds = nfds, .in = {r, w, e}, .mask = mask};
	int list[FD_SETSIZE], dirs[FD_SETSIZE], n = 0;
	for (int k = 0; k < 3; k++) {
		if (c.in[k])
			c.want[k] = *c.in[k];
		else
			FD_ZERO(&c.want[k]);
	}
	for (int fd = 0; fd < nfds; fd++) {
		int d = ((r && FD_ISSET(fd, r)) || (e && FD_ISSET(fd, e)) ? ARM_R : 0) |
			(w && FD_ISSET(fd, w) ? ARM_W : 0);
		if (d) {
			dirs[n] = d;
			list[n++] = fd;
		}
	}
	if (deadline == -1)
		return (int)sys_ret(select_check(&c));
	return (int)sys_ret(wait_any(list, dirs, n, deadline, select_check, &c));
}

EXPORT int select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
	STEP_ASIDE_FORWARD(select, nfds, r, w, e, tv);
	if (tv && (tv->tv_sec < 0 || tv->tv_usec < 0 || tv->tv_usec >= 1000000))
		return (int)sys_ret(-EINVAL);
	if (!sched_current()) {
		struct timespec ts, *t = NULL;
		if (tv) {
			ts.tv_sec = tv->tv_sec;
			ts.tv_nsec = tv->tv_usec * 1000;
			t = &ts;
		}
		long res = sys_cancelable(SYS_pselect6, nfds, r, w, e, t, NULL);
		if (tv) {
			tv->tv_sec = ts.tv_sec;
			tv->tv_usec = ts.tv_nsec / 1000;
		}
		return (int)sys_ret(res);
	}
	int64_t deadline = 0;
	if (tv) {
		int64_t ns = (int64_t)tv->tv_sec * 1000000000 + (int64_t)tv->tv_usec * 1000;
		deadline = ns == 0 ? -1 : nanotime() + ns;
	}
	int res = do_select(nfds, r, w, e, deadline, NULL);
	if (tv && deadline > 0) {
		/* Linux writes the time left back. */
		int64_t left = deadline - nanotime();
		if (left < 0)
			left = 0;
		tv->tv_sec = left / 1000000000;
		tv->tv_usec = (left % 1000000000) / 1000;
	}
	return res;
}

EXPORT int pselect(int nfds, fd_set *r, fd_set *w, fd_set *e, const struct timespec *tmo,
		   const sigset_t *mask)
{
	STEP_ASIDE_FORWARD(pselect, nfds, r, w, e, tmo, mask);
	if (tmo && !timespec_valid(tmo))
		return (int)sys_ret(-EINVAL);
	if (!sched_current()) {
		struct timespec copy, *t = NULL;
		if (tmo) {
			copy = *tmo;
			t = &copy;
		}
		struct {
			const sigset_t *ss;
			size_t len;
		} sig = {mask, _NSIG / 8};
		return (int)sys_ret(
		    sys_cancelable(SYS_pselect6, nfds, r, w, e, t, mask ? &sig : NULL));
	}
	int64_t deadline = 0;
	if (tmo)
		deadline = tmo->tv_sec == 0 && tmo->tv_nsec == 0 ? -1 : deadline_from_relative(tmo);
	return do_select(nfds, r, w, e, deadline, mask);
}

/* ---- epoll ---- */

/* An epoll fd is itself pollable: wait for it to become readable. */
static int do_epoll_wait(int epfd, struct epoll_event *ev, int max, int64_t deadline, bool forever,
			 const sigset_t *mask)
{
	struct fdinfo *fi = fdtab_get(epfd, true);
	if (!fi)
		return -2;
	uint32_t gen = atomic_load(&fi->gen);
	sched_sig_handled_clear();
	for (;;) {
		uint32_t seq = atomic_load(&fi->seq);
		long r = raw_syscall(SYS_epoll_pwait, epfd, ev, max, 0, mask, mask ? _NSIG / 8 : 0);
		if (r != 0)
			return (int)sys_ret(r);
		int w = fd_wait(fi, epfd, ARM_R, seq, gen, forever ? 0 : deadline);
		if (w == EBADF)
			return (int)sys_ret(-EBADF);
		if (w == EINTR || w == ERESTART) /* never restarted (signal(7)) */
			return (int)sys_ret(-EINTR);
		if (w == ETIMEDOUT)
			return (int)sys_ret(raw_syscall(SYS_epoll_pwait, epfd, ev, max, 0, mask,
							mask ? _NSIG / 8 : 0));
	}
}

EXPORT int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout, const sigset_t *mask)
{
	STEP_ASIDE_FORWARD(epoll_pwait, epfd, ev, max, timeout, mask);
	if (sched_current() && timeout != 0 && max > 0) {
		int64_t deadline = timeout > 0 ? nanotime() + (int64_t)timeout * 1000000 : 0;
		int r = do_epoll_wait(epfd, ev, max, deadline, timeout < 0, mask);
		if (r != -2)
			return r;
	}
	return (int)sys_ret(
	    sys_cancelable(SYS_epoll_pwait, epfd, ev, max, timeout, mask, mask ? _NSIG / 8 : 0));
}

EXPORT int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
	STEP_ASIDE_FORWARD(epoll_wait, epfd, ev, max, timeout);
	return epoll_pwait(epfd, ev, max, timeout, NULL);
}

EXPORT int epoll_pwait2(int epfd, struct epoll_event *ev, int max, const struct timespec *tmo,
			const sigset_t *mask)
{
	STEP_ASIDE_FORWARD(epoll_pwait2, epfd, ev, max, tmo, mask);
	if (tmo && !timespec_valid(tmo))
		return (int)sys_ret(-EINVAL);
	bool zero = tmo && tmo->tv_sec == 0 && tmo->tv_nsec == 0;
	if (sched_current() && !zero && max > 0) {
		int r =
		    do_epoll_wait(epfd, ev, max, tmo ? deadline_from_relative(tmo) : 0, !tmo, mask);
		if (r != -2)
			return r;
	}
	return (int)sys_ret(
	    sys_cancelable(SYS_epoll_pwait2, epfd, ev, max, tmo, mask, mask ? _NSIG / 8 : 0));
}
