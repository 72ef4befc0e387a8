/* syscalls/futex_shared.h - waits another process can end.
 *
 * A process-shared mutex, condvar or semaphore may be woken from another
 * process, which only the kernel futex can do; the G hands its P off
 * around the wait. */
#ifndef GMPT_FUTEX_SHARED_H
#define GMPT_FUTEX_SHARED_H

#include <stdint.h>

/* Sleeps while *addr == val, until the CLOCK_MONOTONIC deadline (ns, 0:
 * none). Returns 0 (woken, maybe spuriously), EAGAIN or ETIMEDOUT. */
int futex_shared_wait(uint32_t *addr, uint32_t val, int64_t deadline);
/* The same at a cancellation point: also returns EINTR when a
 * cancellation cut the wait short (the caller acts once it has put things
 * back: sched_cancel_point_or_disarm). */
int futex_shared_wait_cancelable(uint32_t *addr, uint32_t val, int64_t deadline);
void futex_shared_wake(uint32_t *addr, int n);

#endif
