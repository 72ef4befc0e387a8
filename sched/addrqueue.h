/* sched/addrqueue.h - the waiters of one wait-queue bucket, one FIFO per
 * address (the data structure under sched/waitq.c).
 *
 * A bucket holds a tree of the distinct addresses waited on in it (a
 * treap: a binary search tree by address, a heap by a random priority, so
 * its expected depth is O(log k) for k addresses whatever they are). Each
 * tree node is the oldest waiter of its address, and heads a circular
 * doubly-linked FIFO of that address's other waiters. So:
 *
 *   - finding an address costs O(log k), k the distinct addresses in the
 *     bucket (1 almost always: waitq.c hashes into many buckets);
 *   - queueing, and removing any waiter (a timeout, an interruption),
 *     cost O(1) once the address is found (a head that leaves hands its
 *     tree place to the next waiter; only the last one leaves the tree);
 *   - taking the n oldest waiters costs O(n), whatever else waits in the
 *     bucket; moving a whole queue to another address splices it.
 *
 * Nodes are embedded in the waiters (on their stacks): no allocation.
 * Not synchronised: waitq.c holds the bucket lock around every call. */
#ifndef GMPT_ADDRQUEUE_H
#define GMPT_ADDRQUEUE_H

#include <stdbool.h>
#include <stdint.h>

struct aq_node {
	/* The FIFO of one address, circular: the head's prev is the tail. */
	struct aq_node *next;
	struct aq_node *prev;
	/* Tree links, address and priority: meaningful on heads only. */
	struct aq_node *parent;
	struct aq_node *left;
	struct aq_node *right;
	const void *addr;
	uint32_t prio;
	bool is_head;
};

struct aq_root {
	struct aq_node *top;
	uint32_t rand; /* priorities for new tree nodes */
};

/* A run of waiters taken off a queue, circular like a queue: oldest
 * first, along next until first comes round again (NULL: none). The links
 * stay valid until the caller lets a waiter go: read next before that. */
struct aq_batch {
	struct aq_node *first;
};

/* aq_take's max for every waiter: the queue leaves whole, without a walk. */
#define AQ_ALL INT32_MAX

/* Queues n last on addr. */
void aq_push(struct aq_root *r, struct aq_node *n, const void *addr);
/* The oldest waiter on addr, or NULL. */
struct aq_node *aq_first(struct aq_root *r, const void *addr);
/* Takes n, queued on any address, off its queue. */
void aq_remove(struct aq_root *r, struct aq_node *n);
/* Takes up to max (>= 1) of the oldest waiters on addr off its queue:
 * O(max), or O(log k) for AQ_ALL. */
struct aq_batch aq_take(struct aq_root *r, const void *addr, int32_t max);
/* Queues a batch (taken from any bucket) last on addr, in its order:
 * O(log k) however long the batch. */
void aq_append(struct aq_root *r, struct aq_batch b, const void *addr);

#endif
