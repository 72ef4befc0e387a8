/* shim/config.h - GMPT_* environment variables, parsed once at start-up. */
#ifndef GMPT_CONFIG_H
#define GMPT_CONFIG_H

#include <stdint.h>

struct gmpt_config {
	int procs;	      /* GMPT_PROCS */
	uint64_t stress_seed; /* GMPT_STRESS */
};

/* Parses the environment. A bad value prints one line naming the variable
 * and what it accepts, and exits with status 2. */
void config_load(struct gmpt_config *cfg);

/* CPUs this process may use: the affinity mask, capped by a cgroup CPU
 * quota (v2 cpu.max or v1 cfs_quota_us/cfs_period_us), rounded up. */
int procs_default(void);

#endif
