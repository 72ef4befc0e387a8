/* A library with static (initial-exec) TLS dlopened while threads are
 * alive: each live thread, and each thread created later, sees the
 * initialisation image in its own block, and keeps its own value across
 * blocking calls. Usage: dlopen_tls PATH-TO-LIBRARY */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <unistd.h>

#include "testutil.h"

#define NTHREADS 6

static int (*lib_get)(void);
static void (*lib_set)(int);
static pthread_barrier_t loaded, done;

static void *worker(void *arg)
{
	long id = (long)arg;
	if (id < NTHREADS)
		pthread_barrier_wait(&loaded); /* alive before the dlopen */
	CHECK_EQ(lib_get(), 1234);
	lib_set((int)id);
	for (int i = 0; i < 20; i++) {
		usleep(200);
		CHECK_EQ(lib_get(), (int)id);
	}
	if (id < NTHREADS)
		pthread_barrier_wait(&done);
	return NULL;
}

int main(int argc, char **argv)
{
	CHECK(argc == 2);
	pthread_t t[NTHREADS + 2];
	CHECK_EQ(pthread_barrier_init(&loaded, NULL, NTHREADS + 1), 0);
	CHECK_EQ(pthread_barrier_init(&done, NULL, NTHREADS + 1), 0);
	for (long i = 0; i < NTHREADS; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, worker, (void *)i), 0);
	usleep(2000); /* let them start and block */
	void *h = dlopen(argv[1], RTLD_NOW);
	if (!h) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 1;
	}
	lib_get = (int (*)(void))dlsym(h, "lib_get");
	lib_set = (void (*)(int))dlsym(h, "lib_set");
	CHECK(lib_get && lib_set);
	CHECK_EQ(lib_get(), 1234);
	pthread_barrier_wait(&loaded);
	for (long i = NTHREADS; i < NTHREADS + 2; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, worker, (void *)i), 0);
	pthread_barrier_wait(&done);
	for (int i = 0; i < NTHREADS + 2; i++)
		CHECK_EQ(pthread_join(t[i], NULL), 0);
	printf("static TLS of a dlopened library: initialised in %d live and 2 new threads\n",
	       NTHREADS);
	return 0;
}
