/* Helpers for the I/O tests: sockets on 127.0.0.1, a temporary file, a
 * thread that acts after a delay, and checks on system-call results. The
 * programs are ordinary pthread programs: nothing here knows about gmpt. */
#ifndef GMPT_NETUTIL_H
#define GMPT_NETUTIL_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "../compat/testutil.h"

/* errno, read afresh. glibc declares __errno_location() const, so a
 * compiler may compute errno's address once per function and reuse it
 * after a call that blocked; under an M:N runtime without per-thread TLS
 * the thread may have moved to another kernel thread meanwhile, and that
 * address is then another thread's errno. That is a TLS question (tested
 * elsewhere); these I/O tests read errno through this function so that
 * they check the value the I/O call left on the kernel thread the caller
 * runs on when it returns. */
static __attribute__((noinline, unused)) int nu_errno(void)
{
	__asm__ volatile("" ::: "memory");
	return errno;
}

/* errno's symbolic name ("EAGAIN"), or its number. */
static inline const char *nu_errname(int err)
{
	static __thread char num[16];
#ifdef HAVE_STRERRORNAME_NP /* glibc 2.32 */
	const char *name = strerrorname_np(err);
	if (name)
		return name;
#endif
	snprintf(num, sizeof num, "%d", err);
	return num;
}

static inline void nu_fail_sys(const char *file, int line, const char *call, long got, int err,
			       long want)
{
	fflush(stdout);
	fprintf(stderr, "FAIL: %s:%d: %s returned %ld (errno %d, %s), expected %ld\n", file, line,
		call, got, err, strerror(err), want);
	fflush(stderr);
	_exit(1);
}

static inline void nu_fail_errno(const char *file, int line, const char *call, long got, int err,
				 int want)
{
	fflush(stdout);
	fprintf(stderr, "FAIL: %s:%d: %s returned %ld with errno %d (%s), expected -1 with %s\n",
		file, line, call, got, err, strerror(err), nu_errname(want));
	fflush(stderr);
	_exit(1);
}

/* A system call that returns -1 and sets errno on failure must succeed
 * (return >= 0); evaluates to its result. */
#define SYS_OK(call)                                                                               \
	({                                                                                         \
		long nu_r_ = (long)(call);                                                         \
		if (nu_r_ < 0)                                                                     \
			nu_fail_sys(__FILE__, __LINE__, #call, nu_r_, nu_errno(), 0);              \
		nu_r_;                                                                             \
	})

/* A system call must return exactly `want`. */
#define SYS_EQ(call, want)                                                                         \
	do {                                                                                       \
		long nu_r_ = (long)(call), nu_w_ = (long)(want);                                   \
		if (nu_r_ != nu_w_)                                                                \
			nu_fail_sys(__FILE__, __LINE__, #call, nu_r_, nu_errno(), nu_w_);          \
	} while (0)

/* A system call must fail with -1 and errno `err`. */
#define SYS_ERR(call, err)                                                                         \
	do {                                                                                       \
		long nu_r_ = (long)(call);                                                         \
		int nu_e_ = nu_errno();                                                            \
		if (nu_r_ != -1 || nu_e_ != (err))                                                 \
			nu_fail_errno(__FILE__, __LINE__, #call, nu_r_, nu_e_, (err));             \
	} while (0)

static inline int64_t nu_ms_since(int64_t t0_ns)
{
	return (tu_now_ns(CLOCK_MONOTONIC) - t0_ns) / 1000000;
}

static inline void nu_sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) != 0)
		CHECK(nu_errno() == EINTR);
}

/* A TCP socket listening on 127.0.0.1 at a port the kernel picks. */
static inline int nu_listen_tcp(int flags, int *port)
{
	int fd = (int)SYS_OK(socket(AF_INET, SOCK_STREAM | flags, 0));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	SYS_OK(bind(fd, (struct sockaddr *)&a, sizeof a));
	SYS_OK(listen(fd, SOMAXCONN));
	SYS_OK(getsockname(fd, (struct sockaddr *)&a, &len));
	if (port)
		*port = ntohs(a.sin_port);
	return fd;
}

static inline struct sockaddr_in nu_loopback(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	return a;
}

/* A connected pair of TCP sockets over loopback, both blocking. */
static inline void nu_tcp_pair(int fds[2])
{
	int port;
	int l = nu_listen_tcp(0, &port);
	struct sockaddr_in a = nu_loopback(port);
	fds[0] = (int)SYS_OK(socket(AF_INET, SOCK_STREAM, 0));
	SYS_OK(connect(fds[0], (struct sockaddr *)&a, sizeof a));
	fds[1] = (int)SYS_OK(accept(l, NULL, NULL));
	SYS_OK(close(l));
}

/* A UDP socket bound to 127.0.0.1 at a port the kernel picks. */
static inline int nu_udp_bound(int *port)
{
	int fd = (int)SYS_OK(socket(AF_INET, SOCK_DGRAM, 0));
	struct sockaddr_in a = nu_loopback(0);
	socklen_t len = sizeof a;
	SYS_OK(bind(fd, (struct sockaddr *)&a, sizeof a));
	SYS_OK(getsockname(fd, (struct sockaddr *)&a, &len));
	*port = ntohs(a.sin_port);
	return fd;
}

/* An unlinked temporary file, open for reading and writing. */
static inline int nu_tmpfile(void)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	snprintf(path, sizeof path, "%s/gmpt-net.XXXXXX", dir && *dir ? dir : "/tmp");
	int fd = (int)SYS_OK(mkstemp(path));
	SYS_OK(unlink(path));
	return fd;
}

static inline int nu_is_nonblock(int fd)
{
	int fl = (int)SYS_OK(fcntl(fd, F_GETFL));
	return (fl & O_NONBLOCK) != 0;
}

/* Byte `i` of a deterministic test pattern number `seed`. */
static inline unsigned char nu_pattern(uint64_t seed, uint64_t i)
{
	uint64_t x = (seed << 32) ^ i ^ 0x9e3779b97f4a7c15ULL;
	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 29;
	return (unsigned char)(x >> 24);
}

static inline void nu_fill(unsigned char *buf, size_t len, uint64_t seed, uint64_t off)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = nu_pattern(seed, off + i);
}

/* Index of the first byte that does not match the pattern, or -1. */
static inline long nu_mismatch(const unsigned char *buf, size_t len, uint64_t seed, uint64_t off)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != nu_pattern(seed, off + i))
			return (long)i;
	return -1;
}

/* Writes all of buf with write(), however many calls that takes. */
static inline void nu_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && nu_errno() == EINTR)
			continue;
		if (n <= 0)
			nu_fail_sys(__FILE__, __LINE__, "write", (long)n, nu_errno(), (long)len);
		p += n;
		len -= (size_t)n;
	}
}

/* Reads exactly len bytes with read(); fails on EOF or error. */
static inline void nu_read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && nu_errno() == EINTR)
			continue;
		if (n <= 0)
			nu_fail_sys(__FILE__, __LINE__, "read", (long)n, nu_errno(), (long)len);
		p += n;
		len -= (size_t)n;
	}
}

/* A thread that sleeps, then writes `len` bytes of `buf` (or closes the
 * fd when `close_it` is set). */
struct nu_later {
	pthread_t thread;
	int fd;
	long delay_ms;
	const void *buf;
	size_t len;
	int close_it;
};

static inline void *nu_later_main(void *arg)
{
	struct nu_later *l = arg;
	nu_sleep_ms(l->delay_ms);
	if (l->close_it)
		SYS_OK(close(l->fd));
	else
		nu_write_all(l->fd, l->buf, l->len);
	return NULL;
}

static inline void nu_later_write(struct nu_later *l, int fd, long delay_ms, const void *buf,
				  size_t len)
{
	*l = (struct nu_later){.fd = fd, .delay_ms = delay_ms, .buf = buf, .len = len};
	CHECK_OK(pthread_create(&l->thread, NULL, nu_later_main, l));
}

static inline void nu_later_close(struct nu_later *l, int fd, long delay_ms)
{
	*l = (struct nu_later){.fd = fd, .delay_ms = delay_ms, .close_it = 1};
	CHECK_OK(pthread_create(&l->thread, NULL, nu_later_main, l));
}

static inline void nu_later_join(struct nu_later *l)
{
	CHECK_OK(pthread_join(l->thread, NULL));
}

/* A blocking read of fd (a pipe, socket, FIFO or eventfd) returns the 8
 * bytes another thread writes to wfd 30 ms later. */
static inline void nu_check_read_waits(int fd, int wfd)
{
	static const char msg[8] = "1234567";
	char buf[8];
	struct nu_later w;
	nu_later_write(&w, wfd, 30, msg, sizeof msg);
	nu_read_all(fd, buf, sizeof buf);
	CHECK(memcmp(buf, msg, sizeof msg) == 0);
	nu_later_join(&w);
}

#endif
