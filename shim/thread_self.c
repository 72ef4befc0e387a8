/* shim/thread_self.c - finding the calling thread's record. */
#include "shim/thread.h"
#include "arch/arch.h"
#include "sched/sched.h"

#include <stddef.h>

static _Atomic uint32_t next_id = 1;

/* Threads gmpt did not create keep their record in their own TLS. */
static __thread struct thread foreign_self __attribute__((tls_model("initial-exec")));

uint32_t thread_new_id(void)
{
	uint32_t id;
	do
		id = atomic_fetch_add(&next_id, 1);
	while (id == 0);
	return id;
}

/* The main thread's pre-bootstrap record gives the main G its id, so a
 * mutex a constructor locked before gmpt started is still owned after. */
struct thread *thread_foreign_record(void)
{
	/* Only this kernel thread touches its own record. */
	struct thread *t = &foreign_self;
	if (t->magic != THREAD_MAGIC) {
		/* glibc's pthread_self is its TCB, which x86-64 keeps at the
		 * thread pointer (every glibc gmpt supports). Read here rather
		 * than through glibc's function: resolving that may allocate
		 * (glibc 2.31's libdl keeps dlsym's error state in calloc'd
		 * memory), and a program's malloc may take a pthread mutex,
		 * which comes back here for the same record. */
		t->glibc_self = (pthread_t)arch_thread_pointer();
		t->magic = THREAD_MAGIC;
		t->id = thread_new_id();
		t->keys[0] = t->keys0;
	}
	return t;
}

struct thread *thread_from_handle(pthread_t t)
{
	struct thread *th = (struct thread *)t;
	if (th == NULL || th->magic != THREAD_MAGIC)
		return NULL;
	return th;
}
