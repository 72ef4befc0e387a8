/* tests/unit/test_runq.c - the per-P ring run queue with runnext. */
#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "sched/runq.h"
#include "sched/runtime.h"

/* ck_assert_* records a checkpoint per call; hot loops use this instead,
 * which only calls into Check on failure. */
#define REQUIRE(cond, fmt, ...)                                                                    \
	do {                                                                                       \
		if (!(cond))                                                                       \
			ck_abort_msg("%s " fmt, #cond, ##__VA_ARGS__);                             \
	} while (0)

/* struct g ends in a flexible array member, so fake Gs are carved out of a
 * char block at a 16-byte stride rather than declared as an array. The
 * queues never look inside a G except for schedlink (gqueue). */
#define G_STRIDE ((sizeof(struct g) + 15u) & ~(size_t)15u)

static char *gbuf;
static size_t gcount;

static struct g *G(size_t i)
{
	return (struct g *)(void *)(gbuf + i * G_STRIDE);
}

/* Index of a fake G, or -1 if p is not one. */
static long gidx(const struct g *p)
{
	uintptr_t off = (uintptr_t)p - (uintptr_t)gbuf;

	if (p == NULL || (uintptr_t)p < (uintptr_t)gbuf || off % G_STRIDE != 0 ||
	    off / G_STRIDE >= gcount)
		return -1;
	return (long)(off / G_STRIDE);
}

static void alloc_gs(size_t n)
{
	gcount = n;
	gbuf = aligned_alloc(16, n * G_STRIDE);
	ck_assert_ptr_nonnull(gbuf);
}

static void setup(void)
{
	alloc_gs(1024);
}

static void teardown(void)
{
	free(gbuf);
	gbuf = NULL;
}

/* Check's CK_FORK gives each test a fresh process, but tests can also run
 * with CK_FORK=no, so every queue is a fresh zeroed object. */
static struct runq *new_runq(void)
{
	struct runq *q = calloc(1, sizeof(*q));

	ck_assert_ptr_nonnull(q);
	return q;
}

static void set_counters(struct runq *q, uint32_t v)
{
	atomic_store(&q->head, v);
	atomic_store(&q->tail, v);
}

/* runq_get must return G(want) with the given inherit flag. */
static void get_expect(struct runq *q, long want, bool inherit)
{
	bool inh = !inherit;
	struct g *g = runq_get(q, &inh);

	REQUIRE(gidx(g) == want, "got G%ld, want G%ld", gidx(g), want);
	REQUIRE(inh == inherit, "G%ld: inherit %d, want %d", want, inh, inherit);
}

static void get_empty(struct runq *q)
{
	bool inh = true;

	ck_assert_ptr_null(runq_get(q, &inh));
	ck_assert(!inh);
	ck_assert(runq_empty(q));
	ck_assert_uint_eq(runq_len(q), 0);
}

static void put_ok(struct runq *q, size_t i, bool next)
{
	struct gqueue spill = {0};

	REQUIRE(runq_put(q, G(i), next, &spill), "put of G%zu spilled", i);
	REQUIRE(gqueue_empty(&spill), "spill not empty after a put that fit");
}

START_TEST(test_fifo)
{
	struct runq *q = new_runq();

	get_empty(q);
	for (size_t i = 0; i < 10; i++) {
		put_ok(q, i, false);
		ck_assert_uint_eq(runq_len(q), i + 1);
		ck_assert(!runq_empty(q));
	}
	ck_assert_ptr_null(atomic_load(&q->runnext));
	for (long i = 0; i < 10; i++) {
		get_expect(q, i, false);
		ck_assert_uint_eq(runq_len(q), 9 - i);
	}
	get_empty(q);
	free(q);
}
END_TEST

START_TEST(test_runnext_priority)
{
	struct runq *q = new_runq();

	put_ok(q, 0, false);
	put_ok(q, 1, false);
	put_ok(q, 2, true);
	ck_assert_uint_eq(runq_len(q), 3); /* runnext counts */
	get_expect(q, 2, true);
	get_expect(q, 0, false);
	put_ok(q, 3, true);
	get_expect(q, 3, true);
	get_expect(q, 1, false);
	get_empty(q);

	/* runnext alone: not empty, length 1. */
	put_ok(q, 4, true);
	ck_assert(!runq_empty(q));
	ck_assert_uint_eq(runq_len(q), 1);
	ck_assert_uint_eq(atomic_load(&q->head), atomic_load(&q->tail));
	get_expect(q, 4, true);
	get_empty(q);
	free(q);
}
END_TEST

START_TEST(test_runnext_kick)
{
	struct runq *q = new_runq();

	put_ok(q, 0, false);
	put_ok(q, 1, true);
	put_ok(q, 2, true); /* kicks G1 to the tail, behind G0 */
	put_ok(q, 3, false);
	put_ok(q, 4, true); /* kicks G2 behind G3 */
	ck_assert_ptr_eq(atomic_load(&q->runnext), G(4));
	ck_assert_uint_eq(runq_len(q), 5);
	get_expect(q, 4, true);
	get_expect(q, 0, false);
	get_expect(q, 1, false);
	get_expect(q, 3, false);
	get_expect(q, 2, false);
	get_empty(q);
	free(q);
}
END_TEST

/* Fill from start (head/tail counters), overflow, check the spill. */
static void overflow_case(uint32_t start)
{
	struct runq *q = new_runq();
	struct gqueue spill = {0};

	set_counters(q, start);
	for (size_t i = 0; i < RUNQ_SIZE; i++)
		put_ok(q, i, false);
	ck_assert_uint_eq(runq_len(q), RUNQ_SIZE);
	ck_assert(!runq_put(q, G(RUNQ_SIZE), false, &spill));
	ck_assert_uint_eq(spill.len, RUNQ_SIZE / 2 + 1);
	for (long i = 0; i < (long)RUNQ_SIZE / 2; i++) {
		struct g *g = gqueue_pop(&spill);
		REQUIRE(gidx(g) == i, "spill[%ld] is G%ld", i, gidx(g));
	}
	ck_assert_ptr_eq(gqueue_pop(&spill), G(RUNQ_SIZE)); /* the one that did not fit */
	ck_assert(gqueue_empty(&spill));
	ck_assert_uint_eq(runq_len(q), RUNQ_SIZE / 2);
	ck_assert_uint_eq(atomic_load(&q->tail) - atomic_load(&q->head), RUNQ_SIZE / 2);
	for (long i = RUNQ_SIZE / 2; i < (long)RUNQ_SIZE; i++)
		get_expect(q, i, false);
	get_empty(q);
	free(q);
}

START_TEST(test_overflow)
{
	overflow_case(0);
	overflow_case(1000);
}
END_TEST

START_TEST(test_overflow_kick)
{
	struct runq *q = new_runq();
	struct gqueue spill = {0};

	for (size_t i = 0; i < RUNQ_SIZE; i++)
		put_ok(q, i, false);
	put_ok(q, 500, true); /* runnext was free: fits */
	ck_assert_uint_eq(runq_len(q), RUNQ_SIZE + 1);
	/* G501 takes runnext; the kicked G500 does not fit in the ring. */
	ck_assert(!runq_put(q, G(501), true, &spill));
	ck_assert_uint_eq(spill.len, RUNQ_SIZE / 2 + 1);
	for (long i = 0; i < (long)RUNQ_SIZE / 2; i++)
		REQUIRE(gidx(gqueue_pop(&spill)) == i, "spill[%ld]", i);
	ck_assert_ptr_eq(gqueue_pop(&spill), G(500));
	ck_assert_ptr_eq(atomic_load(&q->runnext), G(501));
	get_expect(q, 501, true);
	for (long i = RUNQ_SIZE / 2; i < (long)RUNQ_SIZE; i++)
		get_expect(q, i, false);
	get_empty(q);
	free(q);
}
END_TEST

START_TEST(test_wraparound)
{
	struct runq *q = new_runq();
	long next_out = 0;
	size_t next_in = 0;

	/* Counters 3 short of wrapping: a plain FIFO across the wrap. */
	set_counters(q, UINT32_MAX - 2);
	get_empty(q);
	for (; next_in < 10; next_in++)
		put_ok(q, next_in, false);
	ck_assert_uint_lt(atomic_load(&q->tail), atomic_load(&q->head)); /* tail wrapped */
	ck_assert_uint_eq(runq_len(q), 10);
	for (; next_out < 4; next_out++)
		get_expect(q, next_out, false);
	ck_assert_uint_eq(runq_len(q), 6);
	/* Keep cycling through the ring past the wrap. */
	for (int round = 0; round < 600; round++) {
		put_ok(q, next_in++ % gcount, false);
		get_expect(q, next_out++ % (long)gcount, false);
		ck_assert_uint_eq(runq_len(q), 6);
	}
	while (next_out < (long)next_in)
		get_expect(q, next_out++ % (long)gcount, false);
	get_empty(q);

	/* Overflow straddling the wrap. */
	overflow_case(UINT32_MAX - 100);
	overflow_case(UINT32_MAX);
	overflow_case(UINT32_MAX - RUNQ_SIZE + 1);
	free(q);
}
END_TEST

static _Atomic int spins;

static void count_spin(void)
{
	atomic_fetch_add(&spins, 1);
}

/* Victim holds n Gs, G(base)..; steal must take n - n/2 of them, return the
 * last one taken and leave the rest in the thief in order. */
static void steal_case(uint32_t n, uint32_t vstart, uint32_t tstart)
{
	struct runq *victim = new_runq(), *thief = new_runq();
	uint32_t take = n - n / 2;
	struct g *g;

	set_counters(victim, vstart);
	set_counters(thief, tstart);
	for (size_t i = 0; i < n; i++)
		put_ok(victim, i, false);
	put_ok(victim, 999, true); /* a runnext, which must not be taken */
	atomic_store(&spins, 0);
	g = runq_steal(thief, victim, true, count_spin);
	ck_assert_int_eq(atomic_load(&spins), 0);
	REQUIRE(gidx(g) == (long)take - 1, "n=%u: stole G%ld, want G%u", n, gidx(g), take - 1);
	ck_assert_uint_eq(runq_len(thief), take - 1);
	ck_assert_uint_eq(runq_len(victim), n - take + 1);
	ck_assert_ptr_null(atomic_load(&thief->runnext));
	for (long i = 0; i < (long)take - 1; i++)
		get_expect(thief, i, false);
	get_empty(thief);
	get_expect(victim, 999, true);
	for (long i = take; i < (long)n; i++)
		get_expect(victim, i, false);
	get_empty(victim);
	free(victim);
	free(thief);
}

START_TEST(test_steal_half)
{
	static const uint32_t ns[] = {1, 2, 3, 7, 10, 128, 255, 256};

	for (unsigned k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
		steal_case(ns[k], 0, 0);
		steal_case(ns[k], UINT32_MAX - 5, UINT32_MAX - 60); /* both wrap */
		steal_case(ns[k], 77, UINT32_MAX);
	}
}
END_TEST

START_TEST(test_steal_runnext)
{
	struct runq *victim = new_runq(), *thief = new_runq();

	/* Nothing at all: NULL, and no spin. */
	atomic_store(&spins, 0);
	ck_assert_ptr_null(runq_steal(thief, victim, true, count_spin));
	ck_assert_int_eq(atomic_load(&spins), 0);

	/* Only a runnext: not taken unless allowed. */
	put_ok(victim, 5, true);
	ck_assert_ptr_null(runq_steal(thief, victim, false, count_spin));
	ck_assert_int_eq(atomic_load(&spins), 0);
	ck_assert_ptr_eq(atomic_load(&victim->runnext), G(5));
	ck_assert(runq_empty(thief));

	/* Allowed: spin first, then take it; it is not queued in the thief. */
	ck_assert_ptr_eq(runq_steal(thief, victim, true, count_spin), G(5));
	ck_assert_int_eq(atomic_load(&spins), 1);
	ck_assert_ptr_null(atomic_load(&victim->runnext));
	ck_assert(runq_empty(victim));
	ck_assert(runq_empty(thief));

	/* A NULL spin callback is allowed. */
	put_ok(victim, 6, true);
	ck_assert_ptr_eq(runq_steal(thief, victim, true, NULL), G(6));

	/* Ring non-empty: the ring is stolen from, runnext stays. */
	put_ok(victim, 7, true);
	put_ok(victim, 8, false);
	ck_assert_ptr_eq(runq_steal(thief, victim, true, count_spin), G(8));
	ck_assert_int_eq(atomic_load(&spins), 1);
	ck_assert_ptr_eq(atomic_load(&victim->runnext), G(7));
	get_expect(victim, 7, true);
	get_empty(victim);
	get_empty(thief);
	free(victim);
	free(thief);
}
END_TEST

/* A thief that already holds Gs must never overfill its ring. */
START_TEST(test_steal_into_busy_thief)
{
	struct runq *victim = new_runq(), *thief = new_runq();
	struct g *g;
	uint32_t tl, vl;

	for (size_t i = 0; i < 250; i++)
		put_ok(thief, i, false);
	for (size_t i = 250; i < 350; i++)
		put_ok(victim, i, false);
	g = runq_steal(thief, victim, false, NULL);
	tl = runq_len(thief);
	vl = runq_len(victim);
	ck_assert_uint_le(tl, RUNQ_SIZE);
	ck_assert_uint_eq(tl + vl + (g != NULL), 350);
	/* Nothing lost or reordered: the thief holds its own G0..G249, then
	 * the stolen run from G250 on; g is the next one; the victim keeps
	 * the rest, contiguous up to G349. */
	ck_assert_ptr_nonnull(g);
	for (long i = 0; i < (long)tl; i++)
		get_expect(thief, i, false);
	get_empty(thief);
	ck_assert_ptr_eq(g, G(tl));
	for (long i = 350 - (long)vl; i < 350; i++)
		get_expect(victim, i, false);
	ck_assert_uint_eq(tl + 1, 350 - vl);
	get_empty(victim);
	free(victim);
	free(thief);
}
END_TEST

START_TEST(test_drain)
{
	struct runq *q = new_runq();
	struct gqueue out = {0};

	runq_drain(q, &out);
	ck_assert(gqueue_empty(&out));

	set_counters(q, UINT32_MAX - 3);
	for (size_t i = 0; i < 9; i++)
		put_ok(q, i, false);
	put_ok(q, 100, true);
	gqueue_push(&out, G(200)); /* drain appends */
	runq_drain(q, &out);
	ck_assert(runq_empty(q));
	ck_assert_uint_eq(runq_len(q), 0);
	get_empty(q);
	ck_assert_uint_eq(out.len, 11);
	ck_assert_ptr_eq(gqueue_pop(&out), G(200));
	ck_assert_ptr_eq(gqueue_pop(&out), G(100)); /* runnext first: it was to run next */
	for (long i = 0; i < 9; i++)
		REQUIRE(gidx(gqueue_pop(&out)) == i, "drain[%ld]", i);
	ck_assert(gqueue_empty(&out));

	/* A full ring drains whole. */
	for (size_t i = 0; i < RUNQ_SIZE; i++)
		put_ok(q, i, false);
	runq_drain(q, &out);
	ck_assert_uint_eq(out.len, RUNQ_SIZE);
	for (long i = 0; i < (long)RUNQ_SIZE; i++)
		REQUIRE(gidx(gqueue_pop(&out)) == i, "drain[%ld]", i);
	get_empty(q);
	free(q);
}
END_TEST

/* ---- Concurrent: one owner, three thieves, every G seen exactly once. ---- */

#define CONC_N	     2000000u
#define CONC_THIEVES 3

struct conc {
	struct runq *q[1 + CONC_THIEVES]; /* q[0] is the owner's, q[1..] thieves' */
	_Atomic uint32_t *seen;
	_Atomic int done;
	_Atomic long bad_ptr;
	_Atomic long bad_len;
	_Atomic long stolen;
	_Atomic long spilled;
	_Atomic long spins;
};

static struct conc conc;

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void mark(struct g *g)
{
	long i = gidx(g);

	if (i < 0) {
		atomic_fetch_add(&conc.bad_ptr, 1);
		return;
	}
	/* Written by the owner before the put (a plain store): reading it here
	 * checks, under TSan, that queue hand-offs publish the G's contents. */
	if (g->id != (uint64_t)i)
		atomic_fetch_add(&conc.bad_ptr, 1);
	atomic_fetch_add_explicit(&conc.seen[i], 1, memory_order_relaxed);
}

static void mark_all(struct gqueue *q)
{
	struct g *g;

	while ((g = gqueue_pop(q)) != NULL)
		mark(g);
}

static void conc_spin(void)
{
	atomic_fetch_add_explicit(&conc.spins, 1, memory_order_relaxed);
	sched_yield();
}

static void *owner_main(void *arg)
{
	struct runq *q = conc.q[0];
	uint64_t r = 0x243f6a8885a308d3ull;
	struct gqueue out = {0};
	bool inh;

	(void)arg;
	for (uint32_t i = 0; i < CONC_N; i++) {
		struct gqueue spill = {0};
		/* Alternate a filling phase (few gets, so the ring overflows
		 * while thieves race the spill) with an emptying phase. */
		bool filling = (i >> 14) & 1;
		uint64_t x = xorshift(&r);
		uint32_t gets;

		G(i)->id = i;
		if (!runq_put(q, G(i), (x & 3) == 0, &spill)) {
			if (spill.len != RUNQ_SIZE / 2 + 1)
				atomic_fetch_add(&conc.bad_len, 1);
			atomic_fetch_add(&conc.spilled, 1);
			mark_all(&spill);
		}
		x >>= 2;
		gets = filling ? (x % 8 == 0) : (uint32_t)(x % 3);
		while (gets-- > 0) {
			struct g *g = runq_get(q, &inh);
			if (g != NULL)
				mark(g);
		}
		if (runq_len(q) > RUNQ_SIZE + 1)
			atomic_fetch_add(&conc.bad_len, 1);
	}
	runq_drain(q, &out);
	mark_all(&out);
	atomic_store_explicit(&conc.done, 1, memory_order_release);
	return NULL;
}

static void *thief_main(void *arg)
{
	int me = (int)(intptr_t)arg;
	struct runq *mine = conc.q[me];
	uint64_t r = 0x9e3779b97f4a7c15ull * (uint64_t)me;
	struct gqueue out = {0};
	bool inh;

	while (!atomic_load_explicit(&conc.done, memory_order_acquire)) {
		uint64_t x = xorshift(&r);
		/* Mostly rob the owner; sometimes another thief, whose ring is
		 * then contended by its own gets and drains. */
		int v = (x & 3) ? 0 : 1 + (int)((x >> 2) % CONC_THIEVES);
		struct g *g;

		if (v == me)
			v = 0;
		g = runq_steal(mine, conc.q[v], (x >> 8) & 1, (x >> 9) & 1 ? conc_spin : NULL);
		if (g != NULL) {
			atomic_fetch_add_explicit(&conc.stolen, 1, memory_order_relaxed);
			mark(g);
		}
		if (runq_len(conc.q[v]) > RUNQ_SIZE + 1 || runq_len(mine) > RUNQ_SIZE)
			atomic_fetch_add(&conc.bad_len, 1);
		for (uint32_t k = (x >> 10) % 4; k > 0; k--) {
			g = runq_get(mine, &inh);
			if (g != NULL)
				mark(g);
		}
		if ((x >> 12) % 4 == 0) {
			runq_drain(mine, &out);
			mark_all(&out);
		}
	}
	/* Our last steal is behind us; whatever others did not take from us
	 * is ours to account for. */
	runq_drain(mine, &out);
	mark_all(&out);
	return NULL;
}

START_TEST(test_concurrent_steal)
{
	pthread_t owner, thieves[CONC_THIEVES];
	long missing = 0, dup = 0, first_bad = -1;

	alloc_gs(CONC_N);
	conc.seen = calloc(CONC_N, sizeof(*conc.seen));
	ck_assert_ptr_nonnull(conc.seen);
	for (int i = 0; i <= CONC_THIEVES; i++)
		conc.q[i] = new_runq();

	for (int i = 0; i < CONC_THIEVES; i++)
		ck_assert_int_eq(
		    pthread_create(&thieves[i], NULL, thief_main, (void *)(intptr_t)(i + 1)), 0);
	ck_assert_int_eq(pthread_create(&owner, NULL, owner_main, NULL), 0);
	pthread_join(owner, NULL);
	for (int i = 0; i < CONC_THIEVES; i++)
		pthread_join(thieves[i], NULL);

	for (uint32_t i = 0; i < CONC_N; i++) {
		uint32_t s = atomic_load(&conc.seen[i]);
		if (s == 1)
			continue;
		if (first_bad < 0)
			first_bad = i;
		if (s == 0)
			missing++;
		else
			dup++;
	}
	fprintf(stderr, "concurrent: %u Gs, %ld stolen, %ld spills, %ld runnext spins\n", CONC_N,
		atomic_load(&conc.stolen), atomic_load(&conc.spilled), atomic_load(&conc.spins));
	ck_assert_msg(missing == 0 && dup == 0, "%ld Gs lost, %ld seen twice or more (first G%ld)",
		      missing, dup, first_bad);
	ck_assert_int_eq(atomic_load(&conc.bad_ptr), 0);
	ck_assert_int_eq(atomic_load(&conc.bad_len), 0);
	ck_assert_int_gt(atomic_load(&conc.stolen), 0);
	for (int i = 0; i <= CONC_THIEVES; i++) {
		ck_assert(runq_empty(conc.q[i]));
		free(conc.q[i]);
	}
	free(conc.seen);
	free(gbuf);
	gbuf = NULL;
}
END_TEST

static Suite *runq_suite(void)
{
	Suite *s = suite_create("runq");
	TCase *tc = tcase_create("core");
	TCase *tcc = tcase_create("concurrent");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_fifo);
	tcase_add_test(tc, test_runnext_priority);
	tcase_add_test(tc, test_runnext_kick);
	tcase_add_test(tc, test_overflow);
	tcase_add_test(tc, test_overflow_kick);
	tcase_add_test(tc, test_wraparound);
	tcase_add_test(tc, test_steal_half);
	tcase_add_test(tc, test_steal_runnext);
	tcase_add_test(tc, test_steal_into_busy_thief);
	tcase_add_test(tc, test_drain);
	suite_add_tcase(s, tc);

	/* Generous: a few seconds normally, much more under TSan. */
	tcase_set_timeout(tcc, 110);
	tcase_add_test(tcc, test_concurrent_steal);
	suite_add_tcase(s, tcc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(runq_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
