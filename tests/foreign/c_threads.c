/* The C program beside the Go one in the foreign tests: gmpt must host it
 * (no step-aside notice). Threads hand items over through a mutex and a
 * condition variable and sleep now and then; the output is the same on
 * every run. */
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#define THREADS 6
#define ROUNDS	50

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static long slot; /* 0: empty */
static long total;

static void *producer(void *arg)
{
	long id = (long)arg;
	for (int i = 1; i <= ROUNDS; i++) {
		pthread_mutex_lock(&lock);
		while (slot != 0)
			pthread_cond_wait(&changed, &lock);
		slot = id * 1000 + i;
		pthread_cond_broadcast(&changed);
		pthread_mutex_unlock(&lock);
		if (i % 10 == 0) {
			struct timespec ts = {0, 1000000};
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

static void *consumer(void *arg)
{
	(void)arg;
	for (int i = 0; i < THREADS * ROUNDS; i++) {
		pthread_mutex_lock(&lock);
		while (slot == 0)
			pthread_cond_wait(&changed, &lock);
		total += slot;
		slot = 0;
		pthread_cond_broadcast(&changed);
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

int main(void)
{
	pthread_t prod[THREADS], cons;
	pthread_create(&cons, NULL, consumer, NULL);
	for (long i = 0; i < THREADS; i++)
		pthread_create(&prod[i], NULL, producer, (void *)(i + 1));
	for (int i = 0; i < THREADS; i++)
		pthread_join(prod[i], NULL);
	pthread_join(cons, NULL);
	printf("handed over between threads: %ld\n", total);
	return 0;
}
