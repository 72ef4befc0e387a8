/* demo_server_sim: a thread-per-connection server in miniature, for
 * scripts/demo.  An ordinary pthread program; it knows nothing of gmpt.
 *
 * T threads (default 2000) each serve R "requests" (default 40).  One
 * request is:
 *   1. a little CPU work (hashing the request id),
 *   2. an update of shared accounting under one global mutex,
 *   3. a message to the next thread in a ring (its mailbox mutex + condvar),
 *   4. a wait until the previous thread's message for this round has arrived,
 *   5. a short nanosleep (200-499 us), as if waiting on a backend.
 * Step 4 couples every thread to its neighbour, so the whole ring advances
 * together and thousands of threads are blocked at any moment.
 *
 * The checksum is a sum of per-request values, so it does not depend on the
 * order in which threads run: it must be identical natively and under gmpt.
 * The program prints one line:
 *   RESULT name=demo_server_sim threads=T rounds=R requests=N checksum=0x...
 *          elapsed_ms=...
 * and exits 1 if any internal consistency check fails.
 *
 * usage: demo_server_sim [threads] [rounds] */
#include <pthread.h>
#include <time.h>

#include "bench_common.h"

struct mailbox {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	long received; /* messages received so far */
	uint64_t sum;  /* sum of message payloads */
} __attribute__((aligned(64)));

static long nthreads, nrounds;
static struct mailbox *boxes;

static pthread_mutex_t acct_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t acct_sum;
static long acct_requests;

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t request_work(long id, long round)
{
	uint64_t h = ((uint64_t)id << 32) ^ (uint64_t)round;
	for (int i = 0; i < 64; i++)
		h = mix(h + (uint64_t)i);
	return h;
}

static void *serve(void *arg)
{
	long id = (long)arg;
	struct mailbox *mine = &boxes[id];
	struct mailbox *next = &boxes[(id + 1) % nthreads];
	uint64_t local = 0;

	for (long r = 0; r < nrounds; r++) {
		uint64_t v = request_work(id, r);
		local += v;

		pthread_mutex_lock(&acct_mu);
		acct_sum += v;
		acct_requests++;
		pthread_mutex_unlock(&acct_mu);

		pthread_mutex_lock(&next->mu);
		next->received++;
		next->sum += mix(v ^ (uint64_t)r);
		pthread_cond_signal(&next->cv);
		pthread_mutex_unlock(&next->mu);

		pthread_mutex_lock(&mine->mu);
		while (mine->received <= r)
			pthread_cond_wait(&mine->cv, &mine->mu);
		pthread_mutex_unlock(&mine->mu);

		struct timespec ts = {0, (long)(200000 + v % 300000)};
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
	return (void *)(uintptr_t)local;
}

int main(int argc, char **argv)
{
	bench_usage(argc, argv, 2, "[threads] [rounds]");
	nthreads = bench_arg(argc, argv, 1, 2000, "threads");
	nrounds = bench_arg(argc, argv, 2, 40, "rounds");
	if (nthreads < 2 || nthreads > 100000) {
		fprintf(stderr, "demo_server_sim: threads must be in 2..100000\n");
		return 2;
	}

	boxes = calloc((size_t)nthreads, sizeof *boxes);
	pthread_t *tids = calloc((size_t)nthreads, sizeof *tids);
	if (!boxes || !tids) {
		fprintf(stderr, "demo_server_sim: out of memory\n");
		return 1;
	}
	for (long i = 0; i < nthreads; i++) {
		BENCH_CHECK(pthread_mutex_init(&boxes[i].mu, NULL));
		BENCH_CHECK(pthread_cond_init(&boxes[i].cv, NULL));
	}

	pthread_attr_t attr;
	BENCH_CHECK(pthread_attr_init(&attr));
	BENCH_CHECK(pthread_attr_setstacksize(&attr, 256 * 1024));

	uint64_t t0 = bench_now_ns();
	for (long i = 0; i < nthreads; i++)
		BENCH_CHECK(pthread_create(&tids[i], &attr, serve, (void *)i));
	uint64_t thread_sum = 0;
	for (long i = 0; i < nthreads; i++) {
		void *ret;
		BENCH_CHECK(pthread_join(tids[i], &ret));
		thread_sum += (uint64_t)(uintptr_t)ret;
	}
	uint64_t t1 = bench_now_ns();
	pthread_attr_destroy(&attr);

	int bad = 0;
	uint64_t ring_sum = 0;
	for (long i = 0; i < nthreads; i++) {
		if (boxes[i].received != nrounds) {
			fprintf(stderr,
				"demo_server_sim: thread %ld received %ld "
				"messages, expected %ld\n",
				i, boxes[i].received, nrounds);
			bad = 1;
		}
		ring_sum += boxes[i].sum;
		pthread_mutex_destroy(&boxes[i].mu);
		pthread_cond_destroy(&boxes[i].cv);
	}
	if (acct_requests != nthreads * nrounds || acct_sum != thread_sum) {
		fprintf(stderr,
			"demo_server_sim: accounting broken: %ld requests "
			"(expected %ld), shared sum %s per-thread sum\n",
			acct_requests, nthreads * nrounds, acct_sum == thread_sum ? "==" : "!=");
		bad = 1;
	}

	uint64_t checksum = mix(acct_sum) ^ ring_sum;
	printf("RESULT name=demo_server_sim threads=%ld rounds=%ld requests=%ld "
	       "checksum=0x%016" PRIx64 " elapsed_ms=%.1f\n",
	       nthreads, nrounds, acct_requests, checksum, (double)(t1 - t0) / 1e6);
	free(boxes);
	free(tids);
	return bad;
}
