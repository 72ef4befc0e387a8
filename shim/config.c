/* shim/config.c - GMPT_* variables.
 *
 * Every variable gmpt reads is in the table below, and any other GMPT_*
 * name is an error: a misspelt GMPT_PROSC=1 silently ignored would be
 * exactly the "nothing silently wrong" this library promises. */
#include "shim/config.h"
#include "sched/sched.h"

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
    "GMPT_PREEMPT_SIGNAL", "GMPT_NETPOLL", "GMPT_DEBUG",      "GMPT_TLS",
    "GMPT_DUMP_SIGNAL",	   "GMPT_TRACE",   "GMPT_DEADLOCK"};

/* Signals that cannot be caught, that the kernel sends for faults, or
 * that programs commonly rely on for their own purposes. */
static bool preempt_signal_ok(int sig)
{
	if (sched_signal_uncatchable_or_fault(sig))
		return false;
	switch (sig) {
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
	} names[] = {
	    {"URG", SIGURG},	   {"USR1", SIGUSR1},	{"USR2", SIGUSR2}, {"PROF", SIGPROF},
	    {"VTALRM", SIGVTALRM}, {"WINCH", SIGWINCH}, {"XCPU", SIGXCPU}, {"PWR", SIGPWR},
	    {"SYS", SIGSYS},	   {"ALRM", SIGALRM},	{"QUIT", SIGQUIT}, {"HUP", SIGHUP},
	    {"INT", SIGINT},	   {"TERM", SIGTERM},	{"TSTP", SIGTSTP}, {"CHLD", SIGCHLD},
	    {"CONT", SIGCONT},	   {"PIPE", SIGPIPE},	{"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},
	    {"KILL", SIGKILL},	   {"STOP", SIGSTOP},	{"SEGV", SIGSEGV}, {"BUS", SIGBUS},
	    {"FPE", SIGFPE},	   {"ILL", SIGILL},	{"TRAP", SIGTRAP}, {"ABRT", SIGABRT}};
	const char *n = strncmp(v, "SIG", 3) == 0 ? v + 3 : v;
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (strcmp(n, names[i].name) == 0)
			return names[i].sig;
	if (strcmp(n, "RTMIN") == 0)
		return SIGRTMIN;
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

/* The thread dump signal may be any signal a program can catch, except
 * gmpt's own (the preemption signal, glibc's 32 and 33, SIGSEGV for
 * overflow reports) and the other fault signals, whose handler returning
 * would only fault again. */
static bool dump_signal_ok(int sig, const struct gmpt_config *cfg)
{
	if (sched_signal_uncatchable_or_fault(sig))
		return false;
	if (cfg->preempt && sig == cfg->preempt_signal)
		return false;
	return (sig >= 1 && sig < 32) || (sig >= SIGRTMIN && sig <= SIGRTMAX);
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

/* GMPT_TRACE=FILE: checked here, so that a path gmpt cannot write is the
 * one-line error at start-up, not a trace missing at exit; the file is
 * created only when the process first creates a thread (trace_file.c). */
static void trace_config(struct gmpt_config *cfg)
{
	const char *v = getenv("GMPT_TRACE");
	if (!v)
		return;
	if (*v == 0)
		config_error("%s='%s': expected a file to write the scheduler trace to",
			     "GMPT_TRACE", v);
	int err = trace_file_check(v);
	if (err < 0) {
		char fmt[256];
		snprintf(fmt, sizeof fmt, "%%s='%%s': cannot write the trace there (%s)",
			 strerror(-err));
		config_error(fmt, "GMPT_TRACE", v);
	}
	cfg->trace = true;
}

/* GMPT_DEBUG: a comma-separated list of stats (counters at exit),
 * schedtrace=MS (a scheduler line every MS ms), scheddetail=1 (per-P,
 * M and G lines with each) and waitqbuckets=N (wait queue addresses hashed
 * into N buckets, a power of 2 up to 1024, so that they collide: for
 * tests). Empty: nothing. */
static void debug_config(struct gmpt_config *cfg, const char *v)
{
	if (*v == 0)
		return;
	for (const char *p = v;; p++) {
		size_t len = strcspn(p, ",");
		char word[32];
		if (len == 0 || len >= sizeof word)
			config_error("%s='%s': expected a comma-separated list of stats, "
				     "schedtrace=MS and scheddetail=1",
				     "GMPT_DEBUG", v);
		memcpy(word, p, len);
		word[len] = 0;
		uint64_t n;
		if (strcmp(word, "stats") == 0) {
			cfg->debug_stats = true;
		} else if (strncmp(word, "schedtrace=", 11) == 0) {
			if (parse_u64(word + 11, &n) != 0 || n < 1 || n > 3600000)
				config_error("%s='%s': schedtrace=MS expects a period in "
					     "milliseconds, from 1 to 3600000",
					     "GMPT_DEBUG", v);
			cfg->schedtrace_ms = (int)n;
		} else if (strncmp(word, "scheddetail=", 12) == 0) {
			if (parse_u64(word + 12, &n) != 0 || n > 1)
				config_error("%s='%s': scheddetail expects 1 (or 0)", "GMPT_DEBUG",
					     v);
			cfg->scheddetail = n == 1;
		} else if (strncmp(word, "waitqbuckets=", 13) == 0) {
			if (parse_u64(word + 13, &n) != 0 || n < 1 || n > 1024 || (n & (n - 1)))
				config_error("%s='%s': waitqbuckets expects a power of 2 from 1 "
					     "to 1024",
					     "GMPT_DEBUG", v);
			cfg->waitq_buckets = (int)n;
		} else {
			config_error("%s='%s': expected a comma-separated list of stats, "
				     "schedtrace=MS and scheddetail=1",
				     "GMPT_DEBUG", v);
		}
		p += len;
		if (*p == 0)
			break;
		/* p is at the comma; a trailing one leaves an empty word. */
	}
	if (cfg->scheddetail && !cfg->schedtrace_ms)
		config_error("%s='%s': scheddetail=1 prints with each schedtrace line: add "
			     "schedtrace=MS",
			     "GMPT_DEBUG", v);
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
	cfg->schedtrace_ms = 0;
	cfg->scheddetail = false;
	cfg->waitq_buckets = 0;
	cfg->deadlock = DEADLOCK_ABORT;
	cfg->dump_signal = 0;
	cfg->trace = false;
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

	v = getenv("GMPT_DUMP_SIGNAL");
	if (v && *v && strcmp(v, "off") != 0) {
		int sig = parse_signal(v);
		if (sig < 0 || !dump_signal_ok(sig, cfg))
			config_error("%s='%s': expected off or a signal for thread dumps, such as "
				     "SIGQUIT, SIGUSR1, SIGRTMIN+2 or 3 (not SIGKILL, SIGSTOP, "
				     "SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, 32, 33 or the "
				     "preemption signal)",
				     "GMPT_DUMP_SIGNAL", v);
		cfg->dump_signal = sig;
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
	if (v)
		debug_config(cfg, v);

	v = getenv("GMPT_DEADLOCK");
	if (v) {
		if (strcmp(v, "abort") == 0)
			cfg->deadlock = DEADLOCK_ABORT;
		else if (strcmp(v, "warn") == 0)
			cfg->deadlock = DEADLOCK_WARN;
		else if (strcmp(v, "off") == 0)
			cfg->deadlock = DEADLOCK_OFF;
		else
			config_error("%s='%s': expected abort (on a deadlock print the thread dump "
				     "and abort, the default), warn (print it once, go on) or off",
				     "GMPT_DEADLOCK", v);
	}

	trace_config(cfg);
}
