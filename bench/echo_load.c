/* echo_load: the load generator for bench/echo_server.  It always runs
 * natively (scripts/bench never preloads it) and uses whatever it likes:
 * non-blocking sockets and one epoll instance per worker thread.
 *
 * It opens C connections to 127.0.0.1:PORT (at most 256 being set up at a
 * time, so the server's accept queue never overflows) and makes one
 * request/echo round trip on each, so that every connection has been
 * accepted and has a server thread waiting in read before anything is
 * measured.  Then, in one of three modes:
 *
 *  load (default): a closed loop on every connection: send a MSG-byte
 *    request (default 64), wait until all MSG bytes of the echo are back
 *    (checking them), record the latency, send the next.  After WARMUP
 *    seconds the next DURATION seconds are measured:
 *      RESULT name=echo ns_per_op=<1e9/rps> ops=<requests> rps=...
 *             p50_us=... p99_us=... p999_us=... max_us=... starved=...
 *             oldest_inflight_us=... conns=...
 *    ns_per_op is 1e9 / rps, so scripts/bench's ratios work unchanged.
 *    Requests that never come back are in no percentile: starved counts
 *    the connections that completed none in the window, and
 *    oldest_inflight_us is the age of the oldest request left at its end.
 *  fixed (-n R): the same closed loop, but each connection makes exactly R
 *    requests and then stops (for counting the server's system calls per
 *    request; -n 0 gives the set-up-only baseline).  name=echo_fixed.
 *  idle (-i SECONDS): send nothing after the set-up round trip; wait 0.5 s
 *    to settle, then measure the server's CPU time over SECONDS, then make
 *    one more round trip on every connection to check the server still
 *    answers.  name=echo_idle; ops = the idle window in ms, ns_per_op =
 *    server CPU ns per ms of it; cpu_ms_per_s = the same in ms/s.
 *
 * The server's CPU time comes from its process CPU clock
 * (clock_getcpuclockid, ns resolution, all its threads, dead ones
 * included) and, for comparison, from utime+stime in /proc/PID/stat (clock
 * ticks); srv_cpu_ms_per_s / stat_cpu_ms_per_s.  In load and fixed mode
 * they are also given per request (srv_cpu_us_per_req).  The server's pid
 * is the second number in its port file, or -s PID.
 *
 * Errors (a refused or reset connection, a wrong echo, no progress at all
 * for STALL seconds) print one line on stderr and exit 1: a hung server is
 * reported, not waited for.
 *
 * usage: echo_load (-p PORT | -P PORT-FILE) [-c CONNS] [-t THREADS]
 *                  [-w WARMUP] [-d DURATION] [-n REQS | -i SECONDS]
 *                  [-m MSG] [-s PID] [-T STALL] */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_common.h"
#include "bench_hist.h"

#define MAX_MSG	    4096
#define MAX_PENDING 256
#define MAX_THREADS 16
#define MAX_EVENTS  512

enum state { CONNECTING, PING, READY };

struct conn {
	int fd;
	int idx;
	enum state state;
	uint32_t got;	 /* bytes of the current echo received so far */
	uint64_t seq;	 /* requests sent so far on this connection */
	uint64_t t_send; /* when the current request was sent */
	long done;	 /* requests completed (set-up round trips not counted) */
	long in_window;	 /* of which in the measured window (load mode) */
	char *rbuf;	 /* MSG bytes */
};

struct worker {
	pthread_t tid;
	int id;
	int ep;
	long nconns;
	long finished;	 /* connections that made all their requests (fixed mode) */
	long starved;	 /* connections with no request done in the window */
	uint64_t oldest; /* age of the oldest request in flight at the end */
	struct bench_hist *hist;
	char *sbuf, *ebuf;
};

static struct sockaddr_in addr;
static long nconns = 100, nthreads = 1, msg = 64, fixed_reqs = -1;
static double warmup_s = 2.0, duration_s = 10.0, idle_s = -1.0, stall_s = 20.0;
static long server_pid;
static struct conn *conns;
static uint64_t t_start, t_end; /* the measured window (load mode) */
static long starved;		/* run_workers' results, load mode */
static uint64_t oldest;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("echo_load: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* The bytes of request number seq on connection idx: different for every
 * request, so a misrouted or stale echo is caught. */
static void fill_msg(char *buf, int idx, uint64_t seq)
{
	uint64_t x = (seq + 1) * 0x9e3779b97f4a7c15ull ^ (uint64_t)idx * 0xbf58476d1ce4e5b9ull;
	for (long i = 0; i < msg; i++) {
		x ^= x >> 29;
		x *= 0x94d049bb133111ebull;
		buf[i] = (char)(x >> 56);
	}
}

static void send_req(struct conn *c, char *sbuf)
{
	fill_msg(sbuf, c->idx, c->seq);
	c->t_send = bench_now_ns();
	ssize_t w = write(c->fd, sbuf, (size_t)msg);
	if (w != msg) {
		/* One request of at most 4 KiB is in flight per connection, so
		 * the socket buffer cannot be full. */
		if (w < 0)
			die("connection %d: write: %s", c->idx, strerror(errno));
		die("connection %d: short write (%zd of %ld bytes)", c->idx, w, msg);
	}
	c->seq++;
	c->got = 0;
}

/* Reads what is there of the current echo; returns 1 once all of it is in
 * (and checked), 0 if more is to come. */
static int recv_echo(struct conn *c, char *ebuf)
{
	ssize_t r = read(c->fd, c->rbuf + c->got, (size_t)(msg - c->got));
	if (r < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		die("connection %d: read: %s", c->idx, strerror(errno));
	}
	if (r == 0)
		die("connection %d: the server closed the connection", c->idx);
	c->got += (uint32_t)r;
	if (c->got < (uint32_t)msg)
		return 0;
	fill_msg(ebuf, c->idx, c->seq - 1);
	if (memcmp(ebuf, c->rbuf, (size_t)msg) != 0)
		die("connection %d: the echo of request %" PRIu64 " differs from the request",
		    c->idx, c->seq - 1);
	return 1;
}

static void ep_ctl(int ep, int op, struct conn *c, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = c};
	if (epoll_ctl(ep, op, c->fd, &ev) != 0)
		die("epoll_ctl: %s", strerror(errno));
}

/* Opens all connections and makes one round trip on each. */
static void setup(void)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1: %s", strerror(errno));
	char sbuf[MAX_MSG], ebuf[MAX_MSG];
	struct epoll_event evs[MAX_EVENTS];
	long opened = 0, pending = 0, ready = 0;
	uint64_t t0 = bench_now_ns(), last = t0;
	while (ready < nconns) {
		while (opened < nconns && pending < MAX_PENDING) {
			struct conn *c = &conns[opened];
			c->idx = (int)opened++;
			c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			if (c->fd < 0)
				die("socket (connection %d): %s", c->idx, strerror(errno));
			int one = 1;
			setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
			pending++;
			if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) == 0) {
				c->state = PING;
				send_req(c, sbuf);
				ep_ctl(ep, EPOLL_CTL_ADD, c, EPOLLIN);
			} else if (errno == EINPROGRESS) {
				c->state = CONNECTING;
				ep_ctl(ep, EPOLL_CTL_ADD, c, EPOLLOUT);
			} else {
				die("connect (connection %d): %s", c->idx, strerror(errno));
			}
		}
		int n = epoll_wait(ep, evs, MAX_EVENTS, 100);
		if (n < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		uint64_t now = bench_now_ns();
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (c->state == CONNECTING) {
				int err = 0;
				socklen_t len = sizeof err;
				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
				if (err)
					die("connect (connection %d of %ld): %s", c->idx, nconns,
					    strerror(err));
				c->state = PING;
				send_req(c, sbuf);
				ep_ctl(ep, EPOLL_CTL_MOD, c, EPOLLIN);
				last = now;
			} else if (c->state == PING && recv_echo(c, ebuf)) {
				c->state = READY;
				ep_ctl(ep, EPOLL_CTL_DEL, c, 0);
				pending--;
				ready++;
				last = now;
			}
		}
		if (now - last > (uint64_t)(stall_s * 1e9))
			die("set-up stalled: %ld of %ld connections answered, none in the last "
			    "%.0f s (is the server hung?)",
			    ready, nconns, stall_s);
	}
	close(ep);
	fprintf(stderr, "echo_load: %ld connections set up in %.0f ms\n", nconns,
		(double)(bench_now_ns() - t0) / 1e6);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[MAX_EVENTS];
	for (long i = w->id; i < nconns; i += nthreads) {
		ep_ctl(w->ep, EPOLL_CTL_ADD, &conns[i], EPOLLIN);
		if (fixed_reqs != 0)
			send_req(&conns[i], w->sbuf);
		else
			w->finished++;
	}
	uint64_t last = bench_now_ns();
	for (;;) {
		uint64_t now = bench_now_ns();
		if (fixed_reqs < 0 && now >= t_end)
			break;
		if (fixed_reqs >= 0 && w->finished == w->nconns)
			break;
		int ms = 100;
		if (fixed_reqs < 0 && (t_end - now) / 1000000u + 1 < (uint64_t)ms)
			ms = (int)((t_end - now) / 1000000u + 1);
		int n = epoll_wait(w->ep, evs, MAX_EVENTS, ms);
		if (n < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (!recv_echo(c, w->ebuf))
				continue;
			now = bench_now_ns();
			last = now;
			c->done++;
			if (fixed_reqs >= 0 || (now >= t_start && now < t_end)) {
				hist_add(w->hist, now - c->t_send);
				c->in_window++;
			}
			if (fixed_reqs >= 0 && c->done >= fixed_reqs)
				w->finished++;
			else
				send_req(c, w->sbuf);
		}
		if (n <= 0 && bench_now_ns() - last > (uint64_t)(stall_s * 1e9))
			die("no echo for %.0f s (is the server hung?)", stall_s);
	}
	/* Requests that never came back are not in the histogram: count the
	 * connections that got nothing done and the oldest request left. */
	for (long i = w->id; fixed_reqs < 0 && i < nconns; i += nthreads) {
		struct conn *c = &conns[i];
		if (c->in_window == 0)
			w->starved++;
		if (c->t_send < t_end && t_end - c->t_send > w->oldest)
			w->oldest = t_end - c->t_send;
	}
	return NULL;
}

/* The server's CPU time in ns from its process CPU clock; -1 if unknown. */
static int64_t server_cpu_ns(void)
{
	clockid_t clk;
	struct timespec ts;
	if (server_pid <= 0 || clock_getcpuclockid((pid_t)server_pid, &clk) != 0 ||
	    clock_gettime(clk, &ts) != 0)
		return -1;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* utime + stime of the server from /proc/PID/stat, in clock ticks; -1 if
 * unknown. */
static long long server_stat_ticks(void)
{
	char path[64], buf[1024];
	if (server_pid <= 0)
		return -1;
	snprintf(path, sizeof path, "/proc/%ld/stat", server_pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the ")" that ends the command name: state is field 3,
	 * utime field 14, stime field 15. */
	char *p = strrchr(buf, ')');
	unsigned long long ut, st;
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (long long)(ut + st);
}

struct cpu_sample {
	uint64_t wall;
	int64_t cpu;
	long long ticks;
};

static struct cpu_sample cpu_sample(void)
{
	struct cpu_sample s = {bench_now_ns(), server_cpu_ns(), server_stat_ticks()};
	return s;
}

/* Appends the server CPU keys for the interval a..b (and per request when
 * requests > 0) to out. */
static void cpu_keys(char *out, size_t len, struct cpu_sample a, struct cpu_sample b, long requests)
{
	double secs = (double)(b.wall - a.wall) / 1e9;
	size_t used = strlen(out);
	if (a.cpu >= 0 && b.cpu >= 0 && secs > 0) {
		double ms = (double)(b.cpu - a.cpu) / 1e6;
		used +=
		    (size_t)snprintf(out + used, len - used, " srv_cpu_ms_per_s=%.3f", ms / secs);
		if (requests > 0)
			used += (size_t)snprintf(out + used, len - used, " srv_cpu_us_per_req=%.2f",
						 ms * 1e3 / (double)requests);
	}
	if (a.ticks >= 0 && b.ticks >= 0 && secs > 0) {
		double hz = (double)sysconf(_SC_CLK_TCK);
		snprintf(out + used, len - used, " stat_cpu_ms_per_s=%.1f",
			 (double)(b.ticks - a.ticks) * 1e3 / hz / secs);
	}
}

/* Runs the worker threads until the window ends (load mode) or every
 * connection has made its requests (fixed mode); *a and *b are the server
 * CPU samples at the start and end of what is measured.  Returns the merged
 * latency histogram. */
static struct bench_hist *run_workers(struct cpu_sample *a, struct cpu_sample *b)
{
	struct worker ws[MAX_THREADS];
	*a = cpu_sample();
	t_start = a->wall + (uint64_t)(warmup_s * 1e9);
	t_end = t_start + (uint64_t)(duration_s * 1e9);
	for (long i = 0; i < nthreads; i++) {
		struct worker *w = &ws[i];
		memset(w, 0, sizeof *w);
		w->id = (int)i;
		w->nconns = nconns / nthreads + (i < nconns % nthreads ? 1 : 0);
		w->ep = epoll_create1(EPOLL_CLOEXEC);
		w->hist = hist_new();
		w->sbuf = malloc(MAX_MSG);
		w->ebuf = malloc(MAX_MSG);
		if (w->ep < 0 || !w->sbuf || !w->ebuf)
			die("worker set-up: %s", strerror(errno));
		BENCH_CHECK(pthread_create(&w->tid, NULL, work, w));
	}
	if (fixed_reqs < 0) {
		/* Sample the server's CPU time at the edges of the window. */
		uint64_t now = bench_now_ns();
		if (now < t_start)
			sleep_ns(t_start - now);
		*a = cpu_sample();
		now = bench_now_ns();
		if (now < t_end)
			sleep_ns(t_end - now);
		*b = cpu_sample();
	}
	struct bench_hist *all = hist_new();
	starved = 0;
	oldest = 0;
	for (long i = 0; i < nthreads; i++) {
		BENCH_CHECK(pthread_join(ws[i].tid, NULL));
		hist_merge(all, ws[i].hist);
		starved += ws[i].starved;
		if (ws[i].oldest > oldest)
			oldest = ws[i].oldest;
		free(ws[i].hist);
		free(ws[i].sbuf);
		free(ws[i].ebuf);
		close(ws[i].ep);
	}
	if (fixed_reqs >= 0)
		*b = cpu_sample();
	return all;
}

static int run_load(void)
{
	struct cpu_sample a, b;
	struct bench_hist *h = run_workers(&a, &b);
	long done = (long)h->n;
	uint64_t window = fixed_reqs >= 0 ? b.wall - a.wall : t_end - t_start;
	if (fixed_reqs >= 0 && done != nconns * fixed_reqs)
		die("%ld requests completed, expected %ld", done, nconns * fixed_reqs);
	if (fixed_reqs < 0 && done == 0)
		die("no request completed in the %.1f s measured (is the server hung?)",
		    duration_s);
	double rps = window > 0 ? (double)done * 1e9 / (double)window : 0.0;
	char extra[256] = "";
	cpu_keys(extra, sizeof extra, a, b, done);
	printf("RESULT name=%s ns_per_op=%.1f ops=%ld elapsed_ns=%" PRIu64
	       " rps=%.0f p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f starved=%ld "
	       "oldest_inflight_us=%.1f conns=%ld threads=%ld msg=%ld%s\n",
	       fixed_reqs >= 0 ? "echo_fixed" : "echo", rps > 0 ? 1e9 / rps : 0.0, done, window,
	       rps, hist_quantile(h, 0.50) / 1e3, hist_quantile(h, 0.99) / 1e3,
	       hist_quantile(h, 0.999) / 1e3, (double)h->max / 1e3, starved, (double)oldest / 1e3,
	       nconns, nthreads, msg, extra);
	fflush(stdout);
	free(h);
	return 0;
}

static int run_idle(void)
{
	sleep_ns(500 * 1000 * 1000);
	struct cpu_sample a = cpu_sample();
	sleep_ns((uint64_t)(idle_s * 1e9));
	struct cpu_sample b = cpu_sample();
	if ((a.cpu < 0 || b.cpu < 0) && (a.ticks < 0 || b.ticks < 0))
		die("cannot read the CPU time of server pid %ld (give -s PID?)", server_pid);

	/* Every connection must still answer after the idle time. */
	struct cpu_sample c, d;
	fixed_reqs = 1;
	nthreads = 1;
	struct bench_hist *h = run_workers(&c, &d);
	if ((long)h->n != nconns)
		die("only %ld of %ld connections answered after the idle time", (long)h->n, nconns);

	double wall_ms = (double)(b.wall - a.wall) / 1e6;
	double cpu_ns = a.cpu >= 0 && b.cpu >= 0
			    ? (double)(b.cpu - a.cpu)
			    : (double)(b.ticks - a.ticks) * 1e9 / (double)sysconf(_SC_CLK_TCK);
	char extra[256] = "";
	cpu_keys(extra, sizeof extra, a, b, 0);
	printf("RESULT name=echo_idle ns_per_op=%.1f ops=%.0f elapsed_ns=%" PRIu64
	       " cpu_ms_per_s=%.3f conns=%ld idle_s=%.1f after_p50_us=%.1f%s\n",
	       wall_ms > 0 ? cpu_ns / wall_ms : 0.0, wall_ms, b.wall - a.wall,
	       wall_ms > 0 ? cpu_ns / 1e3 / wall_ms : 0.0, nconns, idle_s,
	       hist_quantile(h, 0.5) / 1e3, extra);
	fflush(stdout);
	free(h);
	return 0;
}

static void read_port_file(const char *path, long *port)
{
	uint64_t deadline = bench_now_ns() + (uint64_t)(stall_s * 1e9);
	for (;;) {
		FILE *f = fopen(path, "r");
		if (f) {
			long p = 0, pid = 0;
			int n = fscanf(f, "%ld %ld", &p, &pid);
			fclose(f);
			if (n >= 1 && p > 0) {
				*port = p;
				if (n == 2 && server_pid == 0)
					server_pid = pid;
				return;
			}
		}
		if (bench_now_ns() > deadline)
			die("no port in %s after %.0f s (did the server start?)", path, stall_s);
		sleep_ns(10 * 1000 * 1000);
	}
}

static double arg_secs(const char *s, const char *what)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || v < 0)
		die("%s must be a non-negative number of seconds, got '%s'", what, s);
	return v;
}

static long arg_long(const char *s, const char *what, long lo, long hi)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		die("%s must be an integer in %ld..%ld, got '%s'", what, lo, hi, s);
	return v;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: echo_load (-p PORT | -P PORT-FILE) [-c CONNS] [-t THREADS]\n"
		"                 [-w WARMUP] [-d DURATION] [-n REQS | -i SECONDS]\n"
		"                 [-m MSG] [-s PID] [-T STALL]\n"
		"  -c  connections (default 100)   -t  epoll threads (default 1)\n"
		"  -w  warm-up s (default 2)       -d  measured s (default 10)\n"
		"  -n  requests per connection, then stop (fixed mode)\n"
		"  -i  idle mode: send nothing for this many s, measure server CPU\n"
		"  -m  message bytes (default 64)  -s  server pid (default: from the port file)\n"
		"  -T  give up after this many s without progress (default 20)\n");
}

int main(int argc, char **argv)
{
	long port = 0;
	const char *port_file = NULL;
	int opt;
	static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {0}};
	while ((opt = getopt_long(argc, argv, "p:P:c:t:w:d:n:i:m:s:T:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			port = arg_long(optarg, "-p", 1, 65535);
			break;
		case 'P':
			port_file = optarg;
			break;
		case 'c':
			nconns = arg_long(optarg, "-c", 1, 1000000);
			break;
		case 't':
			nthreads = arg_long(optarg, "-t", 1, MAX_THREADS);
			break;
		case 'w':
			warmup_s = arg_secs(optarg, "-w");
			break;
		case 'd':
			duration_s = arg_secs(optarg, "-d");
			break;
		case 'n':
			fixed_reqs = arg_long(optarg, "-n", 0, 1L << 40);
			break;
		case 'i':
			idle_s = arg_secs(optarg, "-i");
			break;
		case 'm':
			msg = arg_long(optarg, "-m", 1, MAX_MSG);
			break;
		case 's':
			server_pid = arg_long(optarg, "-s", 1, 1L << 30);
			break;
		case 'T':
			stall_s = arg_secs(optarg, "-T");
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || (!port && !port_file) || (fixed_reqs >= 0 && idle_s >= 0)) {
		usage(stderr);
		return 2;
	}
	if (duration_s <= 0 && fixed_reqs < 0 && idle_s < 0)
		die("-d must be more than 0");
	if (port_file)
		read_port_file(port_file, &port);

	/* Each connection is one fd; ask for what the hard limit allows. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)nconns + 64) {
		rlim_t want = (rlim_t)nconns + 64;
		rl.rlim_cur =
		    rl.rlim_max == RLIM_INFINITY || want < rl.rlim_max ? want : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < want)
			die("%ld connections need %ld fds, but the hard limit is %ld", nconns,
			    (long)want, (long)rl.rlim_max);
	}
	/* A connection reset by the server must be an error, not a signal. */
	signal(SIGPIPE, SIG_IGN);

	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	conns = calloc((size_t)nconns, sizeof *conns);
	char *rbufs = calloc((size_t)nconns, (size_t)msg);
	if (!conns || !rbufs)
		die("out of memory");
	for (long i = 0; i < nconns; i++)
		conns[i].rbuf = rbufs + i * msg;

	setup();
	return idle_s >= 0 ? run_idle() : run_load();
}
