/* setuid() and friends change the credentials of every kernel thread of
 * the process (glibc signals each one), whichever thread calls them: here
 * a thread created by the program and then the main thread, each time
 * while other threads sleep and block. Every task in /proc/self/task must
 * show the new effective uid, and the call must not hang. Needs root (to
 * switch to nobody and back); otherwise both runs print the same skip. */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define NOBODY 65534

/* Kernel threads whose effective uid is not want. */
static int tasks_without_euid(uid_t want)
{
	DIR *d = opendir("/proc/self/task");
	CHECK(d != NULL);
	int wrong = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[300], line[256];
		snprintf(path, sizeof path, "/proc/self/task/%s/status", e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue; /* the task ended meanwhile */
		while (fgets(line, sizeof line, f))
			if (strncmp(line, "Uid:", 4) == 0) {
				unsigned ruid, euid;
				CHECK_EQ(sscanf(line + 4, "%u %u", &ruid, &euid), 2);
				wrong += euid != want;
			}
		fclose(f);
	}
	closedir(d);
	return wrong;
}

static void switch_and_back(const char *who)
{
	CHECK_EQ(seteuid(NOBODY), 0);
	CHECK_EQ(tasks_without_euid(NOBODY), 0);
	CHECK_EQ(setresuid(0, 0, 0), 0);
	CHECK_EQ(tasks_without_euid(0), 0);
	printf("%s: every kernel thread switched to nobody and back\n", who);
}

static pthread_barrier_t done;

static void *sleeper(void *arg)
{
	for (int i = 0; i < 40; i++)
		usleep(500);
	pthread_barrier_wait(&done);
	return arg;
}

static void *changer(void *arg)
{
	usleep(2000);
	switch_and_back("a thread");
	pthread_barrier_wait(&done);
	return arg;
}

int main(void)
{
	if (geteuid() != 0) {
		printf("skipped: needs root\n");
		return 0;
	}
	enum { SLEEPERS = 7 };
	pthread_t t[SLEEPERS + 1];
	CHECK_EQ(pthread_barrier_init(&done, NULL, SLEEPERS + 2), 0);
	for (int i = 0; i < SLEEPERS; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, sleeper, NULL), 0);
	CHECK_EQ(pthread_create(&t[SLEEPERS], NULL, changer, NULL), 0);
	pthread_barrier_wait(&done);
	/* The main thread, after blocking: it may be running on any kernel
	 * thread by now. */
	switch_and_back("main");
	for (int i = 0; i <= SLEEPERS; i++)
		CHECK_EQ(pthread_join(t[i], NULL), 0);
	return 0;
}
