/* vfork and __vfork, as the program calls them.
 *
 * The child returns first, on the parent's stack, and goes on calling
 * functions there before it execs or exits: whatever the parent left on
 * the stack below its caller's frame is gone when the parent resumes. So,
 * as glibc's own vfork does, the return address is popped into a
 * register before the system call (the kernel gives each process its own
 * registers back) and pushed again afterwards by each of them.
 *
 * Around the call, the hooks in arch_vfork_hooks (arch.h): before in the
 * parent, child in the child before it returns 0, and parent(raw) with the
 * system call's result in the parent, whose return value vfork returns. */
	.text
	.globl	vfork
	.type	vfork, @function
	.globl	__vfork
	.type	__vfork, @function
	.hidden	arch_vfork_hooks
	.p2align 4
vfork:
__vfork:
	.cfi_startproc
	subq	$8, %rsp		/* the call below needs a 16-byte aligned stack */
	.cfi_adjust_cfa_offset 8
	movq	arch_vfork_hooks(%rip), %rax
	call	*(%rax)			/* before() */
	addq	$8, %rsp
	.cfi_adjust_cfa_offset -8
	popq	%rdi			/* the return address, out of the child's way */
	.cfi_adjust_cfa_offset -8
	.cfi_register %rip, %rdi
	movl	$58, %eax		/* SYS_vfork */
	syscall
	pushq	%rdi
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rip, 0
	subq	$8, %rsp
	.cfi_adjust_cfa_offset 8
	testq	%rax, %rax
	jnz	1f
	.cfi_remember_state
	movq	arch_vfork_hooks(%rip), %rax
	call	*8(%rax)		/* child() */
	addq	$8, %rsp
	.cfi_adjust_cfa_offset -8
	xorl	%eax, %eax
	ret
	.cfi_restore_state
1:	movq	%rax, %rdi
	movq	arch_vfork_hooks(%rip), %rax
	call	*16(%rax)		/* parent(raw) */
	addq	$8, %rsp
	.cfi_adjust_cfa_offset -8
	ret
	.cfi_endproc
	.size	vfork, .-vfork
	.size	__vfork, .-__vfork

	.section .note.GNU-stack,"",@progbits
