/* shim/dlopen.c - dlopen and dlclose, for what they mean to gmpt's
 * threads: a library dlopened while threads exist gets its static TLS
 * block initialised in every thread gmpt runs, not only in glibc's (see
 * tcb_after_dlopen), also when it is loaded again after a dlclose; and a
 * library that needs an executable stack makes every thread's stack
 * executable, as glibc does for its own threads.
 *
 * glibc's dlopen looks at its return address to find the calling object:
 * a name without a slash is searched along that object's DT_RUNPATH (and
 * DT_RPATH), and $ORIGIN means its directory. Called from here, the
 * caller would be libgmpt, which has neither, so a program whose
 * DT_RUNPATH points at its plugins could not load them. The real dlopen
 * is therefore called with a return address inside the caller's own
 * object (arch_call_via: a `ret` byte there returns to us), and glibc
 * does everything else as for the caller itself: search order,
 * LD_LIBRARY_PATH, the cache, $ORIGIN, secure mode, dlerror. Resolving
 * names here instead would mean copying that order, and diverging from
 * it. */
#include "arch/arch.h"
#include "shim/thread.h"
#include "sched/real.h"
#include "sched/sched.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdint.h>

typedef void *(*dlopen_fn)(const char *, int);
typedef int (*dlclose_fn)(void *);

struct ret_site_search {
	uintptr_t caller;
	uintptr_t site;
};

/* A 0xc3 byte (decoded from there, `ret`) in [lo, hi), nearest after
 * from, else before it; 0 if none. */
static uintptr_t ret_byte_in(uintptr_t lo, uintptr_t hi, uintptr_t from)
{
	for (uintptr_t a = from; a < hi; a++)
		if (*(const unsigned char *)a == 0xc3)
			return a;
	for (uintptr_t a = from; a-- > lo;)
		if (*(const unsigned char *)a == 0xc3)
			return a;
	return 0;
}

/* The executable segment holding s->caller, or with caller 0 the main
 * program's first one (dl_iterate_phdr lists the main program first). */
static int find_ret_site(struct dl_phdr_info *info, size_t size, void *p)
{
	(void)size;
	struct ret_site_search *s = p;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X) || !(ph->p_flags & PF_R))
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_filesz;
		if (s->caller && (s->caller < lo || s->caller >= hi))
			continue;
		s->site = ret_byte_in(lo, hi, s->caller ? s->caller : lo);
		return 1;
	}
	/* Only the main program is looked at when the caller is unknown. */
	return s->caller == 0;
}

/* Where glibc should believe it was called from. Code outside every
 * object (a JIT) is taken by glibc for the main program, so that is what
 * it gets here too; 0 if nothing fits. */
static uintptr_t ret_site_for(const void *caller)
{
	struct ret_site_search s = {.caller = (uintptr_t)caller};
	if (dl_iterate_phdr(find_ret_site, &s) && s.site)
		return s.site;
	s.caller = 0;
	dl_iterate_phdr(find_ret_site, &s);
	return s.site;
}

EXPORT void *dlopen(const char *file, int mode)
{
	STEP_ASIDE_FORWARD_TAIL(dlopen, file, mode);
	dlopen_fn real = REAL(dlopen_fn, dlopen);
	uintptr_t site = ret_site_for(__builtin_extract_return_addr(__builtin_return_address(0)));
	void *handle = site ? arch_call_via((void *)real, (const void *)site, (void *)file, mode)
			    : real(file, mode);
	if (handle) {
		sched_tls_after_dlopen();
		sched_stacks_after_dlopen();
	}
	return handle;
}

/* A module unloaded here may come back at the same link_map address with
 * the same TLS module id: what gmpt remembers of its static TLS must go
 * with it (tcb_after_dlclose). */
EXPORT int dlclose(void *handle)
{
	STEP_ASIDE_FORWARD_TAIL(dlclose, handle);
	int r = REAL(dlclose_fn, dlclose)(handle);
	if (r == 0)
		sched_tls_after_dlclose();
	return r;
}
