/* sched/stats.c - summing the scheduler's counters (see stats.h). */
#include "sched/stats.h"
#include "sched/sched.h"

static struct {
	_Atomic uint64_t ms, preempt_req, netpolls, gs_created;
} no_p;

void stat_ms_created(void)
{
	atomic_fetch_add_explicit(&no_p.ms, 1, memory_order_relaxed);
}

void stat_preempt_sent(void)
{
	atomic_fetch_add_explicit(&no_p.preempt_req, 1, memory_order_relaxed);
}

void stat_gs_created_no_p(void)
{
	atomic_fetch_add_explicit(&no_p.gs_created, 1, memory_order_relaxed);
}

/* One locked add per thread created and per thread ended (the shim already
 * pays one for its own count): the peak needs a process-wide live count. The
 * peak's CAS runs only while the count climbs past it. */
void stat_g_alive(int delta)
{
	int64_t n = atomic_fetch_add_explicit(&sched.gcount, delta, memory_order_relaxed) + delta;
	int64_t peak = atomic_load_explicit(&sched.gpeak, memory_order_relaxed);
	while (n > peak && !atomic_compare_exchange_weak_explicit(
			       &sched.gpeak, &peak, n, memory_order_relaxed, memory_order_relaxed))
		;
}

/* Called by the netpoller with the number of Gs it readied: on the P of
 * the M that polled if it holds one, else (sysmon, an M blocked in the
 * poller without a P) globally. */
void sched_stat_netpoll(uint64_t n)
{
	struct m *m = m_self();
	if (m && m->p)
		P_STAT_ADD(m->p, netpolls, n);
	else
		atomic_fetch_add_explicit(&no_p.netpolls, n, memory_order_relaxed);
}

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

void sched_stats_get(struct sched_stats *out)
{
	*out = (struct sched_stats){0};
	for (int i = 0; i < sched.procs; i++) {
		const struct p_stats *s = &sched.allp[i]->stats;
		out->switches += LOAD(s->switches);
		out->steals += LOAD(s->steals);
		out->handoffs += LOAD(s->handoffs);
		out->retakes += LOAD(s->retakes);
		out->preempts += LOAD(s->preempts);
		out->netpolls += LOAD(s->netpolls);
		out->gs_created += LOAD(s->gs_created);
	}
	out->netpolls += LOAD(no_p.netpolls);
	out->gs_created += LOAD(no_p.gs_created);
	out->preempt_req = LOAD(no_p.preempt_req);
	out->ms = LOAD(no_p.ms);
	out->gs_peak = (uint64_t)LOAD(sched.gpeak);
}
