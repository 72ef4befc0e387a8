/* syscalls/netpoll_epoll.c - the epoll backend, for when io_uring cannot
 * be set up (or GMPT_NETPOLL=epoll): readiness only, through the epoll set
 * both backends share (epoll_set.c). Each non-blocking look is a system
 * call, skipped while no G waits on an fd or an M blocks in the set. */
#include "syscalls/epoll_set.h"
#include "syscalls/fdtab.h"
#include "syscalls/netpoll.h"

#include <stddef.h>

static struct epoll_set set = {-1, -1, 0, 0};

static int epoll_init(char *why, int whylen)
{
	return epset_init(&set, why, whylen);
}

static int epoll_arm(int fd, uint64_t tag, int dirs)
{
	(void)dirs; /* both, for the fd's life */
	return epset_arm(&set, fd, tag);
}

static void epoll_disarm(int fd, uint64_t tag, int armed, bool ops)
{
	(void)ops;
	if (armed)
		epset_disarm(&set, fd, tag);
}

static int epoll_poll(int64_t until)
{
	return epset_poll(&set, until, NULL);
}

static void epoll_wake(void)
{
	epset_wake(&set);
}

static void epoll_forget(void)
{
	epset_close(&set);
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
