/* sched/vfork.c - the child of vfork is no G.
 *
 * The child runs on its parent's memory, stack and TLS until it execs or
 * exits, while the parent's kernel thread waits in the kernel. Whatever it
 * did to gmpt's state (its M and P, the fd table, the netpoller, the
 * parking lot) would be found by the parent's threads once the child is
 * gone, describing a process that no longer exists. So the child runs as
 * a thread gmpt did not create: its M is NULL (sched_m_head), and every
 * layer takes the plain path, system calls made by the kernel thread
 * itself, no P, no parking; gmpt_tls_vfork_child says why, for the few
 * places that treat such threads as ours too (syscalls/ checks
 * sched_in_vfork_child: the fd table is read, never written, and fd waits
 * are plain polls).
 *
 * Both values live in the calling thread's TLS (the G's TCB, or the M's
 * with shared TLS), which the child shares: it writes them and the parent
 * puts them back when vfork returns. Nothing else reads them meanwhile:
 * the parent's kernel thread is stopped in the kernel, so no other G runs
 * on that M, and every signal is blocked in the parent across the call,
 * so none of its handlers can run on the child's values between the
 * system call's return and the restore (the child unblocks them for
 * itself at once: it inherited the mask).
 *
 * The parent's G is in a system call meanwhile (sched_enter_syscall):
 * sysmon hands its P to another M if the child takes long to exec. */
#include "sched/runtime.h"
#include "arch/arch.h"
#include "arch/syscall.h"

#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>

__thread bool gmpt_tls_vfork_child __attribute__((tls_model("initial-exec"), visibility("hidden")));
/* The parent's, for the child and for the parent's return: not written by
 * the child. */
static __thread struct m *vfork_saved_m __attribute__((tls_model("initial-exec")));
static __thread uint64_t vfork_saved_mask __attribute__((tls_model("initial-exec")));

void sched_vfork_before(void)
{
	int e = errno;
	uint64_t all = ~(uint64_t)0, old = 0;
	raw_syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, &old, sizeof all);
	vfork_saved_mask = old;
	vfork_saved_m = m_self();
	sched_enter_syscall();
	errno = e;
}

void sched_vfork_child(void)
{
	m_set_self(NULL);
	gmpt_tls_vfork_child = true;
	uint64_t mask = vfork_saved_mask;
	raw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, &mask, NULL, sizeof mask);
}

void sched_vfork_parent(void)
{
	m_set_self(vfork_saved_m);
	gmpt_tls_vfork_child = false;
	uint64_t mask = vfork_saved_mask;
	raw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, &mask, NULL, sizeof mask);
	sched_exit_syscall();
}

#ifdef GMPT_ASAN
#include <sanitizer/asan_interface.h>

/* The child ran instrumented code on the G's stack below the parent's
 * frame and left its shadow poisoned: clear it from the stack's bottom up
 * to here, as ASan's own vfork interceptor does (gmpt's vfork takes its
 * place; its __asan_handle_vfork does not know a G's stack). Nothing
 * below this frame is live. */
static void vfork_unpoison_below(void)
{
	struct m *m = vfork_saved_m;
	struct g *g = m ? m->curg : NULL;
	char *frame = __builtin_frame_address(0);
	if (g && g->stack_lo && g->stack_lo < frame && frame <= g->stack_hi)
		__asan_unpoison_memory_region(g->stack_lo, (size_t)(frame - g->stack_lo));
}
#endif

static long vfork_parent(long raw)
{
#ifdef GMPT_ASAN
	vfork_unpoison_below();
#endif
	sched_vfork_parent();
	if (raw < 0 && raw > -4096) {
		errno = (int)-raw;
		return -1;
	}
	return raw;
}

static const struct arch_vfork_hooks hooks = {
    .before = sched_vfork_before,
    .child = sched_vfork_child,
    .parent = vfork_parent,
};

void sched_vfork_init(void)
{
	arch_vfork_set_hooks(&hooks);
}
