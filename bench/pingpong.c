/* pingpong: two threads hand a token back and forth N times (round trips)
 * through one mutex and two condition variables.  Each handoff is: the
 * holder sets the turn, signals the other side's condvar, and waits on its
 * own until the token comes back.  ns_per_op = wall time / (2 * N), i.e. the
 * cost of one one-way handoff (wake the peer + get the peer running).
 *
 * usage: pingpong [N]           (default 50000 round trips) */
#include <pthread.h>

#include "bench_common.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv[2] = {PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER};
static int turn; /* whose move it is: 0 or 1 */
static long rounds;
static long handoffs; /* counted under mu; checked at the end */

static void *player(void *arg)
{
	int me = (int)(long)arg;
	pthread_mutex_lock(&mu);
	for (long i = 0; i < rounds; i++) {
		while (turn != me)
			pthread_cond_wait(&cv[me], &mu);
		turn = !me;
		handoffs++;
		pthread_cond_signal(&cv[!me]);
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

int main(int argc, char **argv)
{
	bench_usage(argc, argv, 1, "[round-trips]");
	rounds = bench_arg(argc, argv, 1, 50000, "round-trips");

	pthread_t a, b;
	/* Hold the lock while both start so the clock starts with both alive. */
	pthread_mutex_lock(&mu);
	turn = 0;
	BENCH_CHECK(pthread_create(&a, NULL, player, (void *)0L));
	BENCH_CHECK(pthread_create(&b, NULL, player, (void *)1L));
	uint64_t t0 = bench_now_ns();
	pthread_mutex_unlock(&mu);
	BENCH_CHECK(pthread_join(a, NULL));
	BENCH_CHECK(pthread_join(b, NULL));
	uint64_t t1 = bench_now_ns();

	if (handoffs != 2 * rounds) {
		fprintf(stderr, "pingpong: %ld handoffs, expected %ld\n", handoffs, 2 * rounds);
		return 1;
	}
	bench_result("pingpong", t1 - t0, 2 * rounds, NULL);
	return 0;
}
