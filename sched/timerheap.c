/* sched/timerheap.c - a 4-ary min-heap of timer entries keyed by deadline.
 *
 * A 4-ary heap is shallower than a binary one (log4 n levels), so a push
 * moves fewer entries and a pop touches one cache line of children per
 * level: the same choice Go makes for its per-P timer heaps. Children of i
 * are 4i+1 .. 4i+4; the parent of i is (i-1)/4. */
#include "sched/timerheap.h"

#include <stdlib.h>

#define HEAP_ARITY   4u
#define HEAP_MIN_CAP 16u

static void sift_up(struct timer_entry *v, uint32_t i)
{
	struct timer_entry e = v[i];

	while (i > 0) {
		uint32_t parent = (i - 1) / HEAP_ARITY;

		if (v[parent].when <= e.when)
			break;
		v[i] = v[parent];
		i = parent;
	}
	v[i] = e;
}

static void sift_down(struct timer_entry *v, uint32_t len, uint32_t i)
{
	struct timer_entry e = v[i];

	for (;;) {
		uint64_t first = (uint64_t)i * HEAP_ARITY + 1;
		uint32_t min, end, c;

		if (first >= len)
			break;
		min = (uint32_t)first;
		end = first + HEAP_ARITY < len ? (uint32_t)first + HEAP_ARITY : len;
		for (c = min + 1; c < end; c++) {
			if (v[c].when < v[min].when)
				min = c;
		}
		if (e.when <= v[min].when)
			break;
		v[i] = v[min];
		i = min;
	}
	v[i] = e;
}

int timerheap_push(struct timerheap *h, struct timer_entry e)
{
	if (h->len == h->cap) {
		uint32_t ncap;
		struct timer_entry *nv;

		if (h->cap == 0) {
			ncap = HEAP_MIN_CAP;
		} else {
			if (h->cap > UINT32_MAX / 2)
				return -1;
			ncap = h->cap * 2;
		}
		nv = realloc(h->v, (size_t)ncap * sizeof(*nv));
		if (nv == NULL)
			return -1;
		h->v = nv;
		h->cap = ncap;
	}
	h->v[h->len] = e;
	sift_up(h->v, h->len);
	h->len++;
	return 0;
}

bool timerheap_peek(const struct timerheap *h, struct timer_entry *out)
{
	if (h->len == 0)
		return false;
	*out = h->v[0];
	return true;
}

bool timerheap_pop(struct timerheap *h, struct timer_entry *out)
{
	if (h->len == 0)
		return false;
	*out = h->v[0];
	h->len--;
	if (h->len > 0) {
		h->v[0] = h->v[h->len];
		sift_down(h->v, h->len, 0);
	}
	return true;
}

uint32_t timerheap_filter(struct timerheap *h, bool (*keep)(const struct timer_entry *, void *),
			  void *ctx)
{
	uint32_t i, n = 0, dropped;

	/* Compact the kept entries to the front, in place... */
	for (i = 0; i < h->len; i++) {
		if (keep(&h->v[i], ctx))
			h->v[n++] = h->v[i];
	}
	dropped = h->len - n;
	h->len = n;
	if (dropped == 0 || n < 2)
		return dropped;

	/* ...then heapify bottom-up (Floyd): sifting down every internal node
	 * from the last parent to the root is O(n) in total. */
	i = (n - 2) / HEAP_ARITY + 1;
	while (i-- > 0)
		sift_down(h->v, n, i);
	return dropped;
}

void timerheap_free(struct timerheap *h)
{
	free(h->v);
	h->v = NULL;
	h->len = 0;
	h->cap = 0;
}
