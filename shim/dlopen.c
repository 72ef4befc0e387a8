/* shim/dlopen.c - a library dlopened while threads exist gets its static
 * TLS block initialised in every thread gmpt runs, not only in glibc's
 * (see tcb_after_dlopen). */
#include "shim/thread.h"
#include "sched/real.h"
#include "sched/sched.h"

#include <dlfcn.h>

typedef void *(*dlopen_fn)(const char *, int);

EXPORT void *dlopen(const char *file, int mode)
{
	STEP_ASIDE_FORWARD_TAIL(dlopen, file, mode);
	void *handle = REAL(dlopen_fn, dlopen)(file, mode);
	if (handle)
		sched_tls_after_dlopen();
	return handle;
}
