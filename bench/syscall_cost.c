/* syscall_cost: the price of one trivial system call on this machine, for
 * the perf.md intro and for weighting the syscall counts there:
 *   - getppid through syscall(2) (no libc caching): the floor of any call;
 *   - arch_prctl(ARCH_SET_FS) to the current value: what a per-thread TLS
 *     base switch costs on x86-64 without FSGSBASE;
 *   - wrfsbase of the current value, where the kernel enabled FSGSBASE
 *     (AT_HWCAP2): what the same switch costs there, as gmpt makes it;
 *   - the first write to a page of a fresh anonymous mapping (a minor page
 *     fault that allocates and zeroes the page): what every new stack page
 *     and every newly touched heap page costs, so what dominates starting
 *     a thread whose stack and control block are new.
 * Not a thread benchmark; scripts/bench runs it natively only.
 *
 * usage: syscall_cost [N]       (default 300000) */
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef __x86_64__
#include <asm/prctl.h>
#endif

#include "bench_common.h"

int main(int argc, char **argv)
{
	bench_usage(argc, argv, 1, "[iterations]");
	long n = bench_arg(argc, argv, 1, 300000, "iterations");

	long sink = 0;
	uint64_t t0 = bench_now_ns();
	for (long i = 0; i < n; i++)
		sink += syscall(SYS_getppid);
	uint64_t t1 = bench_now_ns();
	if (n > 0 && sink == 0)
		return 1;
	bench_result("syscall_getppid", t1 - t0, n, NULL);

#ifdef __x86_64__
	unsigned long fs = 0;
	if (syscall(SYS_arch_prctl, ARCH_GET_FS, &fs) != 0) {
		perror("arch_prctl(ARCH_GET_FS)");
		return 1;
	}
	long m = n / 3;
	t0 = bench_now_ns();
	for (long i = 0; i < m; i++)
		if (syscall(SYS_arch_prctl, ARCH_SET_FS, fs) != 0) {
			perror("arch_prctl(ARCH_SET_FS)");
			return 1;
		}
	t1 = bench_now_ns();
	bench_result("syscall_arch_prctl_set_fs", t1 - t0, m, NULL);

	/* Only the kernel's word says the instruction is usable: on some VMs
	 * it runs without faulting while the kernel does not keep the value
	 * across a context switch (arch/x86_64/tls_base.c). */
	if (getauxval(AT_HWCAP2) & (1u << 1)) {
		t0 = bench_now_ns();
		for (long i = 0; i < n; i++)
			__asm__ volatile("wrfsbase %0" ::"r"(fs) : "memory");
		t1 = bench_now_ns();
		bench_result("fs_base_wrfsbase", t1 - t0, n, NULL);
	}
#endif

	/* One write per page, in order, so consecutive faults share page
	 * table pages (the cheaper case). */
	long pages = n / 30;
	size_t pagesz = (size_t)sysconf(_SC_PAGESIZE);
	if (pages > 0) {
		char *map = mmap(NULL, (size_t)pages * pagesz, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (map == MAP_FAILED) {
			perror("mmap");
			return 1;
		}
		t0 = bench_now_ns();
		for (long i = 0; i < pages; i++)
			((volatile char *)map)[(size_t)i * pagesz] = 1;
		t1 = bench_now_ns();
		munmap(map, (size_t)pages * pagesz);
		bench_result("page_fault_first_touch", t1 - t0, pages, NULL);
	}
	return 0;
}
