/* sched/trace.h - GMPT_TRACE: a timeline of the scheduler in the
 * Chrome/Perfetto trace-event JSON format.
 *
 * The scheduler calls the trace_* hooks below at the points it already
 * passes through (switch in and out, ready, steal, handoff, system calls,
 * sysmon's retakes and preemption requests). Each hook is an inline test
 * of one global: with tracing off that is one load and a branch that is
 * never taken, no call. With tracing on, the out-of-line part appends a
 * 32-byte record to the calling thread's own buffer (a clock read through
 * the vDSO and a few stores, no lock, no system call); full buffers go to
 * a writer thread that turns them into JSON (sched/trace_writer.c). */
#ifndef GMPT_TRACE_H
#define GMPT_TRACE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct m;
struct g;
struct p;

extern _Atomic bool trace_on;

#define TRACE_ON() __builtin_expect(atomic_load_explicit(&trace_on, memory_order_relaxed), 0)

/* Starts recording with m0 running the main G main_g and registers the
 * exit handler. The file is not opened yet: open_file (the shim's: it
 * returns an fd >= 3, or -errno after saying why) is called when the
 * process first creates a thread, and only then does the writer start. */
void trace_init(int (*open_file)(void), struct m *m0, struct g *main_g);
/* A forked child is a process of its own: it drops what the parent
 * recorded, lets go of the parent's file, and opens one of its own when
 * it first creates a thread. */
void trace_after_fork_child(void);
/* The last words before the process dies of a runtime error: write out
 * what is recorded, best effort. */
void trace_fatal(void);

void trace_run_start_slow(struct m *m, struct g *g);
void trace_run_end_slow(struct m *m, struct g *g, int after);
void trace_ready_slow(struct m *m, struct g *g);
void trace_spawn_slow(struct m *m, struct g *g);
void trace_steal_slow(struct m *m, struct p *victim, struct g *g);
void trace_handoff_slow(struct p *pp);
void trace_acquirep_slow(struct m *m, struct p *pp);
void trace_syscall_enter_slow(struct m *m, bool blocking);
void trace_syscall_exit_slow(struct m *m);
void trace_retake_slow(struct p *pp);
void trace_p_taken_slow(struct m *m, int64_t when);
void trace_preempt_request_slow(struct p *pp, struct m *m, struct g *g);
void trace_g_named_slow(struct g *g);
void trace_thread_named_slow(const char *name);

/* m switches into g (mark_running). */
static inline void trace_run_start(struct m *m, struct g *g)
{
	if (TRACE_ON())
		trace_run_start_slow(m, g);
}

/* g switched away from m for m->after (finish_switch). */
static inline void trace_run_end(struct m *m, struct g *g, int after)
{
	if (TRACE_ON())
		trace_run_end_slow(m, g, after);
}

/* g was made runnable by the calling thread (m may be NULL). */
static inline void trace_ready(struct m *m, struct g *g)
{
	if (TRACE_ON())
		trace_ready_slow(m, g);
}

/* g was created by the calling thread (m may be NULL). */
static inline void trace_spawn(struct m *m, struct g *g)
{
	if (TRACE_ON())
		trace_spawn_slow(m, g);
}

/* m stole from victim's run queue; g (maybe NULL) is what it got. */
static inline void trace_steal(struct m *m, struct p *victim, struct g *g)
{
	if (TRACE_ON())
		trace_steal_slow(m, victim, g);
}

/* pp is handed off (handoffp), by an M or by sysmon. */
static inline void trace_handoff(struct p *pp)
{
	if (TRACE_ON())
		trace_handoff_slow(pp);
}

/* m takes pp; matters only while m runs a G (back from a system call). */
static inline void trace_acquirep(struct m *m, struct p *pp)
{
	if (TRACE_ON())
		trace_acquirep_slow(m, pp);
}

/* m's G enters a system call: call before the P is let go. */
static inline void trace_syscall_enter(struct m *m, bool blocking)
{
	if (TRACE_ON())
		trace_syscall_enter_slow(m, blocking);
}

/* m learned that sysmon took its P at `when` while its G was blocked in
 * the kernel (kblock.c): the G's slice on the P ends then, and it counts
 * as in a blocking system call until it has a P again. */
static inline void trace_p_taken(struct m *m, int64_t when)
{
	if (TRACE_ON())
		trace_p_taken_slow(m, when);
}

/* m's G is back from its system call, without a P yet (trace_acquirep
 * follows when it gets one). */
static inline void trace_syscall_exit(struct m *m)
{
	if (TRACE_ON())
		trace_syscall_exit_slow(m);
}

/* sysmon took pp from a system call. */
static inline void trace_retake(struct p *pp)
{
	if (TRACE_ON())
		trace_retake_slow(pp);
}

/* sysmon asks m, which runs g on pp, to preempt it. */
static inline void trace_preempt_request(struct p *pp, struct m *m, struct g *g)
{
	if (TRACE_ON())
		trace_preempt_request_slow(pp, m, g);
}

/* g's name changed (g->name). */
static inline void trace_g_named(struct g *g)
{
	if (TRACE_ON())
		trace_g_named_slow(g);
}

/* The calling thread, which is not an M (sysmon), names its track. */
static inline void trace_thread_named(const char *name)
{
	if (TRACE_ON())
		trace_thread_named_slow(name);
}

#endif
