/* A bounded buffer with several producers and consumers, woken with
 * pthread_cond_broadcast. Every item must be consumed exactly once; the
 * checksum is printed. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>

#include "testutil.h"

#define NPROD	 4
#define NCONS	 3
#define NITEMS	 25000 /* per producer */
#define CAPACITY 8

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static long buf[CAPACITY];
static unsigned head, count;
static int producers_done;
static unsigned char seen[NPROD][NITEMS];

struct cons_result {
	long items;
	uint64_t sum;
};

static void *producer(void *arg)
{
	long p = (intptr_t)arg;
	for (long i = 0; i < NITEMS; i++) {
		pthread_mutex_lock(&lock);
		while (count == CAPACITY)
			pthread_cond_wait(&not_full, &lock);
		buf[(head + count) % CAPACITY] = p * NITEMS + i;
		count++;
		pthread_cond_broadcast(&not_empty);
		pthread_mutex_unlock(&lock);
	}
	pthread_mutex_lock(&lock);
	if (++producers_done == NPROD)
		pthread_cond_broadcast(&not_empty);
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void *consumer(void *arg)
{
	struct cons_result *r = arg;
	for (;;) {
		pthread_mutex_lock(&lock);
		while (count == 0 && producers_done < NPROD)
			pthread_cond_wait(&not_empty, &lock);
		if (count == 0) {
			pthread_mutex_unlock(&lock);
			return NULL;
		}
		long item = buf[head];
		head = (head + 1) % CAPACITY;
		count--;
		CHECK(item >= 0 && item < (long)NPROD * NITEMS);
		CHECK(!seen[item / NITEMS][item % NITEMS]);
		seen[item / NITEMS][item % NITEMS] = 1;
		pthread_cond_broadcast(&not_full);
		pthread_mutex_unlock(&lock);
		r->items++;
		r->sum += (uint64_t)item * item;
	}
}

int main(void)
{
	pthread_t prod[NPROD], cons[NCONS];
	struct cons_result res[NCONS] = {0};

	for (int i = 0; i < NCONS; i++)
		CHECK_OK(pthread_create(&cons[i], NULL, consumer, &res[i]));
	for (intptr_t i = 0; i < NPROD; i++)
		CHECK_OK(pthread_create(&prod[i], NULL, producer, (void *)i));
	for (int i = 0; i < NPROD; i++)
		CHECK_OK(pthread_join(prod[i], NULL));
	for (int i = 0; i < NCONS; i++)
		CHECK_OK(pthread_join(cons[i], NULL));

	long items = 0;
	uint64_t sum = 0, want = 0;
	for (int i = 0; i < NCONS; i++) {
		items += res[i].items;
		sum += res[i].sum;
	}
	for (uint64_t v = 0; v < (uint64_t)NPROD * NITEMS; v++)
		want += v * v;
	for (int p = 0; p < NPROD; p++)
		for (int i = 0; i < NITEMS; i++)
			CHECK(seen[p][i]);
	CHECK_EQ(items, (long)NPROD * NITEMS);
	CHECK(sum == want);
	CHECK_EQ(count, 0);
	printf("producers %d, consumers %d, capacity %d: %ld items, checksum %llu\n", NPROD, NCONS,
	       CAPACITY, items, (unsigned long long)sum);
	return 0;
}
