/* syscalls/sleep.c - nanosleep, clock_nanosleep, usleep and sleep as timer
 * parks: the G sleeps on its P's timer heap and the P runs other Gs.
 *
 * glibc's sleep() and usleep() call nanosleep internally without going
 * through the PLT, so each is interposed on its own. Outside a G (a thread
 * gmpt did not create) the real system call is made. */
#include "sched/sched.h"
#include "sched/step_aside.h"
#include "syscalls/deadline.h"
#include "sched/real.h"

#include <errno.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

typedef int (*clock_nanosleep_fn)(clockid_t, int, const struct timespec *, struct timespec *);
typedef int (*nanosleep_fn)(const struct timespec *, struct timespec *);

/* glibc's own, for clocks the timer heap does not keep (CPU-time clocks)
 * and for threads that are not Gs. A G hands its P off around it. */
static int sleep_in_kernel(clockid_t c, int flags, const struct timespec *req, struct timespec *rem)
{
	sched_enter_blocking_syscall();
	int r = REAL(clock_nanosleep_fn, clock_nanosleep)(c, flags, req, rem);
	sched_exit_blocking_syscall();
	return r;
}

/* The sleeps are cancellation points. A handler run while the thread
 * sleeps ends the sleep with EINTR, SA_RESTART or not (signal(7)); a
 * sleep cut short by a cancellation the thread does not act on (it
 * disabled cancellation meanwhile), or by an ignored signal, goes on. */
static int cancelable_sleep(int64_t deadline)
{
	sched_sig_handled_clear();
	for (;;) {
		sched_cancel_point();
		bool cancelable = sched_cancelable(true);
		int r = sched_sleep_until(deadline);
		if (cancelable)
			sched_cancelable(false);
		if (r != EINTR || sched_sig_handled_take())
			return r;
	}
}

static void remaining(int64_t deadline, struct timespec *rem)
{
	int64_t left = deadline - nanotime();
	if (left < 0)
		left = 0;
	rem->tv_sec = left / 1000000000;
	rem->tv_nsec = left % 1000000000;
}

EXPORT int clock_nanosleep(clockid_t c, int flags, const struct timespec *req, struct timespec *rem)
{
	STEP_ASIDE_FORWARD(clock_nanosleep, c, flags, req, rem);
	if (!sched_current() || !deadline_clock_supported(c))
		return sleep_in_kernel(c, flags, req, rem);
	if (!timespec_valid(req))
		return EINVAL;
	int64_t deadline;
	if (flags & TIMER_ABSTIME) {
		deadline = deadline_from_abstime(c, req);
	} else {
		if (req->tv_sec < 0)
			return EINVAL;
		deadline = deadline_from_relative(req);
	}
	if (cancelable_sleep(deadline) == EINTR) {
		if (rem && !(flags & TIMER_ABSTIME))
			remaining(deadline, rem);
		return EINTR;
	}
	if (rem && !(flags & TIMER_ABSTIME))
		rem->tv_sec = rem->tv_nsec = 0;
	return 0;
}

EXPORT int nanosleep(const struct timespec *req, struct timespec *rem)
{
	STEP_ASIDE_FORWARD(nanosleep, req, rem);
	if (!sched_current())
		return REAL(nanosleep_fn, nanosleep)(req, rem);
	if (!timespec_valid(req) || req->tv_sec < 0) {
		errno = EINVAL;
		return -1;
	}
	int64_t deadline = deadline_from_relative(req);
	if (cancelable_sleep(deadline) == EINTR) {
		if (rem)
			remaining(deadline, rem);
		errno = EINTR;
		return -1;
	}
	return 0;
}

EXPORT int usleep(useconds_t usec)
{
	STEP_ASIDE_FORWARD(usleep, usec);
	struct timespec ts = {usec / 1000000, (long)(usec % 1000000) * 1000};
	return nanosleep(&ts, NULL);
}

EXPORT unsigned int sleep(unsigned int seconds)
{
	STEP_ASIDE_FORWARD(sleep, seconds);
	struct timespec ts = {seconds, 0};
	if (nanosleep(&ts, &ts) == 0)
		return 0;
	return (unsigned int)ts.tv_sec + (ts.tv_nsec > 0);
}
