/* sched/osthread.h - kernel threads for Ms, made with glibc's own
 * pthread_create (the shim replaces the exported one). */
#ifndef GMPT_OSTHREAD_H
#define GMPT_OSTHREAD_H

/* Starts a detached kernel thread running fn(arg). Returns 0 or an errno. */
int os_thread_create(void (*fn)(void *), void *arg);

#include <stddef.h>
void os_thread_stack(void **lo, size_t *size);

/* Kernel threads os_thread_create started that have not ended (the main
 * thread is not one of them); a fork child has none but its caller. */
int os_threads_alive(void);
void os_threads_after_fork(void);

/* Gives the calling kernel thread a signal stack (os_thread_create does it
 * for every thread it starts), unless it has one. Returns the mapping made,
 * or NULL. */
void *os_thread_sigaltstack(void);

#endif
