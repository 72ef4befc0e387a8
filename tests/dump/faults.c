/* tests/dump/faults.c - SIGSEGV cases for the stack overflow report
 * (faults_test.py runs each natively and preloaded).
 *
 *   overflow      a thread named "recurser" with a 65536-byte stack
 *                 recurses until it runs into its guard page: the process
 *                 dies of SIGSEGV (preloaded, after gmpt's report);
 *   overflow-off-main
 *                 the same while main blocks its kernel thread (M0 under
 *                 gmpt) in a read of stdin, so the overflow happens on
 *                 another kernel thread;
 *   overflow-crash-handler
 *                 the same after the program installed a SIGSEGV handler
 *                 without a signal stack: it cannot run, and the process
 *                 dies of SIGSEGV;
 *   overflow-altstack-handler
 *                 the same with a handler on a signal stack the thread
 *                 set up: the handler runs and exits 42;
 *   overflow-past-guards
 *                 more threads than gmpt gives guard pages to (a quarter
 *                 of vm.max_map_count, 64 KiB stacks) wait on a pipe; then
 *                 a thread with the default stack writes 8 KiB past the
 *                 bottom of its stack, as pthread_getattr_np reports it,
 *                 returns and yields. Natively it dies of SIGSEGV in its
 *                 guard page; under gmpt, whose default stacks past the
 *                 budget have a canary instead, the process must die at
 *                 that switch with gmpt's report, not go on with the
 *                 memory below the stack overwritten;
 *   wild-write    a thread writes to an unmapped address: dies of SIGSEGV,
 *                 with no report (it is no overflow);
 *   sent          the process sends itself SIGSEGV: dies of it;
 *   handled       the program installs a SIGSEGV handler that siglongjmps
 *                 out of three deliberate faults in a thread, and a
 *                 handler it reads back with sigaction; prints
 *                 "recovered 4" (one more fault on the main thread) and
 *                 exits 0. */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile unsigned long never = ~0UL;

__attribute__((noinline)) static unsigned long recurse_forever_zq(unsigned long depth)
{
	volatile char pad[256];
	pad[0] = (char)depth;
	if (depth == never)
		return 0;
	/* Not a tail call: the result is used after it returns. */
	return recurse_forever_zq(depth + 1) + pad[0];
}

static void *recurser(void *arg)
{
	pthread_setname_np(pthread_self(), "recurser");
	return (void *)recurse_forever_zq((unsigned long)arg);
}

/* A handler for the overflow: says so and exits 42. */
static void overflow_handler(int sig)
{
	(void)sig;
	static const char msg[] = "the program's handler ran\n";
	ssize_t w = write(2, msg, sizeof msg - 1);
	(void)w;
	_exit(42);
}

static void install_overflow_handler(int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = overflow_handler;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
}

/* The recurser with a signal stack of its own, as programs that catch
 * their stack overflows set up. */
static void *recurser_with_sigaltstack(void *arg)
{
	static char altstack[256 * 1024];
	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
	if (sigaltstack(&ss, NULL) != 0) {
		perror("sigaltstack");
		exit(1);
	}
	return recurser(arg);
}

static void *wild_writer(void *arg)
{
	/* A page that is surely unmapped: mapped, then unmapped. */
	long page = sysconf(_SC_PAGESIZE);
	char *p =
	    mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(p, (size_t)page);
	*(volatile char *)p = 1;
	return arg;
}

static sigjmp_buf recover;
static char *forbidden;

static void segv_handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if ((char *)si->si_addr != forbidden) {
		static const char msg[] = "fault at an unexpected address\n";
		ssize_t w = write(2, msg, sizeof msg - 1);
		(void)w;
		_exit(3);
	}
	siglongjmp(recover, 1);
}

static void *fault_thrice(void *arg)
{
	(void)arg;
	volatile int recovered = 0;
	for (volatile int i = 0; i < 3; i++) {
		if (sigsetjmp(recover, 1) == 0)
			*(volatile char *)forbidden = 1;
		else
			recovered++;
	}
	return (void *)(intptr_t)recovered;
}

/* Writes every byte down to limit, 1 KiB a frame (no tail call: the
 * result is used after the call returns). */
__attribute__((noinline)) static unsigned long dig_to(const char *limit)
{
	volatile char pad[1024];
	memset((char *)pad, 0x5a, sizeof pad);
	if ((const char *)pad <= limit)
		return pad[0];
	return dig_to(limit) + pad[1];
}

static int run_thread(void *(*fn)(void *), size_t stack);

static int past_guards_pipe[2];

static void *waits_on_pipe(void *arg)
{
	(void)arg;
	char c;
	return (void *)(intptr_t)read(past_guards_pipe[0], &c, 1);
}

static void *digs_past_bottom(void *arg)
{
	(void)arg;
	pthread_attr_t a;
	void *lo;
	size_t size;
	if (pthread_getattr_np(pthread_self(), &a) != 0 ||
	    pthread_attr_getstack(&a, &lo, &size) != 0)
		return (void *)1;
	unsigned long r = dig_to((const char *)lo - 8192);
	sched_yield();
	return (void *)(intptr_t)(r == 0);
}

static int overflow_past_guards(void)
{
	long max_maps = 65530;
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
	if (f) {
		if (fscanf(f, "%ld", &max_maps) != 1)
			max_maps = 65530;
		fclose(f);
	}
	if (pipe(past_guards_pipe) != 0)
		return 1;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 65536);
	long n = max_maps / 4 + 64;
	for (long i = 0; i < n; i++) {
		pthread_t t;
		if (pthread_create(&t, &a, waits_on_pipe, NULL) != 0) {
			fprintf(stderr, "pthread_create failed after %ld threads\n", i);
			return 1;
		}
	}
	run_thread(digs_past_bottom, 0);
	fprintf(stderr, "the thread wrote past its stack and went on\n");
	return 1;
}

static int run_thread(void *(*fn)(void *), size_t stack)
{
	pthread_attr_t a;
	pthread_attr_init(&a);
	if (stack)
		pthread_attr_setstacksize(&a, stack);
	pthread_t t;
	if (pthread_create(&t, &a, fn, NULL) != 0) {
		fprintf(stderr, "pthread_create failed\n");
		return -1;
	}
	void *ret;
	pthread_join(t, &ret);
	return (int)(intptr_t)ret;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	if (strcmp(mode, "overflow") == 0) {
		run_thread(recurser, 65536);
		fprintf(stderr, "the recursion ended\n");
		return 1;
	}
	if (strcmp(mode, "overflow-off-main") == 0) {
		/* main blocks its kernel thread in glibc's own read (stdio,
		 * which gmpt does not see), so the recurser overflows on another
		 * kernel thread: run with GMPT_PROCS=2 at least. */
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setstacksize(&a, 65536);
		pthread_t t;
		if (pthread_create(&t, &a, recurser, NULL) != 0)
			return 1;
		getchar();
		return 1;
	}
	if (strcmp(mode, "overflow-crash-handler") == 0) {
		/* No signal stack: the handler cannot run on the used-up stack,
		 * and the kernel kills the process with SIGSEGV. */
		install_overflow_handler(0);
		run_thread(recurser, 65536);
		return 1;
	}
	if (strcmp(mode, "overflow-altstack-handler") == 0) {
		install_overflow_handler(SA_ONSTACK);
		run_thread(recurser_with_sigaltstack, 65536);
		return 1;
	}
	if (strcmp(mode, "overflow-past-guards") == 0)
		return overflow_past_guards();
	if (strcmp(mode, "wild-write") == 0) {
		run_thread(wild_writer, 0);
		return 1;
	}
	if (strcmp(mode, "sent") == 0) {
		kill(getpid(), SIGSEGV);
		sleep(5);
		return 1;
	}
	if (strcmp(mode, "handled") == 0) {
		forbidden = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		struct sigaction sa, back;
		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = segv_handler;
		sa.sa_flags = SA_SIGINFO;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGSEGV, &sa, NULL) != 0 || sigaction(SIGSEGV, NULL, &back) != 0 ||
		    back.sa_sigaction != segv_handler) {
			fprintf(stderr, "sigaction does not report the program's handler\n");
			return 1;
		}
		int n = run_thread(fault_thrice, 0);
		/* And once more on the main thread, after the first handover. */
		if (sigsetjmp(recover, 1) == 0)
			*(volatile char *)forbidden = 1;
		else
			n++;
		printf("recovered %d\n", n);
		return n == 4 ? 0 : 1;
	}
	fprintf(stderr, "usage: %s MODE (see faults.c)\n", argv[0]);
	return 2;
}
