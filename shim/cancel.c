/* shim/cancel.c - thread cancellation.
 *
 * Deferred cancellation as glibc does it: pthread_cancel marks the target
 * and cuts short the wait it is in, if it waits at a cancellation point
 * (sched_interrupt); the target acts at its next cancellation point by
 * ending as pthread_exit(PTHREAD_CANCELED) does, cleanup handlers and C++
 * destructors included (glibc's forced unwind; see pthread_exit.c).
 * Cancellation points: pthread_testcancel, pthread_cond_wait/timedwait/
 * clockwait, pthread_join/timedjoin/clockjoin, sem_wait/timedwait/
 * clockwait, the sleeps, and every interposed call that waits for an fd
 * (read, write, recv, send, accept, connect, poll, select, epoll_wait
 * ...), and the system calls glibc makes cancellation points (open,
 * close, fsync, waitpid, sigwait ...: syscalls/cancel_points.c): a thread
 * blocked in one is stopped by a poke and the call is not made
 * (sched_syscall_cancelable). PTHREAD_CANCEL_ASYNCHRONOUS acts at once
 * when the thread cancels itself or enables it with a cancellation
 * pending; another thread's asynchronous cancellation stops the target
 * where it runs user code (through the preemption signal's handler), or
 * at its next preemption or cancellation point if it is in gmpt's or
 * libc's code then. Threads gmpt did not create go to glibc.
 *
 * sched keeps a hint of whether the thread should act now
 * (sched_cancel_arm): set when a cancellation becomes pending and
 * enabled, cleared when it is disabled. The hint may be stale either way
 * for a moment (the flag word and the hint are two stores); the hook
 * reads the flag word and decides, and sched disarms when it did not
 * act, so a stale hint costs one retried call, never a wrong outcome. */
#include "shim/thread.h"
#include "sched/real.h"
#include "sched/sched.h"

#include <errno.h>

enum {
	CANCEL_PENDING = 1,
	CANCEL_DISABLED = 2,
	CANCEL_ASYNC = 4,
	CANCEL_ACTING = 8,
};

/* The hook sched_cancel_point calls: ends the thread if it must. */
static void act_if_cancelled(void)
{
	struct thread *t = thread_self();
	uint32_t f = atomic_load(&t->cancel);
	if ((f & (CANCEL_PENDING | CANCEL_DISABLED | CANCEL_ACTING)) != CANCEL_PENDING)
		return;
	/* glibc disables cancellation while the thread unwinds, so the
	 * cleanup handlers' own cancellation points do not act again. */
	atomic_fetch_or(&t->cancel, CANCEL_ACTING | CANCEL_DISABLED);
	sched_cancel_arm(t->g, SCHED_CANCEL_OFF);
	pthread_exit(PTHREAD_CANCELED);
}

void cancel_init(void)
{
	sched_set_cancel_hook(act_if_cancelled);
}

typedef int (*cancel_fn)(pthread_t);

/* The hint for flag word f with a cancellation pending. */
static enum sched_cancel_arm arm_for(uint32_t f)
{
	if (f & (CANCEL_DISABLED | CANCEL_ACTING))
		return SCHED_CANCEL_OFF;
	return (f & CANCEL_ASYNC) ? SCHED_CANCEL_ASYNC : SCHED_CANCEL_DEFERRED;
}

/* After the calling thread changed its state or type. */
static void rearm_self(struct thread *t)
{
	uint32_t f = atomic_load(&t->cancel);
	sched_cancel_arm(t->g, (f & CANCEL_PENDING) ? arm_for(f) : SCHED_CANCEL_OFF);
}

EXPORT int pthread_cancel(pthread_t th)
{
	STEP_ASIDE_FORWARD(pthread_cancel, th);
	struct thread *t = thread_from_handle(th);
	if (!t || !t->g)
		return REAL(cancel_fn, pthread_cancel)(thread_glibc_handle(t, th));
	atomic_store(&sched_interrupts_used, 1);
	uint32_t f = atomic_fetch_or(&t->cancel, CANCEL_PENDING);
	if (f & (CANCEL_DISABLED | CANCEL_ACTING))
		return 0; /* acted on when it enables cancellation */
	if (t == thread_self()) {
		if (f & CANCEL_ASYNC)
			act_if_cancelled();
		return 0;
	}
	sched_cancel_arm(t->g, arm_for(f));
	sched_interrupt(t->g);
	return 0;
}

EXPORT int pthread_setcancelstate(int state, int *old)
{
	STEP_ASIDE_FORWARD(pthread_setcancelstate, state, old);
	if (state != PTHREAD_CANCEL_ENABLE && state != PTHREAD_CANCEL_DISABLE)
		return EINVAL;
	struct thread *t = thread_self();
	if (!t->g) {
		typedef int (*state_fn)(int, int *);
		return REAL(state_fn, pthread_setcancelstate)(state, old);
	}
	uint32_t f = state == PTHREAD_CANCEL_DISABLE
			 ? atomic_fetch_or(&t->cancel, CANCEL_DISABLED)
			 : atomic_fetch_and(&t->cancel, ~(uint32_t)CANCEL_DISABLED);
	if (f & CANCEL_ACTING)
		atomic_fetch_or(&t->cancel, CANCEL_DISABLED); /* stays off while unwinding */
	if (old)
		*old = (f & CANCEL_DISABLED) ? PTHREAD_CANCEL_DISABLE : PTHREAD_CANCEL_ENABLE;
	if (state == PTHREAD_CANCEL_ENABLE && (f & CANCEL_ASYNC))
		act_if_cancelled();
	rearm_self(t);
	return 0;
}

EXPORT int pthread_setcanceltype(int type, int *old)
{
	STEP_ASIDE_FORWARD(pthread_setcanceltype, type, old);
	if (type != PTHREAD_CANCEL_DEFERRED && type != PTHREAD_CANCEL_ASYNCHRONOUS)
		return EINVAL;
	struct thread *t = thread_self();
	if (!t->g) {
		typedef int (*type_fn)(int, int *);
		return REAL(type_fn, pthread_setcanceltype)(type, old);
	}
	uint32_t f = type == PTHREAD_CANCEL_ASYNCHRONOUS
			 ? atomic_fetch_or(&t->cancel, CANCEL_ASYNC)
			 : atomic_fetch_and(&t->cancel, ~(uint32_t)CANCEL_ASYNC);
	if (old)
		*old = (f & CANCEL_ASYNC) ? PTHREAD_CANCEL_ASYNCHRONOUS : PTHREAD_CANCEL_DEFERRED;
	if (type == PTHREAD_CANCEL_ASYNCHRONOUS)
		act_if_cancelled();
	rearm_self(t);
	return 0;
}

EXPORT void pthread_testcancel(void)
{
	STEP_ASIDE_FORWARD_VOID(pthread_testcancel);
	struct thread *t = thread_self();
	if (!t->g) {
		typedef void (*test_fn)(void);
		REAL(test_fn, pthread_testcancel)();
		return;
	}
	act_if_cancelled();
}

/* ---- the cleanup variants that also defer cancellation ----
 *
 * pthread_cleanup_push_defer_np and its pop: glibc switches the thread to
 * deferred cancellation inside, keeping the old type in the buffer, and
 * puts it back on the way out; the type is gmpt's here. The handler list
 * itself is glibc's, in the thread's own TCB (per-G TLS), so glibc's
 * unwind runs the handlers. With shared TLS the calls go to glibc. */
static int defer_cancel(void)
{
	struct thread *t = thread_self();
	uint32_t f = atomic_fetch_and(&t->cancel, ~(uint32_t)CANCEL_ASYNC);
	rearm_self(t);
	return (f & CANCEL_ASYNC) ? PTHREAD_CANCEL_ASYNCHRONOUS : PTHREAD_CANCEL_DEFERRED;
}

static void restore_cancel(int type)
{
	if (type == PTHREAD_CANCEL_ASYNCHRONOUS)
		pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL);
}

typedef void (*push_defer_fn)(struct _pthread_cleanup_buffer *, void (*)(void *), void *);
typedef void (*pop_restore_fn)(struct _pthread_cleanup_buffer *, int);

EXPORT void _pthread_cleanup_push_defer(struct _pthread_cleanup_buffer *buf,
					void (*routine)(void *), void *arg)
{
	STEP_ASIDE_FORWARD_VOID(_pthread_cleanup_push_defer, buf, routine, arg);
	void **list = sched_tls_cleanup_list();
	if (!list) {
		REAL(push_defer_fn, _pthread_cleanup_push_defer)(buf, routine, arg);
		return;
	}
	buf->__routine = routine;
	buf->__arg = arg;
	buf->__canceltype = defer_cancel();
	buf->__prev = *list;
	*list = buf;
}

EXPORT void _pthread_cleanup_pop_restore(struct _pthread_cleanup_buffer *buf, int execute)
{
	STEP_ASIDE_FORWARD_VOID(_pthread_cleanup_pop_restore, buf, execute);
	void **list = sched_tls_cleanup_list();
	if (!list) {
		REAL(pop_restore_fn, _pthread_cleanup_pop_restore)(buf, execute);
		return;
	}
	*list = buf->__prev;
	restore_cancel(buf->__canceltype);
	if (execute)
		buf->__routine(buf->__arg);
}

/* glibc's private layout of __pthread_unwind_buf_t's __pad: prev,
 * cleanup, canceltype. */
struct unwind_buf_priv {
	void *prev;
	void *cleanup;
	int canceltype;
};

typedef void (*register_fn)(__pthread_unwind_buf_t *);

EXPORT void __pthread_register_cancel_defer(__pthread_unwind_buf_t *buf)
{
	STEP_ASIDE_FORWARD_VOID(__pthread_register_cancel_defer, buf);
	if (!sched_tls_cleanup_list()) {
		REAL(register_fn, __pthread_register_cancel_defer)(buf);
		return;
	}
	__pthread_register_cancel(buf);
	((struct unwind_buf_priv *)(void *)buf->__pad)->canceltype = defer_cancel();
}

EXPORT void __pthread_unregister_cancel_restore(__pthread_unwind_buf_t *buf)
{
	STEP_ASIDE_FORWARD_VOID(__pthread_unregister_cancel_restore, buf);
	if (!sched_tls_cleanup_list()) {
		REAL(register_fn, __pthread_unregister_cancel_restore)(buf);
		return;
	}
	int type = ((struct unwind_buf_priv *)(void *)buf->__pad)->canceltype;
	__pthread_unregister_cancel(buf);
	restore_cancel(type);
}
