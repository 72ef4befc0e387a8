/* A thread-per-connection echo server with blocking sockets, the way a
 * simple pthread program is written: main accepts in a loop and starts a
 * thread (64 KiB stack) per connection; each thread read()s and write()s
 * back everything (a short write is continued) until the client closes.
 *
 * It listens on 127.0.0.1 at a port the kernel picks and writes the port
 * number to PORTFILE (atomically, by rename) or, without -p, as "port N"
 * on stdout. With -n CONNS it stops accepting after CONNS connections,
 * joins their threads once each has seen end-of-file and prints
 * "served CONNS connections, BYTES bytes"; without -n it serves forever.
 * Any error (including running out of file descriptors) exits 1 with the
 * reason on stderr.
 *
 * usage: echo_server [-n CONNS] [-p PORTFILE] */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/resource.h>

#include "netutil.h"

static atomic_llong bytes_echoed;

static void *serve(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[8192];
	long long total = 0;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n == 0)
			break;
		if (n < 0) {
			if (nu_errno() == EINTR)
				continue;
			fprintf(stderr, "FAIL: echo_server: read: %s\n", strerror(nu_errno()));
			_exit(1);
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(fd, buf + off, (size_t)(n - off));
			if (w < 0 && nu_errno() == EINTR)
				continue;
			if (w <= 0) {
				fprintf(stderr, "FAIL: echo_server: write: %s\n",
					w < 0 ? strerror(nu_errno()) : "returned 0");
				_exit(1);
			}
			off += w;
		}
		total += n;
	}
	if (close(fd) != 0) {
		fprintf(stderr, "FAIL: echo_server: close: %s\n", strerror(nu_errno()));
		_exit(1);
	}
	atomic_fetch_add(&bytes_echoed, total);
	return NULL;
}

static void write_port_file(const char *path, int port)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
		fprintf(stderr, "FAIL: echo_server: cannot write %s: %s\n", path,
			strerror(nu_errno()));
		exit(1);
	}
}

int main(int argc, char **argv)
{
	long conns = 0;
	const char *portfile = NULL;
	int opt;
	while ((opt = getopt(argc, argv, "n:p:")) != -1) {
		switch (opt) {
		case 'n':
			conns = atol(optarg);
			break;
		case 'p':
			portfile = optarg;
			break;
		default:
			fprintf(stderr, "usage: echo_server [-n CONNS] [-p PORTFILE]\n");
			return 2;
		}
	}

	struct rlimit rl;
	SYS_OK(getrlimit(RLIMIT_NOFILE, &rl));
	if (conns > 0 && rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < conns + 16) {
		fprintf(stderr,
			"FAIL: echo_server: RLIMIT_NOFILE is %ld, %ld connections need %ld "
			"(raise ulimit -n)\n",
			(long)rl.rlim_cur, conns, conns + 16);
		return 1;
	}

	int port;
	int lfd = nu_listen_tcp(0, &port);
	if (portfile) {
		write_port_file(portfile, port);
	} else {
		printf("port %d\n", port);
		fflush(stdout);
	}

	pthread_attr_t attr;
	CHECK_OK(pthread_attr_init(&attr));
	CHECK_OK(pthread_attr_setstacksize(&attr, 64 * 1024));
	if (conns == 0)
		CHECK_OK(pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED));
	pthread_t *threads = NULL;
	if (conns > 0) {
		threads = calloc((size_t)conns, sizeof *threads);
		CHECK(threads != NULL);
	}

	for (long i = 0; conns == 0 || i < conns; i++) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (nu_errno() == EINTR || nu_errno() == ECONNABORTED) {
				i--;
				continue;
			}
			fprintf(stderr, "FAIL: echo_server: accept (connection %ld): %s\n", i + 1,
				strerror(nu_errno()));
			return 1;
		}
		pthread_t t;
		int rc = pthread_create(&t, &attr, serve, (void *)(intptr_t)fd);
		if (rc != 0) {
			fprintf(stderr, "FAIL: echo_server: pthread_create (connection %ld): %s\n",
				i + 1, strerror(rc));
			return 1;
		}
		if (threads)
			threads[i] = t;
	}
	SYS_OK(close(lfd));
	for (long i = 0; i < conns; i++)
		CHECK_OK(pthread_join(threads[i], NULL));
	printf("served %ld connections, %lld bytes\n", conns,
	       (long long)atomic_load(&bytes_echoed));
	return 0;
}
