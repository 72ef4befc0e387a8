/* GMPT_MAXTHREADS bounds the kernel threads: each thread blocked in a
 * system call that hands its P off holds one. Run preloaded: the program
 * starts itself again (posix_spawn, a fresh runtime) with
 * GMPT_MAXTHREADS=8 and 32 threads blocked in a futex wait, and checks
 * that the child dies with SIGABRT after one fatal line naming the limit,
 * instead of hanging or growing without bound. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static _Atomic int word;

static void *blocker(void *arg)
{
	(void)arg;
	/* A futex wait through syscall(): gmpt hands the P off and the kernel
	 * thread blocks here. */
	syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	return NULL;
}

static int child(void)
{
	pthread_t t[32];
	for (int i = 0; i < 32; i++)
		if (pthread_create(&t[i], NULL, blocker, NULL) != 0)
			return 3;
	sleep(5); /* the runtime must have stopped us long before */
	return 4;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--child") == 0)
		return child();
	int p[2];
	if (pipe(p) != 0)
		return 1;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	posix_spawn_file_actions_addclose(&fa, p[0]);
	char *cargv[] = {argv[0], "--child", NULL};
	size_t n = 0;
	while (environ[n])
		n++;
	char **env = calloc(n + 2, sizeof *env);
	for (size_t i = 0; i < n; i++)
		env[i] = environ[i];
	env[n] = "GMPT_MAXTHREADS=8";
	pid_t pid;
	if (posix_spawn(&pid, argv[0], &fa, NULL, cargv, env) != 0) {
		perror("posix_spawn");
		return 1;
	}
	close(p[1]);
	char buf[4096];
	size_t got = 0;
	ssize_t r;
	while ((r = read(p[0], buf + got, sizeof buf - 1 - got)) > 0)
		got += (size_t)r;
	buf[got] = 0;
	int status;
	if (waitpid(pid, &status, 0) != pid) {
		perror("waitpid");
		return 1;
	}
	printf("child stderr: %s", buf);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT) {
		fprintf(stderr, "FAIL: child status 0x%x, expected death by SIGABRT\n", status);
		return 1;
	}
	if (!strstr(buf, "gmpt: fatal: thread exhaustion") || !strstr(buf, "GMPT_MAXTHREADS=8")) {
		fprintf(stderr, "FAIL: no fatal line naming GMPT_MAXTHREADS=8 in: %s\n", buf);
		return 1;
	}
	return 0;
}
