// SPDX-License-Identifier: GPL-2.0-only
/*
 * EFER.LME held back from the VMCB while the guest's paging is off.
 *
 * QEMU 7.2's #VMEXIT (the test VM's CPU) reloads the host's CR0 while the
 * guest's EFER and CR4 are still loaded. For a guest with EFER.LME set,
 * paging off and CR4.PAE clear, that looks like entering long mode
 * without PAE, which QEMU refuses by leaving CR0 unchanged: the host CPU
 * goes on with the guest's CR0, paging off, and is lost. Any guest can
 * reach that state (set LME before PAE, or leave long mode and clear
 * PAE); it is architecturally valid.
 *
 * While paging is off, LME only matters at the moment paging comes on.
 * So the VMCB's LME stays clear in that state and the guest's value lives
 * in vcpu->lme_held. CR0 writes are intercepted whenever the guest's LME
 * is set (in long mode too, where Linux hardly ever writes CR0), and
 * emulated here: turning paging on activates long mode, turning it off in
 * compatibility mode leaves it, as the CPU would. Everything that shows
 * EFER (RDMSR, LKVM_GET_SREGS) shows the guest's value.
 * Documentation/run-loop.rst has the whole story.
 */
#include <asm/svm.h>

#include "lkvm.h"

static void lkvm_cr0_write_intercept(struct lkvm_vcpu *vcpu, bool on)
{
	u32 *word = &vcpu->vmcb->control.intercepts[INTERCEPT_CR0_WRITE / 32];

	if (on)
		*word |= BIT(INTERCEPT_CR0_WRITE % 32);
	else
		*word &= ~BIT(INTERCEPT_CR0_WRITE % 32);
}

/*
 * After anything changed EFER or CR0 (userspace, an MSR write, a CR0
 * write), and before every VMRUN.
 */
void lkvm_lme_sync(struct lkvm_vcpu *vcpu)
{
	struct vmcb_save_area *save = &vcpu->vmcb->save;

	if (!(save->efer & EFER_LME) || (save->cr0 & X86_CR0_PG))
		return;
	save->efer &= ~EFER_LME;
	vcpu->lme_held = true;
}

/* EFER as the guest set it. */
u64 lkvm_guest_efer(struct lkvm_vcpu *vcpu)
{
	return (vcpu->vmcb->save.efer & ~EFER_SVME) | (vcpu->lme_held ? EFER_LME : 0);
}

/* A new EFER (SVME included) from userspace or the guest. */
void lkvm_set_efer(struct lkvm_vcpu *vcpu, u64 efer)
{
	vcpu->vmcb->save.efer = efer;
	vcpu->lme_held = false;
	lkvm_lme_sync(vcpu);
	lkvm_cr0_write_intercept(vcpu, efer & EFER_LME);
}

#define CR0_WRITABLE	(X86_CR0_PE | X86_CR0_MP | X86_CR0_EM | X86_CR0_TS | X86_CR0_ET | \
			 X86_CR0_NE | X86_CR0_WP | X86_CR0_AM | X86_CR0_NW | X86_CR0_CD | \
			 X86_CR0_PG)
#define LMSW_BITS	(X86_CR0_PE | X86_CR0_MP | X86_CR0_EM | X86_CR0_TS)
#define REX_B		0x1

static bool lkvm_ignored_prefix(u8 b)
{
	/* Operand size, address size and segments change nothing here. */
	return b == 0x66 || b == 0x67 || b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e ||
	       b == 0x64 || b == 0x65;
}

/*
 * Decode the CR0 write at CS:RIP: MOV CR0, reg (0F 22 /0), CLTS (0F 06)
 * or LMSW reg (0F 01 /6). Returns its length, or 0 for anything else
 * (LMSW from memory: no guest has been seen to need it).
 */
static unsigned int lkvm_decode_cr0_write(struct lkvm_vcpu *vcpu, const u8 *b, unsigned int n,
					  u64 *cr0)
{
	int mode = lkvm_code_mode(vcpu);
	u64 old = vcpu->vmcb->save.cr0, src;
	unsigned int i = 0;
	u8 modrm, rex = 0;

	while (i < n && lkvm_ignored_prefix(b[i]))
		i++;
	if (mode == 64 && i < n && (b[i] & 0xf0) == 0x40)
		rex = b[i++];
	if (i + 2 > n || b[i] != 0x0f)
		return 0;
	if (b[i + 1] == 0x06) {
		*cr0 = old & ~X86_CR0_TS;
		return i + 2;
	}
	if (i + 3 > n)
		return 0;
	modrm = b[i + 2];
	src = lkvm_gpr_read(vcpu, (modrm & 7) | (rex & REX_B ? 8 : 0));
	/* MOV CR ignores the mod field: always a register, 64 bits in 64-bit code. */
	if (b[i + 1] == 0x22 && ((modrm >> 3) & 7) == 0) {
		*cr0 = mode == 64 ? src : (u32)src;
		return i + 3;
	}
	if (b[i + 1] == 0x01 && ((modrm >> 3) & 7) == 6 && (modrm >> 6) == 3) {
		/* LMSW sets PE but never clears it. */
		*cr0 = (old & ~LMSW_BITS) | ((src | (old & X86_CR0_PE)) & LMSW_BITS);
		return i + 3;
	}
	return 0;
}

/* SVM_EXIT_WRITE_CR0, intercepted while the guest's EFER.LME is set. */
int lkvm_exit_cr0_write(struct lkvm_vcpu *vcpu)
{
	struct vmcb_save_area *save = &vcpu->vmcb->save;
	bool lma = save->efer & EFER_LMA;
	struct lkvm_run *run = &vcpu->run;
	unsigned int len, avail;
	u8 bytes[15];
	u64 cr0;

	lkvm_stat_inc(vcpu, LKVM_STAT_OTHER_EXITS);
	avail = lkvm_fetch(vcpu, lkvm_code_mode(vcpu), bytes, sizeof(bytes));
	if (!avail)
		return lkvm_internal_error(vcpu, LKVM_INTERNAL_FETCH);
	len = lkvm_decode_cr0_write(vcpu, bytes, avail, &cr0);
	if (!len) {
		/* As for MMIO: the bytes that were not decoded go to userspace. */
		run->internal.insn_len = min_t(unsigned int, avail, sizeof(run->internal.insn));
		memcpy(run->internal.insn, bytes, run->internal.insn_len);
		return lkvm_internal_error(vcpu, LKVM_INTERNAL_EMULATION);
	}
	/* What MOV CR0 refuses; and paging with LME but no PAE, or off in 64-bit code. */
	if ((cr0 >> 32) || ((cr0 & X86_CR0_NW) && !(cr0 & X86_CR0_CD)) ||
	    ((cr0 & X86_CR0_PG) && !(cr0 & X86_CR0_PE)) ||
	    (vcpu->lme_held && (cr0 & X86_CR0_PG) && !(save->cr4 & X86_CR4_PAE)) ||
	    (lma && !(cr0 & X86_CR0_PG) && lkvm_code_mode(vcpu) == 64)) {
		lkvm_inject_gp(vcpu);
		return 1;
	}
	lkvm_skip_insn(vcpu, len);
	cr0 = (cr0 & CR0_WRITABLE) | X86_CR0_ET;
	if ((cr0 ^ save->cr0) & X86_CR0_PG) {
		if (vcpu->lme_held) {
			/* Long mode is active from here on, as paging comes on. */
			save->efer |= EFER_LME | EFER_LMA;
			vcpu->lme_held = false;
		} else if (lma) {
			/* Out of compatibility mode: long mode is left. */
			save->efer &= ~EFER_LMA;
		}
		/* Translations made with paging on or off are no longer the guest's. */
		vcpu->asid.cpu = -1;
	}
	save->cr0 = cr0;
	lkvm_lme_sync(vcpu);
	return 1;
}
