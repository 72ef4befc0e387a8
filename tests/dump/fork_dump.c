/* tests/dump/fork_dump.c - thread dumps in forked children, as a server's
 * master forks its workers (fork_dump_test.py sends the signals).
 *
 * The parent (one thread of its own, "parent-worker") forks a child that
 * makes three threads ("child-worker-N") and forks a grandchild that makes
 * two ("grandchild-N"). Each process prints "<role> <pid>" on stdout once
 * its threads exist, then waits for the parent's stdin to close: the
 * parent then closes the pipe the others wait on, and everyone exits. */
#define _GNU_SOURCE
#include "../compat/testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;

static void *parked(void *arg)
{
	pthread_setname_np(pthread_self(), arg);
	pthread_mutex_lock(&mu);
	for (;;)
		pthread_cond_wait(&never, &mu);
	return NULL;
}

static void start(const char *name)
{
	pthread_t t;
	CHECK_OK(pthread_create(&t, NULL, parked, (void *)name));
}

static void announce(const char *role)
{
	printf("%s %ld\n", role, (long)getpid());
	fflush(stdout);
}

/* Until the parent closes the pipe's write end. */
static void wait_for_eof(int fd)
{
	char c;
	while (read(fd, &c, 1) > 0)
		;
}

int main(void)
{
	int quit[2];
	CHECK_OK(pipe(quit));
	start("parent-worker");
	pid_t child = fork();
	CHECK(child >= 0);
	if (child == 0) {
		close(quit[1]);
		start("child-worker-0");
		start("child-worker-1");
		start("child-worker-2");
		pid_t grandchild = fork();
		CHECK(grandchild >= 0);
		if (grandchild == 0) {
			start("grandchild-0");
			start("grandchild-1");
			announce("grandchild");
			wait_for_eof(quit[0]);
			exit(0);
		}
		announce("child");
		wait_for_eof(quit[0]);
		int st;
		CHECK(waitpid(grandchild, &st, 0) == grandchild);
		exit(WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1);
	}
	close(quit[0]);
	announce("parent");
	wait_for_eof(0);
	close(quit[1]);
	int st;
	CHECK(waitpid(child, &st, 0) == child);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
