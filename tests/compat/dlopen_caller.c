/* dlopen as the calling program sees it (glibc's behaviour, with gmpt's
 * dlopen in between):
 *   runpath   a bare library name is found along the executable's
 *             DT_RUNPATH ($ORIGIN), from main and from a thread
 *   tls-again a library with initial-exec TLS, dlclosed and dlopened
 *             again while a thread lives: that thread sees the
 *             initialisation image again, not what it wrote before
 *   execstack a library that needs an executable stack makes the stacks
 *             of a live thread and of later ones executable
 * Usage: dlopen_caller TLS-LIBRARY EXECSTACK-LIBRARY (the parts run in
 * that order: the last cannot be undone). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>

#include "testutil.h"

#define RUNPATH_LIB "libcompat_dlopen_caller_lib.so"

static void runpath_load(const char *who)
{
	void *h = dlopen(RUNPATH_LIB, RTLD_NOW);
	if (!h) {
		printf("%s: %s not found\n", who, RUNPATH_LIB);
		return;
	}
	int (*answer)(void) = (int (*)(void))dlsym(h, "dlopen_caller_lib_answer");
	CHECK(answer != NULL);
	printf("%s: found along DT_RUNPATH, answer %d\n", who, answer());
	CHECK(dlclose(h) == 0);
}

static void *runpath_thread(void *arg)
{
	runpath_load("a thread");
	return arg;
}

/* ---- a thread that does what main asks, one step at a time ---- */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static void (*step)(void);
static int steps_done;

static int stopping;

static void stop(void)
{
	stopping = 1;
}

static void *helper(void *arg)
{
	pthread_mutex_lock(&lock);
	while (!stopping) {
		while (!step)
			pthread_cond_wait(&changed, &lock);
		void (*fn)(void) = step;
		step = NULL;
		pthread_mutex_unlock(&lock);
		fn();
		pthread_mutex_lock(&lock);
		steps_done++;
		pthread_cond_broadcast(&changed);
	}
	pthread_mutex_unlock(&lock);
	return arg;
}

static void on_helper(void (*fn)(void))
{
	pthread_mutex_lock(&lock);
	int want = steps_done + 1;
	step = fn;
	pthread_cond_broadcast(&changed);
	while (steps_done != want)
		pthread_cond_wait(&changed, &lock);
	pthread_mutex_unlock(&lock);
}

/* ---- tls-again ---- */
static int (*tls_get)(void);
static void (*tls_set)(int);

static void tls_read_and_write(void)
{
	printf("helper sees %d, writes 7", tls_get());
	tls_set(7);
	printf(", reads %d\n", tls_get());
}

static void tls_read(void)
{
	printf("helper sees %d after the library came back\n", tls_get());
}

static void *tls_load(const char *path)
{
	void *h = dlopen(path, RTLD_NOW);
	CHECK(h != NULL);
	tls_get = (int (*)(void))dlsym(h, "lib_get");
	tls_set = (void (*)(int))dlsym(h, "lib_set");
	CHECK(tls_get && tls_set);
	return h;
}

static void tls_again(const char *path)
{
	void *h = tls_load(path);
	on_helper(tls_read_and_write);
	CHECK(dlclose(h) == 0);
	printf("unloaded: %d\n", dlopen(path, RTLD_NOW | RTLD_NOLOAD) == NULL);
	h = tls_load(path);
	on_helper(tls_read);
	CHECK(dlclose(h) == 0);
}

/* ---- execstack ---- */
/* Whether the mapping holding the caller's stack frame is executable. */
static int own_stack_executable(void)
{
	char local;
	uintptr_t a = (uintptr_t)&local;
	FILE *maps = fopen("/proc/self/maps", "r");
	CHECK(maps != NULL);
	char line[512];
	int exec = -1;
	while (fgets(line, sizeof line, maps)) {
		unsigned long lo, hi;
		char perms[8];
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && a >= lo && a < hi)
			exec = perms[2] == 'x';
	}
	fclose(maps);
	CHECK(exec >= 0);
	return exec;
}

static void helper_stack(void)
{
	printf("helper's stack executable: %d\n", own_stack_executable());
}

static void *new_thread_stack(void *arg)
{
	printf("a new thread's stack executable: %d\n", own_stack_executable());
	return arg;
}

static void execstack(const char *path)
{
	on_helper(helper_stack);
	void *h = dlopen(path, RTLD_NOW);
	if (!h) {
		printf("dlopen of an execstack library failed\n");
		return;
	}
	on_helper(helper_stack);
	pthread_t t;
	CHECK_OK(pthread_create(&t, NULL, new_thread_stack, NULL));
	CHECK_OK(pthread_join(t, NULL));
}

int main(int argc, char **argv)
{
	CHECK(argc == 3);
	setvbuf(stdout, NULL, _IOLBF, 0);
	runpath_load("main");
	pthread_t t;
	CHECK_OK(pthread_create(&t, NULL, runpath_thread, NULL));
	CHECK_OK(pthread_join(t, NULL));

	pthread_t h;
	CHECK_OK(pthread_create(&h, NULL, helper, NULL));
	tls_again(argv[1]);
	execstack(argv[2]);
	on_helper(stop);
	CHECK_OK(pthread_join(h, NULL));
	return 0;
}
