/* syscalls/fdtab.h - what gmpt knows about each file descriptor.
 *
 * Descriptors gmpt created for the program (socket, accept, pipe, eventfd,
 * ...) are non-blocking underneath; the program's own O_NONBLOCK is kept
 * here and reported back by fcntl(F_GETFL), so it sees the semantics it
 * asked for. Descriptors gmpt did not see created (inherited, or made
 * inside libc) stay as they are and blocking calls on them go through
 * entersyscall, like regular files.
 *
 * seq is the netpoller's edge counter: every readiness event and every
 * close bumps it and wakes the Gs parked on it (waitq). A G reads seq
 * before its non-blocking attempt and parks only if seq is unchanged, so
 * an event between the attempt and the park is never lost. */
#ifndef GMPT_FDTAB_H
#define GMPT_FDTAB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "sched/lock.h"

enum fd_kind {
	FD_UNKNOWN,  /* not created through gmpt: left as the program has it */
	FD_POLLED,   /* ours, non-blocking underneath, waits park on the netpoller */
	FD_BLOCKING, /* ours, but handed back to blocking use (fdopen) */
};

/* Netpoll registration state, a bit mask. Both backends register both
 * directions at the first wait, for the fd's life. */
enum {
	ARM_R = 1,
	ARM_W = 2,
	ARM_NEVER = 4, /* cannot be polled (regular file): always ready */
};

struct fd_multiwait;

/* What an open file description carries that gmpt must keep: the
 * program's O_NONBLOCK is the description's, shared by every dup. */
struct fd_desc {
	_Atomic uint8_t user_nonblock;
	_Atomic int32_t refs;
};

struct fdinfo {
	_Atomic uint32_t seq;
	_Atomic uint32_t gen; /* bumped by close: a waiter that sees it change fails EBADF */
	_Atomic uint8_t kind;
	_Atomic uint8_t armed;	      /* ARM_* */
	_Atomic uint8_t stream;	      /* pipe or stream socket: blocking writes write it all */
	_Atomic uint8_t pair;	      /* an end of a pipe or socketpair (see io_call) */
	_Atomic uint32_t arm_tag;     /* identifies the current registration's events */
	_Atomic uint32_t ops;	      /* io_uring operations in flight on this fd */
	struct fd_desc *_Atomic desc; /* while kind != FD_UNKNOWN */
	_Atomic int64_t rcvtimeo_ns;  /* SO_RCVTIMEO / SO_SNDTIMEO, 0: none */
	_Atomic int64_t sndtimeo_ns;
	struct rtlock lock; /* arming, and the multi-fd waiters list */
	struct fd_multiwait *waiters;
};

/* A poll()/select() over several fds waits on word; every fd it watches
 * links one of these into its list. */
struct fd_multiwait {
	struct fd_multiwait *next;
	_Atomic uint32_t *word;
};

/* The entry for fd, or NULL if fd is out of range. create: allocate the
 * page it lives on if needed (NULL only when out of memory). */
struct fdinfo *fdtab_get(int fd, bool create);

/* fd was just created by gmpt, non-blocking underneath; nonblock is what
 * the program asked for. stream: pipe or SOCK_STREAM. */
void fdtab_created(int fd, bool nonblock, bool stream);
/* ... and it is one end of a pipe or socketpair: both ends in this process,
 * most likely, so a write hands work to one of its threads. */
void fdtab_mark_pair(int fd);
/* fd is being closed or replaced (dup2 onto it): wake its waiters with
 * EBADF, drop its netpoll registration, forget it. */
void fdtab_closing(int fd);
/* newfd is a duplicate of oldfd (dup, dup2, dup3, F_DUPFD). */
void fdtab_dup(int oldfd, int newfd);

/* The entry of a polled fd whose program did not ask for O_NONBLOCK:
 * the calls that should park. NULL otherwise. */
struct fdinfo *fdtab_parkable(int fd);

/* Calls fn for every entry of an allocated page (whatever its kind),
 * until fn returns true. */
void fdtab_for_each(bool (*fn)(int fd, struct fdinfo *fi, void *ctx), void *ctx);

/* fd arrived in SCM_RIGHTS: if it is one of our descriptions (passed
 * within the process), it gets the entry of the fd it duplicates. */
void fdtab_adopt_received(int fd);

/* The program's O_NONBLOCK for fd's description (false if not ours). */
bool fdtab_user_nonblock(struct fdinfo *fi);
void fdtab_set_user_nonblock(struct fdinfo *fi, bool on);

/* Waits for an event on fi after seq was read (netpoll.c); dir is ARM_R
 * or ARM_W. Returns 0 to retry, ETIMEDOUT at the deadline (0: none),
 * EBADF if fd was closed. */
int fd_wait(struct fdinfo *fi, int fd, int dir, uint32_t seq, uint32_t gen, int64_t deadline);

#endif
