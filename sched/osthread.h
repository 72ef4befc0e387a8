/* sched/osthread.h - kernel threads for Ms, made with glibc's own
 * pthread_create (the shim replaces the exported one). */
#ifndef GMPT_OSTHREAD_H
#define GMPT_OSTHREAD_H

/* Starts a detached kernel thread running fn(arg). Returns 0 or an errno. */
int os_thread_create(void (*fn)(void *), void *arg);

#include <stddef.h>
void os_thread_stack(void **lo, size_t *size);

#endif
