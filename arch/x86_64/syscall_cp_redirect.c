/* arch/x86_64/syscall_cp_redirect.c - the signal-handler half of
 * arch_syscall_cp (see syscall_cp.S). */
#include "arch/syscall_cp.h"

#include <ucontext.h>

extern const char arch_syscall_cp_begin[], arch_syscall_cp_end[], arch_syscall_cp_canceled[];

bool arch_syscall_cp_redirect(void *ucontext, const _Atomic uint8_t *armed)
{
	mcontext_t *mc = &((ucontext_t *)ucontext)->uc_mcontext;
	uintptr_t ip = (uintptr_t)mc->gregs[REG_RIP];
	if (ip < (uintptr_t)arch_syscall_cp_begin || ip >= (uintptr_t)arch_syscall_cp_end)
		return false;
	if (!atomic_load_explicit(armed, memory_order_acquire))
		return false;
	mc->gregs[REG_RIP] = (greg_t)(uintptr_t)arch_syscall_cp_canceled;
	return true;
}
