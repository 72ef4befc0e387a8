/* Thread ids: gettid() and syscall(SYS_gettid) give each thread its own
 * id, the same all its life (it sleeps and yields in between, so under an
 * M:N scheduler it moves between kernel threads), the main thread's being
 * the process id. The calls that take an id act on that thread:
 * tgkill/tkill (as syscall(2) too) run the handler in that thread, a
 * signal 0 tells a live thread from a joined one, sched_setaffinity,
 * sched_setscheduler and setpriority(PRIO_PROCESS) set what
 * sched_getaffinity, pthread_getaffinity_np, sched_getscheduler and
 * getpriority then report for it, and id 0 is the calling thread. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "testutil.h"

#define NTHREADS 8

struct worker {
	pthread_t th;
	atomic_int tid;
	atomic_int stable;
	atomic_int got_signal;
	atomic_int handler_tid;
};

static struct worker workers[NTHREADS];
static atomic_int go_on;

/* Which worker runs the handler: by pthread_self (not a thread_local, so
 * the program also runs with GMPT_TLS=shared). */
static void on_usr1(int sig)
{
	(void)sig;
	for (int i = 0; i < NTHREADS; i++)
		if (pthread_equal(workers[i].th, pthread_self())) {
			atomic_store(&workers[i].handler_tid, gettid());
			atomic_fetch_add(&workers[i].got_signal, 1);
		}
}

static void *run(void *arg)
{
	struct worker *w = arg;
	pid_t tid = gettid();
	CHECK_EQ(syscall(SYS_gettid), tid);
	atomic_store(&w->tid, tid);
	int stable = 1;
	for (int i = 0; i < 50; i++) {
		if (i % 5 == 0)
			usleep(200);
		else
			sched_yield();
		stable &= gettid() == tid && syscall(SYS_gettid) == tid;
	}
	atomic_store(&w->stable, stable);
	/* Running (not asleep), so a signal is taken at once natively and
	 * at the next switch under gmpt. */
	while (!atomic_load(&go_on))
		sched_yield();
	stable &= gettid() == tid;
	atomic_store(&w->stable, stable);
	return NULL;
}

static void wait_signal(struct worker *w, int n)
{
	while (atomic_load(&w->got_signal) < n)
		sched_yield();
}

/* errno read in a function of its own: the compiler may keep errno's
 * address across calls within one function, and with GMPT_TLS=shared a
 * thread that waited (the joins) may be on another kernel thread since. */
__attribute__((noinline)) static void signal_joined(pid_t pid, pid_t tid)
{
	errno = 0;
	int r = tgkill(pid, tid, 0);
	printf("tgkill to a joined thread: %d %s\n", r, r ? strerror(errno) : "");
}

int main(void)
{
	pid_t pid = getpid();
	CHECK_EQ(gettid(), pid);
	CHECK_EQ(syscall(SYS_gettid), pid);
	struct sigaction sa = {.sa_handler = on_usr1};
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);

	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_create(&workers[i].th, NULL, run, &workers[i]));
	for (int i = 0; i < NTHREADS; i++)
		while (!atomic_load(&workers[i].tid))
			sched_yield();
	int distinct = 1;
	for (int i = 0; i < NTHREADS; i++) {
		pid_t t = atomic_load(&workers[i].tid);
		distinct &= t > 0 && t != pid;
		for (int j = 0; j < i; j++)
			distinct &= atomic_load(&workers[j].tid) != t;
	}
	printf("main's id is the pid; %d threads, ids distinct and not the pid: %d\n", NTHREADS,
	       distinct);

	/* Signals by id, each handled in the thread named. */
	int right = 1;
	for (int i = 0; i < NTHREADS; i++) {
		struct worker *w = &workers[i];
		pid_t t = atomic_load(&w->tid);
		switch (i % 3) {
		case 0:
			CHECK(tgkill(pid, t, SIGUSR1) == 0);
			break;
		case 1:
			CHECK(syscall(SYS_tgkill, pid, t, SIGUSR1) == 0);
			break;
		default:
			CHECK(syscall(SYS_tkill, t, SIGUSR1) == 0);
		}
		wait_signal(w, 1);
		right &= atomic_load(&w->handler_tid) == t;
		CHECK(tgkill(pid, t, 0) == 0);
	}
	printf("tgkill, syscall(SYS_tgkill), syscall(SYS_tkill): handled by the thread named: %d\n",
	       right);

	/* Affinity by id: the first CPU the process may use. */
	cpu_set_t all, one, got;
	CHECK(sched_getaffinity(0, sizeof all, &all) == 0);
	int cpu = 0;
	while (!CPU_ISSET(cpu, &all))
		cpu++;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	pid_t t0 = atomic_load(&workers[0].tid);
	CHECK(sched_setaffinity(t0, sizeof one, &one) == 0);
	CHECK(sched_getaffinity(t0, sizeof got, &got) == 0);
	int aff = CPU_EQUAL(&got, &one);
	CHECK_OK(pthread_getaffinity_np(workers[0].th, sizeof got, &got));
	aff &= CPU_EQUAL(&got, &one);
	CHECK(sched_getaffinity(atomic_load(&workers[1].tid), sizeof got, &got) == 0);
	aff &= CPU_EQUAL(&got, &all);
	CHECK(sched_getaffinity(0, sizeof got, &got) == 0);
	aff &= CPU_EQUAL(&got, &all);
	CHECK(syscall(SYS_sched_getaffinity, t0, sizeof got, &got) > 0);
	aff &= CPU_ISSET(cpu, &got) && CPU_COUNT(&got) == 1;
	printf("sched_setaffinity by id: that thread's alone: %d\n", aff);

	/* Policy and nice value by id. */
	pid_t t1 = atomic_load(&workers[1].tid);
	struct sched_param sp = {.sched_priority = 0};
	CHECK(sched_setscheduler(t1, SCHED_BATCH, &sp) == 0);
	int pol = sched_getscheduler(t1) == SCHED_BATCH && sched_getscheduler(0) == SCHED_OTHER &&
		  sched_getscheduler(t0) == SCHED_OTHER;
	int policy;
	CHECK_OK(pthread_getschedparam(workers[1].th, &policy, &sp));
	pol &= policy == SCHED_BATCH;
	printf("sched_setscheduler by id: that thread's alone: %d\n", pol);

	errno = 0;
	int base = getpriority(PRIO_PROCESS, 0);
	CHECK(errno == 0);
	int want = base + 3 > 19 ? 19 : base + 3;
	CHECK(setpriority(PRIO_PROCESS, (id_t)t1, want) == 0);
	int nice_ok = getpriority(PRIO_PROCESS, (id_t)t1) == want &&
		      getpriority(PRIO_PROCESS, 0) == base &&
		      getpriority(PRIO_PROCESS, (id_t)t0) == base;
	printf("setpriority(PRIO_PROCESS) by id: that thread's alone: %d\n", nice_ok);

	atomic_store(&go_on, 1);
	int stable = 1;
	for (int i = 0; i < NTHREADS; i++) {
		CHECK_OK(pthread_join(workers[i].th, NULL));
		stable &= atomic_load(&workers[i].stable);
	}
	printf("each thread's id stable all its life: %d\n", stable);
	/* A joined thread's id names nobody. */
	signal_joined(pid, atomic_load(&workers[NTHREADS - 1].tid));
	CHECK_EQ(gettid(), pid);
	return 0;
}
