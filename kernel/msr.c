// SPDX-License-Identifier: GPL-2.0-only
/*
 * MSRs: every RDMSR and WRMSR of the guest exits (the permission map is
 * all ones), and lands here.
 *
 * The MSRs VMRUN and VMLOAD switch live in the VMCB and are read and
 * written there; a value the CPU would refuse to load is a #GP for the
 * guest, as it would be on bare metal, never a failed VMRUN. An MSR not
 * listed is a #GP too: guests probe MSRs with exception fixups. In a VM
 * with a platform, the local APIC and kvmclock add theirs.
 */
#include <linux/bits.h>
#include <asm/msr-index.h>
#include <asm/msr.h>
#include <asm/processor.h>

#include "lkvm.h"

#define EFER_GUEST_BITS		(EFER_SCE | EFER_LME | EFER_LMA | EFER_NX)
#define MTRR_DEF_TYPE_VALID	(GENMASK_ULL(7, 0) | BIT_ULL(10) | BIT_ULL(11))

static bool lkvm_canonical(u64 addr)
{
	return ((s64)addr << 16 >> 16) == (s64)addr;
}

/* Each byte of the PAT is a memory type: UC WC WT WP WB UC-. */
static bool lkvm_pat_valid(u64 pat)
{
	int i;

	for (i = 0; i < 8; i++) {
		u8 type = pat >> (i * 8);

		if (type == 2 || type == 3 || type > 7)
			return false;
	}
	return true;
}

/* Memory types a variable-less MTRR set may default to: UC WC WT WP WB. */
static bool lkvm_mtrr_type_valid(u8 type)
{
	return type == 0 || type == 1 || (type >= 4 && type <= 6);
}

static int lkvm_efer_write(struct lkvm_vcpu *vcpu, u64 val)
{
	u64 cur = lkvm_guest_efer(vcpu);

	if (val & ~EFER_GUEST_BITS)
		return -EINVAL;
	/* LMA is the CPU's to set; LME may not change while paging is on. */
	val = (val & ~EFER_LMA) | (cur & EFER_LMA);
	if ((vcpu->vmcb->save.cr0 & X86_CR0_PG) && ((val ^ cur) & EFER_LME))
		return -EINVAL;
	lkvm_set_efer(vcpu, val | EFER_SVME);
	return 0;
}

/* The platform's MSRs: the local APIC's and kvmclock's. */
static int lkvm_msr_read_platform(struct lkvm_vcpu *vcpu, u32 msr, u64 *val)
{
	int ret;

	if (!vcpu->apic)
		return -EINVAL;
	ret = lkvm_lapic_msr_read(vcpu, msr, val);
	if (ret != -ENOENT)
		return ret;
	ret = lkvm_kvmclock_msr_read(vcpu, msr, val);
	return ret == -ENOENT ? -EINVAL : ret;
}

static int lkvm_msr_write_platform(struct lkvm_vcpu *vcpu, u32 msr, u64 val)
{
	int ret;

	if (!vcpu->apic)
		return -EINVAL;
	ret = lkvm_lapic_msr_write(vcpu, msr, val);
	if (ret != -ENOENT)
		return ret;
	ret = lkvm_kvmclock_msr_write(vcpu, msr, val);
	return ret == -ENOENT ? -EINVAL : ret;
}

int lkvm_msr_read(struct lkvm_vcpu *vcpu, u32 msr, u64 *val)
{
	const struct vmcb_save_area *save = &vcpu->vmcb->save;

	switch (msr) {
	case MSR_EFER:
		*val = lkvm_guest_efer(vcpu);
		break;
	case MSR_STAR:
		*val = save->star;
		break;
	case MSR_LSTAR:
		*val = save->lstar;
		break;
	case MSR_CSTAR:
		*val = save->cstar;
		break;
	case MSR_SYSCALL_MASK:
		*val = save->sfmask;
		break;
	case MSR_KERNEL_GS_BASE:
		*val = save->kernel_gs_base;
		break;
	case MSR_FS_BASE:
		*val = save->fs.base;
		break;
	case MSR_GS_BASE:
		*val = save->gs.base;
		break;
	case MSR_IA32_SYSENTER_CS:
		*val = save->sysenter_cs;
		break;
	case MSR_IA32_SYSENTER_ESP:
		*val = save->sysenter_esp;
		break;
	case MSR_IA32_SYSENTER_EIP:
		*val = save->sysenter_eip;
		break;
	case MSR_IA32_CR_PAT:
		*val = save->g_pat;
		break;
	case MSR_IA32_TSC:
		*val = rdtsc() + vcpu->vmcb->control.tsc_offset;
		break;
	case MSR_MTRRcap:
		/* No fixed or variable ranges: the default type covers all. */
		*val = 0;
		break;
	case MSR_MTRRdefType:
		*val = vcpu->mtrr_def_type;
		break;
	case MSR_IA32_MCG_CAP:
	case MSR_IA32_MCG_STATUS:
	case MSR_AMD64_PATCH_LEVEL:
	/*
	 * Linux reads it without a fixup on K8-family CPUs (the test VM's is
	 * one) to learn whether C1E is on: it is not.
	 */
	case MSR_K8_INT_PENDING_MSG:
		*val = 0;
		break;
	default:
		return lkvm_msr_read_platform(vcpu, msr, val);
	}
	return 0;
}

int lkvm_msr_write(struct lkvm_vcpu *vcpu, u32 msr, u64 val)
{
	struct vmcb_save_area *save = &vcpu->vmcb->save;

	switch (msr) {
	case MSR_EFER:
		return lkvm_efer_write(vcpu, val);
	case MSR_STAR:
		save->star = val;
		break;
	case MSR_LSTAR:
	case MSR_CSTAR:
	case MSR_KERNEL_GS_BASE:
	case MSR_FS_BASE:
	case MSR_GS_BASE:
	case MSR_IA32_SYSENTER_ESP:
	case MSR_IA32_SYSENTER_EIP:
		if (!lkvm_canonical(val))
			return -EINVAL;
		if (msr == MSR_LSTAR)
			save->lstar = val;
		else if (msr == MSR_CSTAR)
			save->cstar = val;
		else if (msr == MSR_KERNEL_GS_BASE)
			save->kernel_gs_base = val;
		else if (msr == MSR_FS_BASE)
			save->fs.base = val;
		else if (msr == MSR_GS_BASE)
			save->gs.base = val;
		else if (msr == MSR_IA32_SYSENTER_ESP)
			save->sysenter_esp = val;
		else
			save->sysenter_eip = val;
		break;
	case MSR_SYSCALL_MASK:
		save->sfmask = val & 0xffffffffULL;
		break;
	case MSR_IA32_SYSENTER_CS:
		save->sysenter_cs = val & 0xffff;
		break;
	case MSR_IA32_CR_PAT:
		if (!lkvm_pat_valid(val))
			return -EINVAL;
		save->g_pat = val;
		break;
	case MSR_IA32_TSC:
		vcpu->vmcb->control.tsc_offset = val - rdtsc();
		break;
	case MSR_MTRRdefType:
		if ((val & ~MTRR_DEF_TYPE_VALID) || !lkvm_mtrr_type_valid(val & 0xff))
			return -EINVAL;
		vcpu->mtrr_def_type = val;
		break;
	case MSR_IA32_MCG_STATUS:
		if (val)
			return -EINVAL;
		break;
	case MSR_AMD64_PATCH_LEVEL:
		/* Linux writes it to learn the microcode revision; nothing to keep. */
		break;
	default:
		return lkvm_msr_write_platform(vcpu, msr, val);
	}
	return 0;
}
