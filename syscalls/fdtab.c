/* syscalls/fdtab.c - the fd table: two levels, pages of 1024 entries
 * allocated on first use and never freed, so a lookup is two loads and
 * an entry's address stays valid while a G sleeps on its seq.
 *
 * A vfork child (sched_in_vfork_child) shares the table with its parent
 * but not its descriptors: it may read the table, which is true for the
 * fds it inherited until it changes them, and never writes it. */
#include "syscalls/fdtab.h"
#include "syscalls/netpoll.h"
#include "sched/sched.h"

#include "arch/syscall.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

static void desc_put(struct fd_desc *d)
{
	if (d && atomic_fetch_sub(&d->refs, 1) == 1)
		free(d);
}

bool fdtab_user_nonblock(struct fdinfo *fi)
{
	struct fd_desc *d = atomic_load_explicit(&fi->desc, memory_order_acquire);
	return d && atomic_load_explicit(&d->user_nonblock, memory_order_relaxed);
}

void fdtab_set_user_nonblock(struct fdinfo *fi, bool on)
{
	if (sched_in_vfork_child())
		return;
	struct fd_desc *d = atomic_load(&fi->desc);
	if (d)
		atomic_store(&d->user_nonblock, on);
}

void fdtab_created(int fd, bool nonblock, bool stream)
{
	bool vfork_child = sched_in_vfork_child();
	struct fdinfo *fi = vfork_child ? NULL : fdtab_get(fd, true);
	struct fd_desc *d = vfork_child ? NULL : malloc(sizeof *d);
	if (!fi || !d) {
		/* Out of range or memory, or made by a vfork child: tell the
		 * kernel what the program asked for, and it stays a plain
		 * fd. */
		free(d);
		if (!nonblock) {
			long fl = raw_syscall(SYS_fcntl, fd, F_GETFL);
			if (fl >= 0)
				raw_syscall(SYS_fcntl, fd, F_SETFL, fl & ~O_NONBLOCK);
		}
		return;
	}
	atomic_store(&d->user_nonblock, nonblock);
	atomic_store(&d->refs, 1);
	desc_put(atomic_exchange(&fi->desc, d));
	atomic_store(&fi->stream, stream);
	atomic_store(&fi->pair, 0);
	atomic_store(&fi->rcvtimeo_ns, 0);
	atomic_store(&fi->sndtimeo_ns, 0);
	atomic_store(&fi->armed, 0);
	atomic_store_explicit(&fi->kind, FD_POLLED, memory_order_release);
}

void fdtab_mark_pair(int fd)
{
	if (sched_in_vfork_child())
		return;
	struct fdinfo *fi = fdtab_get(fd, false);
	if (fi)
		atomic_store(&fi->pair, 1);
}

void fdtab_closing(int fd)
{
	/* A vfork child's close leaves the parent's descriptor, its
	 * waiters and its netpoll registration as they are. */
	if (sched_in_vfork_child())
		return;
	struct fdinfo *fi = fdtab_get(fd, false);
	if (!fi)
		return;
	/* Also fds gmpt did not create but registered for a poll(). */
	if (atomic_load(&fi->kind) == FD_UNKNOWN && atomic_load(&fi->armed) == 0 &&
	    atomic_load(&fi->ops) == 0 &&
	    !atomic_load_explicit((_Atomic(struct fd_multiwait *) *)&fi->waiters,
				  memory_order_relaxed))
		return;
	atomic_store(&fi->kind, FD_UNKNOWN);
	desc_put(atomic_exchange(&fi->desc, NULL));
	/* gen first: a waiter woken by what follows (an event, or its
	 * operation completing -ECANCELED) must see the close: EBADF. */
	atomic_fetch_add(&fi->gen, 1);
	/* Drops pending polls and cancels operations in flight before the
	 * kernel's close: they hold references to the file. */
	netpoll_disarm(fd, fi);
	netpoll_fd_event(fi);
}

/* A vfork child duplicates a descriptor to pass it to the program it
 * execs (dup2 onto 0, 1 or 2 most often), where the table cannot follow:
 * if the program wants the description blocking it is made so underneath
 * now. The parent's calls on it stay correct (exec.c). */
static void vfork_child_dup(struct fdinfo *o, int newfd)
{
	if (atomic_load(&o->kind) != FD_POLLED || fdtab_user_nonblock(o))
		return;
	long fl = raw_syscall(SYS_fcntl, newfd, F_GETFL);
	if (fl >= 0 && (fl & O_NONBLOCK))
		raw_syscall(SYS_fcntl, newfd, F_SETFL, fl & ~O_NONBLOCK);
}

void fdtab_dup(int oldfd, int newfd)
{
	struct fdinfo *o = fdtab_get(oldfd, false);
	if (!o || atomic_load(&o->kind) == FD_UNKNOWN)
		return;
	if (sched_in_vfork_child()) {
		vfork_child_dup(o, newfd);
		return;
	}
	struct fdinfo *n = fdtab_get(newfd, true);
	if (!n)
		return;
	struct fd_desc *d = atomic_load(&o->desc);
	if (!d)
		return;
	atomic_fetch_add(&d->refs, 1);
	desc_put(atomic_exchange(&n->desc, d));
	atomic_store(&n->stream, atomic_load(&o->stream));
	atomic_store(&n->pair, atomic_load(&o->pair));
	atomic_store(&n->rcvtimeo_ns, atomic_load(&o->rcvtimeo_ns));
	atomic_store(&n->sndtimeo_ns, atomic_load(&o->sndtimeo_ns));
	atomic_store(&n->armed, 0);
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
	    fdtab_user_nonblock(fi))
		return NULL;
	return fi;
}

/* Same open file description: same file, same access mode (a pipe's two
 * ends share an inode). fstat and fcntl on each; callers are rare. */
static bool same_description(int a, int b)
{
	struct stat sa, sb;
	if (raw_syscall(SYS_fstat, a, &sa) < 0 || raw_syscall(SYS_fstat, b, &sb) < 0)
		return false;
	if (sa.st_dev != sb.st_dev || sa.st_ino != sb.st_ino)
		return false;
	long fa = raw_syscall(SYS_fcntl, a, F_GETFL), fb = raw_syscall(SYS_fcntl, b, F_GETFL);
	return fa >= 0 && fb >= 0 && (fa & O_ACCMODE) == (fb & O_ACCMODE);
}

void fdtab_for_each(bool (*fn)(int fd, struct fdinfo *fi, void *ctx), void *ctx)
{
	for (int page = 0; page < MAX_PAGES; page++) {
		struct fdinfo *p = atomic_load(&pages[page]);
		if (!p)
			continue;
		for (int i = 0; i < PAGE_FDS; i++)
			if (fn(page * PAGE_FDS + i, &p[i], ctx))
				return;
	}
}

static bool adopt_if_same(int other, struct fdinfo *fi, void *ctx)
{
	int fd = *(int *)ctx;
	if (other == fd || atomic_load(&fi->kind) != FD_POLLED || fdtab_user_nonblock(fi) ||
	    !same_description(fd, other))
		return false;
	fdtab_dup(other, fd);
	return true;
}

void fdtab_adopt_received(int fd)
{
	if (sched_in_vfork_child())
		return;
	long fl = raw_syscall(SYS_fcntl, fd, F_GETFL);
	if (fl < 0 || !(fl & O_NONBLOCK))
		return; /* blocking underneath: nothing of ours */
	/* Non-blocking underneath: set by the sender, or by us if the
	 * description is one of ours passed within this process. Only a
	 * description the program wants blocking needs our entry. */
	fdtab_for_each(adopt_if_same, &fd);
}
