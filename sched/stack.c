/* sched/stack.c - G stacks.
 *
 * Every stack is its own anonymous mapping:
 *
 *     [guard page(s) PROT_NONE][ usable stack ... ][header]
 *      ^map base               ^stack_lo           ^stack_hi
 *
 * A guard page splits the mapping into two VMAs, and vm.max_map_count
 * (65530 by default) caps the VMAs of a process, so guarded stacks are
 * limited to a budget of a quarter of it. Past the budget, stacks have no
 * guard page: then adjacent stacks merge into one VMA and cost nothing
 * against the limit, and a canary word at stack_lo, checked at every
 * switch away from the G, catches an overflow that reached the bottom word
 * (docs/design.md says what that does and does not catch).
 *
 * A stack asked for with guard size 0 gets neither guard nor canary, as
 * glibc gives it none: a program that asks for that may guard the stack
 * itself, and HotSpot does, making the lowest pages of each Java thread's
 * stack (as pthread_getattr_np reports it) PROT_NONE; a canary there would
 * fault at the first switch.
 *
 * Free stacks of the default size are cached per P (owner only, no
 * locking) and then in a global pool under a lock. Stacks entering the
 * global pool beyond POOL_KEEP_HOT give their pages back with
 * MADV_DONTNEED, so a burst of 100,000 threads does not pin its memory. */
#include "sched/stack.h"
#include "sched/header_gaps.h"
#include "sched/runtime.h"
#include "sched/sysfile.h"
#include "sched/osthread.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#ifdef GMPT_HAVE_VALGRIND
#include <valgrind/valgrind.h>
#else
#define VALGRIND_STACK_REGISTER(lo, hi) 0u
#define VALGRIND_STACK_DEREGISTER(id)	((void)(id))
#endif

/* Lives in the top bytes of every stack mapping we made. */
struct stack_header {
	struct stack_header *next; /* free lists */
	char *map_base;
	size_t map_size;
	size_t guard;
	unsigned vg_id; /* valgrind's stack id */
	uint32_t kind;	/* STACK_GUARDED, STACK_CANARY or STACK_BARE */
	bool poolable;	/* asked for with the default size and guard */
};

#define HEADER_SIZE   64
#define P_CACHE_MAX   32
#define POOL_KEEP_HOT 64

static size_t page_size;
static size_t default_size;
static size_t guard_budget; /* how many guarded stacks may exist */
static _Atomic size_t guarded_live;

static struct rtlock pool_lock;
static struct stack_header *pool;
static size_t pool_len;

static long read_sysctl_long(const char *path, long dflt)
{
	char buf[32];
	if (sysfile_read(path, buf, sizeof buf) <= 0)
		return dflt;
	long v = 0;
	for (char *s = buf; *s >= '0' && *s <= '9'; s++)
		v = v * 10 + (*s - '0');
	return v > 0 ? v : dflt;
}

/* glibc's rule for a thread's default stack: RLIMIT_STACK when finite
 * (at least PTHREAD_STACK_MIN), else 2 MiB on x86-64. pthread_getattr_default_np
 * gives exactly that, and honours pthread_setattr_default_np. */
static size_t glibc_default_stack_size(void)
{
	pthread_attr_t a;
	size_t sz = 0;
	if (pthread_getattr_default_np(&a) == 0) {
		pthread_attr_getstacksize(&a, &sz);
		pthread_attr_destroy(&a);
	}
	if (sz == 0) {
		struct rlimit rl;
		if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
			sz = rl.rlim_cur;
		else
			sz = 2u << 20;
	}
	if (sz < (size_t)PTHREAD_STACK_MIN)
		sz = (size_t)PTHREAD_STACK_MIN;
	return sz;
}

void stack_init(void)
{
	page_size = (size_t)sysconf(_SC_PAGESIZE);
	default_size = (glibc_default_stack_size() + page_size - 1) & ~(page_size - 1);
	long maps = read_sysctl_long("/proc/sys/vm/max_map_count", 65530);
	guard_budget = (size_t)maps / 4;
}

size_t sched_default_stack_size(void)
{
	return default_size;
}

static void header_apply(struct g *g, struct stack_header *h)
{
	g->stack_kind = h->kind;
	g->stack_lo = h->map_base + h->guard;
	g->stack_hi = (char *)h;
	g->map_size = h->map_size;
	g->stack_guard = h->guard;
	if (h->kind == STACK_CANARY)
		*(uint64_t *)g->stack_lo = STACK_CANARY_VALUE;
}

static struct stack_header *stack_map(size_t usable, size_t guard)
{
	usable = (usable + page_size - 1) & ~(page_size - 1);
	guard = (guard + page_size - 1) & ~(page_size - 1);
	/* Decided by what was asked, not by what the budget allowed: a stack
	 * that lost its guard to the budget may serve a later default request
	 * (which would get the same), one asked for without a guard may not. */
	bool poolable = usable == default_size && guard == page_size;
	uint32_t kind = STACK_GUARDED;
	if (guard == 0) {
		kind = STACK_BARE;
	} else if (atomic_fetch_add(&guarded_live, 1) >= guard_budget) {
		/* Out of map-count budget: no guard, canary instead. */
		atomic_fetch_sub(&guarded_live, 1);
		guard = 0;
		kind = STACK_CANARY;
	}
	size_t total = usable + guard + HEADER_SIZE;
	total = (total + page_size - 1) & ~(page_size - 1);
	char *base = mmap(NULL, total, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (base == MAP_FAILED)
		goto fail;
	if (guard && mprotect(base, guard, PROT_NONE) != 0) {
		munmap(base, total);
		goto fail;
	}
	struct stack_header *h = (struct stack_header *)(base + total - HEADER_SIZE);
	h->next = NULL;
	h->map_base = base;
	h->map_size = total;
	h->guard = guard;
	h->kind = kind;
	h->poolable = poolable;
	h->vg_id = VALGRIND_STACK_REGISTER(base + guard, (char *)h);
	return h;
fail:
	if (kind == STACK_GUARDED)
		atomic_fetch_sub(&guarded_live, 1);
	return NULL;
}

static void stack_unmap(struct stack_header *h)
{
	if (h->kind == STACK_GUARDED)
		atomic_fetch_sub(&guarded_live, 1);
	VALGRIND_STACK_DEREGISTER(h->vg_id);
	munmap(h->map_base, h->map_size);
}

static struct stack_header *pool_get(void)
{
	if (!__atomic_load_n(&pool, __ATOMIC_RELAXED)) /* racy peek; the lock decides */
		return NULL;
	rtlock_lock(&pool_lock);
	struct stack_header *h = pool;
	if (h) {
		pool = h->next;
		pool_len--;
	}
	rtlock_unlock(&pool_lock);
	return h;
}

int stack_acquire(struct p *pp, struct g *g, const struct stack_spec *spec)
{
	if (spec && spec->user_stack) {
		g->stack_kind = STACK_USER;
		g->stack_lo = spec->user_stack;
		g->stack_hi = (char *)spec->user_stack + spec->user_size;
		g->map_size = 0;
		g->stack_guard = 0;
		return 0;
	}
	size_t size = spec && spec->size ? spec->size : default_size;
	size_t guard = spec ? spec->guard : page_size;
	struct stack_header *h = NULL;
	if (size == default_size && guard == page_size) {
		if (pp && pp->stack_cache) {
			h = pp->stack_cache;
			pp->stack_cache = h->next;
			pp->nstack_cache--;
		} else {
			h = pool_get();
		}
	}
	if (!h)
		h = stack_map(size, guard);
	if (!h)
		return -1;
	header_apply(g, h);
	return 0;
}

void stack_release(struct p *pp, struct g *g)
{
	if (g->stack_kind != STACK_GUARDED && g->stack_kind != STACK_CANARY &&
	    g->stack_kind != STACK_BARE) {
		g->stack_kind = STACK_NONE;
		return;
	}
	struct stack_header *h = (struct stack_header *)g->stack_hi;
	g->stack_kind = STACK_NONE;
	if (!h->poolable) {
		stack_unmap(h);
		return;
	}
	if (pp && pp->nstack_cache < P_CACHE_MAX) {
		h->next = pp->stack_cache;
		pp->stack_cache = h;
		pp->nstack_cache++;
		return;
	}
	/* Past the hot few, give the pages back (all but the header's) before
	 * the stack becomes visible to others: once it is in the pool another
	 * G may be running on it. The racy length read only picks which
	 * stacks stay hot. */
	if (__atomic_load_n(&pool_len, __ATOMIC_RELAXED) >= POOL_KEEP_HOT) {
		char *lo = h->map_base + h->guard;
		char *hdr_page = (char *)((uintptr_t)h & ~(uintptr_t)(page_size - 1));
		if (hdr_page > lo)
			madvise(lo, (size_t)(hdr_page - lo), MADV_DONTNEED);
	}
	rtlock_lock(&pool_lock);
	h->next = pool;
	pool = h;
	pool_len++;
	rtlock_unlock(&pool_lock);
}

void stack_alloc_g0(void **lo, size_t *size)
{
	struct stack_header *h = stack_map(1u << 20, page_size);
	if (!h)
		sched_fatal("cannot map M0's scheduler stack");
	*lo = h->map_base + h->guard;
	*size = (size_t)((char *)h - (char *)*lo);
}

void stack_describe_main(struct g *g)
{
	/* The process stack as glibc describes it: RLIMIT_STACK below its top. */
	void *lo;
	size_t size;
	os_thread_stack(&lo, &size);
	g->stack_lo = lo;
	g->stack_hi = (char *)lo + size;
	g->map_size = 0;
}

/* fork's child: a parent thread may have held the pool's lock. */
void stack_after_fork(void)
{
	memset(&pool_lock, 0, sizeof pool_lock);
}
