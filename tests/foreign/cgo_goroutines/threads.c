/* See threads.h. */
#define _GNU_SOURCE
#include "threads.h"
#include "_cgo_export.h"

#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 50

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static long slot;  /* 0: empty */
static long total; /* what consumers took */
static sem_t turns;

static void *producer(void *arg)
{
	long id = (long)arg;
	for (int i = 1; i <= ROUNDS; i++) {
		sem_wait(&turns);
		pthread_mutex_lock(&lock);
		while (slot != 0)
			pthread_cond_wait(&changed, &lock);
		slot = id * 1000 + i;
		pthread_cond_broadcast(&changed);
		pthread_mutex_unlock(&lock);
		sem_post(&turns);
		if (i % 10 == 0) {
			struct timespec ts = {0, 1000000};
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

static void *consumer(void *arg)
{
	long want = (long)arg;
	for (long i = 0; i < want; i++) {
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

long c_handoff(int n)
{
	pthread_t prod[16], cons;
	if (n > 16)
		n = 16;
	sem_init(&turns, 0, 2);
	total = 0;
	pthread_create(&cons, NULL, consumer, (void *)(long)(n * ROUNDS));
	for (int i = 0; i < n; i++)
		pthread_create(&prod[i], NULL, producer, (void *)(long)(i + 1));
	for (int i = 0; i < n; i++)
		pthread_join(prod[i], NULL);
	pthread_join(cons, NULL);
	sem_destroy(&turns);
	usleep(1000);
	return total;
}

static void *call_go(void *arg)
{
	goAdd((int)(long)arg);
	return NULL;
}

void c_call_go(int n)
{
	pthread_t t[16];
	if (n > 16)
		n = 16;
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, call_go, (void *)(long)(i + 1));
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

int c_pipe_nonblocking(void)
{
	int fds[2];
	if (pipe(fds) != 0)
		return -1;
	char path[64], line[128];
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fds[0]);
	FILE *f = fopen(path, "r");
	int nonblocking = -1;
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, "flags:", 6) == 0)
			nonblocking = (strtol(line + 6, NULL, 8) & O_NONBLOCK) != 0;
	if (f)
		fclose(f);
	close(fds[0]);
	close(fds[1]);
	return nonblocking;
}
