/* syscalls/deadline.c - see deadline.h. */
#include "syscalls/deadline.h"
#include "sched/sched.h"

#define NS 1000000000LL

static int64_t ts_ns(const struct timespec *ts)
{
	if (ts->tv_sec >= INT64_MAX / NS - 1)
		return INT64_MAX / 2;
	if (ts->tv_sec < 0)
		return 0;
	return (int64_t)ts->tv_sec * NS + ts->tv_nsec;
}

int64_t deadline_from_abstime(clockid_t c, const struct timespec *abs)
{
	int64_t now = nanotime();
	int64_t when = ts_ns(abs);
	if (c != CLOCK_MONOTONIC) {
		struct timespec rt;
		clock_gettime(c, &rt);
		int64_t left = when - ts_ns(&rt);
		when = left >= INT64_MAX / 2 - now ? INT64_MAX / 2 : now + left;
	}
	return when > 0 ? when : 1;
}

int64_t deadline_from_relative(const struct timespec *rel)
{
	int64_t now = nanotime();
	int64_t d = ts_ns(rel);
	return d >= INT64_MAX / 2 - now ? INT64_MAX / 2 : now + d;
}
