/* Shared helpers for the gmpt microbenchmarks.
 *
 * Every benchmark is an ordinary, unmodified pthread program: it is built
 * without any knowledge of gmpt and is run both natively and with
 * LD_PRELOAD=libgmpt.so by scripts/bench.  Each prints exactly one line
 *
 *     RESULT name=<bench> ns_per_op=<float> ops=<int> [key=value ...]
 *
 * on stdout, which scripts/bench parses.  Anything else goes to stderr.
 * Only the interposed pthread surface is used (create/join, mutex, cond,
 * sched_yield): no barriers, no spinlocks, no atomics for synchronisation. */
#ifndef GMPT_BENCH_COMMON_H
#define GMPT_BENCH_COMMON_H

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Parse argv[idx] as a non-negative count, or return def when absent.
 * Exits with status 2 and one line on stderr when it is not a number. */
static inline long bench_arg(int argc, char **argv, int idx, long def,
                             const char *what)
{
    if (idx >= argc)
        return def;
    char *end = NULL;
    errno = 0;
    long v = strtol(argv[idx], &end, 10);
    if (errno != 0 || end == argv[idx] || *end != '\0' || v < 0) {
        fprintf(stderr, "%s: %s must be a non-negative integer, got '%s'\n",
                argv[0], what, argv[idx]);
        exit(2);
    }
    return v;
}

/* Print usage and exit 0 for -h/--help; reject more than max_args arguments. */
static inline void bench_usage(int argc, char **argv, int max_args,
                               const char *usage)
{
    if (argc > 1 && (strcmp(argv[1], "-h") == 0 ||
                     strcmp(argv[1], "--help") == 0)) {
        printf("usage: %s %s\n", argv[0], usage);
        exit(0);
    }
    if (argc - 1 > max_args) {
        fprintf(stderr, "%s: too many arguments (usage: %s %s)\n", argv[0],
                argv[0], usage);
        exit(2);
    }
}

/* Report a pthread call that failed (they return the error number) and exit. */
#define BENCH_CHECK(call)                                                    \
    do {                                                                     \
        int bench_rc_ = (call);                                              \
        if (bench_rc_ != 0) {                                                \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__,    \
                    #call, strerror(bench_rc_));                             \
            exit(1);                                                         \
        }                                                                    \
    } while (0)

static inline void bench_result(const char *name, uint64_t elapsed_ns,
                                long ops, const char *extra)
{
    double per = ops > 0 ? (double)elapsed_ns / (double)ops : 0.0;
    printf("RESULT name=%s ns_per_op=%.1f ops=%ld elapsed_ns=%" PRIu64 "%s%s\n",
           name, per, ops, elapsed_ns, extra && *extra ? " " : "",
           extra ? extra : "");
    fflush(stdout);
}

#endif
