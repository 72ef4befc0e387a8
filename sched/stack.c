/* sched/stack.c - G stacks.
 *
 * Every stack is its own anonymous mapping:
 *
 *     [guard page(s) PROT_NONE][ usable stack ... ][header][TCB room]
 *      ^map base               ^stack_lo           ^stack_hi        ^top
 *
 * The mapping is the guard plus exactly the size asked for, which is what
 * pthread_getattr_np reports ([stack_lo, top)). As in glibc, whose thread
 * descriptor and static TLS block sit at the top of the thread's stack,
 * the room they take there is not the thread's to use: the G's stack
 * starts that far below the top (stack_reserve), so a thread overflows
 * into its guard page at the depth glibc's would. gmpt's header lives at
 * the bottom of that room, next to the G's first frames, so a parked
 * thread touches one page there, not two; a G's own TCB (per-G TLS) is
 * allocated elsewhere, and the rest of the room stays untouched.
 *
 * A guard page splits the mapping into two VMAs, and vm.max_map_count
 * (65530 by default) caps the VMAs of a process, so guarded stacks are
 * limited to a budget of a quarter of it. Past the budget, stacks have no
 * guard page: then adjacent stacks merge into one VMA and cost nothing
 * against the limit, and a canary word checked at every switch away from
 * the G catches an overflow that reached it (docs/design.md says what
 * that does and does not catch). A canary at stack_lo would cost each
 * thread a page and a page table 8 MiB below its top, the most of what a
 * parked thread costs; so default-size stacks past the budget are mapped
 * in batches, and the canary of each stack but the batch's lowest is the
 * top word of the header of the stack just below it, which its first
 * frames keep resident anyway (an overflow first crosses that stack's
 * unused room, harmlessly).
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
#include "sched/runtime.h"
#include "sched/sysfile.h"
#include "sched/osthread.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <unistd.h>

#ifdef GMPT_HAVE_VALGRIND
#include <valgrind/valgrind.h>
#else
#define VALGRIND_STACK_REGISTER(lo, hi) 0u
#define VALGRIND_STACK_DEREGISTER(id)	((void)(id))
#endif

/* Lives at the bottom of the room at the top of every stack mapping we
 * made (see above), where a parked thread's first frames are: the page
 * that holds it is touched anyway, and the rest of the room is not. */
struct stack_header {
	struct stack_header *next; /* free lists */
	char *map_base;
	size_t map_size;
	size_t guard;
	/* STACK_CANARY: the word an overflow of this stack reaches first
	 * that gmpt checks at every switch (stack_lo's, or the header of
	 * the stack just below in the same batch). */
	const uint64_t *canary_at;
	unsigned vg_id; /* valgrind's stack id */
	uint32_t kind;	/* STACK_GUARDED, STACK_CANARY or STACK_BARE */
	bool poolable;	/* asked for with the default size and guard */
	bool exec;	/* mapped or since made PROT_EXEC */
	/* The header's highest word: what an overflow of the stack mapped
	 * just above this one (in the same batch) writes first, once past
	 * the unused room. */
	uint64_t overflow_canary __attribute__((aligned(8)));
};

#define HEADER_SIZE 64
_Static_assert(sizeof(struct stack_header) == HEADER_SIZE, "stack header size");
_Static_assert(offsetof(struct stack_header, overflow_canary) == HEADER_SIZE - 8,
	       "the canary is the header's highest word");
/* The room at the top of every thread stack (see above): glibc's static
 * TLS size with its thread descriptor, aligned, at least the header. */
static size_t top_reserve = HEADER_SIZE;
#define P_CACHE_MAX   32
#define POOL_KEEP_HOT 64
/* Default-size stacks mapped at once past the guard budget: one mmap
 * instead of CANARY_BATCH, and one page in CANARY_BATCH for their own
 * canaries. */
#define CANARY_BATCH 16

static size_t page_size;
static size_t default_size;
static size_t guard_budget; /* how many guarded stacks may exist */
static _Atomic size_t guarded_live;

/* Once any loaded object asks for an executable stack, as glibc's
 * threads' stacks: PROT_EXEC for every G stack (see stacks_make_exec). */
static _Atomic bool stacks_exec;

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

/* glibc's own figure (ld.so, GLIBC_PRIVATE): the static TLS size it
 * takes from each thread's stack, its descriptor included. */
static void top_reserve_init(void)
{
	typedef void (*static_info_fn)(size_t *, size_t *);
	static_info_fn info =
	    (static_info_fn)dlvsym(RTLD_DEFAULT, "_dl_get_tls_static_info", "GLIBC_PRIVATE");
	size_t size = 0, align = 64;
	if (info)
		info(&size, &align);
	if (align < 64)
		align = 64;
	size = (size + align - 1) & ~(align - 1);
	top_reserve = size > HEADER_SIZE ? size : HEADER_SIZE;
}

/* glibc's reading of an object's PT_GNU_STACK: its flags, or, without
 * one, an executable stack (x86-64's default). The vDSO is the kernel's,
 * not loaded by glibc, and does not count. */
static int wants_exec_stack(struct dl_phdr_info *info, size_t size, void *vdso)
{
	(void)size;
	bool has_note = false, exec = false, is_vdso = false;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_GNU_STACK) {
			has_note = true;
			exec = ph->p_flags & PF_X;
		}
		if (ph->p_type == PT_LOAD && ph->p_offset == 0 && vdso &&
		    info->dlpi_addr + ph->p_vaddr == (uintptr_t)vdso)
			is_vdso = true;
	}
	return !is_vdso && (exec || !has_note);
}

static bool any_object_wants_exec_stack(void)
{
	return dl_iterate_phdr(wants_exec_stack, (void *)getauxval(AT_SYSINFO_EHDR)) != 0;
}

/* Every G stack there is becomes executable. A G may end meanwhile and
 * its stack be unmapped (mprotect then fails, harmlessly) or its address
 * range reused by a new mapping, which then becomes executable too:
 * only more permissive, never wrong for the program. Stacks in caches and
 * the pool are done when taken (stack_acquire), new ones when mapped. */
static void stacks_make_exec(void)
{
	for (struct g *g = atomic_load_explicit(&sched.allg, memory_order_acquire); g;
	     g = g->allg_link) {
		uint32_t st = atomic_load_explicit(&g->status, memory_order_acquire);
		if (st == G_IDLE || st == G_DEAD)
			continue;
		if (g->stack_kind != STACK_GUARDED && g->stack_kind != STACK_CANARY &&
		    g->stack_kind != STACK_BARE)
			continue;
		char *lo = g->stack_lo, *top = g->stack_hi + g->stack_reserve;
		mprotect(lo, (size_t)(top - lo), PROT_READ | PROT_WRITE | PROT_EXEC);
	}
}

void sched_stacks_after_dlopen(void)
{
	if (atomic_load(&stacks_exec) || !any_object_wants_exec_stack())
		return;
	/* Set first: a stack mapped from now on is executable already. */
	if (!atomic_exchange(&stacks_exec, true))
		stacks_make_exec();
}

void stack_init(void)
{
	page_size = (size_t)sysconf(_SC_PAGESIZE);
	top_reserve_init();
	/* An executable that needs it, or a library it was linked with: as
	 * glibc, every thread stack is executable from the start. */
	if (any_object_wants_exec_stack())
		atomic_store(&stacks_exec, true);
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
	g->stack_reserve = (size_t)(h->map_base + h->map_size - (char *)h);
	g->map_size = h->map_size;
	g->stack_guard = h->guard;
	g->stack_canary = h->canary_at;
	/* Its own canary: a pooled stack's pages may have been given back. */
	if (h->kind == STACK_CANARY && h->canary_at == (const uint64_t *)g->stack_lo)
		*(uint64_t *)g->stack_lo = STACK_CANARY_VALUE;
}

/* The header of a stack mapped at base, total bytes with guard. */
static struct stack_header *header_init(char *base, size_t total, size_t guard, uint32_t kind,
					bool poolable, bool exec)
{
	struct stack_header *h = (struct stack_header *)(base + total - top_reserve);
	h->next = NULL;
	h->map_base = base;
	h->map_size = total;
	h->guard = guard;
	h->kind = kind;
	h->poolable = poolable;
	h->exec = exec;
	h->canary_at = (const uint64_t *)(base + guard);
	h->vg_id = VALGRIND_STACK_REGISTER(base + guard, (char *)h);
	return h;
}

static void pool_put(struct stack_header *h);

/* CANARY_BATCH default-size stacks past the guard budget in one mapping,
 * lowest first. Each but the lowest takes as canary the overflow_canary
 * of the one below, whose header sits top_reserve below its own base:
 * the first word of the batch's that an overflow out of the stack above
 * writes once past the unused room. One is returned, the rest go to the
 * pool (they are never unmapped, so a neighbour's header stays where it
 * is). */
static struct stack_header *stack_map_canary_batch(size_t total, bool exec)
{
	char *base =
	    mmap(NULL, total * CANARY_BATCH, PROT_READ | PROT_WRITE | (exec ? PROT_EXEC : 0),
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (base == MAP_FAILED)
		return NULL;
	struct stack_header *below = NULL, *h = NULL;
	for (int i = 0; i < CANARY_BATCH; i++) {
		h = header_init(base + (size_t)i * total, total, 0, STACK_CANARY, true, exec);
		if (below) {
			below->overflow_canary = STACK_CANARY_VALUE;
			h->canary_at = &below->overflow_canary;
			pool_put(below);
		}
		below = h;
	}
	return h;
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
	size_t total = usable + guard;
	bool exec = atomic_load_explicit(&stacks_exec, memory_order_relaxed);
	if (kind == STACK_CANARY && poolable)
		return stack_map_canary_batch(total, exec);
	char *base = mmap(NULL, total, PROT_READ | PROT_WRITE | (exec ? PROT_EXEC : 0),
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (base == MAP_FAILED)
		goto fail;
	if (guard && mprotect(base, guard, PROT_NONE) != 0) {
		munmap(base, total);
		goto fail;
	}
	return header_init(base, total, guard, kind, poolable, exec);
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
		/* glibc puts its descriptor at the top of a user stack too. */
		size_t reserve = spec->user_size > 2 * top_reserve ? top_reserve : 0;
		g->stack_hi = (char *)spec->user_stack + spec->user_size - reserve;
		g->stack_reserve = reserve;
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
	/* A pooled stack from before stacks became executable. */
	if (!h->exec && atomic_load_explicit(&stacks_exec, memory_order_relaxed)) {
		char *lo = h->map_base + h->guard;
		mprotect(lo, (size_t)(h->map_base + h->map_size - lo),
			 PROT_READ | PROT_WRITE | PROT_EXEC);
		h->exec = true;
	}
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
	/* Past the hot few, give the pages back (all but the header's, which
	 * holds the canary of the stack above it in a batch) before the
	 * stack becomes visible to others: once it is in the pool another G
	 * may be running on it. The racy length read only picks which stacks
	 * stay hot. */
	if (__atomic_load_n(&pool_len, __ATOMIC_RELAXED) >= POOL_KEEP_HOT) {
		char *lo = h->map_base + h->guard;
		char *hdr_page = (char *)((uintptr_t)h & ~(uintptr_t)(page_size - 1));
		if (hdr_page > lo)
			madvise(lo, (size_t)(hdr_page - lo), MADV_DONTNEED);
	}
	pool_put(h);
}

static void pool_put(struct stack_header *h)
{
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
	g->stack_reserve = 0;
	g->map_size = 0;
}

/* fork's child: a parent thread may have held the pool's lock. */
void stack_after_fork(void)
{
	memset(&pool_lock, 0, sizeof pool_lock);
}
