/* syscalls/netpoll.h - the netpoller: one interface, two backends.
 *
 * Readiness: a G whose call would block parks on its fd's seq (fdtab.h)
 * after arming the fd; an event bumps seq and wakes it, and it retries its
 * call. Both backends register each fd once, edge-triggered, for both
 * directions, in an epoll set (Go's model; netpoll_uring.c says why).
 *
 * Operations (io_uring only): read, write, recv, send and accept can also
 * be handed to the kernel whole (netpoll_op): the G queues the request and
 * parks; the request goes to the kernel with the next batch, and its
 * completion carries the result. A batch is submitted by whichever M runs
 * out of Gs first, with one io_uring_enter for every request queued: a
 * hand-off through a pipe is one system call for both threads.
 *
 * The scheduler sees the poller through struct sched_poller: findrunnable
 * polls without blocking (with io_uring: reads the completion ring, no
 * system call, and submits what is queued), one idle M blocks in it until
 * the next timer, and wake() breaks that block. */
#ifndef GMPT_NETPOLL_H
#define GMPT_NETPOLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct fdinfo;

enum netpoll_opcode { NP_READ, NP_WRITE, NP_READV, NP_WRITEV, NP_RECV, NP_SEND, NP_ACCEPT };

struct netpoll_op {
	enum netpoll_opcode code;
	int fd;
	void *buf;  /* iovec array for READV/WRITEV */
	size_t len; /* bytes, or iovec count */
	int flags;  /* MSG_* for RECV/SEND, SOCK_* for ACCEPT */
	struct sockaddr *addr;
	socklen_t *addrlen;
};

struct netpoll_backend {
	const char *name;
	/* 0, or -errno (the reason goes in the fallback notice). */
	int (*init)(char *why, int whylen);
	/* Arms fd for at least dirs (ARM_R, ARM_W); its events carry tag
	 * (netpoll_tag). Returns the ARM_* bits now armed, -EPERM when fd
	 * cannot be polled (regular files), or -errno. */
	int (*arm)(int fd, uint64_t tag, int dirs);
	/* Drops fd's registration and cancels its operations in flight,
	 * before the fd is closed. */
	void (*disarm)(int fd, uint64_t tag, int armed, bool ops);
	/* sched_poller.poll and .wake. */
	int (*poll)(int64_t until);
	void (*wake)(void);
	/* Performs op in the kernel, parking the G until it completes; NULL
	 * when the backend cannot. Returns the raw result, -ENOSYS to fall
	 * back to readiness. */
	long (*do_op)(struct fdinfo *fi, const struct netpoll_op *op);
	/* In a forked child: drop the parent's instance (a new one is made on
	 * first use). */
	void (*forget)(void);
};

extern const struct netpoll_backend netpoll_uring_backend;
extern const struct netpoll_backend netpoll_epoll_backend;

/* From the shim's configuration (enum netpoll_choice), before any use. */
void netpoll_configure(int choice);
const char *netpoll_backend_name(void);

/* Arms fd for dirs if it is not yet. Returns the ARM_* bits in force, or
 * -1 when there is no netpoller at all. */
int netpoll_arm(int fd, struct fdinfo *fi, int dirs);
void netpoll_disarm(int fd, struct fdinfo *fi);
/* op through the kernel's asynchronous interface (see above); -ENOSYS if
 * there is none. */
long netpoll_op(struct fdinfo *fi, const struct netpoll_op *op);

/* Bumps fi's seq and wakes everything waiting on it. */
void netpoll_fd_event(struct fdinfo *fi);
/* A backend saw tag's fd become ready. Returns how many it woke. */
int netpoll_dispatch(uint64_t tag);
/* An fd's tag: bit 63 set, the fd, and the fd's epoch (bumped when it is
 * closed, so events of an old registration are ignored). Backends keep
 * their own tags below 4096 (never a tag, nor a pointer); UINT64_MAX is the
 * epoll set's break. */
static inline uint64_t netpoll_tag(int fd, uint32_t epoch)
{
	return 1ULL << 63 | (uint64_t)(uint32_t)fd << 32 | epoch;
}
static inline bool netpoll_is_tag(uint64_t v)
{
	return v >> 63 && v != UINT64_MAX;
}

/* Gs parked on fds and operations now; the epoll backend skips its
 * non-blocking poll (a system call) when there are none. */
extern _Atomic int32_t netpoll_waiters;

#endif
