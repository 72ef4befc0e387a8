/* Closing a descriptor wakes the threads blocked on it: a read() on a pipe,
 * a write() to a full pipe, an accept() on a listening socket and a recv()
 * on a connected socket are blocked when main closes their descriptors
 * (after 100 ms); each call must return -1 with errno EBADF within 2 s.
 *
 * This is what gmpt promises, not what Linux does: natively the calls stay
 * blocked (the kernel keeps the file alive while a call uses it), so the
 * program fails natively after 2 s. Run it preloaded only. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>

#include "../mn/mnutil.h"
#include "netutil.h"

enum { READ, WRITE, ACCEPT, RECV, NCALLS };
static const char *const call_name[NCALLS] = {"read() on a pipe", "write() to a full pipe",
					      "accept() on a listening socket",
					      "recv() on a TCP socket"};

struct blocked {
	pthread_t thread;
	int kind, fd;
	atomic_int started, done;
	long ret;
	int err;
};

static void *blocked_main(void *arg)
{
	struct blocked *b = arg;
	char buf[256];
	atomic_store(&b->started, 1);
	switch (b->kind) {
	case READ:
		b->ret = read(b->fd, buf, sizeof buf);
		break;
	case WRITE:
		b->ret = write(b->fd, "x", 1);
		break;
	case ACCEPT:
		b->ret = accept(b->fd, NULL, NULL);
		break;
	case RECV:
		b->ret = recv(b->fd, buf, sizeof buf, 0);
		break;
	}
	b->err = nu_errno();
	atomic_store(&b->done, 1);
	return NULL;
}

int main(void)
{
	mn_watchdog(20, "close_wake");
	CHECK(signal(SIGPIPE, SIG_IGN) != SIG_ERR);
	static struct blocked b[NCALLS];
	int rp[2], wp[2], t[2], port;
	SYS_OK(pipe(rp));
	SYS_OK(pipe(wp));
	/* Fill wp until a 1-byte write would block. */
	SYS_OK(fcntl(wp[1], F_SETFL, O_NONBLOCK));
	static const char zeros[4096];
	for (size_t chunk = sizeof zeros; chunk > 0; chunk /= 8)
		while (write(wp[1], zeros, chunk) > 0)
			;
	CHECK_EQ(nu_errno(), EAGAIN);
	SYS_OK(fcntl(wp[1], F_SETFL, 0));
	int l = nu_listen_tcp(0, &port);
	nu_tcp_pair(t);

	int fds[NCALLS] = {rp[0], wp[1], l, t[0]};
	for (int i = 0; i < NCALLS; i++) {
		b[i].kind = i;
		b[i].fd = fds[i];
		CHECK_OK(pthread_create(&b[i].thread, NULL, blocked_main, &b[i]));
	}
	for (int i = 0; i < NCALLS; i++)
		while (!atomic_load(&b[i].started))
			nu_sleep_ms(1);
	nu_sleep_ms(100);
	for (int i = 0; i < NCALLS; i++)
		CHECK(!atomic_load(&b[i].done));

	int64_t t0 = tu_now_ns(CLOCK_MONOTONIC);
	for (int i = 0; i < NCALLS; i++)
		SYS_OK(close(fds[i]));
	for (int i = 0; i < NCALLS; i++) {
		while (!atomic_load(&b[i].done)) {
			if (nu_ms_since(t0) > 2000) {
				fflush(stdout);
				fprintf(
				    stderr,
				    "FAIL: %s still blocked 2 s after another thread closed its "
				    "descriptor\n",
				    call_name[i]);
				_exit(1);
			}
			nu_sleep_ms(5);
		}
		CHECK_OK(pthread_join(b[i].thread, NULL));
		if (b[i].ret != -1 || b[i].err != EBADF) {
			fflush(stdout);
			fprintf(stderr,
				"FAIL: %s returned %ld (errno %s) after close, expected -1 "
				"with EBADF\n",
				call_name[i], b[i].ret, nu_errname(b[i].err));
			_exit(1);
		}
		printf("%s: -1 EBADF after close\n", call_name[i]);
	}
	fprintf(stderr, "all woken %.1f ms after the close\n",
		(tu_now_ns(CLOCK_MONOTONIC) - t0) / 1e6);
	SYS_OK(close(rp[1]));
	SYS_OK(close(wp[0]));
	SYS_OK(close(t[1]));
	return 0;
}
