/* Cancellation where glibc acts and a replacement may not:
 *   a cancellation pending at a cancellation point on a socket or pipe
 *   acts even when the call would not wait: write to a pipe with no
 *   reader (EPIPE), accept with a connection queued, sendto on UDP,
 *   connect to a listening socket;
 *   sigpause is a cancellation point, and a cancellation ends it (it
 *   does not return early);
 *   syscall(SYS_pause) under asynchronous cancellation is cancelled;
 *   the main thread cancelled runs its cleanup handlers, and the other
 *   threads go on (the process ends when the last one does).
 * Each thread reports its cleanup handler; none returns normally. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "testutil.h"

static sem_t ready, go;
static int fds[2];
static int listener;
static struct sockaddr_in listen_addr;

static void cleanup(void *what)
{
	printf("cancelled in %s: cleanup ran\n", (const char *)what);
}

/* Gets the cancellation while cancellation is disabled, so that it is
 * pending when the call starts. */
static void take_pending_cancel(void)
{
	CHECK_OK(pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL));
	sem_post(&ready);
	while (sem_wait(&go) != 0)
		;
	CHECK_OK(pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL));
}

static void *write_epipe(void *arg)
{
	pthread_cleanup_push(cleanup, "write (EPIPE)");
	take_pending_cancel();
	write(fds[1], "x", 1);
	printf("write returned\n");
	pthread_cleanup_pop(0);
	return arg;
}

static void *accept_queued(void *arg)
{
	pthread_cleanup_push(cleanup, "accept (a connection queued)");
	take_pending_cancel();
	accept(listener, NULL, NULL);
	printf("accept returned\n");
	pthread_cleanup_pop(0);
	return arg;
}

static void *sendto_udp(void *arg)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	CHECK(s >= 0);
	pthread_cleanup_push(cleanup, "sendto (UDP)");
	take_pending_cancel();
	sendto(s, "x", 1, 0, (struct sockaddr *)&listen_addr, sizeof listen_addr);
	printf("sendto returned\n");
	pthread_cleanup_pop(0);
	return arg;
}

static void *connect_listening(void *arg)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(s >= 0);
	pthread_cleanup_push(cleanup, "connect (a listening peer)");
	take_pending_cancel();
	connect(s, (struct sockaddr *)&listen_addr, sizeof listen_addr);
	printf("connect returned\n");
	pthread_cleanup_pop(0);
	return arg;
}

static void *in_sigpause(void *arg)
{
	pthread_cleanup_push(cleanup, "sigpause");
	sem_post(&ready);
	/* <signal.h>'s X/Open form (SIGINT out of the mask), deprecated. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	sigpause(SIGINT);
#pragma GCC diagnostic pop
	printf("sigpause returned\n");
	pthread_cleanup_pop(0);
	return arg;
}

static void *async_syscall_pause(void *arg)
{
	pthread_cleanup_push(cleanup, "syscall(SYS_pause), asynchronous");
	CHECK_OK(pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL));
	sem_post(&ready);
	syscall(SYS_pause);
	printf("syscall(SYS_pause) returned\n");
	pthread_cleanup_pop(0);
	return arg;
}

/* Cancels t once it is ready: at once for the pending kind (it waits for
 * the go-ahead after the cancel), else after a moment, whether or not it
 * is already waiting (the outcome is the same natively). */
static void cancel_and_join(void *(*fn)(void *), bool pending)
{
	pthread_t t;
	CHECK_OK(pthread_create(&t, NULL, fn, NULL));
	while (sem_wait(&ready) != 0)
		;
	if (!pending)
		usleep(50000);
	CHECK_OK(pthread_cancel(t));
	if (pending)
		sem_post(&go);
	void *ret;
	CHECK_OK(pthread_join(t, &ret));
	CHECK(ret == PTHREAD_CANCELED);
}

static pthread_t main_thread;

static void *cancel_main(void *arg)
{
	CHECK_OK(pthread_cancel(main_thread));
	void *ret;
	CHECK_OK(pthread_join(main_thread, &ret));
	printf("main ended cancelled: %d\n", ret == PTHREAD_CANCELED);
	return arg; /* the last thread: the process exits with status 0 */
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	sem_init(&ready, 0, 0);
	sem_init(&go, 0, 0);

	CHECK(pipe(fds) == 0);
	close(fds[0]);
	cancel_and_join(write_epipe, true);

	listener = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(listener >= 0);
	listen_addr.sin_family = AF_INET;
	listen_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(listener, (struct sockaddr *)&listen_addr, sizeof listen_addr) == 0);
	socklen_t len = sizeof listen_addr;
	CHECK(getsockname(listener, (struct sockaddr *)&listen_addr, &len) == 0);
	CHECK(listen(listener, 8) == 0);
	int client = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(connect(client, (struct sockaddr *)&listen_addr, sizeof listen_addr) == 0);
	cancel_and_join(accept_queued, true);
	cancel_and_join(sendto_udp, true);
	cancel_and_join(connect_listening, true);
	cancel_and_join(in_sigpause, false);
	cancel_and_join(async_syscall_pause, false);

	main_thread = pthread_self();
	pthread_t t;
	CHECK_OK(pthread_create(&t, NULL, cancel_main, NULL));
	pthread_cleanup_push(cleanup, "the main thread");
	for (;;)
		pause();
	pthread_cleanup_pop(0);
	return 1;
}
