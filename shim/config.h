/* shim/config.h - GMPT_* environment variables, parsed once at start-up. */
#ifndef GMPT_CONFIG_H
#define GMPT_CONFIG_H

#include <stdint.h>

#include <stdbool.h>

enum netpoll_choice { NETPOLL_AUTO, NETPOLL_URING, NETPOLL_EPOLL };

struct gmpt_config {
	int procs;	      /* GMPT_PROCS */
	uint64_t stress_seed; /* GMPT_STRESS */
	int max_threads;      /* GMPT_MAXTHREADS */
	bool preempt;	      /* GMPT_PREEMPT */
	int preempt_signal;   /* GMPT_PREEMPT_SIGNAL */
	int netpoll;	      /* GMPT_NETPOLL: enum netpoll_choice */
	bool debug_stats;     /* GMPT_DEBUG=stats */
	int schedtrace_ms;    /* GMPT_DEBUG=schedtrace=MS (0: off) */
	bool scheddetail;     /* GMPT_DEBUG=scheddetail=1 */
	int waitq_buckets;    /* GMPT_DEBUG=waitqbuckets=N (0: default) */
	int deadlock;	      /* GMPT_DEADLOCK: enum sched_deadlock_mode (sched/sched.h) */
	bool tls_per_g;	      /* GMPT_TLS: per-thread (default) or shared */
	int dump_signal;      /* GMPT_DUMP_SIGNAL: 0 (off, the default) or a signal */
	bool trace;	      /* GMPT_TRACE: set (and its file writable) */
};

/* Parses the environment. A bad value prints one line naming the variable
 * and what it accepts, and exits with status 2. */
void config_load(struct gmpt_config *cfg);

/* CPUs this process may use: the affinity mask, capped by a cgroup CPU
 * quota (v2 cpu.max or v1 cfs_quota_us/cfs_period_us), rounded up. */
int procs_default(void);

/* GMPT_TRACE's file (shim/trace_file.c). trace_file_check, at start-up:
 * whether path could be written (0 or -errno), without creating it; it is
 * remembered for trace_file_open, which sched calls when the process
 * first creates a thread: the fd (>= 3), or -errno after a notice. */
int trace_file_check(const char *path);
int trace_file_open(void);

#endif
