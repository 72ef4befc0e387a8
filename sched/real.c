/* sched/real.c - see real.h. */
#include "sched/real.h"
#include "sched/sched.h"

#include <dlfcn.h>

void *real_symbol(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);
	if (!p)
		sched_fatal("libc has no %s (%s)", name, dlerror());
	return p;
}
