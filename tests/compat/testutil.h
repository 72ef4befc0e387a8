/* Small assertion and timing helpers shared by the compatibility and M:N
 * test programs. The programs are ordinary pthread programs: nothing here
 * knows about gmpt. Usable from C and C++. A failed check flushes stdout, prints the reason on
 * stderr and exits with status 1 at once (from any thread). */
#ifndef GMPT_TESTUTIL_H
#define GMPT_TESTUTIL_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* errno as it is now, read through a fresh __errno_location(). glibc
 * declares that function const, so after a call the compiler may read
 * errno through the address it got before the call. Natively that is the
 * same address; under GMPT_TLS=shared (the sanitizer build) a thread that
 * waited may have moved to another kernel thread, whose errno the call
 * set. Tests that check errno after a wait read it with this, so that
 * they also run with shared TLS. */
static __attribute__((noinline, unused)) int errno_now(void)
{
	return errno;
}

static inline void tu_fail(const char *file, int line, const char *what)
{
	fflush(stdout);
	fprintf(stderr, "FAIL: %s:%d: %s\n", file, line, what);
	fflush(stderr);
	_exit(1);
}

static inline void tu_fail_eq(const char *file, int line, const char *a, const char *b,
			      long long va, long long vb)
{
	fflush(stdout);
	fprintf(stderr, "FAIL: %s:%d: %s == %s: got %lld, expected %lld\n", file, line, a, b, va,
		vb);
	fflush(stderr);
	_exit(1);
}

static inline void tu_fail_err(const char *file, int line, const char *call, int got, int want)
{
	fflush(stdout);
	fprintf(stderr, "FAIL: %s:%d: %s returned %d (%s), expected %d (%s)\n", file, line, call,
		got, strerror(got), want, strerror(want));
	fflush(stderr);
	_exit(1);
}

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			tu_fail(__FILE__, __LINE__, "check failed: " #cond);                       \
	} while (0)

#define CHECK_EQ(a, b)                                                                             \
	do {                                                                                       \
		long long tu_a_ = (long long)(a), tu_b_ = (long long)(b);                          \
		if (tu_a_ != tu_b_)                                                                \
			tu_fail_eq(__FILE__, __LINE__, #a, #b, tu_a_, tu_b_);                      \
	} while (0)

/* For functions that return an error number (pthread_*, clock_nanosleep). */
#define CHECK_RC(call, want)                                                                       \
	do {                                                                                       \
		int tu_rc_ = (call);                                                               \
		if (tu_rc_ != (want))                                                              \
			tu_fail_err(__FILE__, __LINE__, #call, tu_rc_, (want));                    \
	} while (0)

#define CHECK_OK(call) CHECK_RC(call, 0)

static inline int64_t tu_now_ns(clockid_t clk)
{
	struct timespec ts;
	if (clock_gettime(clk, &ts) != 0)
		tu_fail(__FILE__, __LINE__, "clock_gettime");
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* An absolute deadline `ms` milliseconds from now on clock `clk`. */
static inline struct timespec tu_deadline(clockid_t clk, long ms)
{
	int64_t t = tu_now_ns(clk) + (int64_t)ms * 1000000;
	struct timespec ts;
	ts.tv_sec = (time_t)(t / 1000000000);
	ts.tv_nsec = (long)(t % 1000000000);
	return ts;
}

#endif
