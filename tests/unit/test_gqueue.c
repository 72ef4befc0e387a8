/* tests/unit/test_gqueue.c - the intrusive FIFO of Gs. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "sched/gqueue.h"
#include "sched/runtime.h"

/* struct g ends in a flexible array member, so fake Gs are carved out of a
 * char block at a 16-byte stride rather than declared as an array. */
#define G_STRIDE ((sizeof(struct g) + 15u) & ~(size_t)15u)
#define NG	 16

static char *gbuf;

static struct g *G(unsigned i)
{
	return (struct g *)(void *)(gbuf + i * G_STRIDE);
}

static void setup(void)
{
	gbuf = aligned_alloc(16, NG * G_STRIDE);
	ck_assert_ptr_nonnull(gbuf);
	for (unsigned i = 0; i < NG * G_STRIDE; i++)
		gbuf[i] = (char)0xa5; /* garbage in schedlink: push must set it */
}

static void teardown(void)
{
	free(gbuf);
}

/* Pops everything and checks it against the expected indices. */
static void expect(struct gqueue *q, const unsigned *idx, unsigned n)
{
	ck_assert_uint_eq(q->len, n);
	for (unsigned i = 0; i < n; i++) {
		struct g *g = gqueue_pop(q);
		ck_assert_msg(g == G(idx[i]), "element %u: got G%ld, want G%u", i,
			      g ? (long)(((char *)g - gbuf) / (long)G_STRIDE) : -1L, idx[i]);
		ck_assert_uint_eq(q->len, n - i - 1);
	}
	ck_assert_ptr_null(gqueue_pop(q));
	ck_assert(gqueue_empty(q));
	ck_assert_ptr_null(q->tail);
}

START_TEST(test_empty_pop)
{
	struct gqueue q = {0};

	ck_assert(gqueue_empty(&q));
	ck_assert_ptr_null(gqueue_pop(&q));
	ck_assert_ptr_null(gqueue_pop(&q));
	ck_assert_uint_eq(q.len, 0);
	ck_assert(gqueue_empty(&q));
}
END_TEST

START_TEST(test_fifo)
{
	struct gqueue q = {0};
	unsigned want[] = {0, 1, 2, 3, 4, 5, 6, 7};

	for (unsigned i = 0; i < 8; i++) {
		gqueue_push(&q, G(i));
		ck_assert(!gqueue_empty(&q));
		ck_assert_uint_eq(q.len, i + 1);
	}
	ck_assert_ptr_eq(q.head, G(0));
	ck_assert_ptr_eq(q.tail, G(7));
	expect(&q, want, 8);

	/* Reusable after emptying: tail was reset. */
	gqueue_push(&q, G(9));
	gqueue_push(&q, G(3));
	unsigned want2[] = {9, 3};
	expect(&q, want2, 2);
}
END_TEST

START_TEST(test_interleaved)
{
	struct gqueue q = {0};

	gqueue_push(&q, G(1));
	gqueue_push(&q, G(2));
	ck_assert_ptr_eq(gqueue_pop(&q), G(1));
	gqueue_push(&q, G(3));
	ck_assert_ptr_eq(gqueue_pop(&q), G(2));
	ck_assert_ptr_eq(gqueue_pop(&q), G(3));
	ck_assert_ptr_null(gqueue_pop(&q));
	gqueue_push(&q, G(4));
	ck_assert_ptr_eq(q.head, G(4));
	ck_assert_ptr_eq(q.tail, G(4));
	ck_assert_ptr_eq(gqueue_pop(&q), G(4));
}
END_TEST

START_TEST(test_push_front)
{
	struct gqueue q = {0};

	/* On an empty queue push_front must also set tail. */
	gqueue_push_front(&q, G(5));
	ck_assert_ptr_eq(q.tail, G(5));
	gqueue_push(&q, G(6));
	gqueue_push_front(&q, G(4));
	gqueue_push_front(&q, G(3));
	gqueue_push(&q, G(7));
	unsigned want[] = {3, 4, 5, 6, 7};
	expect(&q, want, 5);
}
END_TEST

START_TEST(test_append)
{
	struct gqueue q = {0}, b = {0}, empty = {0};

	gqueue_push(&q, G(0));
	gqueue_push(&q, G(1));
	for (unsigned i = 2; i < 6; i++)
		gqueue_push(&b, G(i));
	gqueue_append(&q, &b);
	ck_assert(gqueue_empty(&b));
	ck_assert_ptr_null(b.tail);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(q.len, 6);
	ck_assert_ptr_eq(q.tail, G(5));

	/* Appending an empty batch changes nothing. */
	gqueue_append(&q, &empty);
	ck_assert_uint_eq(q.len, 6);
	ck_assert_ptr_eq(q.tail, G(5));

	/* The tail is right after an append: pushes go after the batch. */
	gqueue_push(&q, G(6));
	unsigned want[] = {0, 1, 2, 3, 4, 5, 6};
	expect(&q, want, 7);
}
END_TEST

START_TEST(test_append_to_empty)
{
	struct gqueue q = {0}, b = {0};

	gqueue_push(&b, G(8));
	gqueue_push(&b, G(9));
	gqueue_append(&q, &b);
	ck_assert(gqueue_empty(&b));
	ck_assert_ptr_eq(q.head, G(8));
	ck_assert_ptr_eq(q.tail, G(9));
	gqueue_push(&q, G(10));
	gqueue_push_front(&q, G(7));

	/* And batches can be appended repeatedly. */
	gqueue_push(&b, G(11));
	gqueue_append(&q, &b);
	unsigned want[] = {7, 8, 9, 10, 11};
	expect(&q, want, 5);
}
END_TEST

static Suite *gqueue_suite(void)
{
	Suite *s = suite_create("gqueue");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_empty_pop);
	tcase_add_test(tc, test_fifo);
	tcase_add_test(tc, test_interleaved);
	tcase_add_test(tc, test_push_front);
	tcase_add_test(tc, test_append);
	tcase_add_test(tc, test_append_to_empty);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(gqueue_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
