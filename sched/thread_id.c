/* sched/thread_id.c - the thread id each G has (sched.h).
 *
 * The id is computed from the G's goid, which is unique for the process's
 * life (a pooled G gets a new one each time it is reused), so there is no
 * table to keep: the main G's id is the process id, every other G's is
 * SCHED_TID_BASE + its goid (modulo what fits below 2^31). Finding the G
 * of an id walks sched.allg: G structs are never freed, so the walk needs
 * no lock; a G that ends while it is looked at is either seen as ended or
 * found and ends just after, which callers accept as a kernel tid's owner
 * may exit just after the kernel found it. */
#include "sched/runtime.h"
#include "arch/syscall.h"

#include <limits.h>
#include <sys/syscall.h>

#define TID_SPAN ((uint64_t)INT_MAX - SCHED_TID_BASE)

pid_t sched_pid(void)
{
	pid_t pid = atomic_load_explicit(&sched.pid, memory_order_relaxed);
	return pid ? pid : (pid_t)raw_syscall(SYS_getpid);
}

pid_t sched_g_tid(struct g *g)
{
	if (g == atomic_load_explicit(&sched.main_g, memory_order_relaxed))
		return sched_pid();
	/* The main G has goid 1; the others count from 2, so the first
	 * thread created gets SCHED_TID_BASE + 1. */
	return (pid_t)(SCHED_TID_BASE + 1 + (g->id - 2) % TID_SPAN);
}

bool sched_tid_is_ours(pid_t tid)
{
	return tid > SCHED_TID_BASE || (tid > 0 && tid == sched_pid());
}

struct g *sched_g_by_tid(pid_t tid)
{
	if (!sched_tid_is_ours(tid))
		return NULL;
	if (tid == sched_pid()) {
		struct g *g = atomic_load(&sched.main_g);
		uint32_t st = g ? atomic_load(&g->status) : G_DEAD;
		return st == G_IDLE || st == G_DEAD ? NULL : g;
	}
	for (struct g *g = atomic_load_explicit(&sched.allg, memory_order_acquire); g;
	     g = g->allg_link) {
		uint32_t st = atomic_load_explicit(&g->status, memory_order_acquire);
		if (st == G_IDLE || st == G_DEAD || g == atomic_load(&sched.main_g))
			continue;
		if (sched_g_tid(g) == tid)
			return g;
	}
	return NULL;
}
