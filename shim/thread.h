/* shim/thread.h - what a pthread_t points at.
 *
 * For a thread gmpt created, struct thread lives in the extension area of
 * its G (sched_g_ext), so it is pooled with the G. Threads gmpt did not
 * create (and an M's scheduler when it runs exit handlers) get a record in
 * their own TLS, so pthread_self, keys and mutex ownership still work
 * there. */
#ifndef GMPT_SHIM_THREAD_H
#define GMPT_SHIM_THREAD_H

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "sched/sched.h"
#include "sched/step_aside.h"

#define THREAD_MAGIC 0x676d70742d746872ULL /* "gmpt-thr" */
#define EXPORT	     __attribute__((visibility("default")))

#define KEY_BLOCK  32
#define KEY_BLOCKS (PTHREAD_KEYS_MAX / KEY_BLOCK)

struct key_slot {
	uint64_t seq; /* the key's sequence when the value was set */
	void *data;
};

enum join_state {
	JOIN_JOINABLE,
	JOIN_DETACHED,
	JOIN_EXITED, /* dead and joinable: the G waits for its joiner */
};

struct thread {
	uint64_t magic;
	struct g *g;	      /* NULL for a thread gmpt did not create */
	pthread_t glibc_self; /* for those: glibc's own handle */
	uint32_t id;	      /* never 0; what mutexes record as their owner */
	bool is_main;

	void *(*start)(void *);
	void *arg;
	void *retval;

	_Atomic uint32_t join;	  /* enum join_state; joiners wait on it */
	_Atomic uint32_t joiners; /* 0 or 1: a second joiner gets EINVAL */

	/* pthread_setname_np's (15 bytes and a NUL) once name_set; until
	 * then the name is the one it was created with (created_name). */
	char name[16];
	char created_name[16];
	bool name_set;

	_Atomic uint32_t cancel;      /* cancel.c */
	pthread_mutex_t *robust_held; /* mutex.c: robust mutexes it holds */

	/* Recorded, without effect (thread_sched.c). */
	int sched_policy;
	int sched_priority;
	cpu_set_t *affinity; /* NULL: none set */
	size_t affinity_size;
	int nice; /* setpriority(PRIO_PROCESS, its id), once nice_set */
	bool nice_set;

	/* set_tid_address(2) from this thread (thread_tid.c): cleared and
	 * woken when it ends, as the kernel does for its clear_child_tid. */
	int *clear_tid;
	/* What prctl(PR_GET_TID_ADDRESS) gives before any set_tid_address:
	 * the thread's own word (glibc's would be its descriptor's tid), so
	 * a program that saves and restores the address never names a
	 * kernel thread's. */
	int tid_word;

	struct key_slot *keys[KEY_BLOCKS]; /* keys[0] == keys0 once used */
	struct key_slot keys0[KEY_BLOCK];
};

/* This kernel thread's TLS record (what thread_self gives outside a G). */
struct thread *thread_foreign_record(void);

/* The calling thread's record (never NULL). Inline: it is on the path of
 * pthread_self, pthread_getspecific and every mutex lock. */
static inline struct thread *thread_self(void)
{
	void *ext = sched_current_ext();
	if (__builtin_expect(ext != NULL, 1))
		return ext;
	return thread_foreign_record();
}

static inline uint32_t thread_self_id(void)
{
	return thread_self()->id;
}
/* pthread_t -> record, or NULL if it is not one of ours. */
struct thread *thread_from_handle(pthread_t t);
/* What glibc knows a thread gmpt did not create by: its own handle (the
 * record keeps it), or the handle itself if it is not gmpt's. */
static inline pthread_t thread_glibc_handle(struct thread *t, pthread_t handle)
{
	return t ? t->glibc_self : handle;
}
uint32_t thread_new_id(void);

/* thread_name.c: t's name into buf (NUL-terminated, truncated to len). */
void thread_name_get(struct thread *t, char *buf, size_t len);

/* thread_sched.c: t's policy, priority and affinity at creation; an
 * error number for an attribute object glibc's pthread_create refuses. */
int thread_sched_inherit(struct thread *t, const struct thread *creator,
			 const pthread_attr_t *attr);

/* thread_sched.c: pthread_setaffinity_np and pthread_getaffinity_np on
 * one of gmpt's threads (also sched_setaffinity on its id); error
 * numbers. */
int thread_affinity_set(struct thread *t, size_t size, const cpu_set_t *set);
int thread_affinity_get(struct thread *t, size_t size, cpu_set_t *set);
/* sched_setscheduler's checks: EINVAL or EPERM, else 0. */
int thread_sched_check(int policy, int prio);

/* thread_tid.c: routes syscall(2)'s thread-id calls (gettid, tgkill,
 * tkill, sched_setaffinity, sched_getaffinity) to gmpt's threads. */
void thread_tid_init(void);

/* cancel.c: registers the cancellation hook with sched. */
void cancel_init(void);

/* bootstrap.c */
void gmpt_bootstrap(void);
extern _Atomic int64_t threads_alive;

/* key.c: run key destructors for t, then free its key blocks. */
void keys_run_destructors(struct thread *t);

/* pthread_exit.c: the common end of every thread gmpt created. */
_Noreturn void thread_finish(struct thread *t, void *retval);

/* mutex.c: a thread ends holding robust mutexes: EOWNERDEAD for the next. */
void mutex_owner_died(struct thread *t);
/* mutex_robust_shared.c: robust mutexes shared between processes. */
void robust_shared_init(void);
int robust_shared_lock(pthread_mutex_t *m, int64_t deadline, bool try);
int robust_shared_unlock(pthread_mutex_t *m);
void robust_shared_owner_died(uint32_t id);
/* mutex.c: used by cond.c */
int mutex_unlock_for_wait(pthread_mutex_t *m);
int mutex_relock_after_wait(pthread_mutex_t *m);

#endif
