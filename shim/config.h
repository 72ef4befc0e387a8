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
	bool tls_per_g;	      /* GMPT_TLS: per-thread (default) or shared */
};

/* Parses the environment. A bad value prints one line naming the variable
 * and what it accepts, and exits with status 2. */
void config_load(struct gmpt_config *cfg);

/* CPUs this process may use: the affinity mask, capped by a cgroup CPU
 * quota (v2 cpu.max or v1 cfs_quota_us/cfs_period_us), rounded up. */
int procs_default(void);

#endif
