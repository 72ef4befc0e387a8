/* sched/tcb.h - a glibc thread control block for every G (per-G TLS).
 *
 * On x86-64 the thread pointer (the fs base) points at glibc's struct
 * pthread, and the static TLS blocks of every module loaded at start-up
 * lie just below it. Giving each G a block of its own, made by the
 * dynamic loader's own TLS allocator, keeps errno, __thread variables and
 * the C++ exception globals private to the G wherever it runs; the
 * scheduler switches the fs base (arch_tls_set_base) with the G.
 *
 * struct pthread is glibc's private type: only the fields below are
 * touched, at offsets checked against the main thread at start-up
 * (tcb_init). Anything unexpected, and gmpt falls back to shared TLS. */
#ifndef GMPT_TCB_H
#define GMPT_TCB_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <pthread.h> /* __pthread_unwind_buf_t */

/* Checks the running glibc and the layout it uses; false (with *why set
 * to a phrase for the notice) if per-G TLS cannot be done safely. Must
 * run on the main thread before any G exists. */
bool tcb_init(const char **why);

/* A new TCB for a G: TLS blocks from their initialisation images, the
 * header fields glibc reads set up. Returns the thread pointer, or NULL if
 * memory ran out. */
void *tcb_create(void);

/* A pooled G's TCB made ready for a new thread: every module's TLS block
 * from its image again (dynamic TLS freed), except libc's own block, whose
 * malloc cache and arena are kept (glibc cannot free them from outside):
 * its errno, locale and resolver pointer are reset instead. */
void tcb_reset(void *tp);

/* The G's stack, for glibc's alloca limits and for pthread_getattr_np. */
void tcb_set_stack(void *tp, void *lo, size_t size, size_t guard);

/* Sets the TCB's multiple_threads word: glibc's single-threaded fast
 * paths (malloc's main arena without atomics) must end in every thread. */
void tcb_mark_multithreaded(void *tp);

/* The kernel thread id glibc reads as the thread's tid (the M running the
 * G: written at every switch-in). */
void tcb_set_tid(void *tp, pid_t tid);

/* The calling thread's innermost cleanup buffer (pthread_cleanup_push,
 * glibc's __pthread_register_cancel), where a forced unwind starts. */
void *tcb_cleanup_chain(void);

/* Makes the calling thread's outermost cleanup buffer (glibc's own, in
 * the frame that called main) end elsewhere: it is replaced by *copy,
 * the same buffer but for its jump target, landing. glibc's forced
 * unwind then unwinds exactly the frames it would, running their
 * handlers, and jumps to landing with the stack pointer of that frame
 * (16-byte aligned, as after a return: landing must realign). False if
 * the chain is empty. */
bool tcb_chain_end_lands(__pthread_unwind_buf_t *copy, void (*landing)(void));

/* The calling thread's old-style cleanup list head (struct
 * _pthread_cleanup_buffer *), which glibc's unwind runs too. */
void **tcb_cleanup_list(void);

/* On the G's own TCB, before the program's start routine: the global
 * locale and its ctype tables, as glibc's start_thread sets them. */
void tcb_thread_start(void);
/* On the G's own TCB, when the thread ends: thread_local destructors
 * (__cxa_thread_atexit), as glibc runs them before key destructors. */
void tcb_thread_exit(void);

/* The main thread keeps glibc's TCB while it may run on any kernel
 * thread: the kernel must stop writing the main kernel thread's CPU
 * number into it (rseq), so sched_getcpu asks the kernel instead. */
void tcb_adopt_main(void *tp);

/* After the first kernel thread glibc made for gmpt (glibc installs its
 * set*id signal handler then): run that handler on listed_tcb(), the TCB
 * glibc's thread list has for the kernel thread the signal interrupts. */
void tcb_wrap_setxid(void *(*listed_tcb)(void));

/* After dlopen: a module given static TLS (initial-exec TLS in a dlopened
 * library) gets its block initialised in every G's TCB, as glibc does for
 * its own threads. */
void tcb_after_dlopen(void);
void tcb_after_dlclose(void);

/* A thread pointer's offset of a TLS variable of this library (its
 * address minus the caller's thread pointer), valid in every TCB. */
ptrdiff_t tcb_offset_of(const void *tls_var);

#endif
