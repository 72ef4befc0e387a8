/* Functions that take a pthread_t and that programs commonly use besides
 * create/join: pthread_setname_np/getname_np, pthread_getattr_np (the
 * reported stack contains the thread's locals), pthread_tryjoin_np and
 * pthread_timedjoin_np, pthread_kill (signal 0 and a handler that runs in
 * the target thread), per-thread signal masks, pthread_getcpuclockid. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#include "testutil.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int started, release;

static void wait_started(int n)
{
	pthread_mutex_lock(&lock);
	while (started < n)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
}

static void let_go(void)
{
	pthread_mutex_lock(&lock);
	release = 1;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

/* With a stack size as argument, checks pthread_getattr_np on itself;
 * then waits until released. */
static void *parked(void *arg)
{
	size_t want = (size_t)(uintptr_t)arg;
	pthread_attr_t a;
	void *addr;
	size_t size;
	char here;
	if (want) {
		CHECK_OK(pthread_getattr_np(pthread_self(), &a));
		CHECK_OK(pthread_attr_getstack(&a, &addr, &size));
		CHECK_OK(pthread_attr_destroy(&a));
		CHECK(&here >= (char *)addr && &here < (char *)addr + size);
		CHECK(size >= want / 2 && size <= 2 * want);
	}

	pthread_mutex_lock(&lock);
	started++;
	pthread_cond_broadcast(&cond);
	while (!release)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	return (void *)(intptr_t)77;
}

/* ---- signals ---- */
static pthread_t signal_target;
static volatile sig_atomic_t got_signal, in_target;

static void on_usr1(int sig)
{
	(void)sig;
	in_target = pthread_equal(pthread_self(), signal_target) != 0;
	got_signal = 1;
}

static void *signal_waiter(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	started++;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	while (!got_signal)
		usleep(1000);
	return NULL;
}

static void *masker(void *arg)
{
	(void)arg;
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	CHECK_OK(pthread_sigmask(SIG_BLOCK, &set, &old));
	CHECK(!sigismember(&old, SIGUSR2));
	usleep(10000); /* let other threads run on this kernel thread */
	CHECK_OK(pthread_sigmask(SIG_BLOCK, NULL, &old));
	CHECK(sigismember(&old, SIGUSR2));
	return NULL;
}

static void *burn(void *arg)
{
	(void)arg;
	volatile long x = 0;
	for (long i = 0; i < 20000000; i++)
		x = x + i;
	pthread_mutex_lock(&lock);
	started++;
	pthread_cond_broadcast(&cond);
	while (!release)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void names_and_joins(void)
{
	pthread_t t;
	void *ret;
	char name[32];

	/* Names. */
	started = release = 0;
	CHECK_OK(pthread_create(&t, NULL, parked, NULL));
	wait_started(1);
	CHECK_OK(pthread_setname_np(t, "worker-one"));
	CHECK_OK(pthread_getname_np(t, name, sizeof name));
	CHECK(strcmp(name, "worker-one") == 0);
	CHECK_RC(pthread_setname_np(t, "a-name-longer-than-15"), ERANGE);
	CHECK_OK(pthread_setname_np(pthread_self(), "main-thread"));
	CHECK_OK(pthread_getname_np(pthread_self(), name, sizeof name));
	CHECK(strcmp(name, "main-thread") == 0);
	CHECK_OK(pthread_getname_np(t, name, sizeof name));
	CHECK(strcmp(name, "worker-one") == 0);
	printf("setname/getname: ok\n");

	/* tryjoin/timedjoin while it runs, then after it ends. */
	CHECK_RC(pthread_tryjoin_np(t, &ret), EBUSY);
	struct timespec dl = tu_deadline(CLOCK_REALTIME, 30);
	int64_t t0 = tu_now_ns(CLOCK_REALTIME);
	CHECK_RC(pthread_timedjoin_np(t, &ret, &dl), ETIMEDOUT);
	CHECK(tu_now_ns(CLOCK_REALTIME) - t0 >= 30000000);
	CHECK_RC(pthread_kill(t, 0), 0);
	let_go();
	dl = tu_deadline(CLOCK_REALTIME, 20000);
	CHECK_OK(pthread_timedjoin_np(t, &ret, &dl));
	CHECK_EQ((intptr_t)ret, 77);
	printf("tryjoin EBUSY, timedjoin ETIMEDOUT then joined, pthread_kill(t, 0): ok\n");
}

static void getattr(void)
{
	pthread_t t;
	pthread_attr_t attr;
	started = release = 0;
	CHECK_OK(pthread_attr_init(&attr));
	CHECK_OK(pthread_attr_setstacksize(&attr, 1 << 20));
	CHECK_OK(pthread_create(&t, &attr, parked, (void *)(uintptr_t)(1 << 20)));
	CHECK_OK(pthread_attr_destroy(&attr));
	wait_started(1);
	let_go();
	CHECK_OK(pthread_join(t, NULL));
	pthread_attr_t ma;
	void *addr;
	size_t size;
	char here;
	CHECK_OK(pthread_getattr_np(pthread_self(), &ma));
	CHECK_OK(pthread_attr_getstack(&ma, &addr, &size));
	CHECK_OK(pthread_attr_destroy(&ma));
	CHECK(&here >= (char *)addr && &here < (char *)addr + size);
	printf("pthread_getattr_np: stacks contain the threads' locals\n");
}

static void kill_thread(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	started = 0;
	CHECK_OK(pthread_create(&signal_target, NULL, signal_waiter, NULL));
	wait_started(1);
	CHECK_OK(pthread_kill(signal_target, SIGUSR1));
	CHECK_OK(pthread_join(signal_target, NULL));
	CHECK(got_signal);
	CHECK(in_target);
	printf("pthread_kill: handler ran in the target thread\n");
}

static void sigmasks(void)
{
	sigset_t mine;
	pthread_t masks[4];
	for (int i = 0; i < 4; i++)
		CHECK_OK(pthread_create(&masks[i], NULL, masker, NULL));
	for (int k = 0; k < 5; k++) {
		usleep(2000);
		CHECK_OK(pthread_sigmask(SIG_BLOCK, NULL, &mine));
		CHECK(!sigismember(&mine, SIGUSR2));
	}
	for (int i = 0; i < 4; i++)
		CHECK_OK(pthread_join(masks[i], NULL));
	CHECK_OK(pthread_sigmask(SIG_BLOCK, NULL, &mine));
	CHECK(!sigismember(&mine, SIGUSR2));
	printf("pthread_sigmask: masks are per thread\n");
}

static void cpuclock(void)
{
	pthread_t t;
	clockid_t own;
	/* gmpt counts threads' CPU time from the first use of a thread CPU
	 * clock (docs/compat.md): use one before the thread works. */
	CHECK_OK(pthread_getcpuclockid(pthread_self(), &own));
	started = release = 0;
	CHECK_OK(pthread_create(&t, NULL, burn, NULL));
	wait_started(1);
	clockid_t cid;
	CHECK_OK(pthread_getcpuclockid(t, &cid));
	struct timespec cpu;
	CHECK(clock_gettime(cid, &cpu) == 0);
	CHECK(cpu.tv_sec > 0 || cpu.tv_nsec > 1000000);
	let_go();
	CHECK_OK(pthread_join(t, NULL));
	printf("pthread_getcpuclockid: the thread's clock shows its work\n");
}

/* With an argument, runs only the parts named by its letters (n, a, k, m,
 * c), to tell failures apart; by default all. */
int main(int argc, char **argv)
{
	const char *parts = argc > 1 ? argv[1] : "nakmc";
	if (strchr(parts, 'n'))
		names_and_joins();
	if (strchr(parts, 'a'))
		getattr();
	if (strchr(parts, 'k'))
		kill_thread();
	if (strchr(parts, 'm'))
		sigmasks();
	if (strchr(parts, 'c'))
		cpuclock();
	return 0;
}
