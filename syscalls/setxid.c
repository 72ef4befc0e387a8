/* syscalls/setxid.c - setuid() and friends, called from the main thread.
 *
 * glibc's set*id changes every kernel thread's credentials by signalling
 * the threads on its list except the caller's own struct pthread, then
 * making the call itself. With per-G TLS the main thread keeps glibc's
 * main struct pthread, whose list entry names the first kernel thread
 * (M0), wherever it runs: called from another M, glibc would skip M0 as
 * "itself" and signal the M it really runs on twice. So the main G calls
 * glibc's on the M's own struct pthread (sched_tls_enter_kernel_thread);
 * every other G already calls it on a TCB of its own that is on no list,
 * and glibc then signals every listed kernel thread (see tcb_wrap_setxid
 * for the handler side). */
#include "syscalls/io_common.h"
#include "sched/real.h"

#include <grp.h>
#include <unistd.h>

#define ON_KERNEL_THREAD_TLS(name, params, args)                                                   \
	EXPORT int name params                                                                     \
	{                                                                                          \
		typedef int(*name##_fn) params;                                                    \
		name##_fn real = REAL(name##_fn, name);                                            \
		if (step_aside())                                                                  \
			return real args;                                                          \
		void *tls = sched_tls_enter_kernel_thread();                                       \
		int ret_ = real args;                                                              \
		sched_tls_leave_kernel_thread(tls);                                                \
		return ret_;                                                                       \
	}

ON_KERNEL_THREAD_TLS(setuid, (uid_t uid), (uid))
ON_KERNEL_THREAD_TLS(setgid, (gid_t gid), (gid))
ON_KERNEL_THREAD_TLS(seteuid, (uid_t uid), (uid))
ON_KERNEL_THREAD_TLS(setegid, (gid_t gid), (gid))
ON_KERNEL_THREAD_TLS(setreuid, (uid_t r, uid_t e), (r, e))
ON_KERNEL_THREAD_TLS(setregid, (gid_t r, gid_t e), (r, e))
ON_KERNEL_THREAD_TLS(setresuid, (uid_t r, uid_t e, uid_t s), (r, e, s))
ON_KERNEL_THREAD_TLS(setresgid, (gid_t r, gid_t e, gid_t s), (r, e, s))
ON_KERNEL_THREAD_TLS(setgroups, (size_t n, const gid_t *list), (n, list))
