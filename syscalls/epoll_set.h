/* syscalls/epoll_set.h - readiness registration, shared by both netpoll
 * backends: an epoll set where each fd is added once, edge-triggered for
 * both directions, with an eventfd that breaks a blocked wait. */
#ifndef GMPT_EPOLL_SET_H
#define GMPT_EPOLL_SET_H

#include <stdatomic.h>
#include <stdint.h>

struct epoll_set {
	int epfd;
	int wake_fd;
	_Atomic uint32_t wake_pending; /* a break is on its way */
	_Atomic int32_t blocked;       /* Ms inside a blocking wait */
};

/* 0, or -errno with the reason in why. */
int epset_init(struct epoll_set *es, char *why, int whylen);
void epset_close(struct epoll_set *es);
/* Adds fd level-triggered for reading, its events tagged tag (the
 * io_uring backend's ring fd). */
int epset_add_level(struct epoll_set *es, int fd, uint64_t tag);
/* Registers fd for both directions, edge-triggered: ARM_R | ARM_W, or
 * -errno (-EPERM: fd cannot be polled). */
int epset_arm(struct epoll_set *es, int fd, uint64_t tag);
void epset_disarm(struct epoll_set *es, int fd, uint64_t tag);
/* Collects events (until: 0 do not block, -1 until one comes or a break,
 * > 0 until that CLOCK_MONOTONIC deadline) and dispatches them: fd events
 * through netpoll_dispatch, level-added tags through other(). The
 * non-blocking look, a system call, is skipped while no G waits for
 * readiness or an M is blocked in the set (it will see the events).
 * Returns how many waiters it woke. */
int epset_poll(struct epoll_set *es, int64_t until, int (*other)(uint64_t tag));
void epset_wake(struct epoll_set *es);

#endif
