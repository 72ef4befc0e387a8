/* A log-linear latency histogram for the benchmarks that report percentiles
 * (echo_load, sleepers).  Values are nanoseconds: exact below 128 ns, above
 * that 64 buckets per power of two, so a percentile is within 1/128 (0.8%)
 * of the true value.  Values of 2^40 ns (about 18 minutes) and more land in
 * the last bucket.  Not thread-safe: keep one per thread and merge them.
 * 16 KiB each; allocate on the heap (the echo server's threads, for one,
 * run on 64 KiB stacks). */
#ifndef GMPT_BENCH_HIST_H
#define GMPT_BENCH_HIST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define HIST_SUB_BITS 6
#define HIST_SUB      (1 << HIST_SUB_BITS)
#define HIST_LINEAR   (2 * HIST_SUB)
#define HIST_EXP_MIN  (HIST_SUB_BITS + 1)
#define HIST_EXP_MAX  39
#define HIST_BUCKETS  (HIST_LINEAR + (HIST_EXP_MAX - HIST_EXP_MIN + 1) * HIST_SUB)

struct bench_hist {
	uint64_t n;
	uint64_t max;
	uint64_t count[HIST_BUCKETS];
};

static inline struct bench_hist *hist_new(void)
{
	struct bench_hist *h = calloc(1, sizeof *h);
	if (!h) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	return h;
}

static inline int hist_index(uint64_t v)
{
	if (v < HIST_LINEAR)
		return (int)v;
	int e = 63 - __builtin_clzll(v);
	if (e > HIST_EXP_MAX)
		return HIST_BUCKETS - 1;
	int m = (int)((v >> (e - HIST_SUB_BITS)) & (HIST_SUB - 1));
	return HIST_LINEAR + (e - HIST_EXP_MIN) * HIST_SUB + m;
}

/* The middle of bucket i (its value for bucket i < HIST_LINEAR). */
static inline double hist_value(int i)
{
	if (i < HIST_LINEAR)
		return (double)i;
	int e = HIST_EXP_MIN + (i - HIST_LINEAR) / HIST_SUB;
	int m = (i - HIST_LINEAR) % HIST_SUB;
	uint64_t width = (uint64_t)1 << (e - HIST_SUB_BITS);
	return (double)((uint64_t)(HIST_SUB + m) * width) + (double)(width - 1) / 2.0;
}

static inline void hist_add(struct bench_hist *h, uint64_t v)
{
	h->count[hist_index(v)]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

static inline void hist_merge(struct bench_hist *into, const struct bench_hist *from)
{
	for (int i = 0; i < HIST_BUCKETS; i++)
		into->count[i] += from->count[i];
	into->n += from->n;
	if (from->max > into->max)
		into->max = from->max;
}

/* The q-quantile (0 < q <= 1) in ns, never above the largest value seen;
 * 0 for an empty histogram. */
static inline double hist_quantile(const struct bench_hist *h, double q)
{
	if (h->n == 0)
		return 0.0;
	uint64_t rank = (uint64_t)(q * (double)h->n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > h->n)
		rank = h->n;
	uint64_t seen = 0;
	for (int i = 0; i < HIST_BUCKETS; i++) {
		seen += h->count[i];
		if (seen >= rank) {
			double v = hist_value(i);
			return v > (double)h->max ? (double)h->max : v;
		}
	}
	return (double)h->max;
}

#endif
