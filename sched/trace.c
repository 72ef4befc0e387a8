/* sched/trace.c - GMPT_TRACE, the recording side: each thread that
 * records (an M, sysmon, a thread gmpt did not create) appends fixed-size
 * records to a buffer of its own; full buffers go to the writer
 * (trace_writer.c) and the thread takes a fresh one from a bounded pool.
 * When the writer falls that far behind, the full buffer is emptied in
 * place and its records counted as dropped (the count ends up in the
 * file). At exit (atexit, _exit through the shim, a runtime fatal error)
 * the finisher stops recording, waits for every recorder to leave its
 * buffer, and writes what is left, slices still open included.
 *
 * Recording starts with the process, but the file is opened, and the
 * writer started, only when the process first creates a thread: until
 * then full buffers wait in memory (the pool's bound still holds: beyond
 * it records are counted as dropped). A process that never creates one (a
 * wrapper such as timeout, env or sh -c, which execs the real program or
 * waits for it) thus never claims the file's name, and its records go
 * with it; the threaded program it runs gets the name and its whole
 * history, from its own start.
 *
 * What an M records, and when (see trace_buf.h for the records): a G's
 * run is one record at switch-out (start, end, P, why it stopped), its
 * slice on a P is cut by system calls (the P may go to another M while
 * the G is in the kernel), and a system call is a slice of its own. */
#include "arch/arch.h"
#include "arch/syscall.h"
#include "sched/runtime.h"
#include "sched/trace.h"
#include "sched/trace_buf.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

_Atomic bool trace_on;
struct trace_state trace;

/* Buffers beyond one per track: what lets recorders go on while the
 * writer works (2 MB at most). */
#define TRACE_SPARE_BUFS 32
/* How long the finisher waits for one recorder to leave its buffer. */
#define FINISH_WAIT_NS 50000000

/* The track of a thread that is not an M. An M's is m->trace: with
 * per-G TLS a __thread variable follows the G it runs, not the kernel
 * thread, while these threads keep one TCB for life. */
static __thread struct trace_thread *other_track __attribute__((tls_model("initial-exec")));

/* Memory for records comes from mmap, not malloc: a record may be taken
 * in a signal handler (a handler that readies a thread) or while the
 * interrupted code is inside malloc. */
static void *map_zeroed(size_t size)
{
	long r = raw_syscall(SYS_mmap, NULL, size, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return r < 0 && r > -4096 ? NULL : (void *)r;
}

/* A buffer from the pool, or a new one while the total stays within one
 * per track plus TRACE_SPARE_BUFS; NULL when the writer is that far
 * behind. */
static struct trace_buf *buf_get(void)
{
	bool grow = false;
	rtlock_lock(&trace.pool_lock);
	struct trace_buf *b = trace.pool;
	if (b)
		trace.pool = b->next;
	else if (trace.nbufs < atomic_load(&trace.ntracks) + TRACE_SPARE_BUFS) {
		trace.nbufs++;
		grow = true;
	}
	rtlock_unlock(&trace.pool_lock);
	if (grow && !(b = map_zeroed(sizeof *b))) {
		rtlock_lock(&trace.pool_lock);
		trace.nbufs--;
		rtlock_unlock(&trace.pool_lock);
	}
	if (b) {
		b->next = NULL;
		b->n = 0;
	}
	return b;
}

struct trace_buf *trace_take_full(void)
{
	struct trace_buf *list = atomic_exchange(&trace.full, NULL), *rev = NULL;
	while (list) {
		struct trace_buf *next = list->next;
		list->next = rev;
		rev = list;
		list = next;
	}
	return rev;
}

void trace_buf_put(struct trace_buf *b)
{
	b->n = 0;
	rtlock_lock(&trace.pool_lock);
	b->next = trace.pool;
	trace.pool = b;
	rtlock_unlock(&trace.pool_lock);
}

/* Hands b to the writer. The CAS publishes b's records (the writer takes
 * the whole list with an exchange; seq_cst for the wakeup). Only a push onto
 * an empty list wakes it (a system call per batch, not per record): the
 * writer drains the whole list before it sleeps again, and it reads
 * full_word before it checks that the list is empty, so a push between the
 * two changes the word and its futex wait returns at once. */
static void buf_push_full(struct trace_buf *b)
{
	struct trace_buf *head = atomic_load_explicit(&trace.full, memory_order_relaxed);
	do
		b->next = head;
	while (!atomic_compare_exchange_weak_explicit(&trace.full, &head, b, memory_order_seq_cst,
						      memory_order_relaxed));
	if (head == NULL) {
		atomic_fetch_add(&trace.full_word, 1);
		futex_wake(&trace.full_word, 1);
	}
}

/* tt's buffer is full, missing, or wanted by the writer: swap it for a
 * fresh one. Returns the buffer to record into, or NULL (the record is
 * dropped). */
static struct trace_buf *buf_swap(struct trace_thread *tt)
{
	struct trace_buf *b = tt->buf;
	atomic_store_explicit(&tt->flush_req, false, memory_order_relaxed);
	if (b && b->n == 0)
		return b;
	struct trace_buf *fresh = buf_get();
	if (!fresh) {
		if (b && b->n == TRACE_BUF_EVENTS) {
			atomic_fetch_add_explicit(&trace.dropped, b->n, memory_order_relaxed);
			b->n = 0;
		}
		return b;
	}
	fresh->owner = tt;
	tt->buf = fresh;
	if (b)
		buf_push_full(b);
	return fresh;
}

static void emit(struct trace_thread *tt, uint16_t kind, int64_t ts, int64_t x, uint64_t y,
		 uint64_t g, int p, uint32_t arg)
{
	struct trace_buf *b = tt->buf;
	if (__builtin_expect(!b || b->n == TRACE_BUF_EVENTS ||
				 atomic_load_explicit(&tt->flush_req, memory_order_relaxed),
			     0)) {
		b = buf_swap(tt);
		if (!b) {
			atomic_fetch_add_explicit(&trace.dropped, 1, memory_order_relaxed);
			return;
		}
	}
	struct trace_ev *e = &b->ev[b->n];
	e->ts = ts;
	e->x = x;
	e->y = y;
	e->g = g;
	e->kind = kind;
	e->p = (int16_t)p;
	e->arg = arg;
	b->n++;
}

static void put_dec(char *out, size_t *n, int64_t v)
{
	char tmp[24];
	int k = 0;
	uint64_t u = v < 0 ? (uint64_t)-v : (uint64_t)v;
	do
		tmp[k++] = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		out[(*n)++] = '-';
	while (k > 0)
		out[(*n)++] = tmp[--k];
	out[*n] = 0;
}

static struct trace_thread *track_new(int pid, int tid, const char *prefix)
{
	/* The track and its first buffer in one mapping. */
	size_t head = (sizeof(struct trace_thread) + 63) & ~(size_t)63;
	char *mem = map_zeroed(head + sizeof(struct trace_buf));
	if (!mem)
		return NULL;
	struct trace_thread *tt = (struct trace_thread *)mem;
	tt->pid = pid;
	tt->tid = tid;
	size_t n = strlen(prefix);
	memcpy(tt->name, prefix, n);
	put_dec(tt->name, &n, tid);
	tt->run_p = tt->p_id = -1;
	tt->buf = (struct trace_buf *)(mem + head);
	tt->buf->owner = tt;
	rtlock_lock(&trace.pool_lock);
	trace.nbufs++;
	rtlock_unlock(&trace.pool_lock);
	atomic_fetch_add(&trace.ntracks, 1);
	struct trace_thread *first = atomic_load_explicit(&trace.threads, memory_order_relaxed);
	do
		tt->next = first;
	while (!atomic_compare_exchange_weak_explicit(&trace.threads, &first, tt,
						      memory_order_release, memory_order_relaxed));
	return tt;
}

/* "M3 tid 1234": the M and its kernel thread, for top or perf. */
static void name_m_track(struct trace_thread *tt, int id, pid_t tid)
{
	size_t n = 1;
	tt->name[0] = 'M';
	put_dec(tt->name, &n, id);
	memcpy(tt->name + n, " tid ", 5);
	n += 5;
	put_dec(tt->name, &n, tid);
}

/* The calling thread's track, made on its first record (m: the caller's
 * M, or NULL if it is not one). */
static struct trace_thread *track_of(struct m *m)
{
	if (m) {
		if (__builtin_expect(m->trace == NULL, 0) &&
		    (m->trace = track_new(TRACK_M, m->id, "M")) != NULL)
			name_m_track(m->trace, m->id, m->tid);
		return m->trace;
	}
	if (!other_track)
		other_track = track_new(TRACK_OTHER, (int)raw_syscall(SYS_gettid), "thread ");
	return other_track;
}

/* Enter/leave the calling thread's buffer. busy is the finisher's
 * handshake: the finisher clears trace_on, then waits for busy == 0 on
 * every track; a recorder sets busy, then re-reads trace_on (both seq_cst),
 * so either the finisher sees it busy and waits, or it sees tracing off
 * and records nothing. A recorder that finds busy already set interrupted
 * its own thread's recording (a signal handler): it drops its record
 * rather than tear the other. */
static struct trace_thread *rec_enter(struct m *m)
{
	struct trace_thread *tt = track_of(m);
	if (!tt)
		return NULL;
	if (atomic_exchange(&tt->busy, 1)) {
		atomic_fetch_add_explicit(&trace.dropped, 1, memory_order_relaxed);
		return NULL;
	}
	if (!atomic_load(&trace_on)) {
		atomic_store_explicit(&tt->busy, 0, memory_order_release);
		return NULL;
	}
	return tt;
}

static void rec_leave(struct trace_thread *tt)
{
	atomic_store_explicit(&tt->busy, 0, memory_order_release);
}

/* ---- the hooks (trace.h) ---- */

void trace_run_start_slow(struct m *m, struct g *g)
{
	struct trace_thread *tt = rec_enter(m);
	if (!tt)
		return;
	int64_t now = nanotime();
	tt->cur_g = g->id;
	tt->run_since = now;
	tt->run_p = tt->p_id = m->p ? m->p->id : -1;
	tt->p_since = now;
	tt->p_whole = true;
	tt->in_syscall = false;
	rec_leave(tt);
}

static uint32_t stop_of(int after)
{
	switch (after) {
	case AFTER_PARK:
		return STOP_PARK;
	case AFTER_YIELD:
	case AFTER_SLICE: /* a yield at a system call's exit */
		return STOP_YIELD;
	case AFTER_PREEMPT:
		return STOP_PREEMPT;
	case AFTER_EXIT:
		return STOP_EXIT;
	default:
		return STOP_SYSCALL_NO_P;
	}
}

/* The slices of the G tt runs, up to now (a switch-out, or the end of the
 * trace). */
static void close_run(struct trace_thread *tt, int64_t now, uint32_t stop, const char *reason)
{
	if (tt->in_syscall)
		emit(tt, TR_SYSCALL, tt->sys_since, now, 0, tt->cur_g, -1, tt->sys_blocking);
	uint32_t arg = stop;
	if (tt->p_id >= 0 && tt->p_whole)
		arg |= TRACE_P_WHOLE;
	else if (tt->p_id >= 0)
		emit(tt, TR_PRUN, tt->p_since, now, 0, tt->cur_g, tt->p_id, 0);
	emit(tt, TR_RUN, tt->run_since, now, (uint64_t)(uintptr_t)reason, tt->cur_g, tt->run_p,
	     arg);
	tt->cur_g = 0;
	tt->p_id = -1;
	tt->in_syscall = false;
}

void trace_run_end_slow(struct m *m, struct g *g, int after)
{
	struct trace_thread *tt = rec_enter(m);
	if (!tt)
		return;
	/* cur_g differs only if tracing started while g ran (the main G
	 * gets its start in trace_init) or its start was dropped. */
	if (tt->cur_g == g->id)
		close_run(tt, nanotime(), stop_of(after),
			  after == AFTER_PARK ? g->wait_reason : NULL);
	rec_leave(tt);
}

static uint64_t current_g_id(struct m *m)
{
	return m && m->curg ? m->curg->id : 0;
}

void trace_ready_slow(struct m *m, struct g *g)
{
	struct trace_thread *tt = rec_enter(m);
	if (!tt)
		return;
	emit(tt, TR_READY, nanotime(), (int64_t)current_g_id(m), 0, g->id,
	     m && m->p ? m->p->id : -1, 0);
	rec_leave(tt);
}

/* The process creates its first thread: the trace is this process's, so
 * its file is opened now and the writer starts on what is recorded since
 * the start. Only the caller that moves the state out of PENDING opens: a
 * thread created at the same moment by a thread gmpt did not create (the
 * only other kind that can exist before the first G) records into memory
 * as before, which the writer collects once it runs. */
static void file_open_now(void)
{
	int expect = TRACE_FILE_PENDING;
	if (!atomic_compare_exchange_strong(&trace.file_state, &expect, TRACE_FILE_OPENING))
		return;
	int fd = trace.open_file();
	if (fd < 0) {
		/* The shim said why. Buffers already full stay in memory. */
		atomic_store(&trace_on, false);
		atomic_store(&trace.file_state, TRACE_FILE_NONE);
		return;
	}
	rtlock_lock(&trace.write_lock);
	trace.fd = fd;
	trace_write_header();
	rtlock_unlock(&trace.write_lock);
	atomic_store(&trace.file_state, TRACE_FILE_OPEN);
	trace_writer_start();
}

void trace_spawn_slow(struct m *m, struct g *g)
{
	if (__builtin_expect(atomic_load_explicit(&trace.file_state, memory_order_relaxed) ==
				 TRACE_FILE_PENDING,
			     0))
		file_open_now();
	struct trace_thread *tt = rec_enter(m);
	if (!tt)
		return;
	emit(tt, TR_SPAWN, nanotime(), (int64_t)current_g_id(m), 0, g->id,
	     m && m->p ? m->p->id : -1, 0);
	rec_leave(tt);
}

void trace_steal_slow(struct m *m, struct p *victim, struct g *g)
{
	if (!g)
		return;
	struct trace_thread *tt = rec_enter(m);
	if (!tt)
		return;
	emit(tt, TR_STEAL, nanotime(), m->p->id, 0, g->id, victim->id, runq_len(&m->p->runq) + 1);
	rec_leave(tt);
}

void trace_handoff_slow(struct p *pp)
{
	struct trace_thread *tt = rec_enter(m_self());
	if (!tt)
		return;
	emit(tt, TR_HANDOFF, nanotime(), 0, 0, 0, pp->id, 0);
	rec_leave(tt);
}

/* m got a P: while it runs a G, that is the G coming back from a system
 * call (the system call's slice ends here) and its slice on pp begins. The
 * clock is read after the P is ours, so the slice cannot overlap the
 * previous holder's, which ended before that holder let the P go. */
void trace_acquirep_slow(struct m *m, struct p *pp)
{
	struct trace_thread *tt = rec_enter(m);
	if (!tt)
		return;
	if (tt->cur_g) {
		int64_t now = nanotime();
		if (tt->in_syscall)
			emit(tt, TR_SYSCALL, tt->sys_since, now, 0, tt->cur_g, -1,
			     tt->sys_blocking);
		tt->in_syscall = false;
		tt->p_id = pp->id;
		tt->p_since = now;
	}
	rec_leave(tt);
}

/* Called while m still holds its P: the G's slice on it ends before
 * anyone else can take the P. */
void trace_syscall_enter_slow(struct m *m, bool blocking)
{
	struct trace_thread *tt = rec_enter(m);
	if (!tt)
		return;
	if (tt->cur_g) {
		int64_t now = nanotime();
		if (tt->p_id >= 0)
			emit(tt, TR_PRUN, tt->p_since, now, 0, tt->cur_g, tt->p_id, 0);
		tt->p_id = -1;
		tt->p_whole = false;
		tt->in_syscall = true;
		tt->sys_blocking = blocking;
		tt->sys_since = now;
	}
	rec_leave(tt);
}

/* sysmon stamped `when` before it let the P go, so the new owner's slice
 * (stamped after its acquirep) cannot begin before this one ends. */
void trace_p_taken_slow(struct m *m, int64_t when)
{
	struct trace_thread *tt = rec_enter(m);
	if (!tt)
		return;
	if (tt->cur_g && tt->p_id >= 0) {
		if (when < tt->p_since)
			when = tt->p_since;
		emit(tt, TR_PRUN, tt->p_since, when, 0, tt->cur_g, tt->p_id, 0);
		tt->p_id = -1;
		tt->p_whole = false;
		tt->in_syscall = true;
		tt->sys_blocking = true;
		tt->sys_since = when;
	}
	rec_leave(tt);
}

void trace_retake_slow(struct p *pp)
{
	struct trace_thread *tt = rec_enter(m_self());
	if (!tt)
		return;
	emit(tt, TR_RETAKE, nanotime(), 0, 0, 0, pp->id, 0);
	rec_leave(tt);
}

/* sysmon's reads of m and g are racy (see preempt_p): G structs are
 * never freed, so the record names whatever G the struct holds now, at
 * worst one that started a moment ago. */
void trace_preempt_request_slow(struct p *pp, struct m *m, struct g *g)
{
	struct trace_thread *tt = rec_enter(m_self());
	if (!tt)
		return;
	emit(tt, TR_PREEMPT_REQ, nanotime(), 0, 0, g->id, pp->id, (uint32_t)m->id);
	rec_leave(tt);
}

void trace_g_named_slow(struct g *g)
{
	struct trace_thread *tt = rec_enter(m_self());
	if (!tt)
		return;
	int64_t w[2];
	memcpy(w, g->name, sizeof w);
	emit(tt, TR_NAME, w[0], w[1], 0, g->id, -1, 0);
	rec_leave(tt);
}

void trace_thread_named_slow(const char *name)
{
	struct trace_thread *tt = rec_enter(m_self());
	if (!tt)
		return;
	/* Before the track's first buffer reaches the writer, which reads
	 * the name after taking the buffer (acquire). */
	if (tt->pid == TRACK_OTHER) {
		size_t n = strlen(name);
		if (n > sizeof tt->name - 1)
			n = sizeof tt->name - 1;
		memcpy(tt->name, name, n);
		tt->name[n] = 0;
	}
	rec_leave(tt);
}

/* ---- the end ---- */

/* Waits until tt's owner has left its buffer; gives up after a while (a
 * recorder the kernel does not run, or the caller's own thread, which a
 * signal handler interrupted while it recorded) and leaves the track out. */
static void wait_idle(struct trace_thread *tt, struct trace_thread *self, int64_t limit_ns)
{
	if (!atomic_load(&tt->busy))
		return;
	int64_t until = tt == self ? 0 : nanotime() + limit_ns;
	while (atomic_load(&tt->busy)) {
		if (nanotime() >= until) {
			tt->abandoned = true;
			return;
		}
		for (int i = 0; i < 64; i++)
			arch_cpu_relax();
	}
}

/* Runs once, in the process that opened the file (not in a vfork child
 * sharing our memory, whose _exit comes through here too). A process that
 * never opened it (it created no thread) writes nothing: no file. One
 * that is opening it right now, on another thread, while this one exits,
 * leaves the file without its end, as a process killed then would. */
static void finish(bool fatal)
{
	if (raw_syscall(SYS_getpid) != trace.pid || atomic_exchange(&trace.finishing, true))
		return;
	atomic_store(&trace_on, false);
	if (atomic_load(&trace.file_state) != TRACE_FILE_OPEN)
		return;
	struct m *m = m_self();
	struct trace_thread *self = m ? m->trace : other_track;
	struct trace_thread *all = atomic_load_explicit(&trace.threads, memory_order_acquire);
	for (struct trace_thread *tt = all; tt; tt = tt->next)
		wait_idle(tt, self, fatal ? FINISH_WAIT_NS / 10 : FINISH_WAIT_NS);

	/* The writer lets go of the lock after each batch; it may be stuck
	 * only if the process dies inside it, when trying is all we can do.
	 * A batch of a busy trace takes the writer tens of milliseconds on a
	 * loaded machine: give it a second before the file is left without
	 * its end. */
	if (fatal) {
		int64_t until = nanotime() + 20 * FINISH_WAIT_NS;
		while (!rtlock_trylock(&trace.write_lock))
			if (nanotime() >= until)
				return;
	} else
		rtlock_lock(&trace.write_lock);

	/* Oldest first: the full buffers, then each track's current one,
	 * then the slices still open. Buffers are never freed, so a late
	 * recorder we gave up on writes into memory nobody reads. */
	for (struct trace_buf *b = trace_take_full(); b; b = b->next)
		trace_write_buf(b);
	int64_t now = nanotime();
	for (struct trace_thread *tt = all; tt; tt = tt->next) {
		if (tt->abandoned || !tt->buf)
			continue;
		if (tt->cur_g) {
			/* Room for the three records close_run may add. */
			if (tt->buf->n > TRACE_BUF_EVENTS - 3) {
				trace_write_buf(tt->buf);
				tt->buf->n = 0;
			}
			atomic_store_explicit(&tt->flush_req, false, memory_order_relaxed);
			close_run(tt, now, STOP_TRACE_END, NULL);
		}
		trace_write_buf(tt->buf);
	}
	trace_write_tail();
	trace_write_flush();
	rtlock_unlock(&trace.write_lock);
}

static void finish_at_exit(void)
{
	finish(false);
}

void sched_trace_finish(void)
{
	finish(false);
}

void trace_fatal(void)
{
	finish(true);
}

/* Empties tt's buffers into the pool (the records are the parent's). */
static void track_forget(struct trace_thread *tt)
{
	tt->described = false;
	atomic_store_explicit(&tt->busy, 0, memory_order_relaxed);
	atomic_store_explicit(&tt->flush_req, false, memory_order_relaxed);
	if (tt->buf)
		tt->buf->n = 0;
}

/* Only the forking thread runs here, so nothing races with this reset:
 * the parent's other threads, whose tracks these are, do not exist in the
 * child, and the parent's writer, which may have held write_lock or been
 * between records when it forked, does not either. */
void trace_after_fork_child(void)
{
	if (!trace.open_file)
		return;
	/* The parent's file, and its lock, stay the parent's: closing our
	 * copy of the descriptor releases nothing while the parent has it. */
	if (trace.fd > 0)
		raw_syscall(SYS_close, trace.fd);
	trace.fd = 0;
	memset(&trace.pool_lock, 0, sizeof trace.pool_lock);
	memset(&trace.write_lock, 0, sizeof trace.write_lock);
	trace_writer_after_fork_child();
	for (struct trace_buf *b = trace_take_full(); b;) {
		struct trace_buf *next = b->next;
		trace_buf_put(b);
		b = next;
	}
	struct m *m = m_self();
	struct trace_thread *self = m ? m->trace : other_track;
	for (struct trace_thread *tt = atomic_load(&trace.threads); tt; tt = tt->next) {
		track_forget(tt);
		if (tt == self) {
			/* A kernel thread with a tid of its own. */
			pid_t tid = (pid_t)raw_syscall(SYS_gettid);
			if (tt->pid == TRACK_M)
				name_m_track(tt, m->id, tid);
			else
				tt->tid = tid;
			continue;
		}
		/* Its thread is the parent's: the track stays listed (the list
		 * is never shortened), empty, and the finisher skips it. */
		tt->abandoned = true;
		tt->cur_g = 0;
		if (tt->buf) {
			trace_buf_put(tt->buf);
			tt->buf = NULL;
		}
	}
	atomic_store(&trace.dropped, 0);
	atomic_store(&trace.full_word, 0);
	atomic_store(&trace.finishing, false);
	trace.pid = (pid_t)raw_syscall(SYS_getpid);
	bool failed = atomic_load(&trace.file_state) == TRACE_FILE_NONE;
	atomic_store(&trace.file_state, failed ? TRACE_FILE_NONE : TRACE_FILE_PENDING);
	atomic_store(&trace_on, !failed);
	/* The forking G runs on in the child: its run starts now. Its name
	 * was recorded in the parent's buffers. */
	if (!failed && m && m->curg) {
		trace_run_start_slow(m, m->curg);
		if (m->curg->name[0])
			trace_g_named_slow(m->curg);
	}
}

void trace_init(int (*open_file)(void), struct m *m0, struct g *main_g)
{
	trace.open_file = open_file;
	trace.pid = (pid_t)raw_syscall(SYS_getpid);
	trace.procs = sched.procs;
	atomic_store(&trace.file_state, TRACE_FILE_PENDING);
	atomic_store(&trace_on, true);
	trace_run_start_slow(m0, main_g);
	atexit(finish_at_exit);
}
