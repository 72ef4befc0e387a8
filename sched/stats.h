/* sched/stats.h - the scheduler's counters (GMPT_DEBUG=stats).
 *
 * Most are per P (struct p_stats): each is written only by whoever holds
 * the P exclusively at that moment (its M, an M handing it off, sysmon
 * after winning it from a system call), so an increment is a plain load
 * and store, no locked instruction, and readers sum all Ps on demand,
 * tolerating a count in flight. The few events that happen without a P
 * (an M created, a poll by sysmon or by an M that gave its P back, a
 * thread created by a thread gmpt does not run) go to global atomics. */
#ifndef GMPT_STATS_H
#define GMPT_STATS_H

#include "sched/runtime.h"

#define P_STAT_ADD(pp, field, n)                                                                   \
	atomic_store_explicit(&(pp)->stats.field,                                                  \
			      atomic_load_explicit(&(pp)->stats.field, memory_order_relaxed) +     \
				  (uint64_t)(n),                                                   \
			      memory_order_relaxed)

/* Events without a P held by the caller. */
void stat_ms_created(void);
void stat_preempt_sent(void);
void stat_gs_created_no_p(void);
/* A G was spawned (+1) or ended (-1): the live count and its peak. */
void stat_g_alive(int delta);

#endif
