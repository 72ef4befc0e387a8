/* arch/arch.h - the machine-dependent pieces the scheduler needs, nothing more.
 *
 * A context is a stack pointer: everything else the callee must preserve
 * (rbx, rbp, r12-r15, MXCSR, the x87 control word) is pushed on the stack
 * being left, so a switch is one store and one load of %rsp plus the pushes.
 * No signal mask is saved: that is what makes this ~100x cheaper than
 * swapcontext(3), which makes an rt_sigprocmask system call per switch.
 *
 * Nothing here knows about Gs, Ms or Ps. */
#ifndef GMPT_ARCH_H
#define GMPT_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arch_context {
	void *sp;
};

/* Save the current callee-saved state on the current stack, store the stack
 * pointer in *save, then load *load and return into whatever it saved. */
void arch_context_switch(struct arch_context *save, const struct arch_context *load);

/* Prepare *ctx so that switching to it calls entry(arg) on the stack that
 * ends (exclusive) at stack_top. entry must never return. The new context
 * inherits the caller's MXCSR and x87 control word, as a new kernel thread
 * inherits its creator's floating-point environment. */
void arch_context_make(struct arch_context *ctx, void *stack_top, void (*entry)(void *), void *arg);

/* Calls fn(a1, a2) with site, the address of a `ret` instruction, as the
 * return address fn sees; returns fn's result (call_via.S). */
void *arch_call_via(void *fn, const void *site, void *a1, long a2);

/* Fills *ucontext (a ucontext_t) with the registers a context that switched
 * away resumes with: the instruction pointer is the return address into the
 * caller of arch_context_switch, the stack pointer is as that return leaves
 * it, and the callee-saved registers are the ones it pushed; the others are
 * zero. An unwinder started there (as from a getcontext in that caller)
 * walks the stack the context left. Reads the context's stack: the caller
 * must know it is not being switched back in meanwhile, or accept a torn
 * result. */
void arch_context_ucontext(const struct arch_context *ctx, void *ucontext);
/* Whether a context made by arch_context_make was never switched to. */
bool arch_context_fresh(const struct arch_context *ctx);

/* The thread pointer (%fs:0 holds its own address on x86-64 glibc). Volatile
 * on purpose: the compiler must never cache it across a call that may switch
 * a G to another kernel thread. */
static inline void *arch_thread_pointer(void)
{
	void *tp;
	__asm__ volatile("movq %%fs:0, %0" : "=r"(tp));
	return tp;
}

static inline void arch_cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

/* Set this kernel thread's TLS base: wrfsbase where the kernel enabled
 * FSGSBASE (AT_HWCAP2), arch_prctl(ARCH_SET_FS) otherwise. */
void arch_tls_set_base(void *base);

/* vfork and __vfork are exported from here (x86_64/vfork.S): the system
 * call must be made where the child, which runs first on the same stack,
 * cannot overwrite the parent's return address. Around it: before() in
 * the parent, child() in the child just before vfork returns 0 there, and
 * parent(raw) in the parent with the system call's result (a pid or
 * -errno), whose return value vfork returns (libc's convention: -1 and
 * errno). The layer above sets its hooks once, at start-up; the fields'
 * order is vfork.S's. */
struct arch_vfork_hooks {
	void (*before)(void);
	void (*child)(void);
	long (*parent)(long raw);
};
void arch_vfork_set_hooks(const struct arch_vfork_hooks *hooks);

#endif
