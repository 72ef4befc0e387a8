/* The C half of the cgo test program: threads Go does not know about. */
#ifndef CGO_GOROUTINES_THREADS_H
#define CGO_GOROUTINES_THREADS_H

/* Starts n pthreads that hand items to each other through a mutex and
 * condition variable and a semaphore, sleeping between rounds; joins them
 * and returns the sum of what was handed over. */
long c_handoff(int n);

/* Starts n pthreads that each call the Go function goAdd(i + 1), then
 * joins them (Go has to give each a goroutine of its own on the spot). */
void c_call_go(int n);

/* Whether a pipe the program makes is non-blocking underneath, as
 * /proc/self/fdinfo shows it (gmpt makes pipes so when it runs). */
int c_pipe_nonblocking(void);

#endif
