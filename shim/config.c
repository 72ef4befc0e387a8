/* shim/config.c - GMPT_* variables.
 *
 * Every variable gmpt reads is in the table below, and any other GMPT_*
 * name is an error: a misspelt GMPT_PROSC=1 silently ignored would be
 * exactly the "nothing silently wrong" this library promises. */
#include "shim/config.h"

#include <errno.h>
#include <signal.h>
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

static const char *known[] = {
    "GMPT_PROCS",	   "GMPT_STRESS",  "GMPT_MAXTHREADS", "GMPT_PREEMPT",
    "GMPT_PREEMPT_SIGNAL", "GMPT_NETPOLL", "GMPT_DEBUG",      "GMPT_TLS"};

/* Signals that cannot be caught, that the kernel sends for faults, or
 * that programs commonly rely on for their own purposes. */
static bool preempt_signal_ok(int sig)
{
	switch (sig) {
	case SIGKILL:
	case SIGSTOP:
	case SIGSEGV:
	case SIGBUS:
	case SIGFPE:
	case SIGILL:
	case SIGTRAP:
	case SIGABRT:
	case SIGCHLD:
	case SIGPIPE:
	case SIGINT:
	case SIGTERM:
	case SIGQUIT:
	case SIGHUP:
	case SIGCONT:
	case SIGTSTP:
	case SIGTTIN:
	case SIGTTOU:
		return false;
	}
	/* 32 and 33 are glibc's own (cancellation, setxid). */
	return (sig >= 1 && sig < 32) || (sig >= SIGRTMIN && sig <= SIGRTMAX);
}

static int parse_signal(const char *v)
{
	static const struct {
		const char *name;
		int sig;
	} names[] = {{"URG", SIGURG},	{"USR1", SIGUSR1},     {"USR2", SIGUSR2},
		     {"PROF", SIGPROF}, {"VTALRM", SIGVTALRM}, {"WINCH", SIGWINCH},
		     {"XCPU", SIGXCPU}, {"PWR", SIGPWR},       {"SYS", SIGSYS},
		     {"ALRM", SIGALRM}};
	const char *n = strncmp(v, "SIG", 3) == 0 ? v + 3 : v;
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (strcmp(n, names[i].name) == 0)
			return names[i].sig;
	if (strncmp(n, "RTMIN+", 6) == 0) {
		uint64_t k;
		if (parse_u64(n + 6, &k) == 0 && SIGRTMIN + (int)k <= SIGRTMAX)
			return SIGRTMIN + (int)k;
		return -1;
	}
	uint64_t k;
	if (parse_u64(v, &k) == 0 && k < 1000)
		return (int)k;
	return -1;
}

/* A variable with two values: true for yes, false for no, else the
 * one-line error naming what it accepts. */
static bool two_way(const char *name, const char *v, const char *yes, const char *no,
		    const char *accepts)
{
	if (strcmp(v, yes) == 0)
		return true;
	if (strcmp(v, no) != 0) {
		char fmt[256];
		snprintf(fmt, sizeof fmt, "%%s='%%s': expected %s", accepts);
		config_error(fmt, name, v);
	}
	return false;
}

void config_load(struct gmpt_config *cfg)
{
	cfg->procs = 0;
	cfg->stress_seed = 0;
	cfg->max_threads = 10000;
	cfg->preempt = true;
	cfg->preempt_signal = SIGURG;
	cfg->netpoll = NETPOLL_AUTO;
	cfg->debug_stats = false;
	/* Under the sanitizer runtime, whose per-thread state lives in TLS
	 * (each G would start with an empty one), Gs use their M's TLS. */
#ifdef GMPT_ASAN
	cfg->tls_per_g = false;
#else
	cfg->tls_per_g = true;
#endif

	for (char **e = environ; e && *e; e++) {
		if (strncmp(*e, "GMPT_", 5) != 0)
			continue;
		size_t len = strcspn(*e, "=");
		bool ok = false;
		for (size_t i = 0; i < sizeof known / sizeof *known; i++)
			if (strlen(known[i]) == len && strncmp(*e, known[i], len) == 0)
				ok = true;
		if (!ok) {
			char name[64], names[256] = "";
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

	v = getenv("GMPT_MAXTHREADS");
	if (v) {
		uint64_t n;
		if (parse_u64(v, &n) != 0 || n < 2 || n > 1000000)
			config_error("%s='%s': expected a whole number from 2 to 1000000",
				     "GMPT_MAXTHREADS", v);
		cfg->max_threads = (int)n;
	}

	v = getenv("GMPT_PREEMPT");
	if (v)
		cfg->preempt =
		    two_way("GMPT_PREEMPT", v, "1", "0",
			    "1 (preempt threads that run 10 ms, the default) or 0 (never)");

	v = getenv("GMPT_PREEMPT_SIGNAL");
	if (v) {
		int sig = parse_signal(v);
		if (sig < 0 || !preempt_signal_ok(sig))
			config_error("%s='%s': expected a signal gmpt may use, such as SIGURG (the "
				     "default), SIGUSR2 or SIGRTMIN+3",
				     "GMPT_PREEMPT_SIGNAL", v);
		cfg->preempt_signal = sig;
	}

	v = getenv("GMPT_NETPOLL");
	if (v)
		cfg->netpoll = two_way("GMPT_NETPOLL", v, "uring", "epoll",
				       "uring or epoll (default: io_uring, epoll if io_uring "
				       "cannot be set up)")
				   ? NETPOLL_URING
				   : NETPOLL_EPOLL;

	v = getenv("GMPT_TLS");
	if (v)
		cfg->tls_per_g = two_way("GMPT_TLS", v, "per-thread", "shared",
					 "per-thread (each thread its own TLS, the default) or "
					 "shared (threads use their kernel thread's)");

	v = getenv("GMPT_DEBUG");
	if (v) {
		if (strcmp(v, "stats") == 0)
			cfg->debug_stats = true;
		else if (*v != 0)
			config_error("%s='%s': expected stats (print scheduler counters at exit)",
				     "GMPT_DEBUG", v);
	}
}
