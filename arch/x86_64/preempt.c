/* arch/x86_64/preempt.c - make an interrupted thread call a function when
 * it resumes (asynchronous preemption; see preempt_trampoline.S). */
#include "arch/preempt.h"

#include <cpuid.h>
#include <stdint.h>
#include <ucontext.h>

/* Read by the trampoline. */
uint64_t arch_xsave_bytes __attribute__((visibility("hidden"))) = 512;
uint32_t arch_xsave_usable __attribute__((visibility("hidden")));

void arch_preempt_trampoline(void);

#define RED_ZONE 128

void arch_preempt_init(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE))
		return;
	if (__get_cpuid_max(0, NULL) < 0xD)
		return;
	/* EBX of leaf 0xD, sub-leaf 0: bytes xsave needs for the features
	 * the kernel enabled in XCR0. */
	__cpuid_count(0xD, 0, a, b, c, d);
	if (b < 576)
		return;
	arch_xsave_bytes = b;
	arch_xsave_usable = 1;
}

size_t arch_preempt_stack_bytes(void)
{
	/* fn slot, rip, red zone, 16 saved registers, the xsave area and its
	 * alignment. */
	return 16 + RED_ZONE + 128 + arch_xsave_bytes + 64;
}

void arch_preempt_inject(void *ucontext, void (*fn)(void))
{
	mcontext_t *mc = &((ucontext_t *)ucontext)->uc_mcontext;
	uint64_t *sp = (uint64_t *)(mc->gregs[REG_RSP] - RED_ZONE);
	*--sp = (uint64_t)mc->gregs[REG_RIP];
	*--sp = (uint64_t)(uintptr_t)fn;
	mc->gregs[REG_RSP] = (greg_t)(uintptr_t)sp;
	mc->gregs[REG_RIP] = (greg_t)(uintptr_t)arch_preempt_trampoline;
}

uintptr_t arch_ucontext_ip(const void *ucontext)
{
	return (uintptr_t)((const ucontext_t *)ucontext)->uc_mcontext.gregs[REG_RIP];
}

uintptr_t arch_ucontext_sp(const void *ucontext)
{
	return (uintptr_t)((const ucontext_t *)ucontext)->uc_mcontext.gregs[REG_RSP];
}
