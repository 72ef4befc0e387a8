/* sched/tcb_glibc.c - per-G thread control blocks in glibc's layout.
 *
 * The dynamic loader allocates and fills the TLS blocks (_dl_allocate_tls,
 * GLIBC_PRIVATE, the function glibc's own pthread_create uses), so modules
 * loaded at start-up, dlopened static-TLS modules and dynamic TLS all come
 * out as for a glibc thread. What glibc's pthread_create then writes into
 * struct pthread, gmpt writes here: the header words the compiler and libc
 * read through %fs (self pointers, stack and pointer guards, CET feature
 * bits, multiple_threads), the list and robust-list heads, the key block
 * pointer, the stack block, and rseq's cpu_id set to "not registered" so
 * sched_getcpu asks the kernel (the kernel only updates the rseq area of
 * each kernel thread's own TCB, and a G moves between them).
 *
 * struct pthread changes between glibc versions (2.31 to 2.43 here: fields
 * added, removed, the rseq area moved into static TLS in 2.41), so
 * tcb_init finds each field gmpt touches in the running glibc, from the
 * main thread and the kernel (see find_layout), and checks what it can
 * against libthread_db's descriptors where glibc exports them (2.34 on).
 * What it cannot find it takes from the one fact every version in the
 * range shares, the order of neighbouring fields (LAYOUT_ORDER below). */
#include "sched/tcb.h"
#include "arch/arch.h"
#include "arch/syscall.h"
#include "sched/lock.h"
#include "sched/sched.h"

#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <gnu/libc-version.h>
#include <link.h>
#include <locale.h>
#include <pthread.h>
#include <resolv.h> /* struct __res_state */
#undef p_type /* resolv.h's alias of __p_type, not Elf64_Phdr's member */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

/* The glibc versions whose struct pthread the derivation below was
 * checked against (nptl/descr.h of each), and built and tested on (Debian
 * bullseye 2.31, bookworm 2.36, trixie 2.41, sid 2.43: scripts/glibc-root).
 * Outside the range, gmpt shares TLS rather than guess. */
#define GLIBC_MINOR_MIN 31
#define GLIBC_MINOR_MAX 43

/* tcbhead_t, struct pthread's first member: its layout is ABI (compilers
 * read the stack guard at %fs:0x28; glibc asserts the offsets), the same
 * in every version. */
#define HDR_TCB		0
#define HDR_SELF	16
#define HDR_MULTI	24
#define HDR_SYSINFO	32
#define HDR_STACK_GUARD 40
#define HDR_PTR_GUARD	48
#define HDR_FEATURE_1	72
#define HDR_END		0x80

/* LAYOUT_ORDER: neighbours in struct pthread, in every version from 2.31
 * to 2.43 (x86-64, where __PTHREAD_MUTEX_HAVE_PREV):
 *   list (2 words), tid (4 bytes, then 4 unused), robust_prev,
 *   robust_head (3 words: list, futex_offset, list_op_pending)
 *   cleanup, cleanup_jmp_buf, cancelhandling
 *   specific_1stblock (32 x 16 bytes), specific (32 words)
 *   stackblock, stackblock_size, guardsize, reported_guardsize, tpp, res
 * Each group is found at run time by one of its members. */
#define LIST_FROM_ROBUST     (-32)
#define TID_FROM_ROBUST	     (-16)
#define PREV_FROM_ROBUST     (-8)
#define CANCELH_FROM_JMPBUF  8
#define CLEANUP_FROM_JMPBUF  (-8)
#define SPECIFIC_1ST_BYTES   (32 * 16)
#define SPECIFIC_WORDS	     32
#define STACKBLOCK_FROM_SIZE (-8)
#define GUARD_FROM_SIZE	     8
#define REP_GUARD_FROM_SIZE  16
#define RES_FROM_SIZE	     32

/* Every struct pthread from 2.31 on is larger than this (2.31's is 2304
 * bytes): the main thread's may be read this far. */
#define PT_SCAN_END 2048

#define RSEQ_AREA_SIZE	     32
#define RSEQ_CPU_ID	     4
#define RSEQ_NOT_REGISTERED  (-2) /* RSEQ_CPU_ID_REGISTRATION_FAILED */
#define RSEQ_SIG	     0x53053053
#define RSEQ_FLAG_UNREGISTER 1

/* libc's own TLS block is at most this big (0x90 in 2.36). */
#define LIBC_TLS_MAX 512

/* Where the fields are in the running glibc (offsets from the thread
 * pointer), found by tcb_init. */
static struct {
	ptrdiff_t list, tid, robust_prev, robust_head;
	ptrdiff_t cleanup, cleanup_jmp_buf, cancelhandling;
	ptrdiff_t specific_1st, specific;
	ptrdiff_t stackblock, stackblock_size, guardsize, reported_guardsize, res;
	bool has_rseq; /* glibc registers rseq (2.35 on) */
	ptrdiff_t rseq;
} pt;

typedef void *(*allocate_tls_fn)(void *);
typedef void (*deallocate_tls_fn)(void *, bool);
typedef void (*call_tls_dtors_fn)(void);

static struct {
	allocate_tls_fn allocate;
	deallocate_tls_fn deallocate;
	call_tls_dtors_fn call_tls_dtors;
	char *main_tp;
	ptrdiff_t resp_off; /* libc's __resp: the thread's resolver state */
	ptrdiff_t errno_off;
	ptrdiff_t libc_tls_off; /* libc's static TLS block */
	size_t libc_tls_size;
	int64_t robust_futex_offset;
	/* struct link_map's l_tls_offset word (l_tls_modid follows it). */
	size_t lm_tls_offset_word;
	/* Every TCB made (see tcb_after_dlopen), and per TLS module id the
	 * link_map whose static block every TCB has (module ids are reused
	 * after dlclose). */
	struct rtlock lock;
	char **all;
	size_t nall, capall;
	const void **static_done;
	size_t nstatic_done;
} tcb;

/* glibc 2.35 on: where the rseq area is, and the size registered (0: not
 * registered). Weak: a build on an older glibc uses them where they are. */
extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));
extern void *__libc_stack_end;
extern void _dl_get_tls_static_info(size_t *size, size_t *align) __attribute__((weak));

#define FIELD(tp, off, type) (*(type *)((char *)(tp) + (off)))

ptrdiff_t tcb_offset_of(const void *tls_var)
{
	return (const char *)tls_var - (const char *)arch_thread_pointer();
}

/* libthread_db's descriptor for a struct pthread field: {bits, count,
 * offset}, exported by libc from 2.34 on (2.31's libpthread has them in
 * its symbol table only): absent, or the offset found. */
static bool db_field_agrees(const char *name, ptrdiff_t found)
{
	const uint32_t *d = dlsym(RTLD_DEFAULT, name);
	return !d || (ptrdiff_t)d[2] == found;
}

/* The one word-aligned offset in [from, to) of the main thread's TCB that
 * holds v; false if none or several do. Reads only. */
static bool find_word(const char *tp, ptrdiff_t from, ptrdiff_t to, uintptr_t v, ptrdiff_t *at)
{
	int hits = 0;
	for (ptrdiff_t off = from; off + 8 <= to; off += 8)
		if (FIELD(tp, off, uintptr_t) == v) {
			*at = off;
			hits++;
		}
	return hits == 1;
}

/* The one word-aligned offset in [from, to) that holds a pointer to
 * `back` bytes below itself (specific[0], pointing at specific_1stblock). */
static bool find_self_relative(const char *tp, ptrdiff_t from, ptrdiff_t to, ptrdiff_t back,
			       ptrdiff_t *at)
{
	int hits = 0;
	for (ptrdiff_t off = from; off + 8 <= to; off += 8)
		if (FIELD(tp, off, const char *) == tp + off - back) {
			*at = off;
			hits++;
		}
	return hits == 1;
}

typedef void (*cleanup_push_fn)(struct _pthread_cleanup_buffer *, void (*)(void *), void *);
typedef void (*cleanup_pop_fn)(struct _pthread_cleanup_buffer *, int);

static void no_cleanup(void *arg)
{
	(void)arg;
}

/* Finds the fields of struct pthread gmpt uses in the main thread's TCB,
 * each by something only that field holds: the robust list head the
 * kernel has registered (glibc registers the main thread's at start-up;
 * 2.31's libpthread, which gmpt links, at its own), the buffers
 * __pthread_register_cancel and _pthread_cleanup_push link, the key block
 * pointer that points just below itself, the stack block size glibc sets
 * to __libc_stack_end. The rest follows by LAYOUT_ORDER. */
static bool find_layout(char *tp, const char **why)
{
	void *robust = NULL;
	size_t robust_len = 0;
	if (raw_syscall(SYS_get_robust_list, 0, &robust, &robust_len) != 0 ||
	    (char *)robust < tp + HDR_END || (char *)robust + 24 > tp + PT_SCAN_END ||
	    FIELD(robust, 0, void *) != robust) {
		*why = "the main thread's robust list is not in its control block";
		return false;
	}
	pt.robust_head = (char *)robust - tp;
	pt.robust_prev = pt.robust_head + PREV_FROM_ROBUST;
	pt.tid = pt.robust_head + TID_FROM_ROBUST;
	pt.list = pt.robust_head + LIST_FROM_ROBUST;
	if (FIELD(tp, pt.tid, pid_t) != (pid_t)raw_syscall(SYS_gettid) ||
	    FIELD(tp, pt.robust_prev, void *) != robust || !FIELD(tp, pt.list, void *) ||
	    !FIELD(tp, pt.list + 8, void *)) {
		*why = "the fields around the main thread's robust list are not as expected";
		return false;
	}

	/* Where __pthread_register_cancel (pthread_cleanup_push) links a
	 * buffer, and that unregistering puts back what was there. */
	__pthread_unwind_buf_t scratch;
	__pthread_register_cancel(&scratch);
	bool found = find_word(tp, pt.robust_head + 24, PT_SCAN_END, (uintptr_t)&scratch,
			       &pt.cleanup_jmp_buf);
	__pthread_unregister_cancel(&scratch);
	if (!found || FIELD(tp, pt.cleanup_jmp_buf, void *) == &scratch) {
		*why = "glibc's cleanup chain was not found";
		return false;
	}
	pt.cancelhandling = pt.cleanup_jmp_buf + CANCELH_FROM_JMPBUF;
	pt.cleanup = pt.cleanup_jmp_buf + CLEANUP_FROM_JMPBUF;
	/* The old-style list: glibc's own _pthread_cleanup_push (gmpt exports
	 * only the _defer variant) links there. */
	cleanup_push_fn push = (cleanup_push_fn)dlsym(RTLD_DEFAULT, "_pthread_cleanup_push");
	cleanup_pop_fn pop = (cleanup_pop_fn)dlsym(RTLD_DEFAULT, "_pthread_cleanup_pop");
	if (!push || !pop) {
		*why = "glibc's _pthread_cleanup_push was not found";
		return false;
	}
	struct _pthread_cleanup_buffer old_style;
	void *before = FIELD(tp, pt.cleanup, void *);
	push(&old_style, no_cleanup, NULL);
	found = FIELD(tp, pt.cleanup, void *) == &old_style;
	pop(&old_style, 0);
	if (!found || FIELD(tp, pt.cleanup, void *) != before) {
		*why = "glibc's old-style cleanup list is not where expected";
		return false;
	}

	if (!find_self_relative(tp, pt.cancelhandling + 8, PT_SCAN_END, SPECIFIC_1ST_BYTES,
				&pt.specific)) {
		*why = "the main thread's key block was not found";
		return false;
	}
	pt.specific_1st = pt.specific - SPECIFIC_1ST_BYTES;

	if (!find_word(tp, pt.specific + SPECIFIC_WORDS * 8, PT_SCAN_END,
		       (uintptr_t)__libc_stack_end, &pt.stackblock_size) ||
	    FIELD(tp, pt.stackblock_size + STACKBLOCK_FROM_SIZE, void *) != NULL) {
		*why = "the main thread's stack block was not found";
		return false;
	}
	pt.stackblock = pt.stackblock_size + STACKBLOCK_FROM_SIZE;
	pt.guardsize = pt.stackblock_size + GUARD_FROM_SIZE;
	pt.reported_guardsize = pt.stackblock_size + REP_GUARD_FROM_SIZE;
	pt.res = pt.stackblock_size + RES_FROM_SIZE;

	/* From 2.34 glibc exports libthread_db's view: it must agree. */
	const uint32_t *size = dlsym(RTLD_DEFAULT, "_thread_db_sizeof_pthread");
	if (!db_field_agrees("_thread_db_pthread_list", pt.list) ||
	    !db_field_agrees("_thread_db_pthread_tid", pt.tid) ||
	    !db_field_agrees("_thread_db_pthread_cancelhandling", pt.cancelhandling) ||
	    !db_field_agrees("_thread_db_pthread_specific", pt.specific) ||
	    (size && (size_t)pt.res + sizeof(struct __res_state) > size[0])) {
		*why = "glibc's libthread_db descriptors disagree with the layout found";
		return false;
	}

	/* The rseq area (2.35 on): in struct pthread (to 2.40) or in the
	 * static TLS below the thread pointer (2.41 on). Registered, it holds
	 * the CPU number the kernel keeps there. */
	if (&__rseq_offset && &__rseq_size) {
		size_t static_size = 0, static_align = 0;
		if (_dl_get_tls_static_info)
			_dl_get_tls_static_info(&static_size, &static_align);
		ptrdiff_t off = __rseq_offset;
		bool inside = size && off >= HDR_END && (size_t)off + RSEQ_AREA_SIZE <= size[0];
		bool below = off < 0 && (size_t)-off <= static_size;
		if ((!inside && !below) ||
		    (__rseq_size > 0 && FIELD(tp, off + RSEQ_CPU_ID, int32_t) < 0)) {
			*why = "glibc's rseq area is not where expected";
			return false;
		}
		pt.has_rseq = true;
		pt.rseq = off;
	}
	return true;
}

static bool glibc_in_range(void)
{
	int major = 0, minor = 0;
	return sscanf(gnu_get_libc_version(), "%d.%d", &major, &minor) == 2 && major == 2 &&
	       minor >= GLIBC_MINOR_MIN && minor <= GLIBC_MINOR_MAX;
}

struct libc_block_search {
	uintptr_t errno_addr;
	uintptr_t lo;
	size_t size;
};

static int find_libc_block(struct dl_phdr_info *info, size_t len, void *p)
{
	(void)len;
	struct libc_block_search *s = p;
	if (!info->dlpi_tls_data)
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = (uintptr_t)info->dlpi_tls_data;
		if (ph->p_type == PT_TLS && s->errno_addr >= lo &&
		    s->errno_addr < lo + ph->p_memsz) {
			s->lo = lo;
			s->size = ph->p_memsz;
			return 1;
		}
	}
	return 0;
}

/* ---- static TLS of modules dlopened while Gs exist ----
 *
 * glibc initialises a dlopened module's static TLS block in every thread
 * on its lists; G TCBs are on none, so gmpt does it for them after each
 * dlopen. Which modules got static TLS, and where, is in struct link_map's
 * private part: l_tls_offset (block = thread pointer - offset) and
 * l_tls_modid, found at start-up by looking for the values two modules
 * known to have static TLS (libc and gmpt) must hold. */
#define LM_SEARCH_WORDS	      160
#define TLS_OFFSET_NONE	      0
#define TLS_OFFSET_FORCED_DYN ((size_t)-1)

struct tls_module {
	size_t modid;
	uintptr_t base; /* dlpi_addr */
	uintptr_t data; /* this thread's block, or 0 */
	const char *image;
	size_t filesz, memsz;
};

struct module_search {
	size_t modid;	/* find by id, or */
	uintptr_t data; /* by an address in the calling thread's block */
	struct tls_module found;
};

static int find_tls_module(struct dl_phdr_info *info, size_t len, void *p)
{
	(void)len;
	struct module_search *s = p;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_TLS)
			continue;
		uintptr_t lo = (uintptr_t)info->dlpi_tls_data;
		bool hit = s->modid ? info->dlpi_tls_modid == s->modid
				    : lo && s->data >= lo && s->data < lo + ph->p_memsz;
		if (!hit)
			return 0;
		s->found = (struct tls_module){
		    .modid = info->dlpi_tls_modid,
		    .base = info->dlpi_addr,
		    .data = lo,
		    .image = (const char *)(info->dlpi_addr + ph->p_vaddr),
		    .filesz = ph->p_filesz,
		    .memsz = ph->p_memsz,
		};
		return 1;
	}
	return 0;
}

static bool module_of(size_t modid, uintptr_t data, struct tls_module *out)
{
	struct module_search s = {.modid = modid, .data = data};
	if (!dl_iterate_phdr(find_tls_module, &s))
		return false;
	*out = s.found;
	return true;
}

static const size_t *link_map_of(uintptr_t base)
{
	for (struct link_map *l = _r_debug.r_map; l; l = l->l_next)
		if (l->l_addr == base)
			return (const size_t *)l;
	return NULL;
}

/* The word index in struct link_map of l_tls_offset, or 0. */
static size_t find_lm_tls_offset_word(const struct tls_module *a, const struct tls_module *b)
{
	const size_t *la = link_map_of(a->base), *lb = link_map_of(b->base);
	if (!la || !lb)
		return 0;
	uintptr_t tp = (uintptr_t)arch_thread_pointer();
	for (size_t w = 4; w + 1 < LM_SEARCH_WORDS; w++)
		if (la[w] == tp - a->data && la[w + 1] == a->modid && lb[w] == tp - b->data &&
		    lb[w + 1] == b->modid)
			return w;
	return 0;
}

static void note_static_done(size_t modid, const void *map)
{
	if (modid >= tcb.nstatic_done) {
		size_t n = modid * 2 + 16;
		const void **grown = realloc(tcb.static_done, n * sizeof *grown);
		if (!grown)
			sched_fatal("out of memory tracking TLS modules");
		memset(grown + tcb.nstatic_done, 0, (n - tcb.nstatic_done) * sizeof *grown);
		tcb.static_done = grown;
		tcb.nstatic_done = n;
	}
	tcb.static_done[modid] = map;
}

/* Walks the loaded modules; with init, gives every TCB the static blocks
 * of modules it has not had yet. */
static void sync_static_tls(bool init)
{
	for (struct link_map *l = _r_debug.r_map; l; l = l->l_next) {
		const size_t *w = (const size_t *)l;
		size_t off = w[tcb.lm_tls_offset_word], modid = w[tcb.lm_tls_offset_word + 1];
		if (modid == 0 || off == TLS_OFFSET_NONE || off == TLS_OFFSET_FORCED_DYN)
			continue;
		if (modid < tcb.nstatic_done && tcb.static_done[modid] == l)
			continue;
		note_static_done(modid, l);
		struct tls_module m;
		if (!init || !module_of(modid, 0, &m))
			continue;
		for (size_t i = 0; i < tcb.nall; i++) {
			char *block = tcb.all[i] - off;
			memcpy(block, m.image, m.filesz);
			memset(block + m.filesz, 0, m.memsz - m.filesz);
		}
	}
}

void tcb_after_dlopen(void)
{
	if (!tcb.lm_tls_offset_word)
		return;
	rtlock_lock(&tcb.lock);
	sync_static_tls(true);
	rtlock_unlock(&tcb.lock);
}

/* A module's record goes when its link_map leaves the list: glibc may
 * reuse both the link_map's memory and the module id for the next
 * library, or the same one loaded again, whose block must then be
 * initialised again in every TCB. Checked after each dlclose; a dlopen in
 * another thread that reloads the same library in the window between the
 * unload and this check would find its record still there (two threads
 * racing to unload and reload one library). */
void tcb_after_dlclose(void)
{
	if (!tcb.lm_tls_offset_word)
		return;
	rtlock_lock(&tcb.lock);
	for (size_t modid = 0; modid < tcb.nstatic_done; modid++) {
		const void *map = tcb.static_done[modid];
		if (!map)
			continue;
		bool loaded = false;
		for (struct link_map *l = _r_debug.r_map; l && !loaded; l = l->l_next)
			loaded = (const void *)l == map &&
				 ((const size_t *)l)[tcb.lm_tls_offset_word + 1] == modid;
		if (!loaded)
			tcb.static_done[modid] = NULL;
	}
	rtlock_unlock(&tcb.lock);
}

static void remember(char *t)
{
	rtlock_lock(&tcb.lock);
	if (tcb.nall == tcb.capall) {
		size_t n = tcb.capall ? tcb.capall * 2 : 64;
		char **grown = realloc(tcb.all, n * sizeof *grown);
		if (!grown)
			sched_fatal("out of memory tracking thread control blocks");
		tcb.all = grown;
		tcb.capall = n;
	}
	tcb.all[tcb.nall++] = t;
	rtlock_unlock(&tcb.lock);
}

bool tcb_init(const char **why)
{
	char *tp = arch_thread_pointer();
	tcb.main_tp = tp;
	if (!glibc_in_range()) {
		*why = "gmpt knows glibc 2.31 to 2.43 only";
		return false;
	}
	tcb.allocate = (allocate_tls_fn)dlvsym(RTLD_DEFAULT, "_dl_allocate_tls", "GLIBC_PRIVATE");
	tcb.deallocate =
	    (deallocate_tls_fn)dlvsym(RTLD_DEFAULT, "_dl_deallocate_tls", "GLIBC_PRIVATE");
	tcb.call_tls_dtors = (call_tls_dtors_fn)dlsym(RTLD_DEFAULT, "__call_tls_dtors");
	if (!tcb.allocate || !tcb.deallocate || !tcb.call_tls_dtors) {
		*why = "the dynamic loader does not export its TLS allocator";
		return false;
	}
	if (FIELD(tp, HDR_TCB, char *) != tp || FIELD(tp, HDR_SELF, char *) != tp) {
		*why = "the main thread's control block header is not glibc's";
		return false;
	}
	if (!find_layout(tp, why))
		return false;
	tcb.robust_futex_offset = FIELD(tp, pt.robust_head + 8, int64_t);
	void **resp = dlsym(RTLD_DEFAULT, "__resp");
	struct libc_block_search s = {.errno_addr = (uintptr_t)&errno};
	if (!resp || !dl_iterate_phdr(find_libc_block, &s) || s.size > LIBC_TLS_MAX ||
	    (uintptr_t)resp < s.lo || (uintptr_t)resp >= s.lo + s.size) {
		*why = "libc's TLS block was not found";
		return false;
	}
	tcb.resp_off = (char *)resp - tp;
	tcb.errno_off = (char *)&errno - tp;
	tcb.libc_tls_off = (char *)s.lo - tp;
	tcb.libc_tls_size = s.size;

	static __thread char probe __attribute__((tls_model("initial-exec")));
	struct tls_module libc_mod, gmpt_mod;
	if (!module_of(0, s.lo, &libc_mod) || !module_of(0, (uintptr_t)&probe, &gmpt_mod) ||
	    !(tcb.lm_tls_offset_word = find_lm_tls_offset_word(&libc_mod, &gmpt_mod))) {
		*why = "the loader's module list does not have the expected layout";
		return false;
	}
	sync_static_tls(false);
	return true;
}

/* The fields glibc's pthread_create sets in a new struct pthread. */
static void fill_header(char *t)
{
	const char *main = tcb.main_tp;
	FIELD(t, HDR_TCB, char *) = t;
	FIELD(t, HDR_SELF, char *) = t;
	/* malloc, stdio and the syscall wrappers take their atomic or
	 * locking paths only when this is set. */
	FIELD(t, HDR_MULTI, int) = 1;
	FIELD(t, HDR_SYSINFO, uintptr_t) = FIELD(main, HDR_SYSINFO, uintptr_t);
	FIELD(t, HDR_STACK_GUARD, uintptr_t) = FIELD(main, HDR_STACK_GUARD, uintptr_t);
	FIELD(t, HDR_PTR_GUARD, uintptr_t) = FIELD(main, HDR_PTR_GUARD, uintptr_t);
	FIELD(t, HDR_FEATURE_1, uint32_t) = FIELD(main, HDR_FEATURE_1, uint32_t);
	/* A list of its own: fork's stack reclaim unlinks the caller. */
	FIELD(t, pt.list, char *) = t + pt.list;
	FIELD(t, pt.list + 8, char *) = t + pt.list;
	FIELD(t, pt.robust_prev, char *) = t + pt.robust_head;
	FIELD(t, pt.robust_head, char *) = t + pt.robust_head;
	FIELD(t, pt.robust_head + 8, int64_t) = tcb.robust_futex_offset;
	FIELD(t, pt.robust_head + 16, void *) = NULL;
	FIELD(t, pt.specific, char *) = t + pt.specific_1st;
	if (pt.has_rseq)
		FIELD(t, pt.rseq + RSEQ_CPU_ID, int32_t) = RSEQ_NOT_REGISTERED;
	/* Each thread's own resolver state, as start_thread sets it. */
	FIELD(t, tcb.resp_off, char *) = t + pt.res;
}

void *tcb_create(void)
{
	/* NULL: the loader allocates the static TLS area and the zeroed
	 * struct pthread above it, then copies every module's image. */
	char *t = tcb.allocate(NULL);
	if (t) {
		fill_header(t);
		remember(t);
	}
	return t;
}

void tcb_reset(void *tp)
{
	char *t = tp;
	char libc_block[LIBC_TLS_MAX];
	memcpy(libc_block, t + tcb.libc_tls_off, tcb.libc_tls_size);
	/* Frees the dynamic TLS blocks and the DTV, then a fresh DTV and
	 * every module's image again (in place: the TCB is not freed). */
	tcb.deallocate(t, false);
	if (!tcb.allocate(t))
		sched_fatal("out of memory re-initialising a thread's TLS");
	memcpy(t + tcb.libc_tls_off, libc_block, tcb.libc_tls_size);
	FIELD(t, tcb.errno_off, int) = 0;
	memset(t + pt.res, 0, sizeof(struct __res_state));
	memset(t + pt.specific_1st, 0, SPECIFIC_1ST_BYTES);
	memset(t + pt.specific + 8, 0, (SPECIFIC_WORDS - 1) * sizeof(void *));
	fill_header(t);
}

void tcb_set_stack(void *tp, void *lo, size_t size, size_t guard)
{
	FIELD(tp, pt.stackblock, char *) = (char *)lo - guard;
	FIELD(tp, pt.stackblock_size, size_t) = size + guard;
	FIELD(tp, pt.guardsize, size_t) = guard;
	FIELD(tp, pt.reported_guardsize, size_t) = guard;
}

void tcb_mark_multithreaded(void *tp)
{
	FIELD(tp, HDR_MULTI, int) = 1;
}

void **tcb_cleanup_list(void)
{
	return (void **)((char *)arch_thread_pointer() + pt.cleanup);
}

void *tcb_cleanup_chain(void)
{
	return FIELD(arch_thread_pointer(), pt.cleanup_jmp_buf, void *);
}

/* x86-64 glibc's jmp_buf: rbx, rbp, r12-r15, rsp, pc; rbp, rsp and pc
 * mangled with the TCB's pointer guard (PTR_MANGLE: xor, rotate left
 * 17). */
#define JB_PC		  7
#define TCB_POINTER_GUARD 0x30

static uintptr_t ptr_mangle(uintptr_t p, uintptr_t guard)
{
	p ^= guard;
	return (p << 17) | (p >> (64 - 17));
}

bool tcb_chain_end_lands(__pthread_unwind_buf_t *copy, void (*landing)(void))
{
	char *tp = arch_thread_pointer();
	/* The link to the outermost buffer: the thread's own field, or the
	 * prev word (priv.data.prev, __pad[0]) of the buffer inside it. */
	void **link = &FIELD(tp, pt.cleanup_jmp_buf, void *);
	while (*link && ((__pthread_unwind_buf_t *)*link)->__pad[0])
		link = &((__pthread_unwind_buf_t *)*link)->__pad[0];
	__pthread_unwind_buf_t *outermost = *link;
	if (!outermost)
		return false;
	*copy = *outermost;
	copy->__cancel_jmp_buf[0].__cancel_jmp_buf[JB_PC] =
	    (long)ptr_mangle((uintptr_t)landing, FIELD(tp, TCB_POINTER_GUARD, uintptr_t));
	copy->__cancel_jmp_buf[0].__mask_was_saved = 0;
	*link = copy;
	return true;
}

void tcb_set_tid(void *tp, pid_t tid)
{
	FIELD(tp, pt.tid, pid_t) = tid;
}

void tcb_thread_start(void)
{
	/* The previous thread of a pooled TCB may have left its own locale
	 * selected; a new thread starts in the global one. */
	uselocale(LC_GLOBAL_LOCALE);
}

void tcb_thread_exit(void)
{
	tcb.call_tls_dtors();
}

void tcb_adopt_main(void *tp)
{
	char *t = tp;
	if (!pt.has_rseq)
		return; /* glibc before 2.35 registers no rseq area */
	if (__rseq_size > 0) {
		/* Unregistering takes the length registered: __rseq_size, or
		 * 32 where glibc registers more than it reports (2.40 on). */
		int32_t *area = (int32_t *)(t + pt.rseq);
		if (raw_syscall(SYS_rseq, area, __rseq_size, RSEQ_FLAG_UNREGISTER, RSEQ_SIG) != 0)
			raw_syscall(SYS_rseq, area, RSEQ_AREA_SIZE, RSEQ_FLAG_UNREGISTER, RSEQ_SIG);
	}
	FIELD(t, pt.rseq + RSEQ_CPU_ID, int32_t) = RSEQ_NOT_REGISTERED;
}

/* ---- set*id: glibc's SIGSETXID handler on the right TCB ----
 *
 * setuid() and friends change the credentials of every kernel thread:
 * glibc signals each thread on its thread list (SIGSETXID, its internal
 * SIGRTMIN+1) and waits until each has cleared a flag in, and woken a
 * futex of, its own struct pthread, found through %fs. On an M that runs
 * a G, %fs is the G's TCB, which is on no list: the caller would wait
 * forever. So the handler is wrapped: it runs glibc's on the TCB glibc's
 * list names for this kernel thread, then puts the fs base back. */

struct kernel_sigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};

static void (*glibc_setxid)(int, siginfo_t *, void *);
static void *(*setxid_tcb_of_this_thread)(void);

static void setxid_on_listed_tcb(int sig, siginfo_t *si, void *uc)
{
	void *listed = setxid_tcb_of_this_thread();
	void *cur = arch_thread_pointer();
	if (!listed || listed == cur) {
		glibc_setxid(sig, si, uc);
		return;
	}
	arch_tls_set_base(listed);
	glibc_setxid(sig, si, uc);
	arch_tls_set_base(cur);
}

void tcb_wrap_setxid(void *(*listed_tcb)(void))
{
	/* glibc installs its handler in its first pthread_create, which made
	 * our first M; only the thread that made it gets here first. */
	if (glibc_setxid)
		return;
	struct kernel_sigaction ka;
	if (raw_syscall(SYS_rt_sigaction, GLIBC_SIGSETXID, NULL, &ka, sizeof ka.mask) != 0 ||
	    ka.handler == (void *)SIG_DFL || ka.handler == (void *)SIG_IGN ||
	    ka.handler == (void *)setxid_on_listed_tcb)
		return;
	setxid_tcb_of_this_thread = listed_tcb;
	glibc_setxid = (void (*)(int, siginfo_t *, void *))ka.handler;
	ka.handler = (void *)setxid_on_listed_tcb;
	raw_syscall(SYS_rt_sigaction, GLIBC_SIGSETXID, &ka, NULL, sizeof ka.mask);
}
