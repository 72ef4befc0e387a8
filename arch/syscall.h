/* arch/syscall.h - system calls that bypass libc's syscall(3).
 *
 * gmpt interposes syscall(3) (a futex wait made through it must hand its P
 * off), so the runtime's own system calls must never go through that
 * symbol. These return the kernel's raw result: a negative errno on
 * failure, and do not touch errno. */
#ifndef GMPT_ARCH_SYSCALL_H
#define GMPT_ARCH_SYSCALL_H

static inline long raw_syscall6(long n, long a1, long a2, long a3, long a4, long a5, long a6)
{
	long ret;
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

#define RAW_SYSCALL_ARGS(n, a1, a2, a3, a4, a5, a6, ...)                                           \
	raw_syscall6((long)(n), (long)(a1), (long)(a2), (long)(a3), (long)(a4), (long)(a5),        \
		     (long)(a6))
/* raw_syscall(SYS_x, args...) with up to six arguments. */
#define raw_syscall(...) RAW_SYSCALL_ARGS(__VA_ARGS__, 0, 0, 0, 0, 0, 0, 0)

#endif
