/* sched/gfree.c - pooled G structs (Go: gfget/gfput).
 *
 * A G struct carries the shim's per-thread area, so pooling it saves a
 * malloc and a free per thread. Per-P caches are touched only by the M
 * holding the P; the global list is under sched.gfree_lock. */
#include "sched/gfree.h"
#include "sched/runtime.h"
#include "sched/sched.h"

#include <stdlib.h>
#include <string.h>

#define P_GFREE_MAX 64

static size_t g_alloc_size(void)
{
	return (sizeof(struct g) + sched.g_ext_size + 63) & ~(size_t)63;
}

static void g_reset(struct g *g)
{
	/* Keep timer_seq: stale timer entries that still name this G must
	 * never match a future wait (see timers.c). Keep the TCB too (per-G
	 * TLS): glibc cannot free its malloc cache from outside, so a TCB
	 * lives as long as its G. The scheduler that ran the G's last switch
	 * may still be on it: wait until it is not. */
	uint64_t seq = atomic_load(&g->timer_seq);
	void *tcb = g->tls_base;
	struct sig_value *sigv = g->sig_values;
	struct g *allg_link = g->allg_link;
	if (tcb)
		tls_wait_free(g);
	memset(g, 0, g_alloc_size());
	atomic_store(&g->timer_seq, seq);
	g->tls_base = tcb;
	g->sig_values = sigv;
	g->allg_link = allg_link;
	if (sigv)
		memset(sigv, 0, 65 * sizeof *sigv);
	atomic_store(&g->wait_bucket, -1);
	g->timer_p = -1;
}

/* The list is published head-first: g's link is written before the CAS
 * makes g the head, so a reader that sees g also sees the rest behind it.
 * g's other fields may be mid-reset when a reader looks: readers treat
 * what they see as a snapshot (status is atomic, G_IDLE until spawned). */
static void allg_add(struct g *g)
{
	struct g *head = atomic_load_explicit(&sched.allg, memory_order_relaxed);
	do
		g->allg_link = head;
	while (!atomic_compare_exchange_weak_explicit(&sched.allg, &head, g, memory_order_release,
						      memory_order_relaxed));
	atomic_fetch_add_explicit(&sched.allg_count, 1, memory_order_relaxed);
}

struct g *gfree_get(struct p *pp)
{
	struct g *g = NULL;
	if (pp && pp->gfree) {
		g = pp->gfree;
		pp->gfree = g->schedlink;
		pp->ngfree--;
	} else if (__atomic_load_n(&sched.gfree, __ATOMIC_RELAXED)) { /* racy peek */
		rtlock_lock(&sched.gfree_lock);
		g = sched.gfree;
		if (g) {
			sched.gfree = g->schedlink;
			sched.ngfree--;
		}
		rtlock_unlock(&sched.gfree_lock);
	}
	if (!g) {
		g = aligned_alloc(64, g_alloc_size());
		if (!g)
			sched_fatal("out of memory allocating a thread");
		memset(g, 0, g_alloc_size());
		allg_add(g);
	}
	g_reset(g);
	return g;
}

void gfree_put(struct p *pp, struct g *g)
{
	atomic_store_explicit(&g->status, G_IDLE, memory_order_relaxed);
	if (pp && pp->ngfree < P_GFREE_MAX) {
		g->schedlink = pp->gfree;
		pp->gfree = g;
		pp->ngfree++;
		return;
	}
	rtlock_lock(&sched.gfree_lock);
	g->schedlink = sched.gfree;
	sched.gfree = g;
	sched.ngfree++;
	rtlock_unlock(&sched.gfree_lock);
}
