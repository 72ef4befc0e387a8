/* arch_call_via - call fn(a1, a2) so that the return address fn sees is
 * `site`, a `ret` instruction (a 0xc3 byte) somewhere else:
 *
 *   void *arch_call_via(void *fn, const void *site, void *a1, long a2)
 *
 * fn returns to site, whose `ret` pops the address pushed under it, so
 * control comes back here and arch_call_via returns fn's result. For
 * functions that act on who called them by their return address, as
 * glibc's dlopen does (the caller's DT_RUNPATH and $ORIGIN): a wrapper
 * passes a `ret` inside its own caller's object, and glibc sees that
 * object as the caller.
 *
 * While fn runs, an unwinder walking past fn finds site and reads the
 * frame with site's unwind rules: a backtrace taken inside fn is wrong
 * above fn. Nothing unwinds through dlopen (its errors come back by
 * longjmp inside the loader). */
	.text
	.globl	arch_call_via
	.hidden	arch_call_via
	.type	arch_call_via, @function
arch_call_via:
	.cfi_startproc
	pushq	%rbp
	.cfi_def_cfa_offset 16
	.cfi_offset %rbp, -16
	movq	%rsp, %rbp
	.cfi_def_cfa_register %rbp
	/* At fn's entry %rsp must be 8 mod 16, as after a call: aligned,
	 * then 8 + the two pushes of 8. */
	andq	$-16, %rsp
	subq	$8, %rsp
	leaq	1f(%rip), %rax
	pushq	%rax		/* site's ret comes back to 1 */
	pushq	%rsi		/* fn's return address: site */
	movq	%rdi, %rax
	movq	%rdx, %rdi
	movq	%rcx, %rsi
	jmp	*%rax
1:
	movq	%rbp, %rsp
	popq	%rbp
	.cfi_def_cfa %rsp, 8
	ret
	.cfi_endproc
	.size	arch_call_via, .-arch_call_via

	.section .note.GNU-stack, "", @progbits
