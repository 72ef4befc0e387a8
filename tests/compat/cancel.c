/* Deferred cancellation of threads blocked in each kind of cancellation
 * point: a condition wait (its cleanup handler runs with the mutex held),
 * read on a pipe, accept on a socket, poll, sleep, sem_wait, pthread_join
 * (the joined thread stays joinable); pthread_testcancel in a busy loop;
 * a cancellation made while disabled, acted on once enabled; asynchronous
 * self-cancellation; EINVAL for bad states and types. Every cancelled
 * thread's join gives PTHREAD_CANCELED. */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static atomic_int started, cleanups, mutex_held_in_cleanup;
static int pipefd[2], listen_fd;
static sem_t sem;

static void mark_started(void)
{
	atomic_fetch_add(&started, 1);
}

static void unlock_cleanup(void *arg)
{
	/* Runs with the mutex held again, as POSIX says. */
	if (pthread_mutex_trylock(&mu) == EBUSY)
		atomic_fetch_add(&mutex_held_in_cleanup, 1);
	pthread_mutex_unlock((pthread_mutex_t *)arg);
	atomic_fetch_add(&cleanups, 1);
}

static void count_cleanup(void *arg)
{
	(void)arg;
	atomic_fetch_add(&cleanups, 1);
}

static void *in_cond_wait(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	pthread_cleanup_push(unlock_cleanup, &mu);
	mark_started();
	for (;;)
		pthread_cond_wait(&cv, &mu);
	pthread_cleanup_pop(1);
	return NULL;
}

static void *in_read(void *arg)
{
	(void)arg;
	char c;
	pthread_cleanup_push(count_cleanup, NULL);
	mark_started();
	for (;;)
		CHECK(read(pipefd[0], &c, 1) == 1);
	pthread_cleanup_pop(0);
	return NULL;
}

static void *in_accept(void *arg)
{
	(void)arg;
	pthread_cleanup_push(count_cleanup, NULL);
	mark_started();
	for (;;) {
		int fd = accept(listen_fd, NULL, NULL);
		if (fd >= 0)
			close(fd);
	}
	pthread_cleanup_pop(0);
	return NULL;
}

static void *in_poll(void *arg)
{
	(void)arg;
	pthread_cleanup_push(count_cleanup, NULL);
	mark_started();
	struct pollfd p = {.fd = pipefd[0], .events = POLLIN};
	for (;;)
		poll(&p, 1, -1);
	pthread_cleanup_pop(0);
	return NULL;
}

static void *in_sleep(void *arg)
{
	(void)arg;
	pthread_cleanup_push(count_cleanup, NULL);
	mark_started();
	for (;;)
		sleep(100);
	pthread_cleanup_pop(0);
	return NULL;
}

static void *in_sem_wait(void *arg)
{
	(void)arg;
	pthread_cleanup_push(count_cleanup, NULL);
	mark_started();
	for (;;)
		sem_wait(&sem);
	pthread_cleanup_pop(0);
	return NULL;
}

static void *in_join(void *arg)
{
	pthread_cleanup_push(count_cleanup, NULL);
	mark_started();
	pthread_join(*(pthread_t *)arg, NULL);
	pthread_cleanup_pop(0);
	return NULL;
}

static void *in_busy_loop(void *arg)
{
	(void)arg;
	pthread_cleanup_push(count_cleanup, NULL);
	mark_started();
	for (volatile long i = 0;; i = i + 1)
		pthread_testcancel();
	pthread_cleanup_pop(0);
	return NULL;
}

static atomic_int disabled_stage;

static void *while_disabled(void *arg)
{
	(void)arg;
	CHECK_OK(pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL));
	mark_started();
	while (atomic_load(&disabled_stage) == 0)
		usleep(500); /* a cancellation point, disabled: no effect */
	usleep(5000);
	atomic_store(&disabled_stage, 2); /* still running after the cancel */
	int old;
	CHECK_OK(pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old));
	CHECK_EQ(old, PTHREAD_CANCEL_DISABLE);
	pthread_testcancel();
	atomic_store(&disabled_stage, 3); /* never */
	return NULL;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static atomic_int once_runs;

static void slow_init(void)
{
	atomic_fetch_add(&once_runs, 1);
	mark_started();
	sleep(100); /* the first runner is cancelled here */
}

static void quick_init(void)
{
	atomic_fetch_add(&once_runs, 1);
}

static void *in_once(void *arg)
{
	(void)arg;
	pthread_once(&once, slow_init);
	return NULL;
}

static atomic_int defer_ran;

static void defer_handler(void *arg)
{
	(void)arg;
	atomic_fetch_add(&defer_ran, 1);
}

/* pthread_cleanup_push_defer_np makes the type deferred inside and the
 * pop puts the old one back. */
static void *defer_np(void *arg)
{
	(void)arg;
	int type;
	CHECK_OK(pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL));
	pthread_cleanup_push_defer_np(defer_handler, NULL);
	CHECK_OK(pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, &type));
	CHECK_EQ(type, PTHREAD_CANCEL_DEFERRED);
	pthread_cleanup_pop_restore_np(1);
	CHECK_OK(pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, &type));
	CHECK_EQ(type, PTHREAD_CANCEL_ASYNCHRONOUS);
	CHECK_EQ(atomic_load(&defer_ran), 1);
	return NULL;
}

static void *async_self(void *arg)
{
	(void)arg;
	int old;
	CHECK_OK(pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &old));
	CHECK_EQ(old, PTHREAD_CANCEL_DEFERRED);
	pthread_cancel(pthread_self());
	return (void *)1; /* never */
}

static void cancel_and_join(pthread_t t, const char *what)
{
	CHECK_OK(pthread_cancel(t));
	void *ret = NULL;
	CHECK_OK(pthread_join(t, &ret));
	CHECK(ret == PTHREAD_CANCELED);
	printf("cancelled in %s\n", what);
}

static pthread_t start(void *(*fn)(void *), void *arg)
{
	int before = atomic_load(&started);
	pthread_t t;
	CHECK_OK(pthread_create(&t, NULL, fn, arg));
	while (atomic_load(&started) == before)
		usleep(200);
	usleep(5000); /* let it block */
	return t;
}

int main(void)
{
	CHECK(pipe(pipefd) == 0);
	CHECK(sem_init(&sem, 0, 0) == 0);
	listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(listen_fd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	CHECK(bind(listen_fd, (struct sockaddr *)&a, sizeof a) == 0);
	CHECK(listen(listen_fd, 8) == 0);

	cancel_and_join(start(in_cond_wait, NULL), "pthread_cond_wait");
	CHECK_EQ(atomic_load(&mutex_held_in_cleanup), 1);
	CHECK_OK(pthread_mutex_lock(&mu)); /* the handler released it */
	CHECK_OK(pthread_mutex_unlock(&mu));
	cancel_and_join(start(in_read, NULL), "read on a pipe");
	cancel_and_join(start(in_accept, NULL), "accept");
	cancel_and_join(start(in_poll, NULL), "poll");
	cancel_and_join(start(in_sleep, NULL), "sleep");
	cancel_and_join(start(in_sem_wait, NULL), "sem_wait");

	pthread_t sleeper = start(in_sleep, NULL);
	cancel_and_join(start(in_join, &sleeper), "pthread_join");
	cancel_and_join(sleeper, "sleep (the thread the cancelled joiner waited for)");

	cancel_and_join(start(in_busy_loop, NULL), "a loop calling pthread_testcancel");
	CHECK_EQ(atomic_load(&cleanups), 9);

	pthread_t t = start(while_disabled, NULL);
	CHECK_OK(pthread_cancel(t));
	atomic_store(&disabled_stage, 1);
	void *ret;
	CHECK_OK(pthread_join(t, &ret));
	CHECK(ret == PTHREAD_CANCELED);
	CHECK_EQ(atomic_load(&disabled_stage), 2);
	printf("a cancellation while disabled acted once enabled\n");

	cancel_and_join(start(in_once, NULL), "a pthread_once routine");
	CHECK_OK(pthread_once(&once, quick_init)); /* not left "running" */
	CHECK_EQ(atomic_load(&once_runs), 2);
	CHECK_OK(pthread_once(&once, quick_init));
	CHECK_EQ(atomic_load(&once_runs), 2);

	CHECK_OK(pthread_create(&t, NULL, async_self, NULL));
	CHECK_OK(pthread_join(t, &ret));
	CHECK(ret == PTHREAD_CANCELED);
	printf("asynchronous self-cancellation\n");

	CHECK_OK(pthread_create(&t, NULL, defer_np, NULL));
	CHECK_OK(pthread_join(t, NULL));
	printf("pthread_cleanup_push_defer_np/pop_restore_np: deferred inside, restored after\n");

	CHECK_RC(pthread_setcancelstate(5, NULL), EINVAL);
	CHECK_RC(pthread_setcanceltype(7, NULL), EINVAL);
	printf("EINVAL for a bad state and type\n");
	return 0;
}
