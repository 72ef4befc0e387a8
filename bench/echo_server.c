/* echo_server: a thread-per-connection TCP echo server written the plain
 * blocking way: main accept(2)s in a loop and starts one detached pthread
 * (64 KiB stack) per connection, which read(2)s and write(2)s back whatever
 * arrives until the peer closes.  An ordinary pthread program; scripts/bench
 * runs it natively and with LD_PRELOAD=libgmpt.so and drives it with
 * bench/echo_load, which always runs natively.
 *
 * It listens on 127.0.0.1 on a port the kernel picks and announces it as
 * one line "PORT PID" on stdout, or in PORT-FILE (written to PORT-FILE.tmp
 * and renamed, so a reader never sees half a line).  It runs until it is
 * killed, or, when EXIT-AFTER is given and not 0, until that many
 * connections have been closed (which is how the syscall counts get a
 * process that exits by itself); then it prints one line
 *   RESULT name=echo_server ns_per_op=0 ops=<connections> bytes=<echoed>
 * on stdout and exits 0.
 *
 * usage: echo_server [PORT-FILE|-] [EXIT-AFTER] */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_common.h"

#define CONN_STACK (64 * 1024)
#define BUF_SIZE   4096

static long exit_after;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long accepted, closed;
static unsigned long long echoed;

static void *serve(void *arg)
{
	int fd = (int)(long)arg;
	char buf[BUF_SIZE];
	unsigned long long bytes = 0;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		ssize_t off = 0;
		while (off < n) {
			ssize_t w = write(fd, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				goto out;
			off += w;
		}
		bytes += (unsigned long long)n;
	}
out:
	close(fd);
	pthread_mutex_lock(&mu);
	closed++;
	echoed += bytes;
	int done = exit_after > 0 && closed >= exit_after;
	long n_conns = accepted;
	unsigned long long n_bytes = echoed;
	pthread_mutex_unlock(&mu);
	if (done) {
		char extra[64];
		snprintf(extra, sizeof extra, "bytes=%llu", n_bytes);
		bench_result("echo_server", 0, n_conns, extra);
		exit(0);
	}
	return NULL;
}

static void announce(const char *path, int port)
{
	if (!path || strcmp(path, "-") == 0) {
		printf("%d %ld\n", port, (long)getpid());
		fflush(stdout);
		return;
	}
	size_t len = strlen(path) + 8;
	char *tmp = malloc(len);
	if (!tmp) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	snprintf(tmp, len, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f || fprintf(f, "%d %ld\n", port, (long)getpid()) < 0 || fclose(f) != 0 ||
	    rename(tmp, path) != 0) {
		fprintf(stderr, "echo_server: cannot write %s: %s\n", path, strerror(errno));
		exit(1);
	}
	free(tmp);
}

int main(int argc, char **argv)
{
	bench_usage(argc, argv, 2, "[PORT-FILE|-] [EXIT-AFTER]");
	const char *port_file = argc > 1 ? argv[1] : NULL;
	exit_after = bench_arg(argc, argv, 2, 0, "EXIT-AFTER");

	/* A client that resets its connection must not kill the server. */
	signal(SIGPIPE, SIG_IGN);

	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0) {
		fprintf(stderr, "echo_server: socket: %s\n", strerror(errno));
		return 1;
	}
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t salen = sizeof sa;
	if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 65535) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &salen) != 0) {
		fprintf(stderr, "echo_server: bind/listen: %s\n", strerror(errno));
		return 1;
	}
	announce(port_file, ntohs(sa.sin_port));

	pthread_attr_t attr;
	BENCH_CHECK(pthread_attr_init(&attr));
	BENCH_CHECK(pthread_attr_setstacksize(&attr, CONN_STACK));
	BENCH_CHECK(pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED));

	int warned_fds = 0;
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				if (!warned_fds++)
					fprintf(stderr,
						"echo_server: accept: %s (raise ulimit -n); "
						"retrying\n",
						strerror(errno));
				struct timespec ts = {0, 10 * 1000 * 1000};
				nanosleep(&ts, NULL);
				continue;
			}
			fprintf(stderr, "echo_server: accept: %s\n", strerror(errno));
			return 1;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		pthread_mutex_lock(&mu);
		accepted++;
		pthread_mutex_unlock(&mu);
		pthread_t t;
		int err = pthread_create(&t, &attr, serve, (void *)(long)fd);
		if (err) {
			fprintf(stderr, "echo_server: pthread_create: %s; dropping a connection\n",
				strerror(err));
			close(fd);
			pthread_mutex_lock(&mu);
			closed++;
			pthread_mutex_unlock(&mu);
		}
	}
}
