/* sched/real.h - the libc function gmpt's definition hides. Every layer
 * uses it: the scheduler makes its Ms with glibc's pthread_create. */
#ifndef GMPT_REAL_H
#define GMPT_REAL_H

/* Looks name up past libgmpt in the lookup order (RTLD_NEXT); dies with a
 * clear message if libc does not have it. Cache the result. */
void *real_symbol(const char *name);

#define REAL(fnptr_type, name)                                                                     \
	({                                                                                         \
		static fnptr_type real_##name;                                                     \
		/* Benign race: every thread stores the same pointer. */                           \
		if (!real_##name)                                                                  \
			real_##name = (fnptr_type)real_symbol(#name);                              \
		real_##name;                                                                       \
	})

#endif
