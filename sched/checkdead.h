/* sched/checkdead.h - deadlock detection (Go's checkdead): every thread
 * waits for another and nothing else can wake any of them. */
#ifndef GMPT_CHECKDEAD_H
#define GMPT_CHECKDEAD_H

#include <stdbool.h>

/* sched.lock held: whether every M is idle (on the idle list, or the one
 * blocked in the poller) with no timer pending, so that the deadlock check
 * is worth running. Only a cheap test: the M that makes it true asks
 * sysmon for the real check (checkdead_request), after dropping the lock. */
bool checkdead_all_ms_idle(void);
void checkdead_request(void);
/* The M about to block in the poller without a deadline: the same test
 * and request, taking sched.lock itself. */
void checkdead_maybe_last_m(void);

/* sysmon, before it sleeps while every P is idle: the check itself. */
void checkdead(void);

#endif
