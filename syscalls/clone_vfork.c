/* syscalls/clone_vfork.c - clone(2) with CLONE_VM and CLONE_VFORK and no
 * TLS of its own: a vfork child on a stack of its own (glibc's
 * posix_spawn does the same internally, where gmpt's code never runs in
 * the child). The child then runs on its parent's TLS and memory, so it
 * is made no G, as vfork's is (sched/vfork.c). Other clones are glibc's
 * unchanged. */
#include "syscalls/io_common.h"
#include "sched/real.h"

#include <sched.h>
#include <stdarg.h>
#include <sys/types.h>

typedef int (*clone_fn)(int (*)(void *), void *, int, void *, ...);

struct vfork_start {
	int (*fn)(void *);
	void *arg;
};

static int vfork_child_start(void *p)
{
	/* On the parent's stack, which stays put: the parent is stopped
	 * until this child execs or exits. */
	struct vfork_start *s = p;
	sched_vfork_child();
	return s->fn(s->arg);
}

EXPORT int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...)
{
	/* glibc's clone reads the three optional arguments only when the
	 * flags ask for them; passing them on is what it would see. */
	va_list ap;
	va_start(ap, arg);
	pid_t *ptid = va_arg(ap, pid_t *);
	void *tls = va_arg(ap, void *);
	pid_t *ctid = va_arg(ap, pid_t *);
	va_end(ap);
	clone_fn real = REAL(clone_fn, clone);
	const int vfork_like = CLONE_VM | CLONE_VFORK;
	if ((flags & vfork_like) != vfork_like || (flags & CLONE_SETTLS) || !fn)
		return real(fn, stack, flags, arg, ptid, tls, ctid);
	struct vfork_start s = {fn, arg};
	sched_vfork_before();
	int r = real(vfork_child_start, stack, flags, &s, ptid, tls, ctid);
	int e = errno;
	/* The child ran on a stack of its own: the parent's shadow (ASan) is
	 * as it left it. */
	sched_vfork_parent();
	errno = e;
	return r;
}
