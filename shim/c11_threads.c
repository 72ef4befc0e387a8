/* shim/c11_threads.c - <threads.h> on gmpt's threads.
 *
 * glibc's C11 functions call its pthread code directly (not through the
 * PLT), so a program using them would bypass gmpt entirely: kernel
 * threads outside the scheduler, mutexes that block an M with its P held,
 * keys in the M's record. Each one is defined here over gmpt's pthread
 * functions, with glibc's mapping of error codes (thrd_err_map). The types
 * are glibc's: mtx_t and cnd_t have the size and alignment of
 * pthread_mutex_t and pthread_cond_t, thrd_t is a pthread_t, tss_t a
 * pthread_key_t, once_flag a pthread_once_t. */
#include "shim/thread.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>
#include <time.h>

_Static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t), "mtx_t");
_Static_assert(sizeof(cnd_t) == sizeof(pthread_cond_t), "cnd_t");
_Static_assert(sizeof(once_flag) == sizeof(pthread_once_t), "once_flag");

static int thrd_err(int err)
{
	switch (err) {
	case 0:
		return thrd_success;
	case ENOMEM:
		return thrd_nomem;
	case ETIMEDOUT:
		return thrd_timedout;
	case EBUSY:
		return thrd_busy;
	default:
		return thrd_error;
	}
}

struct c11_start {
	thrd_start_t func;
	void *arg;
};

static void *c11_entry(void *p)
{
	struct c11_start st = *(struct c11_start *)p;
	free(p);
	return (void *)(intptr_t)st.func(st.arg);
}

EXPORT int thrd_create(thrd_t *thr, thrd_start_t func, void *arg)
{
	STEP_ASIDE_FORWARD(thrd_create, thr, func, arg);
	struct c11_start *st = malloc(sizeof *st);
	if (!st)
		return thrd_nomem;
	st->func = func;
	st->arg = arg;
	int err = pthread_create((pthread_t *)thr, NULL, c11_entry, st);
	if (err)
		free(st);
	return thrd_err(err);
}

EXPORT thrd_t thrd_current(void)
{
	STEP_ASIDE_FORWARD(thrd_current);
	return (thrd_t)pthread_self();
}

EXPORT int thrd_detach(thrd_t thr)
{
	STEP_ASIDE_FORWARD(thrd_detach, thr);
	return thrd_err(pthread_detach((pthread_t)thr));
}

EXPORT _Noreturn void thrd_exit(int res)
{
	STEP_ASIDE_FORWARD_NORETURN(thrd_exit, res);
	pthread_exit((void *)(intptr_t)res);
}

EXPORT int thrd_join(thrd_t thr, int *res)
{
	STEP_ASIDE_FORWARD(thrd_join, thr, res);
	void *ret;
	int err = pthread_join((pthread_t)thr, &ret);
	if (err == 0 && res)
		*res = (int)(intptr_t)ret;
	return thrd_err(err);
}

/* C11: 0 when the time elapsed, -1 when a signal interrupted it, another
 * negative value on failure. nanosleep is gmpt's: the G parks. */
EXPORT int thrd_sleep(const struct timespec *duration, struct timespec *remaining)
{
	STEP_ASIDE_FORWARD(thrd_sleep, duration, remaining);
	if (nanosleep(duration, remaining) == 0)
		return 0;
	return errno == EINTR ? -1 : -2;
}

EXPORT void thrd_yield(void)
{
	STEP_ASIDE_FORWARD_VOID(thrd_yield);
	sched_yield();
}

EXPORT int mtx_init(mtx_t *mtx, int type)
{
	STEP_ASIDE_FORWARD(mtx_init, mtx, type);
	/* glibc 2.36 looks at the recursive bit only (any other value is
	 * accepted), and mtx_timed needs nothing more than a plain mutex. */
	int kind = (type & mtx_recursive) ? PTHREAD_MUTEX_RECURSIVE : PTHREAD_MUTEX_NORMAL;
	pthread_mutexattr_t attr;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, kind);
	int err = pthread_mutex_init((pthread_mutex_t *)mtx, &attr);
	pthread_mutexattr_destroy(&attr);
	return thrd_err(err);
}

EXPORT int mtx_lock(mtx_t *mtx)
{
	STEP_ASIDE_FORWARD(mtx_lock, mtx);
	return thrd_err(pthread_mutex_lock((pthread_mutex_t *)mtx));
}

EXPORT int mtx_timedlock(mtx_t *restrict mtx, const struct timespec *restrict ts)
{
	STEP_ASIDE_FORWARD(mtx_timedlock, mtx, ts);
	return thrd_err(pthread_mutex_timedlock((pthread_mutex_t *)mtx, ts));
}

EXPORT int mtx_trylock(mtx_t *mtx)
{
	STEP_ASIDE_FORWARD(mtx_trylock, mtx);
	return thrd_err(pthread_mutex_trylock((pthread_mutex_t *)mtx));
}

EXPORT int mtx_unlock(mtx_t *mtx)
{
	STEP_ASIDE_FORWARD(mtx_unlock, mtx);
	return thrd_err(pthread_mutex_unlock((pthread_mutex_t *)mtx));
}

EXPORT void mtx_destroy(mtx_t *mtx)
{
	STEP_ASIDE_FORWARD_VOID(mtx_destroy, mtx);
	pthread_mutex_destroy((pthread_mutex_t *)mtx);
}

EXPORT int cnd_init(cnd_t *cond)
{
	STEP_ASIDE_FORWARD(cnd_init, cond);
	return thrd_err(pthread_cond_init((pthread_cond_t *)cond, NULL));
}

EXPORT int cnd_signal(cnd_t *cond)
{
	STEP_ASIDE_FORWARD(cnd_signal, cond);
	return thrd_err(pthread_cond_signal((pthread_cond_t *)cond));
}

EXPORT int cnd_broadcast(cnd_t *cond)
{
	STEP_ASIDE_FORWARD(cnd_broadcast, cond);
	return thrd_err(pthread_cond_broadcast((pthread_cond_t *)cond));
}

EXPORT int cnd_wait(cnd_t *cond, mtx_t *mtx)
{
	STEP_ASIDE_FORWARD(cnd_wait, cond, mtx);
	return thrd_err(pthread_cond_wait((pthread_cond_t *)cond, (pthread_mutex_t *)mtx));
}

EXPORT int cnd_timedwait(cnd_t *restrict cond, mtx_t *restrict mtx,
			 const struct timespec *restrict ts)
{
	STEP_ASIDE_FORWARD(cnd_timedwait, cond, mtx, ts);
	return thrd_err(pthread_cond_timedwait((pthread_cond_t *)cond, (pthread_mutex_t *)mtx, ts));
}

EXPORT void cnd_destroy(cnd_t *cond)
{
	STEP_ASIDE_FORWARD_VOID(cnd_destroy, cond);
	pthread_cond_destroy((pthread_cond_t *)cond);
}

EXPORT int tss_create(tss_t *key, tss_dtor_t dtor)
{
	STEP_ASIDE_FORWARD(tss_create, key, dtor);
	return thrd_err(pthread_key_create((pthread_key_t *)key, dtor));
}

EXPORT void *tss_get(tss_t key)
{
	STEP_ASIDE_FORWARD(tss_get, key);
	return pthread_getspecific((pthread_key_t)key);
}

EXPORT int tss_set(tss_t key, void *val)
{
	STEP_ASIDE_FORWARD(tss_set, key, val);
	return thrd_err(pthread_setspecific((pthread_key_t)key, val));
}

EXPORT void tss_delete(tss_t key)
{
	STEP_ASIDE_FORWARD_VOID(tss_delete, key);
	pthread_key_delete((pthread_key_t)key);
}

EXPORT void call_once(once_flag *flag, void (*func)(void))
{
	STEP_ASIDE_FORWARD_VOID(call_once, flag, func);
	pthread_once((pthread_once_t *)flag, func);
}
