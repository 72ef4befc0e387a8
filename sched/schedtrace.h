/* sched/schedtrace.h - GMPT_DEBUG=schedtrace=MS[,scheddetail=1]: sysmon
 * prints the scheduler's state every MS milliseconds (Go's schedtrace). */
#ifndef GMPT_SCHEDTRACE_H
#define GMPT_SCHEDTRACE_H

#include <stdint.h>

/* sysmon only. Prints a line (and the detail) if one is due at now. */
void schedtrace_tick(int64_t now);
/* When the next line is due (CLOCK_MONOTONIC ns), or 0 if tracing is
 * off: sysmon never sleeps past it, even while every P is idle. */
int64_t schedtrace_next(void);

#endif
