/* arch/x86_64/context_read.c - what a switched-away context holds, for
 * unwinders (the thread dump): the frame arch_context_switch left on the
 * stack (see context_switch.S) read back into a ucontext_t. */
#include "arch/arch.h"

#include <string.h>
#include <ucontext.h>

/* Reads another thread's stack: not the sanitizer's business. */
__attribute__((no_sanitize_address)) void arch_context_ucontext(const struct arch_context *ctx,
								void *ucontext)
{
	ucontext_t *uc = ucontext;
	memset(uc, 0, sizeof *uc);
	const uint64_t *f = ctx->sp;
	greg_t *r = uc->uc_mcontext.gregs;
	r[REG_R15] = (greg_t)f[2];
	r[REG_R14] = (greg_t)f[3];
	r[REG_R13] = (greg_t)f[4];
	r[REG_R12] = (greg_t)f[5];
	r[REG_RBX] = (greg_t)f[6];
	r[REG_RBP] = (greg_t)f[7];
	/* The context resumes by returning into its caller: that return
	 * address is where it "is", with the stack as the ret leaves it. */
	r[REG_RIP] = (greg_t)f[8];
	r[REG_RSP] = (greg_t)(uintptr_t)(f + 9);
}

void arch_context_trampoline(void) __attribute__((visibility("hidden")));

__attribute__((no_sanitize_address)) bool arch_context_fresh(const struct arch_context *ctx)
{
	const uint64_t *f = ctx->sp;
	return f[8] == (uint64_t)(uintptr_t)arch_context_trampoline;
}
