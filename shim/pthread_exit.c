/* shim/pthread_exit.c - how every thread gmpt created ends. */
#include "shim/thread.h"
#include "arch/syscall.h"
#include "sched/real.h"
#include "sched/sched.h"

#include <linux/futex.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

typedef void (*exit_fn)(void *) __attribute__((noreturn));

_Noreturn void thread_finish(struct thread *t, void *retval)
{
	t->retval = retval;
	/* glibc's order: thread_local destructors, then key destructors. */
	sched_tls_thread_exit();
	keys_run_destructors(t);
	mutex_owner_died(t);
	robust_shared_owner_died(t->id);
	free(t->affinity);
	t->affinity = NULL;
	if (t->clear_tid) {
		/* What the kernel does with a clear_child_tid at a task's exit
		 * (a shared futex: any process may wait on it). */
		__atomic_store_n(t->clear_tid, 0, __ATOMIC_SEQ_CST);
		raw_syscall(SYS_futex, t->clear_tid, FUTEX_WAKE, 1, NULL, NULL, 0);
		t->clear_tid = NULL;
	}
	sched_exit();
}

/* glibc's forced unwind from the innermost cleanup buffer, as glibc's
 * pthread_exit does it: __pthread_unwind_next continues from a buffer's
 * predecessor, so a buffer whose predecessor is the innermost one starts
 * at the top. It ends in thread_entry's bottom buffer. */
static _Noreturn void unwind_thread(void *innermost)
{
	__pthread_unwind_buf_t start;
	memset(&start, 0, sizeof start);
	start.__pad[0] = innermost; /* glibc's priv.data.prev */
	__pthread_unwind_next(&start);
	__builtin_unreachable();
}

/* Where the main thread's unwind ends: on the process stack, in place of
 * the frame that called main (see pthread_exit), entered by a jump with
 * the stack as that frame's call left it, hence the realignment. */
static __attribute__((force_align_arg_pointer, noreturn)) void main_unwound(void)
{
	struct thread *t = thread_self();
	thread_finish(t, t->retval);
}

/* Where glibc's buffer for the main thread's chain would jump to; used
 * once, by the one main thread. */
static __pthread_unwind_buf_t main_chain_end;

EXPORT _Noreturn void pthread_exit(void *retval)
{
	STEP_ASIDE_FORWARD_NORETURN(pthread_exit, retval);
	struct g *g = sched_current();
	if (g) {
		struct thread *t = sched_g_ext(g);
		void *chain = sched_tls_cleanup_chain();
		/* The main thread's chain ends in glibc's own buffer, in the
		 * frame that called main, whose landing would end the
		 * kernel thread (and with it the M running the main G): its
		 * copy lands in main_unwound instead, after the same frames
		 * were unwound and their handlers run. */
		if (chain &&
		    (!t->is_main || sched_tls_chain_end_lands(&main_chain_end, main_unwound))) {
			t->retval = retval;
			unwind_thread(sched_tls_cleanup_chain());
		}
		thread_finish(t, retval);
	}
	/* A thread gmpt did not create ends the glibc way. */
	REAL(exit_fn, pthread_exit)(retval);
	__builtin_unreachable();
}
