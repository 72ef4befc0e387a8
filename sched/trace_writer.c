/* sched/trace_writer.c - GMPT_TRACE, the writing side: a kernel thread of
 * its own (not an M, every signal blocked) turns the full buffers that
 * recorders hand it into trace-event JSON and writes them to the file.
 *
 * The file is the JSON Array Format of the Trace Event Format: "[", one
 * event per line, "]". Every event is followed by a comma except the
 * last (a "trace end" marker written at exit), so the finished file is
 * plain JSON; a process that dies before the end leaves a file without
 * the closing bracket, which the format allows and Chrome's and
 * Perfetto's importers accept. Tracks: pid 1 "Ms" (tid: the M's id),
 * pid 2 "Ps" (tid: the P's id), pid 3 "threads without an M" (sysmon and
 * threads gmpt did not create; tid: the kernel's). Timestamps are
 * CLOCK_MONOTONIC in microseconds with nanosecond decimals.
 *
 * Everything here runs under trace.write_lock: the output buffer, the
 * table of thread names and the file belong to whoever holds it (the
 * writer thread, or the finisher at exit). */
#include "arch/syscall.h"
#include "sched/osthread.h"
#include "sched/runtime.h"
#include "sched/trace_buf.h"

#include <errno.h>
#include <string.h>
#include <sys/syscall.h>

/* How often the writer asks every track for its buffer, full or not, so
 * that the file follows the program (and a crash loses little). */
#define FLUSH_EVERY_NS 100000000
#define EVENT_MAX      1024 /* bytes one event takes at most, formatted */

static char out[256 * 1024];
static size_t outn;
static bool write_failed;

/* ---- output ---- */

void trace_write_flush(void)
{
	size_t done = 0;
	while (done < outn && !write_failed) {
		long r = raw_syscall(SYS_write, trace.fd, out + done, outn - done);
		if (r == -EINTR)
			continue;
		if (r <= 0) {
			write_failed = true;
			sched_notice(
			    "GMPT_TRACE: cannot write the trace (%s); the file is incomplete",
			    strerror(r < 0 ? (int)-r : ENOSPC));
			break;
		}
		done += (size_t)r;
	}
	outn = 0;
}

static void room(size_t n)
{
	if (outn + n > sizeof out)
		trace_write_flush();
}

/* Inlined, so that the length of a literal is known at compile time. */
static inline __attribute__((always_inline)) void put(const char *s)
{
	size_t n = strlen(s);
	memcpy(out + outn, s, n);
	outn += n;
}

static const char digit_pairs[] = "00010203040506070809101112131415161718192021222324"
				  "25262728293031323334353637383940414243444546474849"
				  "50515253545556575859606162636465666768697071727374"
				  "75767778798081828384858687888990919293949596979899";

static void put_u64(uint64_t v)
{
	char tmp[24];
	char *p = tmp + sizeof tmp;
	while (v >= 100) {
		p -= 2;
		memcpy(p, digit_pairs + 2 * (v % 100), 2);
		v /= 100;
	}
	if (v >= 10) {
		p -= 2;
		memcpy(p, digit_pairs + 2 * v, 2);
	} else
		*--p = (char)('0' + v);
	size_t n = (size_t)(tmp + sizeof tmp - p);
	memcpy(out + outn, p, n);
	outn += n;
}

static void put_int(int64_t v)
{
	if (v < 0) {
		out[outn++] = '-';
		put_u64((uint64_t)-v);
	} else
		put_u64((uint64_t)v);
}

/* Nanoseconds as microseconds with three decimals. */
static void put_us(int64_t ns)
{
	if (ns < 0) {
		out[outn++] = '-';
		ns = -ns;
	}
	put_u64((uint64_t)ns / 1000);
	out[outn++] = '.';
	uint64_t f = (uint64_t)ns % 1000;
	out[outn++] = (char)('0' + f / 100);
	memcpy(out + outn, digit_pairs + 2 * (f % 100), 2);
	outn += 2;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
	if (s[0] >= 0xf8 || len == 0 || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/* A JSON string of at most max bytes of s: quotes, backslashes and
 * control characters escaped, bytes that are not UTF-8 as \u00XX. */
static void put_str(const char *s, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strnlen(s, max), plain = 0;
	out[outn++] = '"';
	while (plain < n && (unsigned char)s[plain] >= 0x20 && (unsigned char)s[plain] < 0x80 &&
	       s[plain] != '"' && s[plain] != '\\')
		plain++;
	memcpy(out + outn, s, plain);
	outn += plain;
	for (size_t i = plain; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			out[outn++] = '\\';
			out[outn++] = (char)c;
		} else if (c >= 0x20 && c < 0x80) {
			out[outn++] = (char)c;
		} else {
			size_t k = c >= 0x80 ? utf8_len((const unsigned char *)s + i, n - i) : 0;
			if (k) {
				memcpy(out + outn, s + i, k);
				outn += k;
				i += k - 1;
				continue;
			}
			put("\\u00");
			out[outn++] = hex[c >> 4];
			out[outn++] = hex[c & 15];
		}
	}
	out[outn++] = '"';
}

/* ---- thread names (TR_NAME), by G id ---- */

#define NAME_SLOTS 16384 /* named threads remembered; later ones stay "G<id>" */
static struct {
	uint64_t g;
	char name[16];
} names[NAME_SLOTS];

static char *name_slot(uint64_t g, bool add)
{
	for (uint32_t i = 0, h = (uint32_t)(g * 0x9E3779B97F4A7C15ULL >> 50); i < NAME_SLOTS;
	     i++, h = (h + 1) % NAME_SLOTS) {
		if (names[h].g == g)
			return names[h].name;
		if (names[h].g == 0) {
			if (!add)
				return NULL;
			names[h].g = g;
			return names[h].name;
		}
	}
	return NULL;
}

/* "G<id>", and the thread's name if it has one. */
static void put_g_label(uint64_t g)
{
	char label[48] = "G", tmp[24];
	size_t n = 1;
	int k = 0;
	uint64_t v = g;
	do
		tmp[k++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (k > 0)
		label[n++] = tmp[--k];
	const char *name = name_slot(g, false);
	if (name && name[0]) {
		size_t l = strnlen(name, 16);
		label[n++] = ' ';
		memcpy(label + n, name, l);
		n += l;
	}
	label[n] = 0;
	put_str(label, sizeof label);
}

/* ---- events ---- */

static void head(const char *name, const char *cat, const char *ph, int pid, int64_t tid,
		 int64_t ts)
{
	room(EVENT_MAX);
	put("{\"name\":");
	put_str(name, 64);
	put(",\"cat\":\"");
	put(cat);
	put("\",\"ph\":\"");
	put(ph);
	put("\",\"pid\":");
	put_int(pid);
	put(",\"tid\":");
	put_int(tid);
	put(",\"ts\":");
	put_us(ts);
}

static void run_slice(uint64_t g, int pid, int64_t tid, int64_t from, int64_t to)
{
	room(EVENT_MAX);
	put("{\"name\":");
	put_g_label(g);
	put(",\"cat\":\"run\",\"ph\":\"X\",\"pid\":");
	put_int(pid);
	put(",\"tid\":");
	put_int(tid);
	put(",\"ts\":");
	put_us(from);
	put(",\"dur\":");
	put_us(to - from);
}

static const char *const stop_names[] = {
    [STOP_PARK] = "park",
    [STOP_YIELD] = "yield",
    [STOP_PREEMPT] = "preempt",
    [STOP_EXIT] = "exit",
    [STOP_SYSCALL_NO_P] = "no P after syscall",
    [STOP_TRACE_END] = "trace end",
};

static void write_event(struct trace_thread *tt, const struct trace_ev *e)
{
	int pid = tt->pid;
	int64_t tid = tt->tid;
	switch (e->kind) {
	case TR_RUN: {
		uint32_t stop = e->arg & TRACE_STOP_MASK;
		const char *why = stop < sizeof stop_names / sizeof *stop_names && stop_names[stop]
				      ? stop_names[stop]
				      : "?";
		const char *reason = (const char *)(uintptr_t)e->y;
		run_slice(e->g, pid, tid, e->ts, e->x);
		put(",\"args\":{\"g\":");
		put_u64(e->g);
		put(",\"p\":");
		put_int(e->p);
		put(",\"end\":");
		put_str(why, 32);
		if (reason) {
			put(",\"reason\":");
			put_str(reason, 64);
		}
		put("}},\n");
		if (e->arg & TRACE_P_WHOLE) {
			run_slice(e->g, TRACK_P, e->p, e->ts, e->x);
			put(",\"args\":{\"g\":");
			put_u64(e->g);
			put(",\"m\":");
			put_int(tid);
			put("}},\n");
		}
		if (stop == STOP_TRACE_END)
			break;
		head(why, "sched", "i", pid, tid, e->x);
		put(",\"s\":\"t\",\"args\":{\"g\":");
		put_u64(e->g);
		if (reason) {
			put(",\"reason\":");
			put_str(reason, 64);
		}
		put("}},\n");
		break;
	}
	case TR_PRUN:
		run_slice(e->g, TRACK_P, e->p, e->ts, e->x);
		put(",\"args\":{\"g\":");
		put_u64(e->g);
		put(",\"m\":");
		put_int(tid);
		put("}},\n");
		break;
	case TR_SYSCALL:
		head("syscall", "syscall", "X", pid, tid, e->ts);
		put(",\"dur\":");
		put_us(e->x - e->ts);
		put(",\"args\":{\"g\":");
		put_u64(e->g);
		put(e->arg ? ",\"blocking\":true}},\n" : ",\"blocking\":false}},\n");
		break;
	case TR_READY:
	case TR_SPAWN:
		head(e->kind == TR_READY ? "ready" : "create", "sched", "i", pid, tid, e->ts);
		put(",\"s\":\"t\",\"args\":{\"g\":");
		put_u64(e->g);
		put(",\"by\":");
		put_u64((uint64_t)e->x);
		put(",\"p\":");
		put_int(e->p);
		put("}},\n");
		break;
	case TR_STEAL:
		head("steal", "sched", "i", pid, tid, e->ts);
		put(",\"s\":\"t\",\"args\":{\"g\":");
		put_u64(e->g);
		put(",\"from_p\":");
		put_int(e->p);
		put(",\"to_p\":");
		put_int(e->x);
		put(",\"n\":");
		put_u64(e->arg);
		put("}},\n");
		break;
	case TR_HANDOFF:
	case TR_RETAKE:
		/* On the P's track: it is the P that changes hands. */
		head(e->kind == TR_HANDOFF ? "handoff" : "retake", "sched", "i", TRACK_P, e->p,
		     e->ts);
		put(",\"s\":\"t\",\"args\":{\"p\":");
		put_int(e->p);
		put(",\"by\":");
		put_str(tt->name, sizeof tt->name);
		put("}},\n");
		break;
	case TR_PREEMPT_REQ:
		head("preempt request", "sched", "i", pid, tid, e->ts);
		put(",\"s\":\"t\",\"args\":{\"g\":");
		put_u64(e->g);
		put(",\"m\":");
		put_u64(e->arg);
		put(",\"p\":");
		put_int(e->p);
		put("}},\n");
		break;
	case TR_NAME: {
		char *slot = name_slot(e->g, true);
		if (slot) {
			memcpy(slot, &e->ts, 8);
			memcpy(slot + 8, &e->x, 8);
			slot[15] = 0;
		}
		break;
	}
	}
}

static void metadata(const char *what, int pid, int64_t tid, const char *key, const char *name,
		     int64_t index)
{
	room(EVENT_MAX);
	put("{\"name\":\"");
	put(what);
	put("\",\"ph\":\"M\",\"pid\":");
	put_int(pid);
	if (tid >= 0) {
		put(",\"tid\":");
		put_int(tid);
	}
	put(",\"args\":{\"");
	put(key);
	put("\":");
	if (name)
		put_str(name, 64);
	else
		put_int(index);
	put("}},\n");
}

static void describe(struct trace_thread *tt)
{
	tt->described = true;
	metadata("thread_name", tt->pid, tt->tid, "name", tt->name, 0);
	metadata("thread_sort_index", tt->pid, tt->tid, "sort_index", NULL, tt->tid);
}

void trace_write_buf(struct trace_buf *b)
{
	struct trace_thread *tt = b->owner;
	if (!tt->described)
		describe(tt);
	for (uint32_t i = 0; i < b->n; i++)
		write_event(tt, &b->ev[i]);
}

void trace_write_header(void)
{
	put("[\n");
	metadata("process_name", TRACK_M, -1, "name", "Ms", 0);
	metadata("process_sort_index", TRACK_M, -1, "sort_index", NULL, 1);
	metadata("process_name", TRACK_P, -1, "name", "Ps", 0);
	metadata("process_sort_index", TRACK_P, -1, "sort_index", NULL, 2);
	metadata("process_name", TRACK_OTHER, -1, "name", "threads without an M", 0);
	metadata("process_sort_index", TRACK_OTHER, -1, "sort_index", NULL, 3);
	for (int i = 0; i < trace.procs; i++) {
		char name[16] = "P";
		size_t n = 1;
		char tmp[12];
		int k = 0, v = i;
		do
			tmp[k++] = (char)('0' + v % 10);
		while ((v /= 10) != 0);
		while (k > 0)
			name[n++] = tmp[--k];
		metadata("thread_name", TRACK_P, i, "name", name, 0);
		metadata("thread_sort_index", TRACK_P, i, "sort_index", NULL, i);
	}
	trace_write_flush();
}

void trace_write_tail(void)
{
	room(EVENT_MAX);
	put("{\"name\":\"trace end\",\"cat\":\"gmpt\",\"ph\":\"i\",\"s\":\"g\",\"pid\":1,\"tid\":0,"
	    "\"ts\":");
	put_us(nanotime());
	put(",\"args\":{\"dropped_events\":");
	put_u64(atomic_load(&trace.dropped));
	put(",\"clock\":\"CLOCK_MONOTONIC\",\"writer\":\"gmpt\"}}\n]\n");
}

/* ---- the writer thread ---- */

static void request_flushes(void)
{
	for (struct trace_thread *tt = atomic_load_explicit(&trace.threads, memory_order_acquire);
	     tt; tt = tt->next)
		atomic_store_explicit(&tt->flush_req, true, memory_order_relaxed);
}

static void writer_main(void *arg)
{
	(void)arg;
	int64_t next_flush = nanotime() + FLUSH_EVERY_NS;
	for (;;) {
		/* See buf_push_full (trace.c) for why no wakeup is lost. */
		uint32_t word = atomic_load(&trace.full_word);
		if (atomic_load(&trace.full) == NULL)
			futex_wait(&trace.full_word, word, next_flush);
		if (atomic_load(&trace.finishing))
			return;
		rtlock_lock(&trace.write_lock);
		/* The finisher writes the tail under the lock: after it,
		 * nothing. */
		if (atomic_load(&trace.finishing)) {
			rtlock_unlock(&trace.write_lock);
			return;
		}
		struct trace_buf *rev = trace_take_full();
		while (rev) {
			struct trace_buf *next = rev->next;
			trace_write_buf(rev);
			trace_buf_put(rev);
			rev = next;
		}
		trace_write_flush();
		rtlock_unlock(&trace.write_lock);
		int64_t now = nanotime();
		if (now >= next_flush) {
			request_flushes();
			next_flush = now + FLUSH_EVERY_NS;
		}
	}
}

void trace_writer_after_fork_child(void)
{
	/* The parent's writer may have been formatting when it forked: that
	 * half-made output is the parent's. */
	outn = 0;
	write_failed = false;
}

void trace_writer_start(void)
{
	int err = os_thread_create(writer_main, NULL);
	if (err)
		sched_fatal("cannot create the GMPT_TRACE writer thread (%s)", strerror(err));
}
