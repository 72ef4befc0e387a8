/* tests/unit/test_timerheap.c - the 4-ary timer min-heap. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "sched/timerheap.h"

/* ck_assert_* records a checkpoint per call (a write to Check's message
 * file); in loops over 100k entries that dominates the run time, so the hot
 * loops use this, which only calls into Check on failure. */
#define REQUIRE(cond, fmt, ...)                                                                    \
	do {                                                                                       \
		if (!(cond))                                                                       \
			ck_abort_msg("%s " fmt, #cond, ##__VA_ARGS__);                             \
	} while (0)

/* Entries are compared by value; g is a tag that is never dereferenced. */
static struct timer_entry E(int64_t when, uint64_t seq) {
	return (struct timer_entry){
	    .when = when, .g = (struct g *)(uintptr_t)((seq + 1) * 16), .seq = seq};
}

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: deterministic, so a failure reproduces. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct timer_entry *x = a, *y = b;

	if (x->when != y->when)
		return x->when < y->when ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void check_heap_order(const struct timerheap *h)
{
	ck_assert_uint_le(h->len, h->cap);
	for (uint32_t i = 1; i < h->len; i++)
		REQUIRE(h->v[(i - 1) / 4].when <= h->v[i].when,
			"heap order broken at %u: parent %lld > child %lld", i,
			(long long)h->v[(i - 1) / 4].when, (long long)h->v[i].when);
}

/* Pops everything; checks the deadlines come out non-decreasing, the g/seq
 * tags stayed with their deadlines, and the multiset equals want[0..n). */
static void drain_and_compare(struct timerheap *h, struct timer_entry *want, uint32_t n)
{
	struct timer_entry *got = malloc((n + 1) * sizeof(*got));
	struct timer_entry e;
	uint32_t i;

	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(h->len, n);
	for (i = 0; i < n; i++) {
		struct timer_entry top;

		REQUIRE(timerheap_peek(h, &top), "peek failed at %u of %u", i, n);
		REQUIRE(timerheap_pop(h, &got[i]), "pop failed at %u of %u", i, n);
		REQUIRE(top.when == got[i].when && top.seq == got[i].seq, "peek != pop at %u", i);
		REQUIRE(got[i].g == E(0, got[i].seq).g, "g tag separated from seq at %u", i);
		REQUIRE(i == 0 || got[i - 1].when <= got[i].when, "out of order at %u", i);
	}
	ck_assert(!timerheap_pop(h, &e));
	ck_assert(!timerheap_peek(h, &e));
	ck_assert_uint_eq(h->len, 0);

	qsort(want, n, sizeof(*want), cmp_entry);
	/* The deadline sequence equals the sorted one exactly... */
	for (i = 0; i < n; i++)
		REQUIRE(got[i].when == want[i].when, "deadline %u differs from qsort", i);
	/* ...and, ties aside, the same entries came out. */
	qsort(got, n, sizeof(*got), cmp_entry);
	for (i = 0; i < n; i++)
		REQUIRE(got[i].seq == want[i].seq, "entry %u differs from the pushed set", i);
	free(got);
}

START_TEST(test_empty)
{
	struct timerheap h = {0};
	struct timer_entry e = E(7, 7);

	ck_assert(!timerheap_pop(&h, &e));
	ck_assert(!timerheap_peek(&h, &e));
	ck_assert_int_eq(e.when, 7); /* untouched */
	ck_assert(timerheap_push(&h, E(3, 1)) == 0);
	ck_assert(timerheap_pop(&h, &e));
	ck_assert_int_eq(e.when, 3);
	ck_assert_uint_eq(e.seq, 1);
	ck_assert(!timerheap_pop(&h, &e));
	timerheap_free(&h);
	ck_assert_ptr_null(h.v);
	ck_assert_uint_eq(h.len, 0);
	ck_assert_uint_eq(h.cap, 0);
}
END_TEST

START_TEST(test_peek)
{
	struct timerheap h = {0};
	struct timer_entry e;

	ck_assert(timerheap_push(&h, E(50, 0)) == 0);
	ck_assert(timerheap_push(&h, E(20, 1)) == 0);
	ck_assert(timerheap_push(&h, E(90, 2)) == 0);
	ck_assert(timerheap_peek(&h, &e));
	ck_assert_int_eq(e.when, 20);
	ck_assert_uint_eq(h.len, 3); /* peek does not remove */
	ck_assert(timerheap_push(&h, E(-5, 3)) == 0);
	ck_assert(timerheap_peek(&h, &e));
	ck_assert_int_eq(e.when, -5);
	ck_assert_uint_eq(e.seq, 3);
	ck_assert(timerheap_pop(&h, &e));
	ck_assert_int_eq(e.when, -5);
	ck_assert(timerheap_peek(&h, &e));
	ck_assert_int_eq(e.when, 20);
	timerheap_free(&h);
}
END_TEST

START_TEST(test_growth)
{
	struct timerheap h = {0};

	for (uint32_t i = 0; i < 16; i++)
		ck_assert(timerheap_push(&h, E(100 - i, i)) == 0);
	ck_assert_uint_eq(h.cap, 16);
	ck_assert(timerheap_push(&h, E(0, 16)) == 0);
	ck_assert_uint_eq(h.cap, 32);
	for (uint32_t i = 17; i < 33; i++)
		ck_assert(timerheap_push(&h, E(i, i)) == 0);
	ck_assert_uint_eq(h.cap, 64);
	ck_assert_uint_eq(h.len, 33);
	check_heap_order(&h);
	timerheap_free(&h);
}
END_TEST

/* Push a random set (small key range, so many ties), pop it all. */
START_TEST(test_random_sorted)
{
	static const uint32_t sizes[] = {1, 2, 3, 4, 5, 6, 17, 100, 1000, 4097};

	rng_state = 0x9e3779b97f4a7c15ull + (uint64_t)_i;
	for (unsigned s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		uint32_t n = sizes[s];
		struct timerheap h = {0};
		struct timer_entry *want = malloc(n * sizeof(*want));

		ck_assert_ptr_nonnull(want);
		for (uint32_t i = 0; i < n; i++) {
			want[i] = E((int64_t)(rnd() % (n / 2 + 1)) - (int64_t)(n / 4), i);
			REQUIRE(timerheap_push(&h, want[i]) == 0, "");
		}
		check_heap_order(&h);
		drain_and_compare(&h, want, n);
		timerheap_free(&h);
		free(want);
	}
}
END_TEST

/* Interleaved pushes and pops against a brute-force reference. */
START_TEST(test_random_interleaved)
{
	enum { OPS = 20000 };
	struct timerheap h = {0};
	struct timer_entry *ref = malloc(OPS * sizeof(*ref));
	uint32_t nref = 0, seq = 0;

	ck_assert_ptr_nonnull(ref);
	rng_state = 12345;
	for (int op = 0; op < OPS; op++) {
		if (rnd() % 5 < 3) { /* push, with ~60% probability */
			ref[nref] = E((int64_t)(rnd() % 1000), seq++);
			REQUIRE(timerheap_push(&h, ref[nref]) == 0, "");
			nref++;
		} else {
			struct timer_entry e;
			uint32_t min = 0, at = UINT32_MAX;

			if (nref == 0) {
				REQUIRE(!timerheap_pop(&h, &e), "pop from an empty heap");
				continue;
			}
			for (uint32_t i = 1; i < nref; i++)
				if (ref[i].when < ref[min].when)
					min = i;
			REQUIRE(timerheap_pop(&h, &e), "op %d", op);
			REQUIRE(e.when == ref[min].when, "op %d: popped %lld, min is %lld", op,
				(long long)e.when, (long long)ref[min].when);
			for (uint32_t i = 0; i < nref; i++)
				if (ref[i].seq == e.seq)
					at = i;
			REQUIRE(at != UINT32_MAX, "popped seq %llu twice or never pushed",
				(unsigned long long)e.seq);
			REQUIRE(ref[at].when == e.when, "seq %llu changed deadline",
				(unsigned long long)e.seq);
			ref[at] = ref[--nref];
		}
		REQUIRE(h.len == nref, "op %d: len %u, want %u", op, h.len, nref);
	}
	drain_and_compare(&h, ref, nref);
	timerheap_free(&h);
	free(ref);
}
END_TEST

struct filter_ctx {
	uint64_t modulus;
	uint32_t calls;
};

static bool keep_multiple(const struct timer_entry *e, void *arg)
{
	struct filter_ctx *c = arg;

	c->calls++;
	return e->seq % c->modulus == 0;
}

static bool keep_none(const struct timer_entry *e, void *arg)
{
	(void)e;
	(void)arg;
	return false;
}

static void filter_case(uint32_t n, uint64_t modulus)
{
	struct timerheap h = {0};
	struct timer_entry *kept = malloc((n + 1) * sizeof(*kept));
	struct filter_ctx c = {.modulus = modulus};
	uint32_t nkept = 0, dropped;

	ck_assert_ptr_nonnull(kept);
	for (uint32_t i = 0; i < n; i++) {
		struct timer_entry e = E((int64_t)(rnd() % 100000), i);

		REQUIRE(timerheap_push(&h, e) == 0, "");
		if (i % modulus == 0)
			kept[nkept++] = e;
	}
	dropped = timerheap_filter(&h, keep_multiple, &c);
	ck_assert_uint_eq(c.calls, n); /* each entry judged once, with our ctx */
	ck_assert_uint_eq(dropped, n - nkept);
	ck_assert_uint_eq(h.len, nkept);
	check_heap_order(&h);
	/* Still a working heap afterwards. */
	ck_assert(timerheap_push(&h, E(-1, n)) == 0);
	kept[nkept++] = E(-1, n);
	check_heap_order(&h);
	drain_and_compare(&h, kept, nkept);
	timerheap_free(&h);
	free(kept);
}

START_TEST(test_filter)
{
	rng_state = 777;
	filter_case(1, 1);
	filter_case(10, 1); /* keep everything: 0 dropped */
	filter_case(10, 2);
	filter_case(1000, 2);
	filter_case(1000, 3);
	filter_case(1000, 1001); /* keeps only seq 0 */
	filter_case(5000, 7);
}
END_TEST

START_TEST(test_filter_none)
{
	struct timerheap h = {0};
	struct timer_entry e;

	for (uint32_t i = 0; i < 100; i++)
		ck_assert(timerheap_push(&h, E(i, i)) == 0);
	ck_assert_uint_eq(timerheap_filter(&h, keep_none, NULL), 100);
	ck_assert_uint_eq(h.len, 0);
	ck_assert(!timerheap_pop(&h, &e));
	ck_assert(!timerheap_peek(&h, &e));
	ck_assert_uint_eq(timerheap_filter(&h, keep_none, NULL), 0);
	timerheap_free(&h);
}
END_TEST

START_TEST(test_large)
{
	enum { N = 100000 };
	struct timerheap h = {0};
	struct timer_entry *want = malloc(N * sizeof(*want));
	struct filter_ctx c = {.modulus = 3};
	uint32_t nkept = 0;

	ck_assert_ptr_nonnull(want);
	rng_state = 0xdeadbeef;
	/* Full 63-bit range, including negative deadlines. */
	for (uint32_t i = 0; i < N; i++) {
		want[i] = E((int64_t)(rnd() >> 1) - INT64_MAX / 2, i);
		REQUIRE(timerheap_push(&h, want[i]) == 0, "");
	}
	check_heap_order(&h);
	drain_and_compare(&h, want, N);

	/* And once more through filter on a large heap. */
	for (uint32_t i = 0; i < N; i++) {
		struct timer_entry e = E((int64_t)(rnd() % 1000000), i);

		REQUIRE(timerheap_push(&h, e) == 0, "");
		if (i % 3 == 0)
			want[nkept++] = e;
	}
	ck_assert_uint_eq(timerheap_filter(&h, keep_multiple, &c), N - nkept);
	check_heap_order(&h);
	drain_and_compare(&h, want, nkept);
	timerheap_free(&h);
	free(want);
}
END_TEST

static Suite *timerheap_suite(void)
{
	Suite *s = suite_create("timerheap");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_peek);
	tcase_add_test(tc, test_growth);
	tcase_add_loop_test(tc, test_random_sorted, 0, 4);
	tcase_add_test(tc, test_random_interleaved);
	tcase_add_test(tc, test_filter);
	tcase_add_test(tc, test_filter_none);
	tcase_add_test(tc, test_large);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(timerheap_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
