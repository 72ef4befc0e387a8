/* arch/x86_64/context_make.c - lay out a fresh stack for arch_context_switch. */
#include "arch/arch.h"

void arch_context_trampoline(void) __attribute__((visibility("hidden")));

void arch_context_make(struct arch_context *ctx, void *stack_top, void (*entry)(void *), void *arg)
{
	uint32_t mxcsr;
	uint16_t fpucw;
	__asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
	__asm__ volatile("fnstcw %0" : "=m"(fpucw));

	/* The return-address slot sits at top-8, so after the switch's `ret`
	 * %rsp == top, 16-byte aligned, and the trampoline's call gives entry
	 * the alignment the ABI promises at function entry. */
	uint64_t *sp = (uint64_t *)((uintptr_t)stack_top & ~(uintptr_t)15);
	*--sp = (uint64_t)(uintptr_t)arch_context_trampoline;
	*--sp = 0;			    /* rbp */
	*--sp = 0;			    /* rbx */
	*--sp = (uint64_t)(uintptr_t)entry; /* r12 */
	*--sp = (uint64_t)(uintptr_t)arg;   /* r13 */
	*--sp = 0;			    /* r14 */
	*--sp = 0;			    /* r15 */
	*--sp = mxcsr;
	*--sp = fpucw;
	ctx->sp = sp;
}
