/* fork with threads running: the child keeps only the thread that called
 * fork, and can start threads of its own, block on pipes, sleep and wait
 * on conditions; atfork handlers run in POSIX's order; popen works from a
 * thread. Forks from the main thread and from another thread. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static atomic_long spins;
static atomic_int stop;
static char order[16];
static int norder;

static void note(char c)
{
	if (norder < 15)
		order[norder++] = c;
}
static void prep1(void)
{
	note('a');
}
static void prep2(void)
{
	note('b');
}
static void parent1(void)
{
	note('c');
}
static void parent2(void)
{
	note('d');
}
static void child1(void)
{
	note('e');
}
static void child2(void)
{
	note('f');
}

static void *spinner(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		atomic_fetch_add(&spins, 1);
		if (atomic_load(&spins) % 1000 == 0)
			usleep(100);
	}
	return NULL;
}

/* ---- what the child does ---- */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int turn, rounds_done;
static int pfd[2];

static void *pingpong(void *arg)
{
	int me = (int)(intptr_t)arg;
	for (int i = 0; i < 200; i++) {
		pthread_mutex_lock(&mu);
		while (turn != me)
			pthread_cond_wait(&cv, &mu);
		turn = 1 - me;
		rounds_done++;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

static void *pipe_writer(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100; i++) {
		char c = (char)i;
		CHECK(write(pfd[1], &c, 1) == 1);
		if (i % 10 == 0)
			usleep(200);
	}
	return NULL;
}

/* Returns the child's exit status: 0 when everything checked out. */
static int child_work(void)
{
	if (strcmp(order, "baef") != 0) /* prepare in reverse, child in order */
		return 10;
	/* The parent's spinners are not here. */
	long s = atomic_load(&spins);
	usleep(20000);
	if (atomic_load(&spins) != s)
		return 11;
	pthread_t a, b, w;
	turn = 0;
	rounds_done = 0;
	if (pthread_create(&a, NULL, pingpong, (void *)0) ||
	    pthread_create(&b, NULL, pingpong, (void *)1))
		return 12;
	if (pipe(pfd) != 0 || pthread_create(&w, NULL, pipe_writer, NULL))
		return 13;
	for (int i = 0; i < 100; i++) {
		char c;
		if (read(pfd[0], &c, 1) != 1 || c != (char)i)
			return 14;
	}
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	pthread_join(w, NULL);
	if (rounds_done != 400)
		return 15;
	return 0;
}

static int fork_and_check(void)
{
	norder = 0;
	memset(order, 0, sizeof order);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		_exit(child_work());
	CHECK(strcmp(order, "bacd") == 0); /* prepare in reverse, parent in order */
	int status;
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void *forker(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)fork_and_check();
}

static void *popener(void *arg)
{
	(void)arg;
	FILE *f = popen("echo from-popen", "r");
	CHECK(f != NULL);
	char line[64] = "";
	CHECK(fgets(line, sizeof line, f) != NULL);
	CHECK_EQ(pclose(f), 0);
	CHECK(strcmp(line, "from-popen\n") == 0);
	return NULL;
}

int main(void)
{
	CHECK_OK(pthread_atfork(prep1, parent1, child1));
	CHECK_OK(pthread_atfork(prep2, parent2, child2));
	pthread_t sp[3];
	for (int i = 0; i < 3; i++)
		CHECK_OK(pthread_create(&sp[i], NULL, spinner, NULL));
	usleep(5000);

	CHECK_EQ(fork_and_check(), 0);
	printf("fork from main: the child ran threads, pipes and conditions alone\n");
	pthread_t t;
	void *ret;
	CHECK_OK(pthread_create(&t, NULL, forker, NULL));
	CHECK_OK(pthread_join(t, &ret));
	CHECK_EQ((intptr_t)ret, 0);
	printf("fork from a thread: likewise\n");
	CHECK_OK(pthread_create(&t, NULL, popener, NULL));
	CHECK_OK(pthread_join(t, NULL));
	printf("popen from a thread\n");

	atomic_store(&stop, 1);
	for (int i = 0; i < 3; i++)
		CHECK_OK(pthread_join(sp[i], NULL));
	return 0;
}
