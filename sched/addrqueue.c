/* sched/addrqueue.c - a treap of addresses, each with its own FIFO of
 * waiters (see addrqueue.h). Go's runtime/sema.go keeps its semaphore
 * waiters the same way, for the same reason: one list per bucket made
 * every wakeup scan the waiters of every other address in the bucket. */
#include "sched/addrqueue.h"

#include <stddef.h>

/* The slot that points at tree node n: its parent's child link or the top. */
static struct aq_node **link_of(struct aq_root *r, struct aq_node *n)
{
	if (!n->parent)
		return &r->top;
	return n->parent->left == n ? &n->parent->left : &n->parent->right;
}

/* x's right child takes x's place, x becomes its left child. */
static void rotate_left(struct aq_root *r, struct aq_node *x)
{
	struct aq_node *y = x->right;
	*link_of(r, x) = y;
	y->parent = x->parent;
	x->right = y->left;
	if (x->right)
		x->right->parent = x;
	y->left = x;
	x->parent = y;
}

/* x's left child takes x's place, x becomes its right child. */
static void rotate_right(struct aq_root *r, struct aq_node *x)
{
	struct aq_node *y = x->left;
	*link_of(r, x) = y;
	y->parent = x->parent;
	x->left = y->right;
	if (x->left)
		x->left->parent = x;
	y->right = x;
	x->parent = y;
}

/* xorshift32: the priorities only need to be independent of the
 * addresses, so that no pattern of addresses can make the tree deep. */
static uint32_t next_prio(struct aq_root *r)
{
	uint32_t x = r->rand ? r->rand : 0x9E3779B9u;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	r->rand = x;
	return x;
}

static bool before(const void *a, const void *b)
{
	return (uintptr_t)a < (uintptr_t)b;
}

/* n (a lone waiter, or a batch's oldest) becomes the head of addr. */
static void tree_insert(struct aq_root *r, struct aq_node *n, const void *addr)
{
	n->addr = addr;
	n->left = n->right = NULL;
	n->prio = next_prio(r);
	n->is_head = true;
	struct aq_node *parent = NULL;
	struct aq_node **slot = &r->top;
	while (*slot) {
		parent = *slot;
		slot = before(addr, parent->addr) ? &parent->left : &parent->right;
	}
	*slot = n;
	n->parent = parent;
	/* Restore the heap order (smallest priority on top). */
	while (n->parent && n->prio < n->parent->prio) {
		if (n->parent->left == n)
			rotate_right(r, n->parent);
		else
			rotate_left(r, n->parent);
	}
}

/* Head h leaves the tree: rotated down (the child with the smaller
 * priority rising, so the heap order holds) until it is a leaf. */
static void tree_delete(struct aq_root *r, struct aq_node *h)
{
	while (h->left || h->right) {
		if (!h->left || (h->right && h->right->prio < h->left->prio))
			rotate_left(r, h);
		else
			rotate_right(r, h);
	}
	*link_of(r, h) = NULL;
	h->parent = NULL;
	h->is_head = false;
}

/* s, the next waiter of head h's queue, takes h's place in the tree. */
static void tree_replace(struct aq_root *r, struct aq_node *h, struct aq_node *s)
{
	*link_of(r, h) = s;
	s->parent = h->parent;
	s->left = h->left;
	s->right = h->right;
	s->addr = h->addr;
	s->prio = h->prio;
	s->is_head = true;
	if (s->left)
		s->left->parent = s;
	if (s->right)
		s->right->parent = s;
	h->is_head = false;
	h->parent = h->left = h->right = NULL;
}

struct aq_node *aq_first(struct aq_root *r, const void *addr)
{
	struct aq_node *n = r->top;
	while (n && n->addr != addr)
		n = before(addr, n->addr) ? n->left : n->right;
	return n;
}

/* Links the circular list that starts at first in before h, h's tail. */
static void splice_before(struct aq_node *h, struct aq_node *first)
{
	struct aq_node *tail = h->prev;
	struct aq_node *last = first->prev;
	tail->next = first;
	first->prev = tail;
	last->next = h;
	h->prev = last;
}

void aq_push(struct aq_root *r, struct aq_node *n, const void *addr)
{
	n->next = n->prev = n;
	n->is_head = false;
	struct aq_node *h = aq_first(r, addr);
	if (h)
		splice_before(h, n);
	else
		tree_insert(r, n, addr);
}

void aq_remove(struct aq_root *r, struct aq_node *n)
{
	if (n->is_head) {
		if (n->next == n)
			tree_delete(r, n);
		else
			tree_replace(r, n, n->next);
	}
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n->prev = n;
}

struct aq_batch aq_take(struct aq_root *r, const void *addr, int32_t max)
{
	struct aq_node *h = aq_first(r, addr);
	if (!h || max < 1)
		return (struct aq_batch){NULL};
	struct aq_node *last = h->prev;
	if (max != AQ_ALL) {
		last = h;
		for (int32_t i = 1; i < max && last->next != h; i++)
			last = last->next;
	}
	if (last->next == h) {
		/* The whole queue: the address leaves the tree. */
		tree_delete(r, h);
		return (struct aq_batch){h};
	}
	struct aq_node *rest = last->next;
	struct aq_node *tail = h->prev;
	tree_replace(r, h, rest);
	rest->prev = tail;
	tail->next = rest;
	last->next = h;
	h->prev = last;
	return (struct aq_batch){h};
}

void aq_append(struct aq_root *r, struct aq_batch b, const void *addr)
{
	if (!b.first)
		return;
	struct aq_node *h = aq_first(r, addr);
	if (h) {
		b.first->is_head = false;
		splice_before(h, b.first);
	} else {
		tree_insert(r, b.first, addr);
	}
}
