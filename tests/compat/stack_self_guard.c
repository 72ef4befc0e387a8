/* A program that guards its own thread stacks, as HotSpot does for every
 * Java thread: it creates the thread with guard size 0, finds the stack
 * with pthread_getattr_np (bottom = reported address + reported guard
 * size), makes the lowest pages above that bottom PROT_NONE, and then
 * blocks, yields and wakes like any thread. The runtime must not touch
 * those pages when it switches the thread.
 *
 * Also, for guard sizes 0, one and three pages, what pthread_getattr_np
 * reports must be where the stack is, as glibc reports it: the thread's
 * locals lie inside [addr, addr + size), the lowest and highest reported
 * bytes are mapped read-write, the guard size is the one asked for, and
 * the guard pages (unreadable) lie right below addr (not inside the
 * reported stack).
 * The main thread's reported stack holds its locals too. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "testutil.h"

#define OWN_GUARD_PAGES 3

static size_t page;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int turn; /* 1: a turn is out for a self-guarded thread to take */

/* The permissions /proc/self/maps gives the mapping holding addr ("rw-p",
 * "---p"), or "" when nothing is mapped there. */
static void perms_at(uintptr_t addr, char out[5])
{
	out[0] = '\0';
	FILE *f = fopen("/proc/self/maps", "r");
	CHECK(f != NULL);
	char line[512];
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		char perms[5];
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) == 3 && addr >= lo && addr < hi) {
			memcpy(out, perms, 5);
			break;
		}
	}
	fclose(f);
}

/* A guard byte: the kernel cannot read it. glibc's guard pages are a
 * PROT_NONE mapping, or from glibc 2.42 on Linux 6.13 a guard region
 * (MADV_GUARD_INSTALL) inside the stack's own read-write mapping, which
 * /proc/self/maps does not show. */
static bool unreadable(uintptr_t addr)
{
	char byte;
	struct iovec local = {&byte, 1}, remote = {(void *)addr, 1};
	return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) < 0 && errno == EFAULT;
}

struct region {
	char *addr;
	size_t size, guard;
};

static struct region own_stack(void)
{
	pthread_attr_t a;
	struct region r;
	void *addr;
	CHECK_OK(pthread_getattr_np(pthread_self(), &a));
	CHECK_OK(pthread_attr_getstack(&a, &addr, &r.size));
	CHECK_OK(pthread_attr_getguardsize(&a, &r.guard));
	CHECK_OK(pthread_attr_destroy(&a));
	r.addr = addr;
	return r;
}

static void *report(void *arg)
{
	size_t want_guard = *(size_t *)arg;
	char here;
	struct region r = own_stack();
	CHECK(&here >= r.addr && &here < r.addr + r.size);
	CHECK_EQ(r.guard, want_guard);
	char perms[5];
	perms_at((uintptr_t)r.addr, perms);
	CHECK(strncmp(perms, "rw", 2) == 0);
	perms_at((uintptr_t)r.addr + r.size - 1, perms);
	CHECK(strncmp(perms, "rw", 2) == 0);
	if (want_guard) {
		CHECK(unreadable((uintptr_t)r.addr - 1));
		CHECK(unreadable((uintptr_t)r.addr - want_guard));
	}
	return NULL;
}

/* Main hands out 200 turns one at a time; each is taken by exactly one of
 * the two threads (the take and the hand-back happen under one hold of the
 * lock), so each thread waits for one 100 times. */
static void take_turn(void)
{
	pthread_mutex_lock(&lock);
	while (turn != 1)
		pthread_cond_wait(&cond, &lock);
	turn = 0;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

static void hand_out_turn(void)
{
	pthread_mutex_lock(&lock);
	turn = 1;
	pthread_cond_broadcast(&cond);
	while (turn != 0)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
}

static void *self_guarded(void *arg)
{
	(void)arg;
	struct region r = own_stack();
	char *bottom = r.addr + r.guard; /* HotSpot's os::Linux::current_stack_region */
	size_t len = OWN_GUARD_PAGES * page;
	char here;
	CHECK(&here > bottom + len);
	CHECK_OK(mprotect(bottom, len, PROT_NONE));
	for (int i = 0; i < 100; i++) {
		take_turn(); /* parks */
		sched_yield();
		usleep(100);
	}
	CHECK_OK(mprotect(bottom, len, PROT_READ | PROT_WRITE));
	return NULL;
}

int main(void)
{
	page = (size_t)sysconf(_SC_PAGESIZE);

	char here;
	struct region m = own_stack();
	CHECK(&here >= m.addr && &here < m.addr + m.size);
	printf("main: its locals lie in the reported stack\n");

	size_t guards[] = {0, page, 3 * page};
	for (size_t i = 0; i < sizeof guards / sizeof *guards; i++) {
		pthread_attr_t a;
		pthread_t t;
		CHECK_OK(pthread_attr_init(&a));
		CHECK_OK(pthread_attr_setstacksize(&a, 256 << 10));
		CHECK_OK(pthread_attr_setguardsize(&a, guards[i]));
		CHECK_OK(pthread_create(&t, &a, report, &guards[i]));
		CHECK_OK(pthread_join(t, NULL));
		CHECK_OK(pthread_attr_destroy(&a));
		printf("guard %zu pages: reported stack is mapped, guard right below it\n",
		       guards[i] / page);
	}

	/* Two at a time, so that switches happen between guarded threads too. */
	pthread_attr_t a;
	pthread_t t[2];
	CHECK_OK(pthread_attr_init(&a));
	CHECK_OK(pthread_attr_setstacksize(&a, 1 << 20));
	CHECK_OK(pthread_attr_setguardsize(&a, 0));
	for (int i = 0; i < 2; i++)
		CHECK_OK(pthread_create(&t[i], &a, self_guarded, NULL));
	for (int i = 0; i < 200; i++)
		hand_out_turn();
	for (int i = 0; i < 2; i++)
		CHECK_OK(pthread_join(t[i], NULL));
	CHECK_OK(pthread_attr_destroy(&a));
	printf("guard 0 and own PROT_NONE pages at the bottom: 2 threads parked, yielded and "
	       "slept 100 times each\n");
	return 0;
}
