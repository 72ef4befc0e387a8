/* sched/tcb_glibc.c - per-G thread control blocks in glibc 2.36's layout.
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
 * Offsets are glibc 2.36's for x86-64. tcb_init checks each one it can
 * against the main thread (glibc's libthread_db descriptors, the kernel's
 * robust-list and rseq registrations, the values glibc stores for the main
 * thread) and refuses any other glibc version. */
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
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

/* struct pthread, glibc 2.36, x86-64. */
#define PT_SIZE		     2368
#define PT_HDR_TCB	     0
#define PT_HDR_SELF	     16
#define PT_HDR_MULTI	     24
#define PT_HDR_SYSINFO	     32
#define PT_HDR_STACK_GUARD   40
#define PT_HDR_PTR_GUARD     48
#define PT_HDR_FEATURE_1     72
#define PT_LIST		     704
#define PT_TID		     720
#define PT_ROBUST_HEAD	     736 /* list, futex_offset, list_op_pending */
#define PT_CLEANUP_JMP_BUF   768 /* the innermost cleanup/cancel buffer */
#define PT_CANCELHANDLING    776
#define PT_SPECIFIC_1ST	     784
#define PT_SPECIFIC	     1296
#define PT_START_ROUTINE     1592
#define PT_STACKBLOCK	     1680
#define PT_STACKBLOCK_SIZE   1688
#define PT_GUARDSIZE	     1696
#define PT_REP_GUARDSIZE     1704
#define PT_RES		     1720
#define PT_RES_SIZE	     568
#define RSEQ_AREA_SIZE	     32
#define RSEQ_CPU_ID	     4
#define RSEQ_NOT_REGISTERED  (-2) /* RSEQ_CPU_ID_REGISTRATION_FAILED */
#define RSEQ_SIG	     0x53053053
#define RSEQ_FLAG_UNREGISTER 1

/* libc's own TLS block is at most this big (0x90 in 2.36). */
#define LIBC_TLS_MAX 512

typedef void *(*allocate_tls_fn)(void *);
typedef void (*deallocate_tls_fn)(void *, bool);
typedef void (*call_tls_dtors_fn)(void);

static struct {
	allocate_tls_fn allocate;
	deallocate_tls_fn deallocate;
	call_tls_dtors_fn call_tls_dtors;
	char *main_tp;
	ptrdiff_t rseq_off;
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

extern const unsigned int __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));
extern void *__libc_stack_end;

#define FIELD(tp, off, type) (*(type *)((char *)(tp) + (off)))

ptrdiff_t tcb_offset_of(const void *tls_var)
{
	return (const char *)tls_var - (const char *)arch_thread_pointer();
}

/* libthread_db's descriptor for a struct pthread field: {bits, count,
 * offset}. The size descriptor keeps the size in its first word. */
static bool db_field_is(const char *name, uint32_t want_offset)
{
	const uint32_t *d = dlsym(RTLD_DEFAULT, name);
	return d && d[2] == want_offset;
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
	if (strcmp(gnu_get_libc_version(), "2.36") != 0) {
		*why = "it supports glibc 2.36 only";
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
	const uint32_t *size = dlsym(RTLD_DEFAULT, "_thread_db_sizeof_pthread");
	if (!size || size[0] != PT_SIZE || !db_field_is("_thread_db_pthread_tid", PT_TID) ||
	    !db_field_is("_thread_db_pthread_list", PT_LIST) ||
	    !db_field_is("_thread_db_pthread_specific", PT_SPECIFIC) ||
	    !db_field_is("_thread_db_pthread_cancelhandling", PT_CANCELHANDLING) ||
	    !db_field_is("_thread_db_pthread_start_routine", PT_START_ROUTINE)) {
		*why = "glibc's struct pthread has an unexpected layout";
		return false;
	}
	void *robust = NULL;
	size_t robust_len = 0;
	if (FIELD(tp, PT_HDR_TCB, char *) != tp || FIELD(tp, PT_HDR_SELF, char *) != tp ||
	    FIELD(tp, PT_TID, pid_t) != (pid_t)raw_syscall(SYS_gettid) ||
	    FIELD(tp, PT_STACKBLOCK_SIZE, size_t) != (size_t)__libc_stack_end ||
	    raw_syscall(SYS_get_robust_list, 0, &robust, &robust_len) != 0 ||
	    robust != tp + PT_ROBUST_HEAD ||
	    FIELD(tp, PT_ROBUST_HEAD, char *) != tp + PT_ROBUST_HEAD) {
		*why = "the main thread's control block does not match glibc 2.36's layout";
		return false;
	}
	tcb.robust_futex_offset = FIELD(tp, PT_ROBUST_HEAD + 8, int64_t);
	/* Where __pthread_register_cancel (pthread_cleanup_push) links a
	 * buffer, and that unregistering puts back what was there. */
	void *chain = FIELD(tp, PT_CLEANUP_JMP_BUF, void *);
	__pthread_unwind_buf_t scratch;
	__pthread_register_cancel(&scratch);
	bool linked = FIELD(tp, PT_CLEANUP_JMP_BUF, void *) == &scratch;
	__pthread_unregister_cancel(&scratch);
	if (!linked || FIELD(tp, PT_CLEANUP_JMP_BUF, void *) != chain) {
		*why = "glibc's cleanup chain is not where expected";
		return false;
	}
	if (&__rseq_offset == NULL || __rseq_offset + RSEQ_AREA_SIZE > PT_SIZE) {
		*why = "glibc's rseq area is not where expected";
		return false;
	}
	tcb.rseq_off = (ptrdiff_t)__rseq_offset;
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
	FIELD(t, PT_HDR_TCB, char *) = t;
	FIELD(t, PT_HDR_SELF, char *) = t;
	/* malloc, stdio and the syscall wrappers take their atomic or
	 * locking paths only when this is set. */
	FIELD(t, PT_HDR_MULTI, int) = 1;
	FIELD(t, PT_HDR_SYSINFO, uintptr_t) = FIELD(main, PT_HDR_SYSINFO, uintptr_t);
	FIELD(t, PT_HDR_STACK_GUARD, uintptr_t) = FIELD(main, PT_HDR_STACK_GUARD, uintptr_t);
	FIELD(t, PT_HDR_PTR_GUARD, uintptr_t) = FIELD(main, PT_HDR_PTR_GUARD, uintptr_t);
	FIELD(t, PT_HDR_FEATURE_1, uint32_t) = FIELD(main, PT_HDR_FEATURE_1, uint32_t);
	/* A list of its own: fork's stack reclaim unlinks the caller. */
	FIELD(t, PT_LIST, char *) = t + PT_LIST;
	FIELD(t, PT_LIST + 8, char *) = t + PT_LIST;
	FIELD(t, PT_ROBUST_HEAD, char *) = t + PT_ROBUST_HEAD;
	FIELD(t, PT_ROBUST_HEAD + 8, int64_t) = tcb.robust_futex_offset;
	FIELD(t, PT_ROBUST_HEAD + 16, void *) = NULL;
	FIELD(t, PT_SPECIFIC, char *) = t + PT_SPECIFIC_1ST;
	FIELD(t, tcb.rseq_off + RSEQ_CPU_ID, int32_t) = RSEQ_NOT_REGISTERED;
	/* Each thread's own resolver state, as start_thread sets it. */
	FIELD(t, tcb.resp_off, char *) = t + PT_RES;
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
	memset(t + PT_RES, 0, PT_RES_SIZE);
	memset(t + PT_SPECIFIC_1ST, 0, PT_SPECIFIC - PT_SPECIFIC_1ST);
	memset(t + PT_SPECIFIC + 8, 0, 31 * sizeof(void *));
	fill_header(t);
}

void tcb_set_stack(void *tp, void *lo, size_t size, size_t guard)
{
	FIELD(tp, PT_STACKBLOCK, char *) = (char *)lo - guard;
	FIELD(tp, PT_STACKBLOCK_SIZE, size_t) = size + guard;
	FIELD(tp, PT_GUARDSIZE, size_t) = guard;
	FIELD(tp, PT_REP_GUARDSIZE, size_t) = guard;
}

void tcb_mark_multithreaded(void *tp)
{
	FIELD(tp, PT_HDR_MULTI, int) = 1;
}

#define PT_CLEANUP 760 /* the old-style cleanup list (_pthread_cleanup_push) */

void **tcb_cleanup_list(void)
{
	return (void **)((char *)arch_thread_pointer() + PT_CLEANUP);
}

void *tcb_cleanup_chain(void)
{
	return FIELD(arch_thread_pointer(), PT_CLEANUP_JMP_BUF, void *);
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
	void **link = &FIELD(tp, PT_CLEANUP_JMP_BUF, void *);
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
	FIELD(tp, PT_TID, pid_t) = tid;
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
	if (&__rseq_size != NULL && __rseq_size > 0) {
		int32_t *area = (int32_t *)(t + tcb.rseq_off);
		if (raw_syscall(SYS_rseq, area, __rseq_size, RSEQ_FLAG_UNREGISTER, RSEQ_SIG) != 0)
			raw_syscall(SYS_rseq, area, RSEQ_AREA_SIZE, RSEQ_FLAG_UNREGISTER, RSEQ_SIG);
	}
	FIELD(t, tcb.rseq_off + RSEQ_CPU_ID, int32_t) = RSEQ_NOT_REGISTERED;
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
