/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The world switch: one VMRUN with the guest's general registers loaded.
 *
 * VMRUN and #VMEXIT switch RAX, RSP, RIP, RFLAGS, the control registers,
 * EFER and CS/SS/DS/ES; VMLOAD and VMSAVE move FS, GS, TR, LDTR, their
 * hidden parts and the SYSCALL/SYSENTER MSRs. Everything else in a
 * general register is ours to swap, here, with no C code in between: the
 * compiler could otherwise use a register the guest owns.
 */
#include <linux/linkage.h>
#include <asm/asm.h>
#include <asm/cpufeatures.h>
#include <asm/nospec-branch.h>

/* Offsets in the gprs[] array of struct lkvm_vcpu: x86 encoding order. */
#define GPR_RCX		(1 * 8)
#define GPR_RDX		(2 * 8)
#define GPR_RBX		(3 * 8)
#define GPR_RBP		(5 * 8)
#define GPR_RSI		(6 * 8)
#define GPR_RDI		(7 * 8)
#define GPR_R8		(8 * 8)
#define GPR_R9		(9 * 8)
#define GPR_R10		(10 * 8)
#define GPR_R11		(11 * 8)
#define GPR_R12		(12 * 8)
#define GPR_R13		(13 * 8)
#define GPR_R14		(14 * 8)
#define GPR_R15		(15 * 8)

/* Where the three arguments wait on the stack while the guest runs. */
#define ARG_VMCB	0
#define ARG_GPRS	8
#define ARG_HOST	16

.section .noinstr.text, "ax"

/**
 * lkvm_svm_vmrun - run the guest until its next #VMEXIT
 * @vmcb_pa:	 physical address of the vCPU's VMCB (RDI)
 * @gprs:	 the vCPU's gprs[16], loaded before and stored after (RSI)
 * @host_pa:	 physical address of this CPU's host VMSAVE area (RDX)
 *
 * Called with IRQs off and GIF clear. An SVM instruction can only fault if
 * SVM was taken from this CPU under us, which the caller rules out with
 * IRQs off (the crash path's NMI that does it never returns). Past the
 * guest's VMLOAD, FS and GS are the guest's, so no C code could run
 * safely after such a fault: it is a BUG, as in KVM.
 */
SYM_FUNC_START(lkvm_svm_vmrun)
	push %rbp
	mov  %rsp, %rbp
	push %r15
	push %r14
	push %r13
	push %r12
	push %rbx
	push %rdx
	push %rsi
	push %rdi

	/* The host's FS/GS bases and syscall MSRs, then the guest's. */
	mov %rdx, %rax
1:	vmsave %rax
	mov %rdi, %rax
3:	vmload %rax

	mov GPR_RCX(%rsi), %rcx
	mov GPR_RDX(%rsi), %rdx
	mov GPR_RBX(%rsi), %rbx
	mov GPR_RBP(%rsi), %rbp
	mov GPR_R8(%rsi), %r8
	mov GPR_R9(%rsi), %r9
	mov GPR_R10(%rsi), %r10
	mov GPR_R11(%rsi), %r11
	mov GPR_R12(%rsi), %r12
	mov GPR_R13(%rsi), %r13
	mov GPR_R14(%rsi), %r14
	mov GPR_R15(%rsi), %r15
	mov GPR_RDI(%rsi), %rdi
	mov GPR_RSI(%rsi), %rsi

	/* Leave nothing in CPU buffers for the guest to sample (MDS, TSA). */
	VM_CLEAR_CPU_BUFFERS

5:	vmrun %rax

	/* #VMEXIT restored RSP and RAX: the stack is ours again. */
	mov ARG_GPRS(%rsp), %rax
	mov %rcx, GPR_RCX(%rax)
	mov %rdx, GPR_RDX(%rax)
	mov %rbx, GPR_RBX(%rax)
	mov %rbp, GPR_RBP(%rax)
	mov %rsi, GPR_RSI(%rax)
	mov %rdi, GPR_RDI(%rax)
	mov %r8, GPR_R8(%rax)
	mov %r9, GPR_R9(%rax)
	mov %r10, GPR_R10(%rax)
	mov %r11, GPR_R11(%rax)
	mov %r12, GPR_R12(%rax)
	mov %r13, GPR_R13(%rax)
	mov %r14, GPR_R14(%rax)
	mov %r15, GPR_R15(%rax)

	mov ARG_VMCB(%rsp), %rax
7:	vmsave %rax
	mov ARG_HOST(%rsp), %rax
	/* Back to the host's GS base: per-CPU data works again after this. */
9:	vmload %rax

	/* No return may be predicted from what the guest left behind. */
	FILL_RETURN_BUFFER %rax, RSB_CLEAR_LOOPS, X86_FEATURE_RETPOLINE
	UNTRAIN_RET
	/* SRSO's ibpb-vmexit mode. Clobbers RAX, RCX, RDX, cleared below. */
	ALTERNATIVE "", "call entry_ibpb", X86_FEATURE_IBPB_ON_VMEXIT

	/* Leave no guest value in a register for speculation to use. */
	xor %eax, %eax
	xor %ecx, %ecx
	xor %edx, %edx
	xor %esi, %esi
	xor %edi, %edi
	xor %r8d, %r8d
	xor %r9d, %r9d
	xor %r10d, %r10d
	xor %r11d, %r11d

	add $24, %rsp
	pop %rbx
	pop %r12
	pop %r13
	pop %r14
	pop %r15
	pop %rbp
	RET

20:	ud2

	_ASM_EXTABLE(1b, 20b)
	_ASM_EXTABLE(3b, 20b)
	_ASM_EXTABLE(5b, 20b)
	_ASM_EXTABLE(7b, 20b)
	_ASM_EXTABLE(9b, 20b)
SYM_FUNC_END(lkvm_svm_vmrun)
