/* Load generator and checker for echo_server: one thread, non-blocking
 * sockets and epoll (it is always run natively). It opens CONNS
 * connections to 127.0.0.1:PORT and keeps every one of them open until all
 * are finished. On each it runs ROUNDS rounds: send a payload of a
 * pseudo-random length (1..4096) and deterministic content, read the echo
 * back and check every byte, then the next round. At most WINDOW
 * connections are between connect() and their first complete echo at any
 * time, so the server's accept queue never overflows (a dropped SYN would
 * cost a 1 s retransmission). Exits 0 only if every byte of every round
 * came back right; otherwise 1 with the first problem on stderr. Stdout:
 * "client: CONNS connections x ROUNDS rounds, BYTES bytes echoed and
 * checked".
 *
 * usage: echo_client [-n CONNS] [-r ROUNDS] [-w WINDOW] [-t SECONDS] [-s SEED] PORT */
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/resource.h>

#include "netutil.h"

enum { IDLE, CONNECTING, TRANSFER, DONE };

struct conn {
	int fd;
	int state;
	int round;
	uint32_t len, sent, recvd;
	uint32_t events;
};

static struct conn *conns;
static long nconns = 10000, window = 200;
static int rounds = 3;
static uint64_t seed = 1;
static int ep;
static long in_flight, ndone;
static long long total_bytes;

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* The pattern key and payload length of round r on connection i. */
static uint64_t key(long i, int r)
{
	return (uint64_t)(((uint64_t)i << 12 | (uint64_t)r) ^ (seed * 0x01000193ULL)) &
	       0xffffffffULL;
}

static uint32_t round_len(long i, int r)
{
	return 1 + (uint32_t)(mix(seed << 40 ^ (uint64_t)i << 12 ^ (uint64_t)r) % 4096);
}

static void die(long i, const char *what, const char *detail)
{
	fflush(stdout);
	if (i >= 0)
		fprintf(stderr,
			"FAIL: echo_client: connection %ld (round %d, %u/%u bytes back): %s%s%s\n",
			i, conns[i].round, conns[i].recvd, conns[i].len, what, detail ? ": " : "",
			detail ? detail : "");
	else
		fprintf(stderr, "FAIL: echo_client: %s%s%s\n", what, detail ? ": " : "",
			detail ? detail : "");
	exit(1);
}

static void set_events(long i, uint32_t events)
{
	struct conn *c = &conns[i];
	if (c->events == events)
		return;
	struct epoll_event ev = {.events = events, .data.u64 = (uint64_t)i};
	if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
		die(i, "epoll_ctl(MOD)", strerror(errno));
	c->events = events;
}

static void start_round(long i)
{
	struct conn *c = &conns[i];
	c->len = round_len(i, c->round);
	c->sent = c->recvd = 0;
}

static void start(long i, const struct sockaddr_in *addr)
{
	struct conn *c = &conns[i];
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		die(i, "socket", strerror(errno));
	c->state = CONNECTING;
	c->events = EPOLLOUT;
	if (connect(c->fd, (const struct sockaddr *)addr, sizeof *addr) != 0 &&
	    errno != EINPROGRESS)
		die(i, "connect", strerror(errno));
	struct epoll_event ev = {.events = c->events, .data.u64 = (uint64_t)i};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
		die(i, "epoll_ctl(ADD)", strerror(errno));
	in_flight++;
}

static void handle(long i, uint32_t events)
{
	static unsigned char buf[65536];
	struct conn *c = &conns[i];

	if (c->state == CONNECTING) {
		int err = 0;
		socklen_t len = sizeof err;
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			die(i, "getsockopt(SO_ERROR)", strerror(errno));
		if (err != 0)
			die(i, "connect", strerror(err));
		if (!(events & EPOLLOUT))
			return;
		c->state = TRANSFER;
		c->round = 0;
		start_round(i);
	}
	if (c->state != TRANSFER)
		return;

	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		for (;;) {
			ssize_t n = read(c->fd, buf, sizeof buf);
			if (n < 0 && errno == EAGAIN)
				break;
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				die(i, "read", strerror(errno));
			if (n == 0)
				die(i, "the server closed the connection", NULL);
			if (c->recvd + (uint64_t)n > c->sent)
				die(i, "the server sent back more bytes than were sent", NULL);
			long bad = nu_mismatch(buf, (size_t)n, key(i, c->round), c->recvd);
			if (bad >= 0) {
				char what[128];
				snprintf(what, sizeof what, "byte %u is 0x%02x, expected 0x%02x",
					 c->recvd + (unsigned)bad, buf[bad],
					 nu_pattern(key(i, c->round), c->recvd + (uint64_t)bad));
				die(i, "wrong data", what);
			}
			c->recvd += (uint32_t)n;
			total_bytes += n;
			if (c->recvd < c->len)
				continue;
			if (c->round == 0)
				in_flight--;
			if (++c->round == rounds) {
				c->state = DONE;
				ndone++;
				if (epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL) != 0)
					die(i, "epoll_ctl(DEL)", strerror(errno));
				return;
			}
			start_round(i);
			break; /* nothing more can arrive before we send */
		}
	}

	while (c->sent < c->len) {
		size_t chunk = c->len - c->sent;
		nu_fill(buf, chunk, key(i, c->round), c->sent);
		ssize_t n = write(c->fd, buf, chunk);
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die(i, "write", n < 0 ? strerror(errno) : "returned 0");
		c->sent += (uint32_t)n;
	}
	set_events(i, EPOLLIN | (c->sent < c->len ? EPOLLOUT : 0));
}

int main(int argc, char **argv)
{
	long seconds = 120;
	int opt;
	while ((opt = getopt(argc, argv, "n:r:w:t:s:")) != -1) {
		switch (opt) {
		case 'n':
			nconns = atol(optarg);
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		case 'w':
			window = atol(optarg);
			break;
		case 't':
			seconds = atol(optarg);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1 || nconns < 1 || nconns >= (1L << 20) || rounds < 1 ||
	    rounds >= 4096 || window < 1)
		goto usage;
	int port = atoi(argv[optind]);
	struct sockaddr_in addr = nu_loopback(port);

	struct rlimit rl;
	SYS_OK(getrlimit(RLIMIT_NOFILE, &rl));
	if (rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < nconns + 16) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		SYS_OK(getrlimit(RLIMIT_NOFILE, &rl));
		if (rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < nconns + 16) {
			fprintf(stderr,
				"FAIL: echo_client: RLIMIT_NOFILE is %ld, %ld connections need %ld "
				"(raise ulimit -n)\n",
				(long)rl.rlim_cur, nconns, nconns + 16);
			return 1;
		}
	}

	conns = calloc((size_t)nconns, sizeof *conns);
	CHECK(conns != NULL);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die(-1, "epoll_create1", strerror(errno));

	int64_t deadline = tu_now_ns(CLOCK_MONOTONIC) + (int64_t)seconds * 1000000000;
	long next = 0;
	static struct epoll_event evs[1024];
	while (ndone < nconns) {
		while (in_flight < window && next < nconns)
			start(next++, &addr);
		int n = epoll_wait(ep, evs, 1024, 1000);
		if (n < 0 && errno != EINTR)
			die(-1, "epoll_wait", strerror(errno));
		for (int k = 0; k < n; k++)
			handle((long)evs[k].data.u64, evs[k].events);
		if (tu_now_ns(CLOCK_MONOTONIC) > deadline) {
			long st[4] = {0};
			for (long i = 0; i < nconns; i++)
				st[conns[i].state]++;
			fflush(stdout);
			fprintf(
			    stderr,
			    "FAIL: echo_client: not finished after %ld s: %ld connections done, "
			    "%ld exchanging data, %ld connecting, %ld not started\n",
			    seconds, st[DONE], st[TRANSFER], st[CONNECTING], st[IDLE]);
			return 1;
		}
	}
	/* Every connection is still open here. */
	for (long i = 0; i < nconns; i++)
		if (close(conns[i].fd) != 0)
			die(i, "close", strerror(errno));
	printf("client: %ld connections x %d rounds, %lld bytes echoed and checked\n", nconns,
	       rounds, total_bytes);
	return 0;

usage:
	fprintf(stderr, "usage: echo_client [-n CONNS] [-r ROUNDS] [-w WINDOW] [-t SECONDS] "
			"[-s SEED] PORT\n");
	return 2;
}
