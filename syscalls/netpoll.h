/* syscalls/netpoll.h - the netpoller: one interface, two backends.
 *
 * Registrations are edge-triggered and made once per fd, on the first
 * wait (Go's pollDesc model): io_uring multishot polls, or EPOLLET. An
 * event only bumps the fd's seq and wakes whoever parked on it (fdtab.h);
 * the woken G retries its call. The scheduler sees the poller through
 * struct sched_poller: findrunnable polls without blocking (with io_uring
 * that reads the completion ring, no system call), one idle M blocks in it
 * until the next timer, and wake() breaks that block. */
#ifndef GMPT_NETPOLL_H
#define GMPT_NETPOLL_H

#include <stdbool.h>
#include <stdint.h>

struct fdinfo;

struct netpoll_backend {
	const char *name;
	/* 0, or -errno (the reason goes in the fallback notice). */
	int (*init)(char *why, int whylen);
	/* Starts edge notifications for fd, tagged with tag. 0, -EPERM when fd
	 * cannot be polled (regular files: always ready), or -errno. */
	int (*arm)(int fd, uint64_t tag);
	void (*disarm)(int fd, uint64_t tag);
	/* sched_poller.poll: dispatches events through netpoll_dispatch. */
	int (*poll)(int64_t until);
	void (*wake)(void);
	/* In a forked child: drop the parent's instance (a new one is made on
	 * first use). */
	void (*forget)(void);
};

extern const struct netpoll_backend netpoll_uring_backend;
extern const struct netpoll_backend netpoll_epoll_backend;

/* From the shim's configuration (enum netpoll_choice), before any use. */
void netpoll_configure(int choice);
const char *netpoll_backend_name(void);

/* Registers fd if it is not yet: returns enum fd_armed, or -1 when there
 * is no netpoller at all. */
int netpoll_arm(int fd, struct fdinfo *fi);
void netpoll_disarm(int fd, struct fdinfo *fi);

/* Bumps fi's seq and wakes everything waiting on it. */
void netpoll_fd_event(struct fdinfo *fi);
/* A backend saw tag's fd become ready (ended: the registration is over and
 * the next wait must arm again). Returns how many waiters it woke. */
int netpoll_dispatch(uint64_t tag, bool ended);

/* Gs parked on fds now; the epoll backend skips its non-blocking poll (a
 * system call) when there are none. */
extern _Atomic int32_t netpoll_waiters;

#endif
