/* tests/compat/malloc_mutex.c - a program whose malloc takes a pthread
 * mutex, as jemalloc (redis-server, Debian's) does.
 *
 * Everything that allocates then calls pthread_mutex_lock, from the very
 * first allocation on: the dynamic loader's own (its failing dlsym
 * allocates the error message), and those of gmpt's start-up, which runs
 * before any thread exists and decides whether gmpt hosts the process at
 * all. A runtime that called its own mutex from inside that decision
 * recursed until the stack ran out. Threads then allocate, free and
 * reallocate under the lock, and the results are checked.
 *
 * The allocator is a bump allocator over a static arena with a header per
 * block (its size): free keeps nothing, realloc copies. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define ARENA_SIZE (64u << 20)
#define ALIGN	   16

static _Alignas(ALIGN) unsigned char arena[ARENA_SIZE];
static size_t arena_used;
static pthread_mutex_t arena_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long locked_allocations;

static void *bump(size_t size, size_t align)
{
	if (align < ALIGN)
		align = ALIGN;
	pthread_mutex_lock(&arena_lock);
	size_t at = (arena_used + ALIGN + align - 1) & ~(align - 1);
	void *p = NULL;
	if (size <= ARENA_SIZE && at + size <= ARENA_SIZE) {
		((size_t *)(arena + at))[-1] = size;
		arena_used = at + size;
		p = arena + at;
		locked_allocations++;
	}
	pthread_mutex_unlock(&arena_lock);
	if (!p)
		errno = ENOMEM;
	return p;
}

void *malloc(size_t size)
{
	return bump(size, ALIGN);
}

void free(void *p)
{
	(void)p;
}

void *calloc(size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	return bump(n * size, ALIGN); /* the arena is zero and never reused */
}

void *realloc(void *old, size_t size)
{
	void *p = bump(size, ALIGN);
	if (p && old) {
		size_t was = ((size_t *)old)[-1];
		memcpy(p, old, was < size ? was : size);
	}
	return p;
}

void *memalign(size_t align, size_t size)
{
	return bump(size, align);
}

void *aligned_alloc(size_t align, size_t size)
{
	return bump(size, align);
}

int posix_memalign(void **out, size_t align, size_t size)
{
	void *p = bump(size, align);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

size_t malloc_usable_size(void *p)
{
	return p ? ((size_t *)p)[-1] : 0;
}

#define THREADS 8
#define ROUNDS	2000

static void *worker(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	unsigned long sum = 0;
	char *buf = NULL;
	for (int i = 0; i < ROUNDS; i++) {
		char *p = malloc(32 + (size_t)(i % 64));
		memset(p, (int)id, 32);
		buf = realloc(buf, 16 + (size_t)(i % 32));
		buf[0] = (char)id;
		sum += (unsigned char)p[31] + (unsigned char)buf[0];
		free(p);
	}
	free(buf);
	return (void *)(uintptr_t)(sum == 2ul * ROUNDS * id);
}

int main(void)
{
	pthread_t t[THREADS];
	for (uintptr_t i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)(i + 1)) != 0) {
			printf("pthread_create failed\n");
			return 1;
		}
	int ok = 1;
	for (int i = 0; i < THREADS; i++) {
		void *r;
		pthread_join(t[i], &r);
		ok &= r != NULL;
	}
	pthread_mutex_lock(&arena_lock);
	unsigned long n = locked_allocations;
	pthread_mutex_unlock(&arena_lock);
	printf("threads' sums %s, at least %d allocations under the lock: %s\n",
	       ok ? "right" : "WRONG", THREADS * ROUNDS * 2,
	       n >= (unsigned long)THREADS * ROUNDS * 2 ? "yes" : "no");
	return ok ? 0 : 1;
}
