/* arch/preempt.h - asynchronous preemption support: redirect a thread
 * stopped in a signal handler so that, when the handler returns, it calls
 * a function with every register saved, and afterwards continues exactly
 * where it was interrupted. Nothing here knows what the function does. */
#ifndef GMPT_ARCH_PREEMPT_H
#define GMPT_ARCH_PREEMPT_H

#include <stddef.h>
#include <stdint.h>

/* Sizes the register save area for this CPU's enabled state (once). */
void arch_preempt_init(void);
/* Stack the injected call needs below the interrupted stack pointer. */
size_t arch_preempt_stack_bytes(void);
/* ucontext: the handler's third argument. */
void arch_preempt_inject(void *ucontext, void (*fn)(void));
uintptr_t arch_ucontext_ip(const void *ucontext);
uintptr_t arch_ucontext_sp(const void *ucontext);
/* Where a preempted thread resumes: the frame an unwinder finds on top of
 * its stack (the thread dump leaves it out). */
void arch_preempt_trampoline(void) __attribute__((visibility("hidden")));

#endif
