/* sched/trace_buf.h - what GMPT_TRACE's recording side (trace.c) hands to
 * its writer (trace_writer.c): fixed-size records in fixed-size buffers,
 * one buffer at a time per recording thread ("track").
 *
 * A buffer belongs to its track's thread while it records into it; then,
 * full (or on the writer's periodic request), it is pushed on trace.full
 * and belongs to the writer, which formats it and puts it back in the
 * pool. At exit the finisher stops recording, waits for every recorder to
 * leave (trace_thread.busy) and takes what is left. */
#ifndef GMPT_TRACE_BUF_H
#define GMPT_TRACE_BUF_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sched/lock.h"

enum trace_kind {
	/* ts..x: G g ran on this M from switch-in to switch-out. p: its P at
	 * switch-in (-1: none). arg: why it stopped (enum trace_stop) |
	 * TRACE_P_WHOLE if it held p the whole time (then this is also its
	 * slice on p's track). y: the wait reason of a park (g->wait_reason,
	 * a static string: the writer reads it later). */
	TR_RUN = 1,
	TR_PRUN,	/* ts..x: G g ran on P p (a slice cut by a system call) */
	TR_SYSCALL,	/* ts..x: G g in a system call; arg 1: the P was handed off */
	TR_READY,	/* ts: G g made runnable by G x (0: not a G) */
	TR_SPAWN,	/* ts: G g created by G x (0: not a G) */
	TR_STEAL,	/* ts: this M took G g and arg-1 more from P p; x: its own P */
	TR_HANDOFF,	/* ts: P p handed to another M or put idle (handoffp) */
	TR_RETAKE,	/* ts: sysmon took P p from a system call */
	TR_PREEMPT_REQ, /* ts: sysmon asked M arg to preempt G g (on P p) */
	TR_NAME,	/* G g is called (the 16 bytes of x and y) from now on */
};

enum trace_stop {
	STOP_PARK,
	STOP_YIELD,
	STOP_PREEMPT,
	STOP_EXIT,
	STOP_SYSCALL_NO_P, /* back from a system call, no P to go on with */
	STOP_TRACE_END,	   /* still running when the trace ended */
};
#define TRACE_STOP_MASK 0xffu
#define TRACE_P_WHOLE	0x100u

struct trace_ev {
	int64_t ts;
	int64_t x;
	uint64_t y;
	uint64_t g;
	uint16_t kind;
	int16_t p;
	uint32_t arg;
};

#define TRACE_BUF_EVENTS 1600 /* 64000 bytes of records */

struct trace_thread;

struct trace_buf {
	struct trace_buf *next; /* on trace.full or in the pool */
	struct trace_thread *owner;
	uint32_t n; /* records written; the owner's until handed over */
	struct trace_ev ev[TRACE_BUF_EVENTS];
};

enum { TRACK_M = 1, TRACK_P = 2, TRACK_OTHER = 3 }; /* the pid of each kind of track */

/* A thread that records: an M, sysmon, or a thread gmpt did not create. */
struct trace_thread {
	struct trace_thread *next; /* trace.threads, set once */
	int32_t pid, tid;	   /* its track */
	char name[32];		   /* the track's name */
	struct trace_buf *buf;	   /* owner's (see the top of the file) */
	/* 1 while the owner records: the finisher waits for 0. */
	_Atomic uint32_t busy;
	/* The writer wants the buffer even if it is not full. */
	_Atomic bool flush_req;
	/* Set when the finisher gave up waiting for busy: skip it. */
	bool abandoned;
	/* Written by the writer only: metadata for the track is out. */
	bool described;

	/* The owner's (an M's): what it runs now, for the slices. Read by
	 * the finisher only after the owner left (busy == 0). */
	uint64_t cur_g; /* 0: running its scheduler */
	int64_t run_since;
	int32_t run_p; /* P at switch-in, -1 none */
	int32_t p_id;  /* P it runs the G on now, -1 none */
	int64_t p_since;
	bool p_whole; /* p_id held since switch-in, no system call cut it */
	bool in_syscall;
	bool sys_blocking;
	int64_t sys_since;
};

/* The file's life: a process records from its start, but opens the file
 * only when it first creates a thread, so that a wrapper (timeout, env,
 * sh -c) that execs the real program, or exits, before that never claims
 * the file's name. */
enum trace_file_state {
	TRACE_FILE_PENDING, /* records kept in memory; no file, no writer */
	TRACE_FILE_OPENING, /* the first thread's creator is opening it */
	TRACE_FILE_OPEN,    /* fd is ours, the writer runs */
	TRACE_FILE_NONE,    /* it could not be opened: nothing is recorded */
};

struct trace_state {
	int fd;
	int (*open_file)(void); /* the shim's (trace_init) */
	_Atomic int file_state; /* enum trace_file_state */
	pid_t pid;
	int procs;
	struct trace_thread *_Atomic threads; /* every track, newest first, never removed */
	/* Full buffers, newest first: pushed by recorders with a CAS, taken
	 * all at once by the writer (no ABA: nobody pops one). */
	struct trace_buf *_Atomic full;
	_Atomic uint32_t full_word; /* the writer sleeps on it */
	struct rtlock pool_lock;
	struct trace_buf *pool;
	uint32_t nbufs; /* allocated, under pool_lock */
	_Atomic uint32_t ntracks;
	_Atomic uint64_t dropped;
	_Atomic bool finishing;	  /* the finisher has started: only it writes now */
	struct rtlock write_lock; /* the file, the writer's output buffer and name table */
};

extern struct trace_state trace;

/* trace.c: a buffer the writer is done with goes back to the pool. */
void trace_buf_put(struct trace_buf *b);
/* trace.c: takes every full buffer, oldest first (the list is pushed
 * newest first), linked through next; NULL if none. */
struct trace_buf *trace_take_full(void);

/* trace_writer.c */
void trace_writer_start(void);
/* The file's header (track names for Ps); before any event. */
void trace_write_header(void);
/* Formats and writes one buffer (write_lock held). */
void trace_write_buf(struct trace_buf *b);
/* The last record (drop count) and the closing bracket (write_lock held). */
void trace_write_tail(void);
/* Sends what trace_write_buf formatted so far (write_lock held). */
void trace_write_flush(void);
/* A forked child forgets what the parent's writer had formatted. */
void trace_writer_after_fork_child(void);

#endif
