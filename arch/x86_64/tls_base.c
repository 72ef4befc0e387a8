/* arch/x86_64/tls_base.c - set the fs base of the calling kernel thread.
 *
 * Only the AT_HWCAP2 bit is trusted: on some VMs wrfsbase executes without
 * faulting while the kernel does not preserve the value across a context
 * switch, so "it did not trap" proves nothing. */
#include "arch/syscall.h"
#include "arch/arch.h"

#include <asm/prctl.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1 << 1)
#endif

static int fsgsbase_state; /* 0 unknown, 1 usable, -1 not */

void arch_tls_set_base(void *base)
{
	/* Benign race: every thread computes the same answer. */
	int st = __atomic_load_n(&fsgsbase_state, __ATOMIC_RELAXED);
	if (st == 0) {
		st = (getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE) ? 1 : -1;
		__atomic_store_n(&fsgsbase_state, st, __ATOMIC_RELAXED);
	}
	if (st > 0)
		__asm__ volatile("wrfsbase %0" ::"r"(base) : "memory");
	else
		raw_syscall(SYS_arch_prctl, ARCH_SET_FS, base);
}
