/* sched/thread_dump.c - the thread dump: every live G with its name, state,
 * wait reason, how long it has waited, the M running it, and a symbolised
 * backtrace (GMPT_DUMP_SIGNAL, the deadlock report).
 *
 * Format (docs/usage.md shows an example):
 *
 *     [header]
 *     gmpt: thread dump (N threads)
 *     G<id> "<name>" <state>[ <wait reason>][ <n> ms][ on M<k>][ (dumping)]
 *       #<i> <function>+0x<offset> (<module>)
 *       ...
 *     gmpt: end of thread dump
 *
 * state is runnable, running, syscall (running, its M in a system call
 * without a P) or waiting; "<n> ms" is how long a waiting G has waited;
 * "(dumping)" marks the G the dump was asked on (the one the dump signal
 * interrupted, or the caller of thread_dump_write), shown as it was then:
 * running, with its backtrace from that point. Frames of gmpt itself
 * at the top of a stack are left out except the last one, the function
 * the program called (pthread_join, sleep, or the internal function the
 * exported one tail-called), and for a preempted G, whose top frame is
 * the preemption trampoline, all of them: its #0 is where it was
 * stopped. A G running on another kernel thread (also in a system call)
 * has no backtrace, only "(no backtrace: running on another kernel
 * thread)"; other notes in parentheses say why a backtrace is missing or
 * may be torn. function is "0x<address>" where no symbol is known, module
 * "?" where no loaded object contains the address; a backtrace longer
 * than 48 frames ends with "  ...".
 *
 * Two halves. Walking a stack into instruction pointers
 * (collect_frames: libunwind's stepping, no allocation) may run in a
 * signal handler, which is how the dump signal's handler records where
 * the G it interrupted was (thread_dump_capture). Naming them (libunwind's
 * symbol lookup allocates; dladdr takes the loader's lock) and everything
 * else runs outside any handler: on gmpt's dumper thread for the signal
 * (dump_signal.c), on the caller's thread for thread_dump_write. Output
 * goes out with the write system call itself, not gmpt's write(), which
 * may park a G.
 *
 * Races, all benign for a report: the G list only grows and its links
 * never change (see allg_add), so the walk is safe without a lock; every
 * other field is read as a snapshot. A G listed as parked may be readied
 * and run while its stack is walked: the walk then reads a live stack,
 * which stays mapped (stacks are pooled, or unmapped only after the G is
 * dead and skipped), and libunwind validates the addresses it follows.
 * Such a backtrace is marked as possibly torn. */
#include "sched/thread_dump.h"
#include "arch/preempt.h"
#include "arch/syscall.h"
#include "sched/runtime.h"
#include "sched/trace.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

enum { FRAME_EXACT = 1, FRAME_TRAMPOLINE = 2 };

void sched_g_set_name(struct g *g, const char *name)
{
	/* A dump on another thread may read a half-written name, as a reader
	 * of /proc/<pid>/task/<tid>/comm may natively. */
	size_t n = strnlen(name, sizeof g->name - 1);
	memcpy(g->name, name, n);
	memset(g->name + n, 0, sizeof g->name - n);
	trace_g_named(g);
}

/* ---- output: whole lines, with write(2) ----
 *
 * The dump goes to stderr, which the program writes too, maybe from other
 * threads at that very moment. Each write carries whole lines only, and at
 * most PIPE_BUF bytes, which a pipe (a terminal's, a log collector's)
 * takes in one piece: no line of the program's can land inside a dump
 * line, nor a dump line inside one of the program's (the program's own
 * lines, each written at once, stay whole too). A line is cut at
 * DUMP_LINE_MAX bytes; none is that long (a symbol is cut at 127 bytes, a
 * module's name is one path component). */
#define DUMP_LINE_MAX 1024

struct dump_buf {
	int fd;
	size_t len;  /* bytes in data */
	size_t line; /* where the line being made starts; data before it is whole lines */
	char data[PIPE_BUF];
};

static void buf_write(int fd, const char *data, size_t len)
{
	size_t off = 0;
	while (off < len) {
		/* Not write(), which gmpt wraps: it could park a G. */
		long n = raw_syscall(SYS_write, fd, data + off, len - off);
		if (n == -EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
}

/* Writes the whole lines, keeps the line being made. */
static void buf_flush_lines(struct dump_buf *b)
{
	buf_write(b->fd, b->data, b->line);
	memmove(b->data, b->data + b->line, b->len - b->line);
	b->len -= b->line;
	b->line = 0;
}

/* At the end of the dump, which ends with a newline. */
static void buf_flush(struct dump_buf *b)
{
	b->line = b->len;
	buf_flush_lines(b);
}

static void buf_mem(struct dump_buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\n' && b->len - b->line >= DUMP_LINE_MAX - 1)
			continue; /* cut: room is kept for the newline */
		if (b->len == sizeof b->data)
			buf_flush_lines(b); /* line <= DUMP_LINE_MAX leaves room */
		b->data[b->len++] = s[i];
		if (s[i] == '\n')
			b->line = b->len;
	}
}

static void buf_str(struct dump_buf *b, const char *s)
{
	buf_mem(b, s, strlen(s));
}

static void buf_num(struct dump_buf *b, uint64_t v, unsigned base)
{
	char tmp[24];
	size_t i = sizeof tmp;
	do
		tmp[--i] = "0123456789abcdef"[v % base];
	while ((v /= base) != 0);
	buf_mem(b, tmp + i, sizeof tmp - i);
}

/* ---- backtraces ---- */

/* The load address of libgmpt, to tell its frames from the program's. */
static void *own_base(void)
{
	static void *base;
	if (!base) {
		Dl_info info;
		if (dladdr((void *)own_base, &info))
			base = info.dli_fbase; /* benign race: every thread finds the same */
	}
	return base;
}

/* Where to look an ip up: the byte before a return address is in the
 * call (the return address may already be the next function's). */
static uintptr_t lookup_ip(const struct thread_dump_frames *f, int i)
{
	return f->ip[i] - !(f->flags[i] & FRAME_EXACT);
}

struct frame_where {
	bool in_gmpt;
	const char *module; /* basename, or NULL */
};

static struct frame_where frame_where(uintptr_t ip)
{
	struct frame_where w = {false, NULL};
	Dl_info info;
	if (ip == 0 || !dladdr((void *)ip, &info))
		return w;
	w.in_gmpt = info.dli_fbase == own_base();
	if (info.dli_fname && info.dli_fname[0]) {
		const char *slash = strrchr(info.dli_fname, '/');
		w.module = slash ? slash + 1 : info.dli_fname;
	}
	return w;
}

/* Walks the stack uc describes into f: instruction pointers only, which
 * is what may be done in a signal handler (libunwind's stepping is
 * signal-safe, its symbol lookup allocates). */
static void collect_frames(struct thread_dump_frames *f, ucontext_t *uc, bool signal_frame)
{
	unw_cursor_t c;
	f->n = 0;
	f->more = false;
	int r =
	    signal_frame ? unw_init_local2(&c, uc, UNW_INIT_SIGNAL_FRAME) : unw_init_local(&c, uc);
	if (r < 0)
		return;
	bool exact = signal_frame;
	for (;;) {
		unw_word_t ip;
		if (unw_get_reg(&c, UNW_REG_IP, &ip) < 0 || ip == 0)
			return;
		if (f->n == THREAD_DUMP_MAX_FRAMES) {
			f->more = true;
			return;
		}
		unw_proc_info_t pi;
		bool trampoline = unw_get_proc_info(&c, &pi) == 0 &&
				  pi.start_ip == (uintptr_t)arch_preempt_trampoline;
		f->ip[f->n] = ip;
		f->flags[f->n] = (exact ? FRAME_EXACT : 0) | (trampoline ? FRAME_TRAMPOLINE : 0);
		f->n++;
		/* Below the trampoline is the interrupted instruction itself. */
		exact = trampoline;
		if (unw_step(&c) <= 0)
			return;
	}
}

/* Prints f from the last gmpt frame above the program's frames: the
 * preemption trampoline is not a call the program made, so its frames
 * start below it. Symbol lookup allocates: never in a signal handler. */
static void print_frames(struct dump_buf *b, const struct thread_dump_frames *f)
{
	int first = 0;
	for (int i = 0; i < f->n && frame_where(lookup_ip(f, i)).in_gmpt; i++)
		first = f->flags[i] & FRAME_TRAMPOLINE ? i + 1 : i;
	if (f->n == 0)
		buf_str(b, "  (no backtrace: the unwinder found no frame)\n");
	unw_accessors_t *acc = unw_get_accessors(unw_local_addr_space);
	for (int i = first; i < f->n; i++) {
		char name[128];
		unw_word_t off = 0;
		uintptr_t at = lookup_ip(f, i);
		buf_str(b, "  #");
		buf_num(b, (uint64_t)(i - first), 10);
		buf_str(b, " ");
		name[0] = 0;
		int r = acc && acc->get_proc_name
			    ? acc->get_proc_name(unw_local_addr_space, at, name, sizeof name, &off,
						 NULL)
			    : -UNW_ENOINFO;
		if (r == 0 || (r == -UNW_ENOMEM && name[0])) {
			name[sizeof name - 1] = 0; /* a longer name is cut here */
			buf_str(b, name);
			buf_str(b, "+0x");
			buf_num(b, off + (f->ip[i] - at), 16);
		} else {
			buf_str(b, "0x");
			buf_num(b, f->ip[i], 16);
		}
		struct frame_where w = frame_where(at);
		buf_str(b, " (");
		buf_str(b, w.module ? w.module : "?");
		buf_str(b, ")\n");
	}
	if (f->more)
		buf_str(b, "  ...\n");
}

/* ---- one G ---- */

static const char *state_name(uint32_t st, struct g *g)
{
	switch (st) {
	case G_RUNNABLE:
		return "runnable";
	case G_RUNNING: {
		struct m *m = g->m;
		/* In a system call the M keeps no P (sched_enter_syscall). */
		return m && !m->p ? "syscall" : "running";
	}
	case G_WAITING:
		return "waiting";
	default:
		return "?";
	}
}

/* The process's comm: the main thread's name until it sets one. */
static void process_comm(char out[16])
{
	memset(out, 0, 16);
	long fd = raw_syscall(SYS_open, "/proc/self/comm", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	long n = raw_syscall(SYS_read, fd, out, 15);
	raw_syscall(SYS_close, fd);
	if (n > 0 && out[n - 1] == '\n')
		out[n - 1] = 0;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static bool saved_sp_ok(struct g *g, uintptr_t sp)
{
	/* The saved frame (9 words) must lie inside the G's stack. */
	return sp >= (uintptr_t)g->stack_lo && sp + 9 * 8 <= (uintptr_t)g->stack_hi && !(sp & 7);
}

static void dump_g(struct dump_buf *b, struct g *g, uint32_t st,
		   const struct thread_dump_self *self)
{
	char name[16];
	memcpy(name, g->name, sizeof name);
	name[15] = 0;
	if (!name[0] && g->stack_kind == STACK_NONE)
		process_comm(name);
	bool is_self = self && self->g == g && self->id == g->id;
	struct m *m = st == G_RUNNING ? g->m : NULL;
	const char *reason = g->wait_reason;
	int64_t since = g->wait_since;

	buf_str(b, "G");
	buf_num(b, g->id, 10);
	buf_str(b, " \"");
	buf_str(b, name);
	buf_str(b, "\" ");
	if (is_self) {
		/* As it was when the dump was asked for (it may have gone on). */
		buf_str(b, "running on M");
		buf_num(b, (uint64_t)self->m_id, 10);
		buf_str(b, " (dumping)\n");
		print_frames(b, &self->frames);
		return;
	}
	buf_str(b, state_name(st, g));
	if (st == G_WAITING && reason && reason[0]) {
		buf_str(b, " ");
		buf_str(b, reason);
	}
	if (st == G_WAITING && since > 0) {
		int64_t ms = (now_ns() - since) / 1000000;
		buf_str(b, " ");
		buf_num(b, ms > 0 ? (uint64_t)ms : 0, 10);
		buf_str(b, " ms");
	}
	if (m) {
		buf_str(b, " on M");
		buf_num(b, (uint64_t)m->id, 10);
	}
	buf_str(b, "\n");

	if (st == G_RUNNING) {
		/* Its registers are on another kernel thread (in the kernel, for
		 * a system call): stopping that thread to read them would cut
		 * its system call short, which the program would notice. */
		buf_str(b, "  (no backtrace: running on another kernel thread)\n");
		return;
	}
	/* Parked, queued, or preempted: its context is saved on its stack. */
	struct arch_context ctx = {__atomic_load_n(&g->ctx.sp, __ATOMIC_ACQUIRE)};
	if (!saved_sp_ok(g, (uintptr_t)ctx.sp)) {
		buf_str(b, "  (no backtrace: no saved context)\n");
		return;
	}
	if (arch_context_fresh(&ctx)) {
		buf_str(b, "  (not started yet)\n");
		return;
	}
	ucontext_t uc;
	struct thread_dump_frames frames;
	arch_context_ucontext(&ctx, &uc);
	collect_frames(&frames, &uc, false);
	if (atomic_load_explicit(&g->status, memory_order_acquire) != st ||
	    __atomic_load_n(&g->ctx.sp, __ATOMIC_ACQUIRE) != ctx.sp)
		frames.torn = true;
	print_frames(b, &frames);
	if (frames.torn)
		buf_str(b, "  (the thread ran meanwhile: this backtrace may be torn)\n");
}

/* ---- the dump ---- */

/* id: what the walk read, or 0. A G struct reused since for a thread
 * that started after the walk is left out, as if it started later. */
static void dump_one(struct dump_buf *b, struct g *g, uint64_t id,
		     const struct thread_dump_self *self)
{
	uint32_t st = atomic_load_explicit(&g->status, memory_order_acquire);
	if (st != G_IDLE && st != G_DEAD && (id == 0 || g->id == id))
		dump_g(b, g, st, self);
}

/* Gs by id, sorted on the ids read once: a pooled G may be reused, and
 * its id change, while the list is sorted. Heap sort: no recursion, no
 * memory. */
struct g_by_id {
	uint64_t id;
	struct g *g;
};

static void sift_down(struct g_by_id *a, uint64_t i, uint64_t n)
{
	for (;;) {
		uint64_t c = 2 * i + 1;
		if (c >= n)
			return;
		if (c + 1 < n && a[c + 1].id > a[c].id)
			c++;
		if (a[i].id >= a[c].id)
			return;
		struct g_by_id t = a[i];
		a[i] = a[c];
		a[c] = t;
		i = c;
	}
}

static void sort_by_id(struct g_by_id *a, uint64_t n)
{
	for (uint64_t i = n / 2; i > 0; i--)
		sift_down(a, i - 1, n);
	for (uint64_t end = n; end > 1; end--) {
		struct g_by_id t = a[0];
		a[0] = a[end - 1];
		a[end - 1] = t;
		sift_down(a, 0, end - 1);
	}
}

/* One dump at a time (a deadlock report and a signal's at once). */
static _Atomic int dump_busy;

static void dump_lock(void)
{
	int expect = 0;
	while (!atomic_compare_exchange_weak(&dump_busy, &expect, 1)) {
		expect = 0;
		raw_syscall(SYS_sched_yield);
	}
}

static void dump_unlock(void)
{
	atomic_store(&dump_busy, 0);
}

/* libunwind reads and maps files, and validates addresses, through libc
 * calls that gmpt wraps (open, read, syscall, msync, ...). On a G those
 * wrappers may park it or act on a cancellation: not wanted here, maybe
 * in a signal handler on the kernel thread's signal stack. Meanwhile the
 * kernel thread looks like one gmpt did not create, where the wrappers
 * only make the system call. Only this kernel thread reads these two
 * fields for anything but a report, and it gets them back before it goes
 * on. Returns the G hidden, or NULL. */
static struct g *hide_g(struct m *m, void **ext)
{
	struct g *g = m ? m->curg : NULL;
	if (g) {
		*ext = m->curext;
		m->curg = NULL;
		m->curext = NULL;
	}
	return g;
}

static void unhide_g(struct m *m, struct g *g, void *ext)
{
	if (g) {
		m->curg = g;
		m->curext = ext;
	}
}

void thread_dump_capture(struct thread_dump_self *s, void *ucontext)
{
	int saved_errno = errno;
	struct m *m = m_self();
	void *ext = NULL;
	struct g *g = hide_g(m, &ext);
	/* m->curg names the G from just before the switch into it until just
	 * after the switch out: the signal may have come on the scheduler's
	 * stack, which is then what it interrupted. */
	uintptr_t sp = arch_ucontext_sp(ucontext);
	bool on_g = g && sp >= (uintptr_t)g->stack_lo && sp < (uintptr_t)g->stack_hi;
	s->g = on_g ? g : NULL;
	s->id = on_g ? g->id : 0;
	s->m_id = m ? m->id : -1;
	s->frames.n = 0;
	s->frames.more = s->frames.torn = false;
	if (on_g)
		collect_frames(&s->frames, ucontext, true);
	unhide_g(m, g, ext);
	errno = saved_errno;
}

void thread_dump_write_self(int fd, const char *header, const struct thread_dump_self *self)
{
	dump_lock();
	int saved_errno = errno;
	/* Static, not on the caller's stack (a scheduler's, maybe): one dump
	 * at a time holds it, under dump_lock. */
	static struct dump_buf b;
	b.fd = fd;
	b.len = b.line = 0;
	struct m *m = m_self();
	void *ext = NULL;
	struct g *hidden = hide_g(m, &ext);
	struct g *head = atomic_load_explicit(&sched.allg, memory_order_acquire);
	uint64_t n = 0;
	for (struct g *g = head; g; g = g->allg_link) {
		uint32_t st = atomic_load_explicit(&g->status, memory_order_acquire);
		n += st != G_IDLE && st != G_DEAD;
	}
	if (header) {
		buf_str(&b, header);
		buf_str(&b, "\n");
	}
	buf_str(&b, "gmpt: thread dump (");
	buf_num(&b, n, 10);
	buf_str(&b, n == 1 ? " thread)\n" : " threads)\n");
	/* By id: the list is in the order the G structs were made, and they
	 * are reused. */
	uint64_t cap = n + 64; /* Gs may start while we look */
	size_t bytes = (size_t)cap * sizeof(struct g_by_id);
	struct g_by_id *sorted =
	    mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (sorted == MAP_FAILED) {
		for (struct g *g = head; g; g = g->allg_link)
			dump_one(&b, g, 0, self);
	} else {
		uint64_t k = 0;
		for (struct g *g = head; g && k < cap; g = g->allg_link) {
			uint32_t st = atomic_load_explicit(&g->status, memory_order_acquire);
			if (st != G_IDLE && st != G_DEAD)
				sorted[k++] = (struct g_by_id){g->id, g};
		}
		sort_by_id(sorted, k);
		for (uint64_t i = 0; i < k; i++)
			dump_one(&b, sorted[i].g, sorted[i].id, self);
		munmap(sorted, bytes);
	}
	buf_str(&b, "gmpt: end of thread dump\n");
	buf_flush(&b);
	unhide_g(m, hidden, ext);
	errno = saved_errno;
	dump_unlock();
}

void thread_dump_after_fork_child(void)
{
	/* The parent's dumper may have been writing a dump when it forked:
	 * it does not exist here to let go of the lock. */
	atomic_store(&dump_busy, 0);
}

void thread_dump_prepare(void)
{
	own_base();
}

void thread_dump_write(int fd, const char *header)
{
	/* The caller's own backtrace, if it is a G, from here. */
	struct thread_dump_self self = {0};
	struct m *m = m_self();
	if (m && m->curg) {
		void *ext = NULL;
		struct g *g = hide_g(m, &ext);
		ucontext_t uc;
		unw_getcontext(&uc);
		self.g = g;
		self.id = g->id;
		self.m_id = m->id;
		collect_frames(&self.frames, &uc, false);
		unhide_g(m, g, ext);
	}
	thread_dump_write_self(fd, header, &self);
}
