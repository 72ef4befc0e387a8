/* sched/thread_dump.h - a listing of every thread, for people: on
 * GMPT_DUMP_SIGNAL (dump_signal.c) and in the deadlock report. The format
 * is described at the top of thread_dump.c. */
#ifndef GMPT_THREAD_DUMP_H
#define GMPT_THREAD_DUMP_H

#include <stdbool.h>
#include <stdint.h>

struct g;

#define THREAD_DUMP_MAX_FRAMES 48

/* A backtrace as instruction pointers, symbolised only when printed. */
struct thread_dump_frames {
	int n;
	bool more; /* deeper than THREAD_DUMP_MAX_FRAMES */
	bool torn; /* the thread ran while its stack was walked */
	uintptr_t ip[THREAD_DUMP_MAX_FRAMES];
	uint8_t flags[THREAD_DUMP_MAX_FRAMES];
};

/* The thread a dump was asked on, as it was then: the G (NULL if none),
 * its id, its M, and where it was. */
struct thread_dump_self {
	struct g *g;
	uint64_t id;
	int32_t m_id;
	struct thread_dump_frames frames;
};

/* Writes header (its own line, if not NULL), then "gmpt: thread dump (N
 * threads)", an entry per live G by id, and "gmpt: end of thread dump" to
 * fd, with write(2) only; the G the caller runs on, if any, gets a
 * backtrace from the call. Not in a signal handler: symbol lookup
 * allocates. Usable on any kernel thread (a G, an M in its scheduler,
 * sysmon, a thread gmpt did not create). */
void thread_dump_write(int fd, const char *header);

/* The same in two steps, for a signal handler: thread_dump_capture, in the
 * handler (ucontext is its third argument), records the interrupted G and
 * where it was, allocating nothing; thread_dump_write_self, on another
 * thread, writes the dump with that G's entry as captured (self may be
 * NULL). */
void thread_dump_capture(struct thread_dump_self *s, void *ucontext);
void thread_dump_write_self(int fd, const char *header, const struct thread_dump_self *self);

/* Looks up, outside any signal handler, what the dump needs to know. */
void thread_dump_prepare(void);
/* In a forked child, where only the forking thread goes on. */
void thread_dump_after_fork_child(void);

/* The name the dump shows for g (at most 15 bytes are kept). */
void sched_g_set_name(struct g *g, const char *name);

#endif
