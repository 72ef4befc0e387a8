/* Helpers for the M:N behaviour tests: a SIGALRM watchdog and the kernel
 * thread count of the process. */
#ifndef GMPT_MNUTIL_H
#define GMPT_MNUTIL_H

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../compat/testutil.h"

static const char *mn_watchdog_what = "the test";

static void mn_watchdog_fired(int sig)
{
	(void)sig;
	static const char a[] = "FAIL: watchdog: ";
	static const char b[] = " did not finish in time\n";
	/* Only async-signal-safe calls here. */
	if (write(2, a, sizeof a - 1) < 0 ||
	    write(2, mn_watchdog_what, strlen(mn_watchdog_what)) < 0 ||
	    write(2, b, sizeof b - 1) < 0)
		_exit(1);
	_exit(1);
}

/* After `seconds`, print why and exit with status 1. */
static inline void mn_watchdog(unsigned seconds, const char *what)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = mn_watchdog_fired;
	sigemptyset(&sa.sa_mask);
	mn_watchdog_what = what;
	if (sigaction(SIGALRM, &sa, NULL) != 0)
		tu_fail(__FILE__, __LINE__, "sigaction(SIGALRM)");
	alarm(seconds);
}

/* The number of kernel threads in this process ("Threads:" in
 * /proc/self/status), or -1. */
static inline long mn_kernel_threads(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long n = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "Threads: %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

#endif
