/* tests/unit/test_waitq.c - the parking lot (sched/waitq.c) itself, with
 * waiters that are plain kernel threads (gmpt runs none here, so each
 * blocks in the kernel on its waiter record, as a thread gmpt did not
 * create does under the library). Most tests hash every address into one
 * bucket (waitq_configure(1), what GMPT_DEBUG=waitqbuckets=1 does), so a
 * wakeup, a requeue or a timeout on one address happens among the waiters
 * of the others. */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "sched/sched.h"
#include "sched/waitq.h"

#define NT 16

static _Atomic uint32_t words[1024];
static pthread_t th[NT];
static int result[NT];
static atomic_int finish_order[NT];
static atomic_int finished;

struct wait_arg {
	int i;
	int word;
};
static struct wait_arg args[NT];

static int blocked(void)
{
	return atomic_load(&waitq_foreign_blocked[WAKERS_ANYONE]);
}

static void *wait_once(void *p)
{
	struct wait_arg *a = p;
	result[a->i] = waitq_wait(&words[a->word], 0, 0);
	finish_order[a->i] = atomic_fetch_add(&finished, 1);
	return NULL;
}

/* Starts thread i waiting on words[word]; returns once it is queued (the
 * count of blocked foreign threads is raised under the bucket lock, after
 * the waiter is queued), so threads queue in the order started. */
static void start_waiter(int i, int word)
{
	int before = blocked();
	args[i] = (struct wait_arg){i, word};
	finish_order[i] = -1;
	ck_assert_int_eq(pthread_create(&th[i], NULL, wait_once, &args[i]), 0);
	while (blocked() == before)
		sched_yield();
}

/* Waits until n more threads have returned from their wait. */
static void await_finished(int n)
{
	while (atomic_load(&finished) < n)
		sched_yield();
}

static void join(int i)
{
	ck_assert_int_eq(pthread_join(th[i], NULL), 0);
}

static void setup_one_bucket(void)
{
	waitq_configure(1);
}

START_TEST(wake_one_fifo_among_colliding)
{
	for (int i = 0; i < 12; i++)
		start_waiter(i, i % 3);
	ck_assert_int_eq(waitq_wake(&words[7], 1), 0); /* nobody waits there */
	for (int k = 0; k < 4; k++) {
		ck_assert_int_eq(waitq_wake(&words[1], 1), 1);
		await_finished(k + 1);
		join(1 + 3 * k);
		ck_assert_int_eq(finish_order[1 + 3 * k], k);
		ck_assert_int_eq(result[1 + 3 * k], 0);
	}
	ck_assert_int_eq(waitq_wake(&words[1], 1), 0);
	/* The other addresses' waiters are all still there. */
	ck_assert_int_eq(blocked(), 8);
	ck_assert_int_eq(waitq_wake(&words[0], INT_MAX), 4);
	ck_assert_int_eq(waitq_wake(&words[2], INT_MAX), 4);
	for (int i = 0; i < 12; i++)
		if (i % 3 != 1) {
			join(i);
			ck_assert_int_eq(result[i], 0);
		}
	ck_assert_int_eq(blocked(), 0);
}
END_TEST

START_TEST(wake_some_counts)
{
	for (int i = 0; i < 10; i++)
		start_waiter(i, i % 2);
	ck_assert_int_eq(waitq_wake(&words[0], 3), 3);
	await_finished(3);
	for (int i = 0; i < 6; i += 2)
		join(i);
	ck_assert_int_eq(waitq_wake(&words[0], 5), 2);
	ck_assert_int_eq(waitq_wake(&words[1], 0), 0);
	ck_assert_int_eq(waitq_wake(&words[1], INT_MAX), 5);
	for (int i = 6; i < 10; i++)
		join(i);
	for (int i = 1; i < 6; i += 2)
		join(i);
	ck_assert_int_eq(blocked(), 0);
}
END_TEST

/* Requeue: from's oldest woken, the rest behind to's waiters, in order. */
static void requeue_order(int from, int to)
{
	for (int i = 0; i < 2; i++)
		start_waiter(i, to);
	for (int i = 2; i < 8; i++)
		start_waiter(i, from);
	start_waiter(8, 900); /* an unrelated waiter */
	ck_assert_int_eq(waitq_requeue(&words[from], 1, &words[to], 2), 1);
	await_finished(1);
	join(2);
	ck_assert_int_eq(waitq_wake(&words[from], 1), 1); /* w5: w3, w4 moved */
	await_finished(2);
	join(5);
	ck_assert_int_eq(waitq_requeue(&words[from], 0, &words[to], INT_MAX), 0);
	ck_assert_int_eq(waitq_wake(&words[from], INT_MAX), 0);
	ck_assert_int_eq(blocked(), 7);
	/* to: w0 w1 (its own), w3 w4 (first move), w6 w7 (second). */
	const int want[] = {0, 1, 3, 4, 6, 7};
	for (int k = 0; k < 6; k++) {
		ck_assert_int_eq(waitq_wake(&words[to], 1), 1);
		await_finished(3 + k);
		join(want[k]);
		ck_assert_int_eq(finish_order[want[k]], 2 + k);
	}
	ck_assert_int_eq(waitq_wake(&words[to], INT_MAX), 0);
	ck_assert_int_eq(waitq_wake(&words[900], INT_MAX), 1);
	join(8);
}

START_TEST(requeue_in_one_bucket)
{
	requeue_order(3, 4);
}
END_TEST

/* With the default buckets the two addresses (4 KiB apart) most likely
 * hash to different ones: each moved waiter changes bucket. */
START_TEST(requeue_across_buckets)
{
	requeue_order(0, 1000);
}
END_TEST

/* Timed waiters on one address (and, in one bucket, timed waiters on
 * others) racing wakers and requeues: every wait that returns 0 was
 * counted by exactly one waker; none is lost or woken twice. */
#define RACE_ITERS 3000
static atomic_int race_stop;
static atomic_long woken_by_wakers, waits_woken, waits_timed_out;

static void *race_waiter(void *p)
{
	long id = (long)p;
	for (int i = 0; i < RACE_ITERS; i++) {
		int word = (int)(id % 3 == 0 ? 2 : (i + id) % 2); /* 0 and 1, 2 */
		int64_t deadline = nanotime() + ((i + id) % 4) * 30000;
		int r = waitq_wait(&words[word], 0, deadline);
		if (r == 0)
			atomic_fetch_add(&waits_woken, 1);
		else if (r == ETIMEDOUT)
			atomic_fetch_add(&waits_timed_out, 1);
		else
			ck_abort_msg("waitq_wait returned %d", r);
	}
	return NULL;
}

static void *race_waker(void *p)
{
	long id = (long)p;
	for (unsigned i = 0; !atomic_load(&race_stop); i++) {
		int n;
		switch ((i + (unsigned)id) % 4) {
		case 0:
			n = waitq_wake(&words[i % 3], 1);
			break;
		case 1:
			n = waitq_wake(&words[i % 3], INT_MAX);
			break;
		case 2: /* move 0's waiters to 1 and back: they time out meanwhile */
			n = waitq_requeue(&words[0], 0, &words[1], INT_MAX);
			break;
		default:
			n = waitq_requeue(&words[1], 1, &words[0], 2);
			break;
		}
		atomic_fetch_add(&woken_by_wakers, n);
		if (i % 8 == 0)
			sched_yield();
	}
	return NULL;
}

static void race(void)
{
	pthread_t w[6], k[2];
	for (long i = 0; i < 6; i++)
		ck_assert_int_eq(pthread_create(&w[i], NULL, race_waiter, (void *)i), 0);
	for (long i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&k[i], NULL, race_waker, (void *)i), 0);
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(pthread_join(w[i], NULL), 0);
	atomic_store(&race_stop, 1);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_join(k[i], NULL), 0);
	ck_assert_int_eq(blocked(), 0);
	ck_assert_int_eq(atomic_load(&waits_woken) + atomic_load(&waits_timed_out), 6 * RACE_ITERS);
	ck_assert_int_eq(atomic_load(&woken_by_wakers), atomic_load(&waits_woken));
	/* Both outcomes happened, or the test raced nothing. */
	ck_assert_int_gt(atomic_load(&waits_woken), 0);
	ck_assert_int_gt(atomic_load(&waits_timed_out), 0);
}

START_TEST(timeouts_race_wakes_in_one_bucket)
{
	race();
}
END_TEST

START_TEST(timeouts_race_wakes_across_buckets)
{
	race();
}
END_TEST

/* A value that changed before the wait: EAGAIN, nothing queued. */
START_TEST(value_changed)
{
	atomic_store(&words[5], 1);
	ck_assert_int_eq(waitq_wait(&words[5], 0, 0), EAGAIN);
	ck_assert_int_eq(waitq_wait(&words[6], 0, nanotime() - 1), ETIMEDOUT);
	ck_assert_int_eq(waitq_wake(&words[5], INT_MAX), 0);
	ck_assert_int_eq(blocked(), 0);
}
END_TEST

static Suite *waitq_suite(void)
{
	Suite *s = suite_create("waitq");
	TCase *one = tcase_create("one-bucket");
	tcase_add_checked_fixture(one, setup_one_bucket, NULL);
	tcase_add_test(one, wake_one_fifo_among_colliding);
	tcase_add_test(one, wake_some_counts);
	tcase_add_test(one, requeue_in_one_bucket);
	tcase_add_test(one, timeouts_race_wakes_in_one_bucket);
	tcase_add_test(one, value_changed);
	tcase_set_timeout(one, 60);
	suite_add_tcase(s, one);
	TCase *many = tcase_create("default-buckets");
	tcase_add_test(many, requeue_across_buckets);
	tcase_add_test(many, timeouts_race_wakes_across_buckets);
	tcase_set_timeout(many, 60);
	suite_add_tcase(s, many);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(waitq_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
