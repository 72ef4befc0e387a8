/* sched/step_aside.c - see step_aside.h. */
#include "sched/step_aside.h"
#include "sched/runtime_detect.h"
#include "sched/sched.h"

_Atomic int step_aside_state = STEP_ASIDE_UNDECIDED;

bool step_aside_decide(void)
{
	int s = atomic_load_explicit(&step_aside_state, memory_order_relaxed);
	if (s != STEP_ASIDE_UNDECIDED)
		return s == STEP_ASIDE_YES;
	const char *why = runtime_detect_unhostable();
	int decided = why ? STEP_ASIDE_YES : STEP_ASIDE_NO;
	/* Deciders that race (only possible if the program's threads call
	 * gmpt before its constructor) reach the same answer; the one whose
	 * store lands first prints the notice. The state is set before the
	 * notice is written: writing calls gmpt's own write, which must
	 * already forward. */
	if (atomic_compare_exchange_strong(&step_aside_state, &s, decided) && why)
		sched_notice("%s: gmpt steps aside and runs it natively", why);
	return why != NULL;
}
