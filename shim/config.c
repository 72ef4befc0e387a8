/* shim/config.c - GMPT_* variables.
 *
 * Every variable gmpt reads is in the table below, and any other GMPT_*
 * name is an error: a misspelt GMPT_PROSC=1 silently ignored would be
 * exactly the "nothing silently wrong" this library promises. */
#include "shim/config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

#define MAX_PROCS 1024

static _Noreturn void config_error(const char *fmt, const char *name, const char *value)
{
	char msg[256], line[512];
	snprintf(msg, sizeof msg, fmt, name, value);
	int n = snprintf(line, sizeof line, "gmpt: %s\n", msg);
	if (n > (int)sizeof line - 1)
		n = (int)sizeof line - 1;
	ssize_t w = write(2, line, (size_t)n);
	(void)w;
	_exit(2);
}

static int parse_u64(const char *s, uint64_t *out)
{
	if (*s == 0 || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

static const char *known[] = {"GMPT_PROCS", "GMPT_STRESS"};

void config_load(struct gmpt_config *cfg)
{
	cfg->procs = 0;
	cfg->stress_seed = 0;

	for (char **e = environ; e && *e; e++) {
		if (strncmp(*e, "GMPT_", 5) != 0)
			continue;
		size_t len = strcspn(*e, "=");
		bool ok = false;
		for (size_t i = 0; i < sizeof known / sizeof *known; i++)
			if (strlen(known[i]) == len && strncmp(*e, known[i], len) == 0)
				ok = true;
		if (!ok) {
			char name[64], names[128] = "";
			snprintf(name, sizeof name, "%.*s", (int)(len < 63 ? len : 63), *e);
			for (size_t i = 0; i < sizeof known / sizeof *known; i++)
				snprintf(names + strlen(names), sizeof names - strlen(names),
					 "%s%s", i ? ", " : "", known[i]);
			config_error("%s: unknown variable (gmpt reads %s)", name, names);
		}
	}

	const char *v = getenv("GMPT_PROCS");
	if (v) {
		uint64_t n;
		if (parse_u64(v, &n) != 0 || n < 1 || n > MAX_PROCS)
			config_error("%s='%s': expected a whole number from 1 to 1024",
				     "GMPT_PROCS", v);
		cfg->procs = (int)n;
	} else {
		cfg->procs = procs_default();
	}

	v = getenv("GMPT_STRESS");
	if (v) {
		uint64_t n;
		if (parse_u64(v, &n) != 0)
			config_error("%s='%s': expected a random seed, a whole number (0: off)",
				     "GMPT_STRESS", v);
		cfg->stress_seed = n;
	}
}
