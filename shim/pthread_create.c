/* shim/pthread_create.c - a new thread is a new G.
 *
 * The attributes stay in glibc's own pthread_attr_t layout (the program
 * sets them with glibc's setters, which gmpt does not replace: they only
 * store fields) and are read back with glibc's getters. */
#include "shim/thread.h"
#include "sched/real.h"
#include "sched/header_gaps.h"
#include "sched/sched.h"
#include "sched/thread_dump.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

/* glibc's __sigsetjmp on a cleanup buffer's jump buffer, which is smaller
 * than a jmp_buf (no saved signal mask: savemask is 0), declared so the
 * compiler does not take it for a whole jmp_buf (what pthread.h does as
 * __sigsetjmp_cancel since glibc 2.34; older headers do not have it). */
extern int sigsetjmp_cancel_buf(void *env, int savemask) __asm__("__sigsetjmp")
    __attribute__((returns_twice));

typedef int (*getstackaddr_fn)(const pthread_attr_t *, void **);

static void thread_entry(void *unused)
{
	(void)unused;
	struct thread *t = sched_g_ext(sched_current());
	/* The bottom of the thread's cleanup chain, as glibc's start_thread
	 * has one: glibc's forced unwind (pthread_exit, cancellation) runs
	 * the cleanup handlers and C++ destructors of every frame above,
	 * then jumps here. Needs the thread's own TCB (per-G TLS), where
	 * glibc keeps the chain. */
	__pthread_unwind_buf_t bottom;
	if (sched_tls_per_g()) {
		if (sigsetjmp_cancel_buf(bottom.__cancel_jmp_buf, 0))
			thread_finish(t, t->retval); /* pthread_exit stored it */
		__pthread_register_cancel(&bottom);
	}
	thread_finish(t, t->start(t->arg));
}

struct create_ctx {
	pthread_t *handle;
	void *(*start)(void *);
	void *arg;
	bool detached;
	bool has_sigmask; /* pthread_attr_setsigmask_np: the new thread's mask */
	uint64_t sigmask;
	struct thread sched; /* only its scheduling fields */
};

/* Runs before the G can run anywhere: the handle is stored first, as
 * glibc stores it before clone, so the new thread may read it. */
static void prepare(struct g *g, void *p)
{
	struct create_ctx *c = p;
	struct thread *t = sched_g_ext(g);
	t->magic = THREAD_MAGIC;
	t->g = g;
	t->id = thread_new_id();
	t->start = c->start;
	t->arg = c->arg;
	t->keys[0] = t->keys0;
	t->clear_tid = NULL;
	if (c->has_sigmask)
		sched_g_set_sigmask(g, c->sigmask);
	t->sched_policy = c->sched.sched_policy;
	t->sched_priority = c->sched.sched_priority;
	t->nice = c->sched.nice;
	t->nice_set = c->sched.nice_set;
	t->affinity = c->sched.affinity; /* the thread's from now on */
	t->affinity_size = c->sched.affinity_size;
	/* A new kernel thread starts with its creator's name, as Linux
	 * copies comm at clone. */
	thread_name_get(thread_self(), t->created_name, sizeof t->created_name);
	sched_g_set_name(g, t->created_name);
	atomic_store(&t->join, c->detached ? JOIN_DETACHED : JOIN_JOINABLE);
	*c->handle = (pthread_t)t;
}

static _Atomic bool default_attr_changed;

typedef int (*setdefault_fn)(const pthread_attr_t *);

/* glibc keeps the default; gmpt reads it back only once it changed. */
EXPORT int pthread_setattr_default_np(const pthread_attr_t *attr)
{
	STEP_ASIDE_FORWARD(pthread_setattr_default_np, attr);
	int err = REAL(setdefault_fn, pthread_setattr_default_np)(attr);
	if (err == 0)
		atomic_store(&default_attr_changed, true);
	return err;
}

static int read_attr(const pthread_attr_t *attr, struct stack_spec *spec, bool *detached)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	spec->size = 0;
	spec->guard = page;
	spec->user_stack = NULL;
	spec->user_size = 0;
	*detached = false;
	if (!attr)
		return 0;
	int ds;
	if (pthread_attr_getdetachstate(attr, &ds) != 0)
		return EINVAL;
	*detached = ds == PTHREAD_CREATE_DETACHED;
	size_t size = 0, guard = 0;
	pthread_attr_getstacksize(attr, &size);
	pthread_attr_getguardsize(attr, &guard);
	/* pthread_attr_getstack computes addr - size even when no stack was
	 * set; the deprecated getter tells "set" from "not set". Looked up at
	 * run time: a link-time reference draws glibc's deprecation warning,
	 * which newer meson makes fatal under werror. */
	void *top = NULL;
	REAL(getstackaddr_fn, pthread_attr_getstackaddr)(attr, &top);
	if (top) {
		spec->user_stack = (char *)top - size;
		spec->user_size = size;
		return 0;
	}
	/* glibc's stack size includes the guard; a size that only glibc's
	 * default produced (no setter called) is the default. */
	if (size != sched_default_stack_size())
		spec->size = size;
	spec->guard = guard;
	return 0;
}

/* The signal mask pthread_attr_setsigmask_np gave (glibc 2.32): the new
 * thread starts with it instead of its creator's. */
static void read_attr_sigmask(const pthread_attr_t *attr, struct create_ctx *c)
{
	sigset_t set;
	if (!attr || !pthread_attr_getsigmask_np ||
	    pthread_attr_getsigmask_np(attr, &set) == PTHREAD_ATTR_NO_SIGMASK_NP)
		return;
	c->has_sigmask = true;
	c->sigmask = sched_sigset_bits(&set);
}

EXPORT int pthread_create(pthread_t *restrict handle, const pthread_attr_t *restrict attr,
			  void *(*start)(void *), void *restrict arg)
{
	STEP_ASIDE_FORWARD(pthread_create, handle, attr, start, arg);
	if (!sched_ready()) {
		gmpt_bootstrap();
		if (!sched_ready())
			return EAGAIN; /* not the main thread, before gmpt started */
	}
	/* Once pthread_setattr_default_np changed the process default, a
	 * NULL attr means all of it: stack, signal mask, affinity. */
	pthread_attr_t dflt;
	bool use_default = !attr &&
			   atomic_load_explicit(&default_attr_changed, memory_order_relaxed) &&
			   pthread_getattr_default_np(&dflt) == 0;
	if (use_default)
		attr = &dflt;
	struct create_ctx c = {.handle = handle, .start = start, .arg = arg};
	struct stack_spec spec;
	int err = read_attr(attr, &spec, &c.detached);
	read_attr_sigmask(attr, &c);
	if (!err)
		err = thread_sched_inherit(&c.sched, thread_self(), attr);
	if (use_default)
		pthread_attr_destroy(&dflt);
	if (err)
		return err;
	atomic_fetch_add(&threads_alive, 1);
	bool spawned = sched_spawn(thread_entry, NULL, &spec, prepare, &c);
	if (!spawned) {
		free(c.sched.affinity);
		atomic_fetch_sub(&threads_alive, 1);
	}
	/* A program may create threads in a tight loop, retrying a failing
	 * pthread_create until threads that exit free memory (glibc's
	 * tst-create-detached): the loop runs in gmpt, where the preemption
	 * signal cannot act, so a request sysmon made is honoured here. A
	 * failure yields at once: the threads that can free what is missing
	 * are runnable ones, which natively run meanwhile on other CPUs. */
	if (spawned) {
		sched_preempt_point();
		return 0;
	}
	sched_gosched();
	return EAGAIN;
}
