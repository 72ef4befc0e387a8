/* shim/thread_name.c - pthread_setname_np and pthread_getname_np for gmpt's
 * threads. The name lives in the thread's record, not in the kernel's comm
 * of whichever kernel thread runs it (several threads share one). A thread
 * that never set one has the name it was created with: its creator's, as
 * Linux copies comm at clone; the first thread's is the process's comm.
 * Handles of threads gmpt did not create go to glibc. */
#include "arch/syscall.h"
#include "shim/thread.h"
#include "sched/real.h"
#include "sched/thread_dump.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>

#define NAME_MAX_LEN 15 /* TASK_COMM_LEN - 1 */

typedef int (*setname_fn)(pthread_t, const char *);
typedef int (*getname_fn)(pthread_t, char *, size_t);

/* The comm the process started with (/proc/self/comm, read once). */
static void process_comm(char out[16])
{
	static char comm[16];
	static _Atomic int done;
	if (!atomic_load_explicit(&done, memory_order_acquire)) {
		char buf[32] = "";
		long fd = raw_syscall(SYS_open, "/proc/self/comm", O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			long n = raw_syscall(SYS_read, fd, buf, sizeof buf - 1);
			raw_syscall(SYS_close, fd);
			if (n > 0 && buf[n - 1] == '\n')
				n--;
			buf[n > 0 ? (n > NAME_MAX_LEN ? NAME_MAX_LEN : n) : 0] = 0;
		}
		/* Benign race: every thread reads the same file. */
		memcpy(comm, buf, sizeof comm);
		atomic_store_explicit(&done, 1, memory_order_release);
	}
	memcpy(out, comm, 16);
}

void thread_name_get(struct thread *t, char *buf, size_t len)
{
	char name[16];
	if (t->name_set)
		memcpy(name, t->name, sizeof name);
	else if (t->created_name[0])
		memcpy(name, t->created_name, sizeof name);
	else
		process_comm(name);
	name[NAME_MAX_LEN] = 0;
	size_t n = strlen(name);
	if (n >= len)
		n = len ? len - 1 : 0;
	if (len) {
		memcpy(buf, name, n);
		buf[n] = 0;
	}
}

EXPORT int pthread_setname_np(pthread_t handle, const char *name)
{
	STEP_ASIDE_FORWARD(pthread_setname_np, handle, name);
	struct thread *t = thread_from_handle(handle);
	if (!t || !t->g)
		return REAL(setname_fn, pthread_setname_np)(thread_glibc_handle(t, handle), name);
	size_t n = strlen(name);
	if (n > NAME_MAX_LEN)
		return ERANGE;
	char copy[16] = {0};
	memcpy(copy, name, n);
	/* A reader on another thread may see a half-copied name: glibc's
	 * (a write to /proc/.../comm) has the same race. */
	memcpy(t->name, copy, sizeof copy);
	t->name_set = true;
	sched_g_set_name(t->g, copy); /* for the thread dump */
	return 0;
}

EXPORT int pthread_getname_np(pthread_t handle, char *buf, size_t len)
{
	STEP_ASIDE_FORWARD(pthread_getname_np, handle, buf, len);
	struct thread *t = thread_from_handle(handle);
	if (!t || !t->g)
		return REAL(getname_fn, pthread_getname_np)(thread_glibc_handle(t, handle), buf,
							    len);
	if (len < NAME_MAX_LEN + 1)
		return ERANGE; /* glibc asks for room for any name, whatever this one is */
	char name[16];
	thread_name_get(t, name, sizeof name);
	memcpy(buf, name, strlen(name) + 1);
	return 0;
}
