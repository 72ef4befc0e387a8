/* tests/dump/stderr_lines.c - threads that write whole lines to stderr
 * without pause, each with one write(2), while the test asks for thread
 * dumps (stderr_lines_test.py). Every line says how it must look, so the
 * test can tell a whole one from a torn one:
 *
 *     prog t=<thread> n=<seq> len=<L> <L times one letter> end
 *
 * Main prints "ready" on stdout once the writers run, and stops them and
 * exits when its stdin closes. */
#define _GNU_SOURCE
#include "../compat/testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define WRITERS 4

static atomic_bool stop;

static void *writer(void *arg)
{
	int id = (int)(long)arg;
	char name[16], line[512];
	snprintf(name, sizeof name, "writer-%d", id);
	pthread_setname_np(pthread_self(), name);
	for (unsigned long seq = 0; !atomic_load(&stop); seq++) {
		/* Lengths from a few bytes to a few hundred, so that the lines
		 * fall at every offset of the dump's writes. */
		int len = (int)((seq * 37 + (unsigned long)id * 11) % 300);
		int n = snprintf(line, sizeof line, "prog t=%d n=%lu len=%d ", id, seq, len);
		memset(line + n, 'a' + id, (size_t)len);
		n += len;
		memcpy(line + n, " end\n", 5);
		n += 5;
		CHECK_EQ(write(2, line, (size_t)n), n);
	}
	return NULL;
}

int main(void)
{
	pthread_t t[WRITERS];
	for (long i = 0; i < WRITERS; i++)
		CHECK_OK(pthread_create(&t[i], NULL, writer, (void *)i));
	printf("ready\n");
	fflush(stdout);
	char c;
	while (read(0, &c, 1) > 0)
		;
	atomic_store(&stop, true);
	for (int i = 0; i < WRITERS; i++)
		CHECK_OK(pthread_join(t[i], NULL));
	return 0;
}
