/* shim/thread_self.c - finding the calling thread's record. */
#include "shim/thread.h"
#include "sched/sched.h"

#include "sched/real.h"

#include <stddef.h>

typedef pthread_t (*self_fn)(void);

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
		t->glibc_self = REAL(self_fn, pthread_self)();
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
