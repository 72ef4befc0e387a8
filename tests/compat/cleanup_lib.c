/* A library built with -fexceptions, as distributions build C libraries:
 * its pthread_cleanup_push is the __attribute__((cleanup)) kind, which
 * only the unwinder's personality routine runs (cleanup_in_lib.c). */
#include <pthread.h>
#include <stdio.h>

static void note(void *what)
{
	printf("cleanup in the library ran (%s)\n", (const char *)what);
}

void cleanup_lib_call(void (*fn)(void), const char *what)
{
	pthread_cleanup_push(note, (void *)what);
	fn();
	pthread_cleanup_pop(0);
}
