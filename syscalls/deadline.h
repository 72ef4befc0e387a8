/* syscalls/deadline.h - turn the program's timespecs into scheduler
 * deadlines (CLOCK_MONOTONIC nanoseconds). */
#ifndef GMPT_DEADLINE_H
#define GMPT_DEADLINE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

static inline bool timespec_valid(const struct timespec *ts)
{
	return ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000;
}

/* Clocks a timed wait may be measured against. */
static inline bool deadline_clock_supported(clockid_t c)
{
	return c == CLOCK_REALTIME || c == CLOCK_MONOTONIC;
}

/* An absolute time on clock c as a monotonic deadline (never 0: a time
 * already past becomes "now"). A CLOCK_REALTIME deadline is converted once,
 * at the call; a later jump of the wall clock does not move it (glibc's
 * FUTEX_CLOCK_REALTIME would follow the jump). */
int64_t deadline_from_abstime(clockid_t c, const struct timespec *abs);
/* now + a relative timespec (saturating). */
int64_t deadline_from_relative(const struct timespec *rel);

#endif
