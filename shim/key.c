/* shim/key.c - thread-specific data (pthread_key_*).
 *
 * glibc keeps keys in its per-kernel-thread struct pthread, which every G
 * on an M would share, so keys are gmpt's own: a global table of
 * PTHREAD_KEYS_MAX keys, each with a sequence number that is odd while the
 * key is in use, and per thread 32 blocks of 32 {seq, value} slots, the
 * first block inline in the thread record. A value is visible only while
 * its slot's seq equals the key's: deleting a key (seq += 1) hides every
 * thread's value at once without touching the threads, as in glibc. */
#include "shim/thread.h"

#include <errno.h>
#include <stdlib.h>

struct key {
	_Atomic uint64_t seq;
	void (*_Atomic dtor)(void *);
};

static struct key keys[PTHREAD_KEYS_MAX];

EXPORT int pthread_key_create(pthread_key_t *k, void (*dtor)(void *))
{
	STEP_ASIDE_FORWARD(pthread_key_create, k, dtor);
	for (unsigned i = 0; i < PTHREAD_KEYS_MAX; i++) {
		uint64_t s = atomic_load(&keys[i].seq);
		if (s & 1)
			continue;
		/* Claim the free key; a racing creator that loses moves on. */
		if (atomic_compare_exchange_strong(&keys[i].seq, &s, s + 1)) {
			atomic_store(&keys[i].dtor, dtor);
			*k = i;
			return 0;
		}
	}
	return EAGAIN;
}

EXPORT int pthread_key_delete(pthread_key_t k)
{
	STEP_ASIDE_FORWARD(pthread_key_delete, k);
	if (k >= PTHREAD_KEYS_MAX)
		return EINVAL;
	uint64_t s = atomic_load(&keys[k].seq);
	if (!(s & 1) || !atomic_compare_exchange_strong(&keys[k].seq, &s, s + 1))
		return EINVAL;
	return 0;
}

static struct key_slot *slot_of(struct thread *t, pthread_key_t k, bool create)
{
	struct key_slot *block = t->keys[k / KEY_BLOCK];
	if (!block) {
		if (!create)
			return NULL;
		block = calloc(KEY_BLOCK, sizeof *block);
		if (!block)
			return NULL;
		t->keys[k / KEY_BLOCK] = block;
	}
	return &block[k % KEY_BLOCK];
}

EXPORT void *pthread_getspecific(pthread_key_t k)
{
	STEP_ASIDE_FORWARD(pthread_getspecific, k);
	if (k >= PTHREAD_KEYS_MAX)
		return NULL;
	struct key_slot *s = slot_of(thread_self(), k, false);
	if (!s || s->seq != atomic_load_explicit(&keys[k].seq, memory_order_relaxed))
		return NULL;
	return s->data;
}

EXPORT int pthread_setspecific(pthread_key_t k, const void *value)
{
	STEP_ASIDE_FORWARD(pthread_setspecific, k, value);
	if (k >= PTHREAD_KEYS_MAX)
		return EINVAL;
	uint64_t seq = atomic_load(&keys[k].seq);
	if (!(seq & 1))
		return EINVAL;
	struct key_slot *s = slot_of(thread_self(), k, true);
	if (!s)
		return ENOMEM;
	s->seq = seq;
	s->data = (void *)value;
	return 0;
}

/* POSIX: up to PTHREAD_DESTRUCTOR_ITERATIONS rounds, each calling the
 * destructor of every live key whose value is non-NULL, with the value set
 * to NULL first. */
void keys_run_destructors(struct thread *t)
{
	for (int round = 0; round < PTHREAD_DESTRUCTOR_ITERATIONS; round++) {
		bool called = false;
		for (unsigned b = 0; b < KEY_BLOCKS; b++) {
			struct key_slot *block = t->keys[b];
			if (!block)
				continue;
			for (unsigned i = 0; i < KEY_BLOCK; i++) {
				unsigned k = b * KEY_BLOCK + i;
				void *v = block[i].data;
				if (!v || block[i].seq != atomic_load(&keys[k].seq))
					continue;
				block[i].data = NULL;
				void (*dtor)(void *) = atomic_load(&keys[k].dtor);
				if (dtor) {
					dtor(v);
					called = true;
				}
			}
		}
		if (!called)
			break;
	}
	for (unsigned b = 1; b < KEY_BLOCKS; b++) {
		free(t->keys[b]);
		t->keys[b] = NULL;
	}
}
