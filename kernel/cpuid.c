// SPDX-License-Identifier: GPL-2.0-only
/*
 * CPUID: the host's answers, filtered down to what a guest can really use
 * here, plus the hypervisor leaves.
 *
 * A feature bit passes only if it is on an allow list below: an
 * instruction set the guest runs natively and whose state VMRUN or the
 * FPU switch carries. Everything that needs emulation not built yet (the
 * APIC without a platform, machine-check banks, performance counters,
 * nested SVM, TSC_AUX, protection keys, AVX-512 state) reads as absent.
 * The hypervisor leaves speak KVM's paravirtual interface
 * (Documentation/virt/kvm/x86/cpuid.rst in Linux), so stock guests
 * recognise it; with a platform they offer the APIC (x2APIC, TSC-deadline
 * timer) and kvmclock, which a stock Linux guest then uses for its clock
 * and to know the TSC's rate.
 */
#include <linux/bits.h>
#include <linux/minmax.h>
#include <asm/fpu/xcr.h>
#include <asm/fpu/xstate.h>
#include <asm/processor.h>
#include <uapi/asm/kvm_para.h>

#include "lkvm.h"

#define LKVM_MAX_BASIC_LEAF	0xd
#define LKVM_MAX_EXT_LEAF	0x80000008
#define LKVM_HV_BASE		0x40000000
#define LKVM_HV_FEATURES	0x40000001
#define LKVM_GUEST_LINEAR_BITS	48

/* Leaf 1 EDX: FPU VME DE PSE TSC MSR PAE CX8 SEP MTRR PGE CMOV PAT PSE36 CLFSH MMX FXSR SSE SSE2 */
#define LEAF1_EDX	0x078bb97fU
/*
 * Leaf 1 ECX: SSE3 PCLMULQDQ SSSE3 FMA CX16 SSE4.1 SSE4.2 MOVBE POPCNT AES
 * XSAVE AVX F16C RDRAND (OSXSAVE follows the guest's CR4, HYPERVISOR is ours)
 */
#define LEAF1_ECX	0x76d83203U
#define LEAF1_ECX_OSXSAVE	BIT(27)
/* With a platform: the local APIC, its x2APIC mode and TSC-deadline timer. */
#define LEAF1_EDX_APIC		BIT(9)
#define LEAF1_ECX_X2APIC	BIT(21)
#define LEAF1_ECX_TSC_DEADLINE	BIT(24)
/*
 * KVM's paravirtual features with a platform: kvmclock (both MSR sets,
 * stable bit) and EOI without an exit (lapic.c).
 */
#define HV_FEATURES_PLATFORM	(BIT(KVM_FEATURE_CLOCKSOURCE) | BIT(KVM_FEATURE_CLOCKSOURCE2) | \
				 BIT(KVM_FEATURE_CLOCKSOURCE_STABLE_BIT) | BIT(KVM_FEATURE_PV_EOI))
#define LEAF1_ECX_HYPERVISOR	BIT(31)
/* Leaf 7 EBX: FSGSBASE BMI1 AVX2 SMEP BMI2 ERMS INVPCID RDSEED ADX SMAP CLFLUSHOPT CLWB SHA */
#define LEAF7_EBX	0x219c07a9U
/* Leaf 7 ECX: UMIP GFNI VAES VPCLMULQDQ */
#define LEAF7_ECX	0x00000704U
/* 0x80000001 ECX: LAHF ABM SSE4A MISALIGNSSE 3DNOWPREFETCH XOP FMA4 TBM */
#define EXT1_ECX	0x002109e1U
/*
 * 0x80000001 EDX: leaf 1's bits as AMD mirrors them, SYSCALL NX MMXEXT
 * PDPE1GB LM 3DNOWEXT 3DNOW (not RDTSCP: TSC_AUX is the host's; not
 * FXSR_OPT: EFER.FFXSR is not a bit a guest may set)
 */
#define EXT1_EDX	0xe5d3b97fU
/* 0x80000007 EDX: invariant TSC */
#define EXT7_EDX	BIT(8)
/* 0xd.1 EAX: XSAVEOPT XSAVEC XGETBV1 (not XSAVES: no IA32_XSS) */
#define XSAVE1_EAX	0x7U

/* The XCR0 bits a guest may set: x87, SSE and AVX state, where the host has them. */
u64 lkvm_guest_xcr0_allowed(void)
{
	u64 allowed = XFEATURE_MASK_FP | XFEATURE_MASK_SSE | XFEATURE_MASK_YMM;

	if (!boot_cpu_has(X86_FEATURE_XSAVE))
		return 0;
	return allowed & xgetbv(XCR_XFEATURE_ENABLED_MASK);
}

/* Bytes an XSAVE of the components in @xcr0 needs, standard format. */
static u32 lkvm_xsave_size(u64 xcr0)
{
	u32 size = 512 + 64, i, eax, ebx, ecx, edx;

	for (i = 2; i < 64; i++) {
		if (!(xcr0 & BIT_ULL(i)))
			continue;
		cpuid_count(0xd, i, &eax, &ebx, &ecx, &edx);
		size = max(size, eax + ebx);
	}
	return size;
}

static void lkvm_cpuid_xsave(struct lkvm_vcpu *vcpu, u32 subleaf, u32 *eax, u32 *ebx,
			     u32 *ecx, u32 *edx)
{
	u64 allowed = lkvm_guest_xcr0_allowed();

	if (!allowed)
		return;
	switch (subleaf) {
	case 0:
		*eax = lower_32_bits(allowed);
		*edx = upper_32_bits(allowed);
		*ebx = lkvm_xsave_size(vcpu->xcr0);
		*ecx = lkvm_xsave_size(allowed);
		break;
	case 1:
		cpuid_count(0xd, 1, eax, ebx, ecx, edx);
		*eax &= XSAVE1_EAX;
		*ebx = 0;
		*ecx = 0;
		*edx = 0;
		break;
	default:
		if (subleaf < 64 && (allowed & BIT_ULL(subleaf)))
			cpuid_count(0xd, subleaf, eax, ebx, ecx, edx);
		break;
	}
}

void lkvm_cpuid(struct lkvm_vcpu *vcpu, u32 leaf, u32 subleaf, u32 *eax, u32 *ebx,
		u32 *ecx, u32 *edx)
{
	u32 host_max = cpuid_eax(0), host_ext_max = cpuid_eax(0x80000000);

	*eax = 0;
	*ebx = 0;
	*ecx = 0;
	*edx = 0;
	switch (leaf) {
	case 0:
		cpuid(0, eax, ebx, ecx, edx);
		*eax = min_t(u32, *eax, LKVM_MAX_BASIC_LEAF);
		return;
	case 1:
		cpuid(1, eax, ebx, ecx, edx);
		/* Initial APIC id, one logical processor; CLFLUSH size and brand kept. */
		*ebx = (vcpu->id << 24) | (1 << 16) | (*ebx & 0xffff);
		*ecx &= LEAF1_ECX;
		if (vcpu->vmcb->save.cr4 & X86_CR4_OSXSAVE)
			*ecx |= LEAF1_ECX_OSXSAVE;
		*ecx |= LEAF1_ECX_HYPERVISOR;
		*edx &= LEAF1_EDX;
		if (vcpu->apic) {
			*ecx |= LEAF1_ECX_X2APIC | LEAF1_ECX_TSC_DEADLINE;
			*edx |= LEAF1_EDX_APIC;
		}
		return;
	case 7:
		if (subleaf || host_max < 7)
			return;
		cpuid_count(7, 0, eax, ebx, ecx, edx);
		*eax = 0;
		*ebx &= LEAF7_EBX;
		*ecx &= LEAF7_ECX;
		*edx = 0;
		return;
	case 0xd:
		if (host_max >= 0xd)
			lkvm_cpuid_xsave(vcpu, subleaf, eax, ebx, ecx, edx);
		return;
	case LKVM_HV_BASE:
		*eax = LKVM_HV_FEATURES;
		memcpy(ebx, "KVMK", 4);
		memcpy(ecx, "VMKV", 4);
		memcpy(edx, "M\0\0\0", 4);
		return;
	case LKVM_HV_FEATURES:
		if (vcpu->apic)
			*eax = HV_FEATURES_PLATFORM;
		return;
	case 0x80000000:
		cpuid(0x80000000, eax, ebx, ecx, edx);
		*eax = min_t(u32, *eax, LKVM_MAX_EXT_LEAF);
		return;
	}

	if (leaf < 0x80000000 || leaf > min_t(u32, host_ext_max, LKVM_MAX_EXT_LEAF))
		return;
	switch (leaf) {
	case 0x80000001:
		cpuid(leaf, eax, ebx, ecx, edx);
		*ebx = 0;
		*ecx &= EXT1_ECX;
		*edx &= EXT1_EDX;
		return;
	case 0x80000002 ... 0x80000006:
		/* Brand string and cache descriptions, as the host has them. */
		cpuid(leaf, eax, ebx, ecx, edx);
		return;
	case 0x80000007:
		*edx = cpuid_edx(leaf) & EXT7_EDX;
		return;
	case 0x80000008:
		/* Physical address bits as NPT maps them, linear bits of 4-level paging. */
		*eax = min_t(u32, cpuid_eax(leaf) & 0xff, LKVM_GUEST_PHYS_BITS) |
		       (LKVM_GUEST_LINEAR_BITS << 8);
		return;
	}
}
