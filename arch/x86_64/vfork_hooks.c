/* arch/x86_64/vfork_hooks.c - what vfork.S calls around the system call
 * until the layer above sets its own hooks: nothing, and libc's
 * convention for the result. */
#include "arch/arch.h"

#include <errno.h>

static void vfork_nothing(void)
{
}

static long vfork_plain_result(long raw)
{
	if (raw < 0 && raw > -4096) {
		errno = (int)-raw;
		return -1;
	}
	return raw;
}

static const struct arch_vfork_hooks plain_hooks = {
    .before = vfork_nothing,
    .child = vfork_nothing,
    .parent = vfork_plain_result,
};

const struct arch_vfork_hooks *arch_vfork_hooks = &plain_hooks;

void arch_vfork_set_hooks(const struct arch_vfork_hooks *hooks)
{
	arch_vfork_hooks = hooks;
}
