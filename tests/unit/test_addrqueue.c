/* tests/unit/test_addrqueue.c - the per-address FIFOs of one wait-queue
 * bucket. Every test puts all its addresses in one bucket (one aq_root),
 * as colliding addresses are in sched/waitq.c: what is woken, moved or
 * removed for one address must never disturb another's waiters. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "sched/addrqueue.h"

#define NW 64

static struct aq_node w[NW];
static uint32_t words[8]; /* the addresses waited on */

static int idx(const struct aq_node *n)
{
	return (int)(n - w);
}

/* The batch's waiters, oldest first, into out; returns how many. */
static int batch_list(struct aq_batch b, int *out, int max)
{
	int k = 0;
	struct aq_node *n = b.first;
	while (n && k < max) {
		out[k++] = idx(n);
		n = n->next;
		if (n == b.first)
			break;
	}
	return k;
}

static void expect_batch(struct aq_batch b, const int *want, int nwant)
{
	int got[NW];
	int k = batch_list(b, got, NW);
	ck_assert_int_eq(k, nwant);
	for (int i = 0; i < nwant; i++)
		ck_assert_msg(got[i] == want[i], "waiter %d: got w%d, want w%d", i, got[i],
			      want[i]);
}

/* Takes every waiter on addr and checks them against want, in order. */
static void expect_queue(struct aq_root *r, const void *addr, const int *want, int nwant)
{
	struct aq_batch b = aq_take(r, addr, AQ_ALL);
	expect_batch(b, want, nwant);
	ck_assert_ptr_null(aq_first(r, addr));
}

/* The tree's invariants below n: search order by address, heap order by
 * priority, parent links, heads only; returns its size and adds depth. */
static int check_tree(const struct aq_node *n, const struct aq_node *parent, uintptr_t lo,
		      uintptr_t hi, int depth, int *maxdepth)
{
	if (!n)
		return 0;
	if (depth > *maxdepth)
		*maxdepth = depth;
	ck_assert_ptr_eq(n->parent, parent);
	ck_assert(n->is_head);
	ck_assert((uintptr_t)n->addr >= lo && (uintptr_t)n->addr < hi);
	if (parent)
		ck_assert_uint_ge(n->prio, parent->prio);
	/* The queue is a consistent circle of non-heads behind the head. */
	for (const struct aq_node *q = n->next; q != n; q = q->next) {
		ck_assert(!q->is_head);
		ck_assert_ptr_eq(q->next->prev, q);
	}
	return 1 + check_tree(n->left, n, lo, (uintptr_t)n->addr, depth + 1, maxdepth) +
	       check_tree(n->right, n, (uintptr_t)n->addr + 1, hi, depth + 1, maxdepth);
}

static int tree_size(const struct aq_root *r, int *depth)
{
	int d = 0;
	int size = check_tree(r->top, NULL, 0, UINTPTR_MAX, 1, &d);
	if (depth)
		*depth = d;
	return size;
}

/* w[0..n) queued round-robin on the first naddr words. */
static void push_round_robin(struct aq_root *r, int n, int naddr)
{
	for (int i = 0; i < n; i++)
		aq_push(r, &w[i], &words[i % naddr]);
}

START_TEST(fifo_per_address)
{
	struct aq_root r = {0};
	push_round_robin(&r, 12, 3);
	ck_assert_int_eq(tree_size(&r, NULL), 3);
	ck_assert_ptr_eq(aq_first(&r, &words[1]), &w[1]);
	ck_assert_ptr_null(aq_first(&r, &words[5]));
	const int a1[] = {1, 4, 7, 10};
	expect_queue(&r, &words[1], a1, 4);
	ck_assert_int_eq(tree_size(&r, NULL), 2);
	const int a0[] = {0, 3, 6, 9}, a2[] = {2, 5, 8, 11};
	expect_queue(&r, &words[2], a2, 4);
	expect_queue(&r, &words[0], a0, 4);
	ck_assert_ptr_null(r.top);
}
END_TEST

START_TEST(wake_one_at_a_time)
{
	struct aq_root r = {0};
	push_round_robin(&r, 20, 4);
	/* Oldest first on one address, the others untouched. */
	for (int k = 0; k < 5; k++) {
		struct aq_batch b = aq_take(&r, &words[2], 1);
		const int want[] = {2 + 4 * k};
		expect_batch(b, want, 1);
		ck_assert_int_eq(tree_size(&r, NULL), k == 4 ? 3 : 4);
	}
	struct aq_batch none = aq_take(&r, &words[2], 1);
	ck_assert_ptr_null(none.first);
	const int a3[] = {3, 7, 11, 15, 19};
	expect_queue(&r, &words[3], a3, 5);
}
END_TEST

START_TEST(wake_some_then_all)
{
	struct aq_root r = {0};
	push_round_robin(&r, 30, 2);
	const int first3[] = {0, 2, 4};
	expect_batch(aq_take(&r, &words[0], 3), first3, 3);
	/* More than are left: all that are. */
	struct aq_batch b = aq_take(&r, &words[0], 100);
	int got[NW];
	ck_assert_int_eq(batch_list(b, got, NW), 12);
	ck_assert_int_eq(got[0], 6);
	ck_assert_int_eq(got[11], 28);
	ck_assert_ptr_null(aq_first(&r, &words[0]));
	ck_assert_int_eq(tree_size(&r, NULL), 1);
	b = aq_take(&r, &words[1], AQ_ALL);
	ck_assert_int_eq(batch_list(b, got, NW), 15);
	ck_assert_ptr_null(r.top);
}
END_TEST

START_TEST(remove_anywhere)
{
	struct aq_root r = {0};
	push_round_robin(&r, 15, 3); /* words[0]: 0 3 6 9 12 */
	aq_remove(&r, &w[6]);	     /* middle */
	aq_remove(&r, &w[12]);	     /* tail */
	aq_remove(&r, &w[0]);	     /* head: w3 takes its place */
	ck_assert_ptr_eq(aq_first(&r, &words[0]), &w[3]);
	ck_assert_int_eq(tree_size(&r, NULL), 3);
	aq_push(&r, &w[0], &words[0]); /* queued again: last */
	const int a0[] = {3, 9, 0};
	expect_queue(&r, &words[0], a0, 3);
	/* The only waiter of an address: the address leaves the tree. */
	aq_remove(&r, &w[1]);
	aq_remove(&r, &w[4]);
	aq_remove(&r, &w[7]);
	aq_remove(&r, &w[10]);
	aq_remove(&r, &w[13]);
	ck_assert_ptr_null(aq_first(&r, &words[1]));
	ck_assert_int_eq(tree_size(&r, NULL), 1);
	const int a2[] = {2, 5, 8, 11, 14};
	expect_queue(&r, &words[2], a2, 5);
}
END_TEST

START_TEST(requeue_onto_waiters)
{
	struct aq_root r = {0};
	push_round_robin(&r, 12, 3); /* 0: 0 3 6 9; 1: 1 4 7 10; 2: 2 5 8 11 */
	/* Wake one of words[0], move two behind words[1]'s waiters. */
	const int woke[] = {0};
	expect_batch(aq_take(&r, &words[0], 1), woke, 1);
	aq_append(&r, aq_take(&r, &words[0], 2), &words[1]);
	ck_assert_int_eq(tree_size(&r, NULL), 3);
	/* The moved ones wait behind the old ones, and a new one behind them. */
	aq_push(&r, &w[20], &words[1]);
	const int a1[] = {1, 4, 7, 10, 3, 6, 20};
	const int a0[] = {9};
	expect_queue(&r, &words[0], a0, 1);
	expect_queue(&r, &words[1], a1, 7);
	const int a2[] = {2, 5, 8, 11};
	expect_queue(&r, &words[2], a2, 4);
}
END_TEST

START_TEST(requeue_whole_queue_to_new_address)
{
	struct aq_root r = {0};
	push_round_robin(&r, 9, 3);
	aq_append(&r, aq_take(&r, &words[1], AQ_ALL), &words[6]);
	ck_assert_ptr_null(aq_first(&r, &words[1]));
	ck_assert_ptr_eq(aq_first(&r, &words[6]), &w[1]);
	ck_assert_int_eq(tree_size(&r, NULL), 3);
	/* Removing waiters of the moved queue keeps working. */
	aq_remove(&r, &w[1]);
	aq_remove(&r, &w[7]);
	const int a6[] = {4};
	expect_queue(&r, &words[6], a6, 1);
	/* And an empty batch moves nothing. */
	aq_append(&r, aq_take(&r, &words[7], AQ_ALL), &words[0]);
	const int a0[] = {0, 3, 6};
	expect_queue(&r, &words[0], a0, 3);
}
END_TEST

START_TEST(requeue_between_roots)
{
	/* Two buckets: a queue moves from one to the other whole. */
	struct aq_root r1 = {0}, r2 = {0};
	for (int i = 0; i < 6; i++)
		aq_push(&r1, &w[i], &words[0]);
	aq_push(&r2, &w[10], &words[1]);
	aq_append(&r2, aq_take(&r1, &words[0], 4), &words[1]);
	ck_assert_int_eq(tree_size(&r1, NULL), 1);
	ck_assert_int_eq(tree_size(&r2, NULL), 1);
	const int a1[] = {10, 0, 1, 2, 3}, a0[] = {4, 5};
	expect_queue(&r2, &words[1], a1, 5);
	expect_queue(&r1, &words[0], a0, 2);
}
END_TEST

/* Random operations on a model: per address an array of waiter indices. */
#define MADDR 6
struct model {
	int q[MADDR][NW];
	int len[MADDR];
	int where[NW]; /* address index, -1: not queued */
};

static void model_remove(struct model *m, int a, int pos)
{
	int i = m->q[a][pos];
	for (int k = pos; k + 1 < m->len[a]; k++)
		m->q[a][k] = m->q[a][k + 1];
	m->len[a]--;
	m->where[i] = -1;
}

START_TEST(random_against_model)
{
	struct aq_root r = {0};
	struct model m = {0};
	for (int i = 0; i < NW; i++)
		m.where[i] = -1;
	srand(12345);
	for (int step = 0; step < 20000; step++) {
		int op = rand() % 5;
		int a = rand() % MADDR;
		if (op <= 1) { /* push an idle waiter */
			int i = rand() % NW;
			if (m.where[i] >= 0)
				continue;
			aq_push(&r, &w[i], &words[a]);
			m.q[a][m.len[a]++] = i;
			m.where[i] = a;
		} else if (op == 2) { /* remove a random queued waiter */
			int i = rand() % NW;
			int wa = m.where[i];
			if (wa < 0)
				continue;
			aq_remove(&r, &w[i]);
			for (int k = 0; k < m.len[wa]; k++)
				if (m.q[wa][k] == i) {
					model_remove(&m, wa, k);
					break;
				}
		} else if (op == 3) { /* wake some */
			int n = 1 + rand() % 4;
			struct aq_batch b = aq_take(&r, &words[a], n);
			int got[NW];
			int k = batch_list(b, got, NW);
			ck_assert_int_eq(k, n < m.len[a] ? n : m.len[a]);
			for (int j = 0; j < k; j++) {
				ck_assert_int_eq(got[j], m.q[a][0]);
				model_remove(&m, a, 0);
			}
		} else { /* requeue some or all onto another address */
			int to = rand() % MADDR;
			if (to == a)
				continue;
			int n = rand() % 2 ? AQ_ALL : 1 + rand() % 4;
			aq_append(&r, aq_take(&r, &words[a], n), &words[to]);
			int k = n < m.len[a] ? n : m.len[a];
			for (int j = 0; j < k; j++) {
				int i = m.q[a][0];
				model_remove(&m, a, 0);
				m.q[to][m.len[to]++] = i;
				m.where[i] = to;
			}
		}
		int heads = 0;
		for (int x = 0; x < MADDR; x++) {
			heads += m.len[x] > 0;
			struct aq_node *h = aq_first(&r, &words[x]);
			ck_assert_int_eq(h != NULL, m.len[x] > 0);
			/* Each queue in the model's order, both ways round. */
			struct aq_node *n = h;
			for (int k = 0; h && k < m.len[x]; k++, n = n->next)
				ck_assert_int_eq(idx(n), m.q[x][k]);
			ck_assert_ptr_eq(n, h);
			if (h)
				ck_assert_int_eq(idx(h->prev), m.q[x][m.len[x] - 1]);
		}
		ck_assert_int_eq(tree_size(&r, NULL), heads);
	}
}
END_TEST

/* Addresses in increasing order would make a plain search tree a list:
 * the random priorities keep it shallow, so finding an address among many
 * colliding ones stays cheap. */
START_TEST(many_addresses_stay_shallow)
{
	enum { N = 100000 };
	struct aq_node *nodes = calloc(N, sizeof *nodes);
	uint32_t *addrs = calloc(N, sizeof *addrs);
	ck_assert_ptr_nonnull(nodes);
	ck_assert_ptr_nonnull(addrs);
	struct aq_root r = {0};
	for (int i = 0; i < N; i++)
		aq_push(&r, &nodes[i], &addrs[i]);
	int depth;
	ck_assert_int_eq(tree_size(&r, &depth), N);
	/* A treap's expected depth is about 2.99 log2 N (50 here). */
	ck_assert_int_lt(depth, 100);
	for (int i = 0; i < N; i += 2)
		aq_remove(&r, &nodes[i]);
	ck_assert_int_eq(tree_size(&r, &depth), N / 2);
	ck_assert_int_lt(depth, 100);
	for (int i = 1; i < N; i += 2)
		ck_assert_ptr_eq(aq_first(&r, &addrs[i]), &nodes[i]);
	free(nodes);
	free(addrs);
}
END_TEST

static Suite *addrqueue_suite(void)
{
	Suite *s = suite_create("addrqueue");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, fifo_per_address);
	tcase_add_test(tc, wake_one_at_a_time);
	tcase_add_test(tc, wake_some_then_all);
	tcase_add_test(tc, remove_anywhere);
	tcase_add_test(tc, requeue_onto_waiters);
	tcase_add_test(tc, requeue_whole_queue_to_new_address);
	tcase_add_test(tc, requeue_between_roots);
	tcase_add_test(tc, random_against_model);
	tcase_add_test(tc, many_addresses_stay_shallow);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(addrqueue_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
