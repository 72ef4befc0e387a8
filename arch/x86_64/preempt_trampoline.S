/* arch_preempt_trampoline - where a preempted thread resumes.
 *
 * arch_preempt_inject() (preempt.c) stopped the thread in a signal handler
 * and left, below the interrupted stack pointer and its 128-byte red zone:
 *     rsp+0: fn, the function to call     rsp+8: the interrupted rip
 *     rsp+16 .. rsp+143: red zone, untouched
 * Every register the interrupted code could be using is saved here: the
 * general registers and flags on the stack, the whole extended state
 * (x87, SSE, AVX, AVX-512, ...) with xsave into a 64-byte aligned area of
 * arch_xsave_bytes (or fxsave where xsave is not enabled). fn may switch
 * to other threads of control and come back; then everything is restored
 * and `ret $128` pops the interrupted rip and the red zone gap, leaving
 * rsp exactly as it was. */
	.text
	.globl	arch_preempt_trampoline
	.hidden	arch_preempt_trampoline
	.type	arch_preempt_trampoline, @function
arch_preempt_trampoline:
	.cfi_startproc
	.cfi_signal_frame
	/* The caller's rsp (the CFA) is 144 bytes up: fn, rip, red zone. */
	.cfi_def_cfa_offset 144
	.cfi_offset rip, -136
	pushfq
	.cfi_adjust_cfa_offset 8
	pushq	%rax
	pushq	%rcx
	pushq	%rdx
	pushq	%rbx
	pushq	%rbp
	pushq	%rsi
	pushq	%rdi
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	.cfi_adjust_cfa_offset 120
	.cfi_offset rax, -160
	.cfi_offset rcx, -168
	.cfi_offset rdx, -176
	.cfi_offset rbx, -184
	.cfi_offset rbp, -192
	.cfi_offset rsi, -200
	.cfi_offset rdi, -208
	.cfi_offset r8, -216
	.cfi_offset r9, -224
	.cfi_offset r10, -232
	.cfi_offset r11, -240
	.cfi_offset r12, -248
	.cfi_offset r13, -256
	.cfi_offset r14, -264
	.cfi_offset r15, -272
	movq	%rsp, %rbx
	.cfi_def_cfa_register rbx
	movq	arch_xsave_bytes(%rip), %rax
	subq	%rax, %rsp
	andq	$-64, %rsp
	cld
	cmpl	$0, arch_xsave_usable(%rip)
	je	1f
	/* The xsave header must be zero where xsave does not write it. */
	xorl	%eax, %eax
	movq	%rax, 512(%rsp)
	movq	%rax, 520(%rsp)
	movq	%rax, 528(%rsp)
	movq	%rax, 536(%rsp)
	movq	%rax, 544(%rsp)
	movq	%rax, 552(%rsp)
	movq	%rax, 560(%rsp)
	movq	%rax, 568(%rsp)
	movl	$-1, %eax
	movl	$-1, %edx
	xsave64	(%rsp)
	jmp	2f
1:	fxsave64 (%rsp)
2:	call	*128(%rbx)	/* fn: above the 16 saved registers */
	cmpl	$0, arch_xsave_usable(%rip)
	je	3f
	movl	$-1, %eax
	movl	$-1, %edx
	xrstor64 (%rsp)
	jmp	4f
3:	fxrstor64 (%rsp)
4:	movq	%rbx, %rsp
	.cfi_def_cfa_register rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rdi
	popq	%rsi
	popq	%rbp
	popq	%rbx
	popq	%rdx
	popq	%rcx
	popq	%rax
	popfq
	/* Drop fn without touching the flags just restored. */
	leaq	8(%rsp), %rsp
	ret	$128
	.cfi_endproc
	.size	arch_preempt_trampoline, .-arch_preempt_trampoline
	.section .note.GNU-stack,"",@progbits
