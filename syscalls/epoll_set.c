/* syscalls/epoll_set.c - see epoll_set.h. */
#include "arch/syscall.h"
#include "syscalls/epoll_set.h"
#include "syscalls/fdtab.h"
#include "syscalls/netpoll.h"
#include "sched/sched.h"
#include "sched/header_gaps.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>

#define WAKE_TAG  UINT64_MAX
#define FD_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET)

static int ctl(struct epoll_set *es, int op, int fd, uint32_t events, uint64_t tag)
{
	struct epoll_event ev = {.events = events, .data.u64 = tag};
	return (int)raw_syscall(SYS_epoll_ctl, es->epfd, op, fd, &ev);
}

int epset_init(struct epoll_set *es, char *why, int whylen)
{
	es->epfd = (int)raw_syscall(SYS_epoll_create1, EPOLL_CLOEXEC);
	if (es->epfd < 0) {
		snprintf(why, (size_t)whylen, "epoll_create1: %s", strerror(-es->epfd));
		return es->epfd;
	}
	es->wake_fd = (int)raw_syscall(SYS_eventfd2, 0, EFD_CLOEXEC | EFD_NONBLOCK);
	int r =
	    es->wake_fd < 0 ? es->wake_fd : ctl(es, EPOLL_CTL_ADD, es->wake_fd, EPOLLIN, WAKE_TAG);
	if (r < 0) {
		snprintf(why, (size_t)whylen, "eventfd: %s", strerror(-r));
		epset_close(es);
		return r;
	}
	atomic_store(&es->wake_pending, 0);
	atomic_store(&es->blocked, 0);
	return 0;
}

void epset_close(struct epoll_set *es)
{
	if (es->epfd >= 0)
		raw_syscall(SYS_close, es->epfd);
	if (es->wake_fd >= 0)
		raw_syscall(SYS_close, es->wake_fd);
	es->epfd = es->wake_fd = -1;
}

int epset_add_level(struct epoll_set *es, int fd, uint64_t tag)
{
	return ctl(es, EPOLL_CTL_ADD, fd, EPOLLIN, tag);
}

int epset_arm(struct epoll_set *es, int fd, uint64_t tag)
{
	int r = ctl(es, EPOLL_CTL_ADD, fd, FD_EVENTS, tag);
	if (r == -EEXIST) /* the file is registered through a dup'd fd */
		r = ctl(es, EPOLL_CTL_MOD, fd, FD_EVENTS, tag);
	return r < 0 ? r : ARM_R | ARM_W;
}

void epset_disarm(struct epoll_set *es, int fd, uint64_t tag)
{
	ctl(es, EPOLL_CTL_DEL, fd, 0, tag);
}

static long wait_events(struct epoll_set *es, struct epoll_event *evs, int max, int64_t until)
{
	static bool no_pwait2;
	int64_t d = until > 0 ? until - nanotime() : until;
	if (until > 0 && d < 0)
		d = 0;
	if (!no_pwait2) {
		struct timespec ts = {d / 1000000000, d % 1000000000};
		long r =
		    raw_syscall(SYS_epoll_pwait2, es->epfd, evs, max, d < 0 ? NULL : &ts, NULL, 0);
		if (r != -ENOSYS)
			return r;
		no_pwait2 = true; /* before Linux 5.11: millisecond timeouts */
	}
	int ms = d < 0 ? -1 : (int)((d + 999999) / 1000000);
	return raw_syscall(SYS_epoll_pwait, es->epfd, evs, max, ms, NULL, 0);
}

int epset_poll(struct epoll_set *es, int64_t until, int (*other)(uint64_t tag))
{
	if (until == 0 && (atomic_load_explicit(&netpoll_waiters, memory_order_relaxed) == 0 ||
			   atomic_load_explicit(&es->blocked, memory_order_relaxed) != 0))
		return 0;
	struct epoll_event evs[128];
	if (until != 0)
		atomic_fetch_add(&es->blocked, 1);
	long r = wait_events(es, evs, 128, until);
	if (until != 0)
		atomic_fetch_sub(&es->blocked, 1);
	int n = 0;
	for (long i = 0; i < r; i++) {
		uint64_t tag = evs[i].data.u64;
		if (tag == WAKE_TAG) {
			uint64_t v;
			raw_syscall(SYS_read, es->wake_fd, &v, sizeof v);
			atomic_store(&es->wake_pending, 0);
		} else if (netpoll_is_tag(tag)) {
			n += netpoll_dispatch(tag);
		} else if (other) {
			n += other(tag);
		}
	}
	return n;
}

void epset_wake(struct epoll_set *es)
{
	uint32_t z = 0;
	if (!atomic_compare_exchange_strong(&es->wake_pending, &z, 1))
		return; /* a break is already on its way */
	uint64_t one = 1;
	raw_syscall(SYS_write, es->wake_fd, &one, sizeof one);
}
