/* syscalls/netpoll_epoll.c - the epoll backend, for when io_uring cannot
 * be set up. Each fd is added once with EPOLLET; an eventfd breaks a
 * blocked epoll_pwait2. Polling costs a system call here, so the
 * non-blocking poll is skipped while no G waits on an fd. */
#include "arch/syscall.h"
#include "syscalls/fdtab.h"
#include "syscalls/netpoll.h"
#include "sched/sched.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>

#define WAKE_TAG UINT64_MAX

static int epfd = -1;
static int wake_fd = -1;
static _Atomic uint32_t wake_pending;
static bool have_pwait2 = true;

static int ctl(int op, int fd, uint64_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET,
				 .data.u64 = tag};
	return (int)raw_syscall(SYS_epoll_ctl, epfd, op, fd, &ev);
}

static int epoll_init(char *why, int whylen)
{
	epfd = (int)raw_syscall(SYS_epoll_create1, EPOLL_CLOEXEC);
	if (epfd < 0) {
		snprintf(why, (size_t)whylen, "epoll_create1: %s", strerror(-epfd));
		return epfd;
	}
	wake_fd = (int)raw_syscall(SYS_eventfd2, 0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (wake_fd < 0 || ctl(EPOLL_CTL_ADD, wake_fd, WAKE_TAG) < 0) {
		snprintf(why, (size_t)whylen, "eventfd");
		return -ENOSYS;
	}
	return 0;
}

/* Both directions at once, for the fd's life. */
static int epoll_arm(int fd, uint64_t tag, int dirs)
{
	(void)dirs;
	int r = ctl(EPOLL_CTL_ADD, fd, tag);
	if (r == -EEXIST) /* the file is registered through a dup'd fd */
		r = ctl(EPOLL_CTL_MOD, fd, tag);
	return r < 0 ? r : ARM_R | ARM_W;
}

static void epoll_disarm(int fd, uint64_t tag, int armed, bool ops)
{
	(void)ops;
	if (armed)
		ctl(EPOLL_CTL_DEL, fd, tag);
}

static _Atomic int32_t blocked; /* Ms inside a blocking epoll_pwait2 */

static int epoll_poll(int64_t until)
{
	/* A non-blocking look is a system call here: skip it when nobody
	 * waits, or when an M blocked in the poller will see the events. */
	if (until == 0 && (atomic_load_explicit(&netpoll_waiters, memory_order_relaxed) == 0 ||
			   atomic_load_explicit(&blocked, memory_order_relaxed) != 0))
		return 0;
	struct epoll_event evs[128];
	long r = 0;
	int64_t d = until > 0 ? until - nanotime() : until;
	if (d < 0 && until > 0)
		d = 0;
	if (until != 0)
		atomic_fetch_add(&blocked, 1);
	if (have_pwait2) {
		struct timespec ts = {d / 1000000000, d % 1000000000};
		r = raw_syscall(SYS_epoll_pwait2, epfd, evs, 128, d < 0 ? NULL : &ts, NULL, 0);
		if (r == -ENOSYS)
			have_pwait2 = false;
	}
	if (!have_pwait2) {
		int ms = d < 0 ? -1 : (int)((d + 999999) / 1000000);
		r = raw_syscall(SYS_epoll_pwait, epfd, evs, 128, ms, NULL, 0);
	}
	if (until != 0)
		atomic_fetch_sub(&blocked, 1);
	int n = 0;
	for (long i = 0; i < r; i++) {
		if (evs[i].data.u64 == WAKE_TAG) {
			uint64_t v;
			raw_syscall(SYS_read, wake_fd, &v, sizeof v);
			atomic_store(&wake_pending, 0);
			continue;
		}
		n += netpoll_dispatch(evs[i].data.u64, false);
	}
	return n;
}

static void epoll_wake(void)
{
	uint32_t z = 0;
	if (!atomic_compare_exchange_strong(&wake_pending, &z, 1))
		return;
	uint64_t one = 1;
	raw_syscall(SYS_write, wake_fd, &one, sizeof one);
}

static void epoll_forget(void)
{
	raw_syscall(SYS_close, epfd);
	raw_syscall(SYS_close, wake_fd);
	epfd = wake_fd = -1;
	atomic_store(&wake_pending, 0);
}

const struct netpoll_backend netpoll_epoll_backend = {
    .name = "epoll",
    .init = epoll_init,
    .arm = epoll_arm,
    .disarm = epoll_disarm,
    .poll = epoll_poll,
    .wake = epoll_wake,
    .do_op = NULL,
    .forget = epoll_forget,
};
