/* arch_syscall_cp - a system call at a cancellation point, without the
 * lost-cancellation race (the technique musl's __syscall_cp_asm uses).
 *
 *   long arch_syscall_cp(const _Atomic uint8_t *armed, const long call[7])
 *     call[0] is the system call number, call[1..6] its arguments.
 *
 * Between arch_syscall_cp_begin and arch_syscall_cp_end the code does two
 * things: tests *armed, and enters the kernel. A cancellation arms the
 * flag first and then signals the kernel thread (sched_interrupt); the
 * handler calls arch_syscall_cp_redirect, which moves a thread stopped
 * anywhere in [begin, end) to arch_syscall_cp_canceled. So whenever the
 * signal lands:
 *   - before begin: the test sees the flag;
 *   - in [begin, end): on the test, between test and syscall, or in the
 *     kernel with the call about to be restarted (the kernel backs rip up
 *     to the syscall instruction, which lies before end): redirected, and
 *     the call is not made (or not made again);
 *   - at end: the call completed (or failed with EINTR); its result
 *     stands and the caller checks for cancellation afterwards.
 * arch_syscall_cp_canceled returns ARCH_SYSCALL_CANCELED (-4096), a value
 * no system call returns. */
	.text
	.globl	arch_syscall_cp
	.hidden	arch_syscall_cp
	.type	arch_syscall_cp, @function
arch_syscall_cp:
	.cfi_startproc
	movq	%rdi, %rcx	/* armed: rcx is free until the syscall */
	movq	%rsi, %r11
	movq	8(%r11), %rdi
	movq	16(%r11), %rsi
	movq	24(%r11), %rdx
	movq	32(%r11), %r10
	movq	40(%r11), %r8
	movq	48(%r11), %r9
	movq	0(%r11), %rax
	.globl	arch_syscall_cp_begin
	.hidden	arch_syscall_cp_begin
arch_syscall_cp_begin:
	cmpb	$0, (%rcx)
	jne	arch_syscall_cp_canceled
	syscall
	.globl	arch_syscall_cp_end
	.hidden	arch_syscall_cp_end
arch_syscall_cp_end:
	ret
	.globl	arch_syscall_cp_canceled
	.hidden	arch_syscall_cp_canceled
arch_syscall_cp_canceled:
	movq	$-4096, %rax
	ret
	.cfi_endproc
	.size	arch_syscall_cp, .-arch_syscall_cp

	.section .note.GNU-stack, "", @progbits
