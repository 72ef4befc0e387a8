/* sched/header_gaps.h - what older glibc and kernel headers lack.
 *
 * gmpt builds against every glibc from 2.31 on (Debian bullseye's headers
 * and Linux 5.10's uapi). Numbers fixed by the kernel ABI are defined here
 * when the headers do not have them; functions newer than 2.31 are
 * declared weak, so a library built on an old glibc still uses them where
 * the running glibc has them (a weak reference left undefined at link
 * time carries no symbol version and binds to whatever version the
 * running libc defines). */
#ifndef GMPT_HEADER_GAPS_H
#define GMPT_HEADER_GAPS_H

#include <stddef.h>
#include <limits.h> /* PTHREAD_STACK_MIN before glibc 2.34 */
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>

#ifndef FUTEX_LOCK_PI2
#define FUTEX_LOCK_PI2 13 /* Linux 5.14 */
#endif

#ifndef SYS_epoll_pwait2
#define SYS_epoll_pwait2 441 /* Linux 5.11, x86-64 */
#endif

#ifndef PTHREAD_ATTR_NO_SIGMASK_NP
#define PTHREAD_ATTR_NO_SIGMASK_NP 1 /* glibc 2.32 */
#endif

/* The 16-bit word after a mutex's __spins: __elision until glibc 2.42,
 * renamed (and unused by glibc) once lock elision was dropped in 2.43. */
#define MUTEX_SPARE_SHORT(m)                                                                       \
	(*(short *)((char *)(m) + offsetof(struct __pthread_mutex_s, __spins) + sizeof(short)))

/* glibc 2.32. */
extern int pthread_attr_getsigmask_np(const pthread_attr_t *attr, sigset_t *set)
    __attribute__((weak));
extern const char *sigabbrev_np(int sig) __attribute__((weak));
extern char __libc_single_threaded __attribute__((weak));

#endif
