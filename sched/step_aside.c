/* sched/step_aside.c - see step_aside.h. */
#include "sched/step_aside.h"
#include "sched/runtime_detect.h"
#include "sched/sched.h"

_Atomic int step_aside_state = STEP_ASIDE_UNDECIDED;

bool step_aside_decide(void)
{
	int s = STEP_ASIDE_UNDECIDED;
	if (!atomic_compare_exchange_strong(&step_aside_state, &s, STEP_ASIDE_DECIDING))
		/* Decided, or being decided: further up this thread's own stack
		 * (the detection's failing dlsym allocates its error message,
		 * and a malloc such as jemalloc's takes a pthread mutex, whose
		 * export comes back here), or by a thread that races the first
		 * before gmpt's constructor ran. Until the answer is in, the
		 * call is gmpt's: a lock or unlock that completes meanwhile
		 * leaves the mutex as glibc's would (same layout), so glibc's
		 * functions can take over from there if gmpt steps aside. */
		return s == STEP_ASIDE_YES;
	const char *why = runtime_detect_unhostable();
	/* The state is set before the notice is written: writing calls
	 * gmpt's own write, which must already forward. */
	atomic_store(&step_aside_state, why ? STEP_ASIDE_YES : STEP_ASIDE_NO);
	if (why)
		sched_notice("%s: gmpt steps aside and runs it natively", why);
	return why != NULL;
}
