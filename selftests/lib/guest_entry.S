/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest entry points that C cannot express: the exception stubs the IDT
 * points at, and where guest code returns to. See guest.c.
 */

	.text

/*
 * One 16-byte stub per vector 0..31, in order: guest.c puts vector N's at
 * guest_exc_stubs + 16 * N in the IDT. Each makes the frame uniform (a zero
 * where the CPU pushes no error code), pushes its vector and goes to the
 * common path.
 */
	.p2align 4
	.globl guest_exc_stubs
	.type guest_exc_stubs, @function
guest_exc_stubs:
	vector = 0
	.rept 32
	.p2align 4
	/* #DF, #TS, #NP, #SS, #GP, #PF, #AC, #CP, #VC and #SX push an error code. */
	.if !((vector == 8) || (vector >= 10 && vector <= 14) || (vector == 17) || \
	      (vector == 21) || (vector == 29) || (vector == 30))
	pushq	$0
	.endif
	pushq	$vector
	jmp	guest_exc_common
	vector = vector + 1
	.endr
	.size guest_exc_stubs, . - guest_exc_stubs

/*
 * The stack is on IST1, 16-byte aligned by the CPU before its five-word
 * frame; with error code, vector and the fifteen registers below, RSP is
 * 16-byte aligned again at the call, as the C ABI wants. The register
 * order is struct guest_exc_frame's; the handler may change RIP and R10.
 */
	.p2align 4
	.type guest_exc_common, @function
guest_exc_common:
	pushq	%r15
	pushq	%r14
	pushq	%r13
	pushq	%r12
	pushq	%r11
	pushq	%r10
	pushq	%r9
	pushq	%r8
	pushq	%rbp
	pushq	%rdi
	pushq	%rsi
	pushq	%rdx
	pushq	%rcx
	pushq	%rbx
	pushq	%rax
	movq	%rsp, %rdi
	/* The C ABI wants the direction flag clear; the guest may have set it. */
	cld
	call	guest_exception
	popq	%rax
	popq	%rbx
	popq	%rcx
	popq	%rdx
	popq	%rsi
	popq	%rdi
	popq	%rbp
	popq	%r8
	popq	%r9
	popq	%r10
	popq	%r11
	popq	%r12
	popq	%r13
	popq	%r14
	popq	%r15
	/* Drop vector and error code. */
	addq	$16, %rsp
	iretq
	.size guest_exc_common, . - guest_exc_common

/*
 * The guest code's return address. RET leaves RSP 16-byte aligned, one word
 * off what a C function expects at entry; realign and end the guest.
 */
	.p2align 4
	.globl guest_code_return
	.type guest_code_return, @function
guest_code_return:
	andq	$-16, %rsp
	call	guest_code_returned
	ud2
	.size guest_code_return, . - guest_code_return

	.section .note.GNU-stack, "", @progbits
