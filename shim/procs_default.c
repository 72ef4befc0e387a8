/* shim/procs_default.c - the default GMPT_PROCS, as Go picks GOMAXPROCS:
 * CPUs in the affinity mask, then capped by the cgroup CPU quota (a
 * container limited to 1.5 CPUs gets 2 Ps, not 64). */
#include "shim/config.h"
#include "sched/sysfile.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* quota/period rounded up, or 0 when there is no quota. */
static int quota_cpus(long long quota, long long period)
{
	if (quota <= 0 || period <= 0)
		return 0;
	return (int)((quota + period - 1) / period);
}

static int cgroup2_cpus(const char *dir)
{
	char path[512], buf[64];
	snprintf(path, sizeof path, "/sys/fs/cgroup%s/cpu.max", dir);
	if (sysfile_read(path, buf, sizeof buf) <= 0)
		return 0;
	if (strncmp(buf, "max", 3) == 0)
		return 0;
	long long q = 0, p = 0;
	if (sscanf(buf, "%lld %lld", &q, &p) != 2)
		return 0;
	return quota_cpus(q, p);
}

static int cgroup1_cpus(const char *mount, const char *dir)
{
	char path[512], buf[64];
	long long q, p;
	snprintf(path, sizeof path, "/sys/fs/cgroup/%s%s/cpu.cfs_quota_us", mount, dir);
	if (sysfile_read(path, buf, sizeof buf) <= 0)
		return 0;
	q = atoll(buf);
	snprintf(path, sizeof path, "/sys/fs/cgroup/%s%s/cpu.cfs_period_us", mount, dir);
	if (sysfile_read(path, buf, sizeof buf) <= 0)
		return 0;
	p = atoll(buf);
	return quota_cpus(q, p);
}

static int min_nonzero(int a, int b)
{
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return a < b ? a : b;
}

static int cgroup_cpus(void)
{
	char buf[4096];
	if (sysfile_read("/proc/self/cgroup", buf, sizeof buf) <= 0)
		return 0;
	int best = 0;
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		/* "hierarchy-id:controllers:path" */
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = 0;
		const char *controllers = c1 + 1, *dir = c2 + 1;
		if (*controllers == 0) {
			best = min_nonzero(best, cgroup2_cpus(dir));
			best = min_nonzero(best, cgroup2_cpus("")); /* cgroup namespace root */
		} else if (strstr(controllers, "cpu") &&
			   (strcmp(controllers, "cpu") == 0 || strstr(controllers, "cpu,") ||
			    strstr(controllers, ",cpu"))) {
			best = min_nonzero(best, cgroup1_cpus(controllers, dir));
			best = min_nonzero(best, cgroup1_cpus(controllers, ""));
		}
	}
	return best;
}

int procs_default(void)
{
	cpu_set_t set;
	int n = 0;
	if (sched_getaffinity(0, sizeof set, &set) == 0)
		n = CPU_COUNT(&set);
	if (n <= 0)
		n = 1;
	int q = cgroup_cpus();
	if (q > 0 && q < n)
		n = q;
	return n > 1024 ? 1024 : n;
}
