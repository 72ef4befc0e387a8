/* shim/bootstrap.c - gmpt starts before main: the main thread becomes the
 * first G, on M0 with P0.
 *
 * The constructor runs after libc's and before the program's own. Code
 * that runs even earlier (another preloaded library's constructor) still
 * works: every entry point treats a thread without a G as a "foreign"
 * thread that blocks in the kernel, and pthread_create bootstraps on
 * demand. */
#include "arch/syscall.h"
#include "shim/config.h"
#include "shim/thread.h"
#include "sched/debug_signals.h"
#include "sched/sched.h"
#include "syscalls/netpoll.h"

#include <pthread.h>
#include <stdio.h>

#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

_Atomic int64_t threads_alive;

/* Runs on an M's scheduler stack once G g has switched away for the last
 * time: publish its exit to a joiner, or free it if detached. */
static void on_g_dead(struct g *g)
{
	struct thread *t = sched_g_ext(g);
	uint32_t s = atomic_load(&t->join);
	for (;;) {
		if (s == JOIN_DETACHED) {
			t->magic = 0;
			sched_free(g);
			break;
		}
		/* JOINABLE -> EXITED. A racing pthread_detach either wins
		 * (we see DETACHED and free) or sees EXITED and frees. */
		if (atomic_compare_exchange_weak(&t->join, &s, JOIN_EXITED)) {
			waitq_wake(&t->join, 1);
			break;
		}
	}
	/* glibc: when the last thread exits (main having called pthread_exit),
	 * the process exits with status 0. */
	if (atomic_fetch_sub(&threads_alive, 1) == 1)
		exit(0);
}

static void bootstrap_main_g(void)
{
	struct g *g = sched_current();
	struct thread *t = sched_g_ext(g);
	struct thread *before = thread_foreign_record();
	t->magic = THREAD_MAGIC;
	t->g = g;
	t->id = before->id;
	t->is_main = true;
	/* glibc's own record of the main thread (pthread_getattr_np). */
	t->glibc_self = before->glibc_self;
	t->keys[0] = t->keys0;
	atomic_store(&t->join, JOIN_JOINABLE);
	atomic_store(&threads_alive, 1);
}

static void print_stats(void)
{
	struct sched_stats st;
	sched_stats_get(&st);
	char line[512];
	int n = snprintf(line, sizeof line,
			 "gmpt: stats: procs=%d switches=%llu steals=%llu handoffs=%llu "
			 "retakes=%llu preempt_signals=%llu preemptions=%llu netpoll_ready=%llu "
			 "threads_created=%llu threads_peak=%llu ms=%llu netpoll=%s\n",
			 sched_procs(), (unsigned long long)st.switches,
			 (unsigned long long)st.steals, (unsigned long long)st.handoffs,
			 (unsigned long long)st.retakes, (unsigned long long)st.preempt_req,
			 (unsigned long long)st.preempts, (unsigned long long)st.netpolls,
			 (unsigned long long)st.gs_created, (unsigned long long)st.gs_peak,
			 (unsigned long long)st.ms, netpoll_backend_name());
	if (n > (int)sizeof line - 1)
		n = (int)sizeof line - 1;
	ssize_t w = write(2, line, (size_t)n);
	(void)w;
}

/* fork's child: only the calling thread is left (sched_after_fork_child
 * rebuilt the runtime around it just before). */
static void after_fork_child(void)
{
	atomic_store(&threads_alive, 1);
	robust_shared_init();
}

void gmpt_bootstrap(void)
{
	/* Before anything of gmpt's starts, and before the configuration
	 * is read: a program gmpt steps aside for runs as without it, and
	 * GMPT_* settings (checked again in any program it execs) do not
	 * apply to it. */
	if (step_aside())
		return;
	if (sched_ready())
		return;
	/* Only the main thread gets here before main(): constructors run
	 * single-threaded. */
	if (raw_syscall(SYS_gettid) != getpid())
		return;
	struct gmpt_config cfg;
	config_load(&cfg);
	struct sched_config sc = {
	    .procs = cfg.procs,
	    .g_ext_size = sizeof(struct thread),
	    .on_g_dead = on_g_dead,
	    .stress_seed = cfg.stress_seed,
	    .max_threads = cfg.max_threads,
	    .preempt = cfg.preempt,
	    .preempt_signal = cfg.preempt_signal,
	    .tls_per_g = cfg.tls_per_g,
	    .schedtrace_ms = cfg.schedtrace_ms,
	    .scheddetail = cfg.scheddetail,
	    .waitq_buckets = cfg.waitq_buckets,
	    .deadlock = cfg.deadlock,
	    .trace_open = cfg.trace ? trace_file_open : NULL,
	};
	sched_init(&sc);
	/* After sched_init, which reads glibc's registration to check the
	 * TCB layout: this replaces it on the main kernel thread. */
	robust_shared_init();
	pthread_atfork(NULL, NULL, after_fork_child);
	cancel_init();
	thread_tid_init();
	netpoll_configure(cfg.netpoll);
	if (cfg.debug_stats)
		atexit(print_stats);
	sched_stack_overflow_init();
	sched_dump_signal_init(cfg.dump_signal);
	bootstrap_main_g();
}

__attribute__((constructor(101))) static void gmpt_constructor(void)
{
	gmpt_bootstrap();
}
