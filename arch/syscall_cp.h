/* arch/syscall_cp.h - system calls that a cancellation can stop before
 * they block, with no window in which it would be lost (syscall_cp.S). */
#ifndef GMPT_ARCH_SYSCALL_CP_H
#define GMPT_ARCH_SYSCALL_CP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* What arch_syscall_cp returns when the call was not made because *armed
 * was set (no system call returns it: errors are -1 .. -4095). */
#define ARCH_SYSCALL_CANCELED (-4096L)

/* call[0]: the system call number; call[1..6]: its arguments. Returns
 * the raw result, or ARCH_SYSCALL_CANCELED. */
long arch_syscall_cp(const _Atomic uint8_t *armed, const long call[7]);

/* In a signal handler that interrupted this kernel thread (ucontext: the
 * handler's third argument): if it stopped inside arch_syscall_cp and
 * *armed is set, make it return ARCH_SYSCALL_CANCELED instead of making
 * or restarting the call. Returns whether it did. */
bool arch_syscall_cp_redirect(void *ucontext, const _Atomic uint8_t *armed);

#endif
