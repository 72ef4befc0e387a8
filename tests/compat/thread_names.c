/* Thread names: pthread_setname_np/getname_np on the calling thread and on
 * another (running, then parked) one; ERANGE for a name over 15 bytes and
 * for a buffer under 16 bytes (glibc's rule, whatever the name); an empty name is a name; a new
 * thread starts with its creator's name (Linux copies it at clone). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "testutil.h"

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static int release, started;
static char inherited[32];

static void *parked(void *arg)
{
	(void)arg;
	CHECK_OK(pthread_getname_np(pthread_self(), inherited, sizeof inherited));
	pthread_mutex_lock(&m);
	started = 1;
	pthread_cond_broadcast(&c);
	while (!release)
		pthread_cond_wait(&c, &m);
	pthread_mutex_unlock(&m);
	return NULL;
}

int main(void)
{
	char name[32];
	CHECK_OK(pthread_setname_np(pthread_self(), "main-thread"));
	CHECK_OK(pthread_getname_np(pthread_self(), name, sizeof name));
	CHECK(strcmp(name, "main-thread") == 0);

	pthread_t t;
	CHECK_OK(pthread_create(&t, NULL, parked, NULL));
	pthread_mutex_lock(&m);
	while (!started)
		pthread_cond_wait(&c, &m);
	pthread_mutex_unlock(&m);
	CHECK_OK(pthread_setname_np(t, "worker-one"));
	CHECK_OK(pthread_getname_np(t, name, sizeof name));
	CHECK(strcmp(name, "worker-one") == 0);
	CHECK_RC(pthread_setname_np(t, "a-name-longer-than-15"), ERANGE);
	CHECK_RC(pthread_getname_np(t, name, 5), ERANGE);
	CHECK_RC(pthread_getname_np(t, name, 11), ERANGE); /* glibc wants 16 */
	CHECK_OK(pthread_getname_np(t, name, 16));
	CHECK(strcmp(name, "worker-one") == 0);
	CHECK_OK(pthread_setname_np(t, ""));
	CHECK_OK(pthread_getname_np(t, name, sizeof name));
	CHECK(strcmp(name, "") == 0);
	CHECK_OK(pthread_setname_np(t, "fifteen-chars-x"));
	CHECK_OK(pthread_getname_np(t, name, sizeof name));
	CHECK(strcmp(name, "fifteen-chars-x") == 0);

	pthread_mutex_lock(&m);
	release = 1;
	pthread_cond_broadcast(&c);
	pthread_mutex_unlock(&m);
	CHECK_OK(pthread_join(t, NULL));
	/* The worker read its name before main renamed it: main's. */
	printf("names: set/get on self and another thread, ERANGE, empty, 15 bytes; a new "
	       "thread started as '%s'\n",
	       inherited);
	return 0;
}
