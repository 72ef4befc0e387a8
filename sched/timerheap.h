/* sched/timerheap.h - a 4-ary min-heap of timer entries keyed by deadline.
 *
 * Entries are values, not pointers into waiting Gs: cancelling a timer only
 * bumps the G's timer sequence, and the stale entry is dropped when it
 * reaches the top or when the heap is compacted. Not synchronised; each P
 * holds its timers lock around its heap. */
#ifndef GMPT_TIMERHEAP_H
#define GMPT_TIMERHEAP_H

#include <stdbool.h>
#include <stdint.h>

struct g;

struct timer_entry {
	int64_t when; /* CLOCK_MONOTONIC nanoseconds */
	struct g *g;
	uint64_t seq; /* g's timer sequence when armed */
};

struct timerheap {
	struct timer_entry *v;
	uint32_t len;
	uint32_t cap;
};

/* Returns 0, or -1 when memory for the heap could not be had. */
int timerheap_push(struct timerheap *h, struct timer_entry e);
/* Returns false when the heap is empty. */
bool timerheap_peek(const struct timerheap *h, struct timer_entry *out);
bool timerheap_pop(struct timerheap *h, struct timer_entry *out);
/* Keep only entries for which keep(e, ctx) is true; restores heap order.
 * Returns the number dropped. */
uint32_t timerheap_filter(struct timerheap *h, bool (*keep)(const struct timer_entry *, void *),
			  void *ctx);
void timerheap_free(struct timerheap *h);

#endif
