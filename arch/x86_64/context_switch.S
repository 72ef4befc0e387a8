/* arch_context_switch(struct arch_context *save, const struct arch_context *load)
 *
 * Frame left on the old stack (low to high address):
 *   0: x87 control word   8: MXCSR   16: r15  24: r14  32: r13  40: r12
 *  48: rbx  56: rbp  64: return address
 * arch_context_make() builds the same frame for a fresh stack. */
	.text
	.globl	arch_context_switch
	.hidden	arch_context_switch
	.type	arch_context_switch, @function
arch_context_switch:
	.cfi_startproc
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$16, %rsp
	stmxcsr	8(%rsp)
	fnstcw	(%rsp)
	movq	%rsp, (%rdi)
	movq	(%rsi), %rsp
	fldcw	(%rsp)
	ldmxcsr	8(%rsp)
	addq	$16, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.cfi_endproc
	.size	arch_context_switch, .-arch_context_switch

/* First code a fresh context runs: entry (r12) is called with arg (r13).
 * %rip is marked undefined so unwinders (libunwind, gdb) stop here instead
 * of walking into garbage above the stack top. */
	.globl	arch_context_trampoline
	.hidden	arch_context_trampoline
	.type	arch_context_trampoline, @function
arch_context_trampoline:
	.cfi_startproc
	.cfi_undefined rip
	xorl	%ebp, %ebp
	movq	%r13, %rdi
	callq	*%r12
	ud2
	.cfi_endproc
	.size	arch_context_trampoline, .-arch_context_trampoline

	.section .note.GNU-stack,"",@progbits
