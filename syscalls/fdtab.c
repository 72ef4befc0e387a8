/* syscalls/fdtab.c - the fd table: two levels, pages of 1024 entries
 * allocated on first use and never freed, so a lookup is two loads and
 * an entry's address stays valid while a G sleeps on its seq. */
#include "syscalls/fdtab.h"
#include "syscalls/netpoll.h"
#include "sched/sched.h"

#include <limits.h>
#include <stdlib.h>

#define PAGE_SHIFT 10
#define PAGE_FDS   (1 << PAGE_SHIFT)
#define MAX_PAGES  4096 /* fds below 4 Mi */

static struct fdinfo *_Atomic pages[MAX_PAGES];

struct fdinfo *fdtab_get(int fd, bool create)
{
	if (fd < 0 || (fd >> PAGE_SHIFT) >= MAX_PAGES)
		return NULL;
	struct fdinfo *page = atomic_load_explicit(&pages[fd >> PAGE_SHIFT], memory_order_acquire);
	if (!page) {
		if (!create)
			return NULL;
		struct fdinfo *fresh = calloc(PAGE_FDS, sizeof *fresh);
		if (!fresh)
			return NULL;
		/* Two threads may race to install a page: one wins, the
		 * other frees its copy (nobody else has seen it). */
		if (!atomic_compare_exchange_strong(&pages[fd >> PAGE_SHIFT], &page, fresh))
			free(fresh);
		else
			page = fresh;
	}
	return &page[fd & (PAGE_FDS - 1)];
}

void fdtab_created(int fd, bool nonblock, bool stream)
{
	struct fdinfo *fi = fdtab_get(fd, true);
	if (!fi)
		return; /* out of range or memory: it stays a plain blocking fd */
	atomic_store(&fi->user_nonblock, nonblock);
	atomic_store(&fi->stream, stream);
	atomic_store(&fi->rcvtimeo_ns, 0);
	atomic_store(&fi->sndtimeo_ns, 0);
	atomic_store(&fi->armed, ARM_NO);
	atomic_store_explicit(&fi->kind, FD_POLLED, memory_order_release);
}

void fdtab_closing(int fd)
{
	struct fdinfo *fi = fdtab_get(fd, false);
	if (!fi)
		return;
	/* Also fds gmpt did not create but registered for a poll(). */
	if (atomic_load(&fi->kind) == FD_UNKNOWN && atomic_load(&fi->armed) == ARM_NO &&
	    !atomic_load_explicit((_Atomic(struct fd_multiwait *) *)&fi->waiters,
				  memory_order_relaxed))
		return;
	atomic_store(&fi->kind, FD_UNKNOWN);
	if (atomic_load(&fi->armed) == ARM_YES)
		netpoll_disarm(fd, fi);
	atomic_store(&fi->armed, ARM_NO);
	/* Order matters: gen first, so a woken waiter sees the close. */
	atomic_fetch_add(&fi->gen, 1);
	netpoll_fd_event(fi);
}

void fdtab_dup(int oldfd, int newfd)
{
	struct fdinfo *o = fdtab_get(oldfd, false);
	if (!o || atomic_load(&o->kind) == FD_UNKNOWN)
		return;
	struct fdinfo *n = fdtab_get(newfd, true);
	if (!n)
		return;
	atomic_store(&n->user_nonblock, atomic_load(&o->user_nonblock));
	atomic_store(&n->stream, atomic_load(&o->stream));
	atomic_store(&n->rcvtimeo_ns, atomic_load(&o->rcvtimeo_ns));
	atomic_store(&n->sndtimeo_ns, atomic_load(&o->sndtimeo_ns));
	atomic_store(&n->armed, ARM_NO);
	atomic_store_explicit(&n->kind, atomic_load(&o->kind), memory_order_release);
}

struct fdinfo *fdtab_parkable(int fd)
{
	/* Threads that are not Gs get the entry too: the fd is non-blocking
	 * underneath whoever calls, and fd_wait blocks a kernel thread in the
	 * parking lot just as it parks a G. */
	if (!sched_ready())
		return NULL;
	struct fdinfo *fi = fdtab_get(fd, false);
	if (!fi || atomic_load_explicit(&fi->kind, memory_order_acquire) != FD_POLLED ||
	    atomic_load_explicit(&fi->user_nonblock, memory_order_relaxed))
		return NULL;
	return fi;
}
