// SPDX-License-Identifier: GPL-2.0
/*
 * The local APIC of a VM with the platform, seen from a guest: CPUID,
 * IA32_APIC_BASE and its mode transitions, the x2APIC MSRs and their #GP
 * rules, the xAPIC page, IPIs and their priorities (TPR, CR8, ISR), EOI,
 * and the timer in its three modes, HLT included. The guest checks what
 * it sees; the host checks the vCPU's counters.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib/guest.h"

#define VECTOR_GP		13

#define MSR_APICBASE		0x1b
#define MSR_TSC_DEADLINE	0x6e0
#define APICBASE_BSP		(1ULL << 8)
#define APICBASE_EXTD		(1ULL << 10)
#define APICBASE_EN		(1ULL << 11)
#define APICBASE_DEFAULT	(0xfee00000ULL | APICBASE_EN | APICBASE_BSP)

/* Registers by xAPIC offset; x2APIC MSR 0x800 + offset / 16. */
#define APIC_ID			0x20
#define APIC_LVR		0x30
#define APIC_TPR		0x80
#define APIC_APR		0x90
#define APIC_PPR		0xa0
#define APIC_EOI		0xb0
#define APIC_RRD		0xc0
#define APIC_LDR		0xd0
#define APIC_DFR		0xe0
#define APIC_SVR		0xf0
#define APIC_ISR		0x100
#define APIC_TMR		0x180
#define APIC_IRR		0x200
#define APIC_ESR		0x280
#define APIC_CMCI		0x2f0
#define APIC_ICR		0x300
#define APIC_ICR2		0x310
#define APIC_LVTT		0x320
#define APIC_LVT0		0x350
#define APIC_LVTERR		0x370
#define APIC_TMICT		0x380
#define APIC_TMCCT		0x390
#define APIC_TDCR		0x3e0
#define APIC_SELF_IPI		0x3f0
#define X2(reg)			(0x800 + ((reg) >> 4))

#define SVR_ENABLE		(1 << 8)
#define LVT_MASKED		(1 << 16)
#define LVT_PERIODIC		(1 << 17)
#define LVT_DEADLINE		(2 << 17)
#define TDCR_DIV_1		0xb
#define ICR_NMI			(4 << 8)
#define ICR_LOGICAL		(1 << 11)
#define ICR_SELF		(1 << 18)
#define ICR_ALL			(2 << 18)
#define ICR_ALL_BUT_SELF	(3 << 18)

#define XAPIC_BASE		0xfee00000UL
#define XAPIC(reg)		((volatile uint32_t *)(XAPIC_BASE + (reg)))

/* Handlers: EOI through the MSR, through the page, or none. */
#define VEC_TIMER		0x40
#define VEC_LOW			0x45
#define VEC_IPI			0x50
#define VEC_XAPIC		0x60
#define VEC_NOEOI		0x70
#define VEC_HIGH		0x90
#define VEC_PV_LOW		0xa0
#define VEC_PV			0xb0
#define VEC_ONCE		0xc0

#define MSR_KVM_PV_EOI_EN	0x4b564d04
#define UNBACKED_GPA		0x20000000ULL

static volatile uint64_t irq_count, noeoi_count;
/* once_stub: handlers running now, entries into a running one, TSC ticks each spins. */
static volatile uint64_t once_depth, once_nested, once_tsc;
/* The paravirtual EOI flag: bit 0 set by the host means "EOI by clearing me". */
static volatile uint32_t pv_eoi_flag __attribute__((aligned(4)));
/* Guest TSC ticks per millisecond, measured by the host (the guest's TSC runs at its rate). */
static uint64_t tsc_per_ms;

asm(".pushsection .text\n"
    "x2apic_eoi_stub:\n\t"
    "push %rax\n\t"
    "push %rcx\n\t"
    "push %rdx\n\t"
    "lock incq irq_count(%rip)\n\t"
    "mov $0x80b, %ecx\n\t"
    "xor %eax, %eax\n\t"
    "xor %edx, %edx\n\t"
    "wrmsr\n\t"
    "pop %rdx\n\t"
    "pop %rcx\n\t"
    "pop %rax\n\t"
    "iretq\n"
    "xapic_eoi_stub:\n\t"
    "push %rax\n\t"
    "lock incq irq_count(%rip)\n\t"
    "mov $0xfee000b0, %eax\n\t"
    "movl $0, (%rax)\n\t"
    "pop %rax\n\t"
    "iretq\n"
    "noeoi_stub:\n\t"
    "lock incq noeoi_count(%rip)\n\t"
    "iretq\n"
    /* As Linux's EOI with KVM_FEATURE_PV_EOI: the flag if set, else the register. */
    "pv_eoi_stub:\n\t"
    "push %rax\n\t"
    "push %rcx\n\t"
    "push %rdx\n\t"
    "lock incq irq_count(%rip)\n\t"
    "lock btrl $0, pv_eoi_flag(%rip)\n\t"
    "jc 1f\n\t"
    "mov $0x80b, %ecx\n\t"
    "xor %eax, %eax\n\t"
    "xor %edx, %edx\n\t"
    "wrmsr\n"
    "1:\n\t"
    "pop %rdx\n\t"
    "pop %rcx\n\t"
    "pop %rax\n\t"
    "iretq\n"
    /*
     * Counts itself, notes whether it interrupted itself, then spins
     * without an exit for once_tsc ticks (no PAUSE: in QEMU that would end
     * the stretch as an exit does), IF clear throughout, before its EOI.
     */
    "once_stub:\n\t"
    "push %rax\n\t"
    "push %rcx\n\t"
    "push %rdx\n\t"
    "lock incq irq_count(%rip)\n\t"
    "lock incq once_depth(%rip)\n\t"
    "cmpq $1, once_depth(%rip)\n\t"
    "je 1f\n\t"
    "lock incq once_nested(%rip)\n"
    "1:\n\t"
    "rdtsc\n\t"
    "shl $32, %rdx\n\t"
    "or %rdx, %rax\n\t"
    "mov %rax, %rcx\n\t"
    "add once_tsc(%rip), %rcx\n"
    "2:\n\t"
    "rdtsc\n\t"
    "shl $32, %rdx\n\t"
    "or %rdx, %rax\n\t"
    "cmp %rcx, %rax\n\t"
    "jb 2b\n\t"
    "lock decq once_depth(%rip)\n\t"
    "mov $0x80b, %ecx\n\t"
    "xor %eax, %eax\n\t"
    "xor %edx, %edx\n\t"
    "wrmsr\n\t"
    "pop %rdx\n\t"
    "pop %rcx\n\t"
    "pop %rax\n\t"
    "iretq\n"
    ".popsection");
void once_stub(void);
void pv_eoi_stub(void);
void x2apic_eoi_stub(void);
void xapic_eoi_stub(void);
void noeoi_stub(void);

static uint64_t stat(struct guest *g, int which)
{
	struct lkvm_vcpu_stats s;

	if (guest_stats(g, &s))
		return ~0ULL;
	return s.stat[which];
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static uint64_t host_tsc_per_ms(void)
{
	static uint64_t rate;
	struct timespec a, b;
	uint64_t t0, t1, ns;

	if (rate)
		return rate;
	clock_gettime(CLOCK_MONOTONIC, &a);
	t0 = rdtsc();
	usleep(50000);
	t1 = rdtsc();
	clock_gettime(CLOCK_MONOTONIC, &b);
	ns = (b.tv_sec - a.tv_sec) * 1000000000ULL + b.tv_nsec - a.tv_nsec;
	rate = (t1 - t0) * 1000000ULL / ns;
	return rate;
}

/* ---- guest helpers ---- */

#define WRMSR(msr, val)	GUEST_ASSERT_EQ(guest_wrmsr_safe((msr), (val)), 0)
#define WRMSR_GP(msr, val) GUEST_ASSERT_EQ(guest_wrmsr_safe((msr), (val)), VECTOR_GP)
#define RDMSR_GP(msr) ({							\
	uint64_t __v;								\
	GUEST_ASSERT_EQ(guest_rdmsr_safe((msr), &__v), VECTOR_GP);		\
})

static uint64_t rdmsr(uint32_t msr)
{
	uint64_t val;

	GUEST_ASSERT_EQ(guest_rdmsr_safe(msr, &val), 0);
	return val;
}

static void x2apic_enable(void)
{
	WRMSR(MSR_APICBASE, rdmsr(MSR_APICBASE) | APICBASE_EXTD);
	WRMSR(X2(APIC_SVR), SVR_ENABLE | 0xff);
}

static void spin_ms(uint64_t ms)
{
	uint64_t end = rdtsc() + ms * tsc_per_ms;

	while (rdtsc() < end)
		asm volatile("pause");
}

/* Wait up to @ms for irq_count to reach @n, interrupts on. */
static void wait_irqs(uint64_t n, uint64_t ms)
{
	uint64_t end = rdtsc() + ms * tsc_per_ms;

	asm volatile("sti" ::: "memory");
	while (irq_count < n && rdtsc() < end)
		asm volatile("pause");
	asm volatile("cli" ::: "memory");
}

static bool isr_bit(uint8_t vector)
{
	return rdmsr(X2(APIC_ISR) + vector / 32) & (1U << (vector % 32));
}

static bool irr_bit(uint8_t vector)
{
	return rdmsr(X2(APIC_IRR) + vector / 32) & (1U << (vector % 32));
}

/* ---- host helpers ---- */

static struct guest *platform_guest(void *code)
{
	struct guest_opts opts = { .backend = GUEST_LKVM, .platform = true };
	struct guest *g = guest_create(&opts, code);

	if (!g)
		return NULL;
	guest_set_idt_handler(g, VEC_TIMER, x2apic_eoi_stub);
	guest_set_idt_handler(g, VEC_LOW, x2apic_eoi_stub);
	guest_set_idt_handler(g, VEC_IPI, x2apic_eoi_stub);
	guest_set_idt_handler(g, VEC_XAPIC, xapic_eoi_stub);
	guest_set_idt_handler(g, VEC_NOEOI, noeoi_stub);
	guest_set_idt_handler(g, VEC_HIGH, noeoi_stub);
	guest_set_idt_handler(g, VEC_PV_LOW, pv_eoi_stub);
	guest_set_idt_handler(g, VEC_PV, pv_eoi_stub);
	guest_set_idt_handler(g, VEC_ONCE, once_stub);
	guest_set_args(g, host_tsc_per_ms(), 0);
	return g;
}

#define PLATFORM_GUEST_OR_SKIP(g, code) do {					\
	(g) = platform_guest(code);						\
	if (!(g) && errno == ENODEV)						\
		SKIP(return, "%s", guest_error());				\
	ASSERT_NE(NULL, (g)) TH_LOG("%s", guest_error());			\
} while (0)

/* A guest that runs @code to GUEST_DONE; the caller checks counters, then destroys it. */
#define RUN_TO_DONE(g, code) do {						\
	struct ucall __uc;							\
										\
	PLATFORM_GUEST_OR_SKIP(g, code);					\
	ASSERT_UCALL(g, UCALL_DONE, &__uc);					\
} while (0)

/* A test whose guest does all the checking; the body that follows is the guest's. */
#define GUEST_TEST(name)							\
	static void guest_##name##_body(void);					\
	static void guest_##name(uint64_t a0, uint64_t a1)			\
	{									\
		tsc_per_ms = a0;						\
		guest_##name##_body();						\
	}									\
	TEST(name)								\
	{									\
		struct guest *g;						\
										\
		RUN_TO_DONE(g, guest_##name);					\
		guest_destroy(g);						\
	}									\
	static void guest_##name##_body(void)

/* ---- CPUID ---- */

static uint32_t cpuid1_ecx, cpuid1_edx;

static void guest_cpuid1(uint64_t a0, uint64_t a1)
{
	uint32_t eax, ebx;

	guest_cpuid(1, &eax, &ebx, (uint32_t *)&cpuid1_ecx, (uint32_t *)&cpuid1_edx);
	GUEST_DONE();
}

TEST(cpuid_apic_features_only_with_platform)
{
	struct guest_opts opts = { .backend = GUEST_LKVM };
	struct guest *g;
	struct ucall uc;
	int with;

	for (with = 0; with < 2; with++) {
		opts.platform = with;
		g = guest_create(&opts, guest_cpuid1);
		if (!g && errno == ENODEV)
			SKIP(return, "%s", guest_error());
		ASSERT_NE(NULL, g) TH_LOG("%s", guest_error());
		ASSERT_UCALL(g, UCALL_DONE, &uc);
		guest_read_global(g, &cpuid1_ecx, sizeof(cpuid1_ecx));
		guest_read_global(g, &cpuid1_edx, sizeof(cpuid1_edx));
		EXPECT_EQ(with, !!(cpuid1_edx & (1 << 9)));	/* APIC */
		EXPECT_EQ(with, !!(cpuid1_ecx & (1 << 21)));	/* x2APIC */
		EXPECT_EQ(with, !!(cpuid1_ecx & (1 << 24)));	/* TSC-deadline */
		guest_destroy(g);
	}
}

/* ---- IA32_APIC_BASE ---- */

GUEST_TEST(apicbase_modes)
{
	GUEST_ASSERT_EQ(rdmsr(MSR_APICBASE), APICBASE_DEFAULT);
	GUEST_ASSERT_EQ(*XAPIC(APIC_LVR) & 0xff, 0x14);
	/* The BSP bit is the platform's. */
	WRMSR(MSR_APICBASE, APICBASE_DEFAULT & ~APICBASE_BSP);
	GUEST_ASSERT_EQ(rdmsr(MSR_APICBASE), APICBASE_DEFAULT);
	/* Disabled: the page is nobody's, the MSRs are not there. */
	WRMSR(MSR_APICBASE, APICBASE_DEFAULT & ~APICBASE_EN);
	GUEST_ASSERT_EQ(*XAPIC(APIC_LVR), 0xffffffff);
	RDMSR_GP(X2(APIC_LVR));
	WRMSR(MSR_APICBASE, APICBASE_DEFAULT);
	GUEST_ASSERT_EQ(*XAPIC(APIC_LVR) & 0xff, 0x14);
	/* x2APIC: the MSRs, not the page. */
	WRMSR(MSR_APICBASE, APICBASE_DEFAULT | APICBASE_EXTD);
	GUEST_ASSERT_EQ(rdmsr(MSR_APICBASE), APICBASE_DEFAULT | APICBASE_EXTD);
	GUEST_ASSERT_EQ(rdmsr(X2(APIC_LVR)) & 0xff, 0x14);
	GUEST_ASSERT_EQ(*XAPIC(APIC_LVR), 0xffffffff);
	/* Out of x2APIC only to disabled, and from there to xAPIC. */
	WRMSR(MSR_APICBASE, APICBASE_DEFAULT & ~APICBASE_EN);
	WRMSR(MSR_APICBASE, APICBASE_DEFAULT);
	/* A new base moves the page. */
	WRMSR(MSR_APICBASE, (APICBASE_DEFAULT & 0xfff) | 0xfed00000);
	GUEST_ASSERT_EQ(*(volatile uint32_t *)0xfed00030 & 0xff, 0x14);
	GUEST_DONE();
}

TEST(apicbase_modes_counted)
{
	struct guest *g;

	RUN_TO_DONE(g, guest_apicbase_modes);
	/* Page reads in xAPIC mode only; the others were unclaimed. */
	EXPECT_EQ(2, stat(g, LKVM_STAT_UNCLAIMED_MMIO));
	EXPECT_LE(4, stat(g, LKVM_STAT_APIC_ACCESS));
	guest_destroy(g);
}

GUEST_TEST(apicbase_reserved_bits_gp)
{
	WRMSR_GP(MSR_APICBASE, APICBASE_DEFAULT | 1);
	WRMSR_GP(MSR_APICBASE, APICBASE_DEFAULT | (1 << 9));
	WRMSR_GP(MSR_APICBASE, APICBASE_DEFAULT | (1ULL << 63));
	GUEST_ASSERT_EQ(rdmsr(MSR_APICBASE), APICBASE_DEFAULT);
	GUEST_DONE();
}

GUEST_TEST(apicbase_extd_without_en_gp)
{
	WRMSR_GP(MSR_APICBASE, (APICBASE_DEFAULT & ~APICBASE_EN) | APICBASE_EXTD);
	GUEST_ASSERT_EQ(rdmsr(MSR_APICBASE), APICBASE_DEFAULT);
	GUEST_DONE();
}

GUEST_TEST(apicbase_x2apic_to_xapic_gp)
{
	WRMSR(MSR_APICBASE, APICBASE_DEFAULT | APICBASE_EXTD);
	WRMSR_GP(MSR_APICBASE, APICBASE_DEFAULT);
	GUEST_ASSERT_EQ(rdmsr(MSR_APICBASE), APICBASE_DEFAULT | APICBASE_EXTD);
	GUEST_DONE();
}

GUEST_TEST(apicbase_disabled_to_x2apic_gp)
{
	WRMSR(MSR_APICBASE, APICBASE_DEFAULT & ~APICBASE_EN);
	WRMSR_GP(MSR_APICBASE, APICBASE_DEFAULT | APICBASE_EXTD);
	GUEST_ASSERT_EQ(rdmsr(MSR_APICBASE), APICBASE_DEFAULT & ~APICBASE_EN);
	GUEST_DONE();
}

/* ---- x2APIC registers ---- */

GUEST_TEST(x2apic_msrs_gp_in_xapic_mode)
{
	RDMSR_GP(X2(APIC_LVR));
	WRMSR_GP(X2(APIC_TPR), 0);
	GUEST_DONE();
}

GUEST_TEST(x2apic_registers)
{
	x2apic_enable();
	GUEST_ASSERT_EQ(rdmsr(X2(APIC_ID)), 0);
	GUEST_ASSERT_EQ(rdmsr(X2(APIC_LVR)), 0x50014);
	/* Cluster 0, bit 0 for id 0. */
	GUEST_ASSERT_EQ(rdmsr(X2(APIC_LDR)), 1);
	WRMSR(X2(APIC_TPR), 0x35);
	GUEST_ASSERT_EQ(rdmsr(X2(APIC_TPR)), 0x35);
	GUEST_ASSERT_EQ(rdmsr(X2(APIC_PPR)), 0x35);
	WRMSR(X2(APIC_TPR), 0);
	GUEST_ASSERT_EQ(rdmsr(X2(APIC_SVR)), SVR_ENABLE | 0xff);
	/* Only the writable bits: delivery status and the rest are the APIC's. */
	WRMSR(X2(APIC_LVTT), 0xffffffff);
	GUEST_ASSERT_EQ(rdmsr(X2(APIC_LVTT)), 0x700ff);
	WRMSR(X2(APIC_LVT0), 0xffffffff);
	GUEST_ASSERT_EQ(rdmsr(X2(APIC_LVT0)), 0x1a7ff);
	WRMSR(X2(APIC_LVTERR), 0xffffffff);
	GUEST_ASSERT_EQ(rdmsr(X2(APIC_LVTERR)), 0x100ff);
	WRMSR(X2(APIC_TDCR), 0xffffffff);
	GUEST_ASSERT_EQ(rdmsr(X2(APIC_TDCR)), 0xb);
	WRMSR(X2(APIC_ESR), 0);
	GUEST_ASSERT_EQ(rdmsr(X2(APIC_ESR)), 0);
	/* The ICR is one 64-bit register; a masked-vector NMI IPI goes nowhere. */
	WRMSR(X2(APIC_ICR), 0x1234500000000000ULL | ICR_NMI | 7);
	GUEST_ASSERT_EQ(rdmsr(X2(APIC_ICR)), 0x1234500000000000ULL | ICR_NMI | 7);
	GUEST_DONE();
}

TEST(x2apic_registers_counted)
{
	struct guest *g;

	RUN_TO_DONE(g, guest_x2apic_registers);
	EXPECT_EQ(1, stat(g, LKVM_STAT_APIC_IPI_IGNORED));
	EXPECT_LE(20, stat(g, LKVM_STAT_APIC_ACCESS));
	guest_destroy(g);
}

GUEST_TEST(x2apic_readonly_write_gp)
{
	static const uint32_t regs[] = {
		APIC_ID, APIC_LVR, APIC_PPR, APIC_LDR, APIC_ISR, APIC_TMR + 0x70, APIC_IRR,
		APIC_TMCCT,
	};
	unsigned int i;

	x2apic_enable();
	for (i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		WRMSR_GP(X2(regs[i]), 0);
	GUEST_ASSERT_EQ(rdmsr(X2(APIC_ID)), 0);
	GUEST_ASSERT_EQ(rdmsr(X2(APIC_LDR)), 1);
	GUEST_DONE();
}

GUEST_TEST(x2apic_writeonly_read_gp)
{
	x2apic_enable();
	RDMSR_GP(X2(APIC_EOI));
	RDMSR_GP(X2(APIC_SELF_IPI));
	GUEST_DONE();
}

GUEST_TEST(x2apic_reserved_gp)
{
	static const uint32_t regs[] = {
		APIC_APR, APIC_RRD, APIC_DFR, APIC_CMCI, APIC_ICR2, 0x3a0, 0x3d0, 0x400,
	};
	unsigned int i;

	x2apic_enable();
	for (i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
		RDMSR_GP(X2(regs[i]));
		WRMSR_GP(X2(regs[i]), 0);
	}
	RDMSR_GP(0x8ff);
	GUEST_DONE();
}

GUEST_TEST(x2apic_eoi_nonzero_gp)
{
	x2apic_enable();
	WRMSR_GP(X2(APIC_EOI), 1);
	WRMSR(X2(APIC_EOI), 0);
	GUEST_DONE();
}

GUEST_TEST(x2apic_upper_bits_gp)
{
	x2apic_enable();
	WRMSR_GP(X2(APIC_TPR), 1ULL << 32);
	WRMSR_GP(X2(APIC_LVTT), 1ULL << 40);
	GUEST_ASSERT_EQ(rdmsr(X2(APIC_TPR)), 0);
	GUEST_DONE();
}

GUEST_TEST(x2apic_esr_nonzero_gp)
{
	x2apic_enable();
	WRMSR_GP(X2(APIC_ESR), 1);
	GUEST_DONE();
}

/* ---- the xAPIC page ---- */

GUEST_TEST(xapic_mmio_registers)
{
	GUEST_ASSERT_EQ(*XAPIC(APIC_ID), 0);
	GUEST_ASSERT_EQ(*XAPIC(APIC_LVR), 0x50014);
	*XAPIC(APIC_ID) = 0x07000000;
	GUEST_ASSERT_EQ(*XAPIC(APIC_ID), 0x07000000);
	*XAPIC(APIC_ID) = 0;
	*XAPIC(APIC_TPR) = 0x20;
	GUEST_ASSERT_EQ(*XAPIC(APIC_TPR), 0x20);
	GUEST_ASSERT_EQ(*XAPIC(APIC_PPR), 0x20);
	*XAPIC(APIC_TPR) = 0;
	*XAPIC(APIC_LDR) = 0xffffffff;
	GUEST_ASSERT_EQ(*XAPIC(APIC_LDR), 0xff000000);
	GUEST_ASSERT_EQ(*XAPIC(APIC_DFR), 0xffffffff);
	*XAPIC(APIC_DFR) = 0;
	GUEST_ASSERT_EQ(*XAPIC(APIC_DFR), 0x0fffffff);
	*XAPIC(APIC_DFR) = 0xffffffff;
	/* Reset: software disabled, every LVT masked. */
	GUEST_ASSERT_EQ(*XAPIC(APIC_SVR), 0xff);
	GUEST_ASSERT_EQ(*XAPIC(APIC_LVTT), LVT_MASKED);
	*XAPIC(APIC_ICR2) = 0xffffffff;
	GUEST_ASSERT_EQ(*XAPIC(APIC_ICR2), 0xff000000);
	/* Not a register, not 32 bits, or not aligned: 0. */
	GUEST_ASSERT_EQ(*XAPIC(APIC_APR), 0);
	GUEST_ASSERT_EQ(*XAPIC(0x400), 0);
	GUEST_ASSERT_EQ(*(volatile uint8_t *)(XAPIC_BASE + APIC_LVR), 0);
	GUEST_ASSERT_EQ(*XAPIC(APIC_LVR + 4), 0);
	/* The x2APIC-only SELF_IPI does nothing here. */
	*XAPIC(APIC_SVR) = SVR_ENABLE | 0xff;
	*XAPIC(APIC_SELF_IPI) = VEC_XAPIC;
	asm volatile("sti; nop; cli" ::: "memory");
	GUEST_ASSERT_EQ(irq_count, 0);
	GUEST_DONE();
}

/* ---- IPIs, ISR and EOI ---- */

GUEST_TEST(self_ipi_through_icr)
{
	x2apic_enable();
	WRMSR(X2(APIC_ICR), ICR_SELF | VEC_NOEOI);
	GUEST_ASSERT(irr_bit(VEC_NOEOI));
	asm volatile("sti; nop; cli" ::: "memory");
	GUEST_ASSERT_EQ(noeoi_count, 1);
	/* Taken: out of the IRR, in service until the EOI. */
	GUEST_ASSERT(!irr_bit(VEC_NOEOI));
	GUEST_ASSERT(isr_bit(VEC_NOEOI));
	GUEST_ASSERT_EQ(rdmsr(X2(APIC_PPR)), VEC_NOEOI & 0xf0);
	WRMSR(X2(APIC_EOI), 0);
	GUEST_ASSERT(!isr_bit(VEC_NOEOI));
	GUEST_ASSERT_EQ(rdmsr(X2(APIC_PPR)), 0);
	/* One EOI too many changes nothing. */
	WRMSR(X2(APIC_EOI), 0);
	asm volatile("sti; nop; cli" ::: "memory");
	GUEST_ASSERT_EQ(noeoi_count, 1);
	GUEST_DONE();
}

TEST(self_ipi_through_icr_counted)
{
	struct guest *g;

	RUN_TO_DONE(g, guest_self_ipi_through_icr);
	EXPECT_EQ(1, stat(g, LKVM_STAT_IRQ_INJECTED));
	EXPECT_EQ(2, stat(g, LKVM_STAT_APIC_EOI));
	guest_destroy(g);
}

GUEST_TEST(self_ipi_msr)
{
	x2apic_enable();
	WRMSR(X2(APIC_SELF_IPI), VEC_IPI);
	wait_irqs(1, 100);
	GUEST_ASSERT_EQ(irq_count, 1);
	GUEST_ASSERT(!isr_bit(VEC_IPI));
	GUEST_DONE();
}

/* xAPIC ICR: destinations, shorthands, EOI through the page. */
GUEST_TEST(xapic_ipi_destinations)
{
	*XAPIC(APIC_SVR) = SVR_ENABLE | 0xff;
	*XAPIC(APIC_ICR2) = 0;
	*XAPIC(APIC_ICR) = VEC_XAPIC;
	wait_irqs(1, 100);
	GUEST_ASSERT_EQ(irq_count, 1);
	/* No APIC has id 5. */
	*XAPIC(APIC_ICR2) = 5 << 24;
	*XAPIC(APIC_ICR) = VEC_XAPIC;
	wait_irqs(2, 10);
	GUEST_ASSERT_EQ(irq_count, 1);
	/* Broadcast, and the shorthands. */
	*XAPIC(APIC_ICR2) = 0xff << 24;
	*XAPIC(APIC_ICR) = VEC_XAPIC;
	wait_irqs(2, 100);
	GUEST_ASSERT_EQ(irq_count, 2);
	*XAPIC(APIC_ICR) = ICR_ALL_BUT_SELF | VEC_XAPIC;
	wait_irqs(3, 10);
	GUEST_ASSERT_EQ(irq_count, 2);
	*XAPIC(APIC_ICR) = ICR_ALL | VEC_XAPIC;
	wait_irqs(3, 100);
	GUEST_ASSERT_EQ(irq_count, 3);
	*XAPIC(APIC_ICR) = ICR_SELF | VEC_XAPIC;
	wait_irqs(4, 100);
	GUEST_ASSERT_EQ(irq_count, 4);
	/* Logical, flat: LDR bit 1 is ours. */
	*XAPIC(APIC_LDR) = 0x02000000;
	*XAPIC(APIC_ICR2) = 0x01 << 24;
	*XAPIC(APIC_ICR) = ICR_LOGICAL | VEC_XAPIC;
	wait_irqs(5, 10);
	GUEST_ASSERT_EQ(irq_count, 4);
	*XAPIC(APIC_ICR2) = 0x06 << 24;
	*XAPIC(APIC_ICR) = ICR_LOGICAL | VEC_XAPIC;
	wait_irqs(5, 100);
	GUEST_ASSERT_EQ(irq_count, 5);
	/* Logical, cluster: cluster 3, member bit 1. */
	*XAPIC(APIC_DFR) = 0x0fffffff;
	*XAPIC(APIC_LDR) = 0x32000000;
	*XAPIC(APIC_ICR2) = 0x22 << 24;
	*XAPIC(APIC_ICR) = ICR_LOGICAL | VEC_XAPIC;
	wait_irqs(6, 10);
	GUEST_ASSERT_EQ(irq_count, 5);
	*XAPIC(APIC_ICR2) = 0x33 << 24;
	*XAPIC(APIC_ICR) = ICR_LOGICAL | VEC_XAPIC;
	wait_irqs(6, 100);
	GUEST_ASSERT_EQ(irq_count, 6);
	GUEST_ASSERT_EQ(*XAPIC(APIC_ISR + (VEC_XAPIC / 32) * 0x10), 0);
	GUEST_DONE();
}

GUEST_TEST(x2apic_logical_destination)
{
	x2apic_enable();
	/* Cluster 0, bit 0: id 0's LDR. */
	WRMSR(X2(APIC_ICR), (0x10002ULL << 32) | ICR_LOGICAL | VEC_IPI);
	wait_irqs(1, 10);
	GUEST_ASSERT_EQ(irq_count, 0);
	WRMSR(X2(APIC_ICR), (0x00003ULL << 32) | ICR_LOGICAL | VEC_IPI);
	wait_irqs(1, 100);
	GUEST_ASSERT_EQ(irq_count, 1);
	/* Physical 0xff is an id here; 0xffffffff is broadcast. */
	WRMSR(X2(APIC_ICR), (0xffULL << 32) | VEC_IPI);
	wait_irqs(2, 10);
	GUEST_ASSERT_EQ(irq_count, 1);
	WRMSR(X2(APIC_ICR), (0xffffffffULL << 32) | VEC_IPI);
	wait_irqs(2, 100);
	GUEST_ASSERT_EQ(irq_count, 2);
	GUEST_DONE();
}

GUEST_TEST(sw_disabled_apic_accepts_nothing)
{
	x2apic_enable();
	WRMSR(X2(APIC_LVTT), VEC_TIMER);
	WRMSR(X2(APIC_SVR), 0xff);
	/* Masked now, and it cannot be unmasked. */
	GUEST_ASSERT_EQ(rdmsr(X2(APIC_LVTT)), LVT_MASKED | VEC_TIMER);
	WRMSR(X2(APIC_LVTT), VEC_TIMER);
	GUEST_ASSERT_EQ(rdmsr(X2(APIC_LVTT)), LVT_MASKED | VEC_TIMER);
	WRMSR(X2(APIC_SELF_IPI), VEC_IPI);
	GUEST_ASSERT(!irr_bit(VEC_IPI));
	wait_irqs(1, 10);
	GUEST_ASSERT_EQ(irq_count, 0);
	GUEST_DONE();
}

/* ---- priorities ---- */

GUEST_TEST(tpr_blocks_lower_vectors)
{
	x2apic_enable();
	WRMSR(X2(APIC_TPR), 0x50);
	WRMSR(X2(APIC_SELF_IPI), VEC_LOW);
	WRMSR(X2(APIC_SELF_IPI), VEC_IPI);
	wait_irqs(1, 10);
	GUEST_ASSERT_EQ(irq_count, 0);
	GUEST_ASSERT(irr_bit(VEC_LOW));
	GUEST_ASSERT(irr_bit(VEC_IPI));
	/* Class 5 still blocks class 5; class 4 still blocks both. */
	WRMSR(X2(APIC_TPR), 0x40);
	wait_irqs(1, 100);
	GUEST_ASSERT_EQ(irq_count, 1);
	GUEST_ASSERT(!irr_bit(VEC_IPI));
	GUEST_ASSERT(irr_bit(VEC_LOW));
	WRMSR(X2(APIC_TPR), 0);
	wait_irqs(2, 100);
	GUEST_ASSERT_EQ(irq_count, 2);
	GUEST_DONE();
}

/* MOV CR8 is the TPR's class; lowered, the vector comes by the next exit. */
GUEST_TEST(cr8_blocks_until_lowered)
{
	uint64_t cr8;

	x2apic_enable();
	asm volatile("mov %0, %%cr8" : : "r"(5UL));
	GUEST_ASSERT_EQ(rdmsr(X2(APIC_TPR)), 0x50);
	WRMSR(X2(APIC_TPR), 0x60);
	asm volatile("mov %%cr8, %0" : "=r"(cr8));
	GUEST_ASSERT_EQ(cr8, 6);
	WRMSR(X2(APIC_SELF_IPI), VEC_IPI);
	wait_irqs(1, 10);
	GUEST_ASSERT_EQ(irq_count, 0);
	asm volatile("mov %0, %%cr8" : : "r"(0UL));
	wait_irqs(1, 1000);
	GUEST_ASSERT_EQ(irq_count, 1);
	GUEST_DONE();
}

GUEST_TEST(isr_blocks_lower_until_eoi)
{
	x2apic_enable();
	WRMSR(X2(APIC_SELF_IPI), VEC_HIGH);
	asm volatile("sti; nop; cli" ::: "memory");
	GUEST_ASSERT_EQ(noeoi_count, 1);
	WRMSR(X2(APIC_SELF_IPI), VEC_IPI);
	wait_irqs(1, 10);
	GUEST_ASSERT_EQ(irq_count, 0);
	GUEST_ASSERT(irr_bit(VEC_IPI));
	WRMSR(X2(APIC_EOI), 0);
	wait_irqs(1, 100);
	GUEST_ASSERT_EQ(irq_count, 1);
	GUEST_DONE();
}

/* ---- the timer ---- */

GUEST_TEST(timer_oneshot_fires_once)
{
	x2apic_enable();
	WRMSR(X2(APIC_TDCR), TDCR_DIV_1);
	WRMSR(X2(APIC_LVTT), VEC_TIMER);
	WRMSR(X2(APIC_TMICT), 2000000);	/* 2 ms at 1 GHz */
	wait_irqs(1, 1000);
	GUEST_ASSERT_EQ(irq_count, 1);
	GUEST_ASSERT_EQ(rdmsr(X2(APIC_TMCCT)), 0);
	GUEST_ASSERT_EQ(rdmsr(X2(APIC_TMICT)), 2000000);
	wait_irqs(2, 20);
	GUEST_ASSERT_EQ(irq_count, 1);
	GUEST_DONE();
}

TEST(timer_oneshot_counted)
{
	struct guest *g;

	RUN_TO_DONE(g, guest_timer_oneshot_fires_once);
	EXPECT_EQ(1, stat(g, LKVM_STAT_APIC_TIMER));
	EXPECT_EQ(1, stat(g, LKVM_STAT_APIC_EOI));
	guest_destroy(g);
}

static uint64_t periodic_seen;

/* A 2 ms period for 200 ms: about 100 interrupts. */
static void guest_periodic(uint64_t a0, uint64_t a1)
{
	tsc_per_ms = a0;
	x2apic_enable();
	WRMSR(X2(APIC_TDCR), TDCR_DIV_1);
	WRMSR(X2(APIC_LVTT), LVT_PERIODIC | VEC_TIMER);
	WRMSR(X2(APIC_TMICT), 2000000);
	asm volatile("sti" ::: "memory");
	spin_ms(200);
	asm volatile("cli" ::: "memory");
	WRMSR(X2(APIC_TMICT), 0);
	periodic_seen = irq_count;
	GUEST_DONE();
}

TEST(timer_periodic_rate)
{
	struct guest *g;
	struct ucall uc;

	PLATFORM_GUEST_OR_SKIP(g, guest_periodic);
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	guest_read_global(g, &periodic_seen, sizeof(periodic_seen));
	/* TCG is slow and noisy: a wide band around 100, never a storm. */
	EXPECT_LE(40, periodic_seen);
	EXPECT_GE(105, periodic_seen);
	EXPECT_LE(periodic_seen, stat(g, LKVM_STAT_APIC_TIMER));
	guest_destroy(g);
}

/* How long the clamped timer ran, in guest TSC ticks. */
static uint64_t clamped_armed_tsc;

/*
 * A 1 us period is held to one every 50 us: at most 20 per ms of the time
 * the timer was armed. Writing 0 to the initial count stops it; the time
 * is the guest's own, so a slow host that stretches the window (each
 * MSR write is an exit) cannot make a correct clamp look like a storm.
 */
static void guest_periodic_clamped(uint64_t a0, uint64_t a1)
{
	uint64_t t0;

	tsc_per_ms = a0;
	x2apic_enable();
	WRMSR(X2(APIC_TDCR), TDCR_DIV_1);
	WRMSR(X2(APIC_LVTT), LVT_PERIODIC | VEC_TIMER);
	t0 = rdtsc();
	WRMSR(X2(APIC_TMICT), 1000);
	asm volatile("sti" ::: "memory");
	spin_ms(50);
	asm volatile("cli" ::: "memory");
	WRMSR(X2(APIC_TMICT), 0);
	clamped_armed_tsc = rdtsc() - t0;
	periodic_seen = irq_count;
	GUEST_DONE();
}

TEST(timer_periodic_clamped)
{
	struct guest *g;
	struct ucall uc;

	uint64_t armed_us, expiries;

	PLATFORM_GUEST_OR_SKIP(g, guest_periodic_clamped);
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	guest_read_global(g, &periodic_seen, sizeof(periodic_seen));
	guest_read_global(g, &clamped_armed_tsc, sizeof(clamped_armed_tsc));
	armed_us = clamped_armed_tsc * 1000 / host_tsc_per_ms();
	expiries = stat(g, LKVM_STAT_APIC_TIMER);
	EXPECT_LT(0, periodic_seen);
	/* One per 50 us while armed, and a little slack for the first and last. */
	EXPECT_GE(armed_us / 50 + 5, expiries)
		TH_LOG("%llu expiries in %llu us armed", (unsigned long long)expiries,
		       (unsigned long long)armed_us);
	guest_destroy(g);
}

GUEST_TEST(timer_masked_does_not_fire)
{
	x2apic_enable();
	WRMSR(X2(APIC_TDCR), TDCR_DIV_1);
	WRMSR(X2(APIC_LVTT), LVT_MASKED | VEC_TIMER);
	WRMSR(X2(APIC_TMICT), 100000);
	wait_irqs(1, 20);
	GUEST_ASSERT_EQ(irq_count, 0);
	GUEST_ASSERT(!irr_bit(VEC_TIMER));
	GUEST_DONE();
}

TEST(timer_masked_counted)
{
	struct guest *g;

	RUN_TO_DONE(g, guest_timer_masked_does_not_fire);
	/* It expired, and posted nothing. */
	EXPECT_EQ(1, stat(g, LKVM_STAT_APIC_TIMER));
	EXPECT_EQ(0, stat(g, LKVM_STAT_IRQ_INJECTED));
	guest_destroy(g);
}

GUEST_TEST(timer_current_count_decreases)
{
	uint64_t a, b;

	x2apic_enable();
	WRMSR(X2(APIC_TDCR), TDCR_DIV_1);
	WRMSR(X2(APIC_LVTT), LVT_MASKED | VEC_TIMER);
	GUEST_ASSERT_EQ(rdmsr(X2(APIC_TMCCT)), 0);
	WRMSR(X2(APIC_TMICT), 0xffffffff);
	a = rdmsr(X2(APIC_TMCCT));
	spin_ms(2);
	b = rdmsr(X2(APIC_TMCCT));
	GUEST_ASSERT(a <= 0xffffffff && a > 0xffffffff - 1000000000ULL);
	/* About the 2 ms spun, counted in ns (the TSC's rate is measured). */
	GUEST_ASSERT(a - b >= 1500000);
	/* Divide by 128: 128 ns a tick. */
	WRMSR(X2(APIC_TDCR), 0xa);
	WRMSR(X2(APIC_TMICT), 1000000);
	a = rdmsr(X2(APIC_TMCCT));
	spin_ms(2);
	b = rdmsr(X2(APIC_TMCCT));
	GUEST_ASSERT(a <= 1000000);
	GUEST_ASSERT(a - b >= 1500000 / 128);
	GUEST_ASSERT(a - b < 1000000 / 2);
	/* Rewriting the mode disarms. */
	WRMSR(X2(APIC_LVTT), LVT_MASKED | LVT_PERIODIC | VEC_TIMER);
	GUEST_ASSERT_EQ(rdmsr(X2(APIC_TMICT)), 0);
	GUEST_ASSERT_EQ(rdmsr(X2(APIC_TMCCT)), 0);
	GUEST_DONE();
}

static uint64_t deadline, fired_tsc;

static void guest_tsc_deadline(uint64_t a0, uint64_t a1)
{
	tsc_per_ms = a0;
	x2apic_enable();
	WRMSR(X2(APIC_LVTT), LVT_DEADLINE | VEC_TIMER);
	/* TMICT means nothing in this mode. */
	WRMSR(X2(APIC_TMICT), 1000);
	GUEST_ASSERT_EQ(rdmsr(X2(APIC_TMICT)), 0);
	deadline = rdtsc() + 5 * tsc_per_ms;
	WRMSR(MSR_TSC_DEADLINE, deadline);
	GUEST_ASSERT_EQ(rdmsr(MSR_TSC_DEADLINE), deadline);
	asm volatile("sti" ::: "memory");
	while (!irq_count && rdtsc() < deadline + 1000 * tsc_per_ms)
		asm volatile("pause");
	fired_tsc = rdtsc();
	asm volatile("cli" ::: "memory");
	GUEST_ASSERT_EQ(irq_count, 1);
	GUEST_ASSERT_EQ(rdmsr(MSR_TSC_DEADLINE), 0);
	GUEST_DONE();
}

TEST(tsc_deadline_fires_after_deadline)
{
	struct guest *g;
	struct ucall uc;

	PLATFORM_GUEST_OR_SKIP(g, guest_tsc_deadline);
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	guest_read_global(g, &deadline, sizeof(deadline));
	guest_read_global(g, &fired_tsc, sizeof(fired_tsc));
	/* Not before the deadline (a rounding's worth of slack), and not long after. */
	EXPECT_LE(deadline - host_tsc_per_ms() / 10, fired_tsc);
	EXPECT_GE(deadline + 500 * host_tsc_per_ms(), fired_tsc);
	EXPECT_EQ(1, stat(g, LKVM_STAT_APIC_TIMER));
	guest_destroy(g);
}

GUEST_TEST(tsc_deadline_zero_disarms)
{
	x2apic_enable();
	WRMSR(X2(APIC_LVTT), LVT_DEADLINE | VEC_TIMER);
	WRMSR(MSR_TSC_DEADLINE, rdtsc() + 5 * tsc_per_ms);
	WRMSR(MSR_TSC_DEADLINE, 0);
	wait_irqs(1, 30);
	GUEST_ASSERT_EQ(irq_count, 0);
	/* A deadline already past fires at once. */
	WRMSR(MSR_TSC_DEADLINE, 1);
	wait_irqs(1, 100);
	GUEST_ASSERT_EQ(irq_count, 1);
	GUEST_DONE();
}

GUEST_TEST(tsc_deadline_ignored_in_oneshot_mode)
{
	x2apic_enable();
	WRMSR(X2(APIC_LVTT), VEC_TIMER);
	WRMSR(MSR_TSC_DEADLINE, 1);
	GUEST_ASSERT_EQ(rdmsr(MSR_TSC_DEADLINE), 0);
	wait_irqs(1, 20);
	GUEST_ASSERT_EQ(irq_count, 0);
	GUEST_DONE();
}

static void guest_hlt_timer(uint64_t a0, uint64_t a1)
{
	tsc_per_ms = a0;
	x2apic_enable();
	WRMSR(X2(APIC_TDCR), TDCR_DIV_1);
	WRMSR(X2(APIC_LVTT), VEC_TIMER);
	WRMSR(X2(APIC_TMICT), 20000000);	/* 20 ms */
	asm volatile("sti; hlt; cli" ::: "memory");
	GUEST_ASSERT_EQ(irq_count, 1);
	GUEST_DONE();
}

TEST(hlt_woken_by_timer)
{
	struct guest *g;
	struct ucall uc;

	PLATFORM_GUEST_OR_SKIP(g, guest_hlt_timer);
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	EXPECT_EQ(1, stat(g, LKVM_STAT_HLT));
	EXPECT_EQ(1, stat(g, LKVM_STAT_HALT_WAKEUPS));
	EXPECT_EQ(1, stat(g, LKVM_STAT_APIC_TIMER));
	guest_destroy(g);
}

/* A vector the TPR holds back does not wake HLT; lowering it is for after. */
static void guest_hlt_blocked(uint64_t a0, uint64_t a1)
{
	x2apic_enable();
	WRMSR(X2(APIC_TPR), 0xf0);
	WRMSR(X2(APIC_SELF_IPI), VEC_IPI);
	asm volatile("sti; hlt; cli" ::: "memory");
	GUEST_DONE();
}

static void on_alarm(int sig)
{
}

TEST(hlt_not_woken_by_blocked_vector)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct guest *g;

	PLATFORM_GUEST_OR_SKIP(g, guest_hlt_blocked);
	sigaction(SIGALRM, &sa, NULL);
	alarm(1);
	EXPECT_EQ(-EINTR, guest_run(g));
	EXPECT_EQ(1, stat(g, LKVM_STAT_HLT));
	EXPECT_EQ(0, stat(g, LKVM_STAT_HALT_WAKEUPS));
	EXPECT_EQ(0, stat(g, LKVM_STAT_IRQ_INJECTED));
	/* Asleep, not spinning through entries. */
	EXPECT_GT(50, stat(g, LKVM_STAT_EXITS));
	guest_destroy(g);
}

/* ---- paravirtual EOI ---- */

GUEST_TEST(pv_eoi_msr_checked)
{
	/* Reserved bit 1, and a flag outside RAM: #GP, nothing enabled. */
	WRMSR_GP(MSR_KVM_PV_EOI_EN, (uintptr_t)&pv_eoi_flag | 3);
	WRMSR_GP(MSR_KVM_PV_EOI_EN, UNBACKED_GPA | 1);
	GUEST_ASSERT_EQ(rdmsr(MSR_KVM_PV_EOI_EN), 0);
	WRMSR(MSR_KVM_PV_EOI_EN, (uintptr_t)&pv_eoi_flag | 1);
	GUEST_ASSERT_EQ(rdmsr(MSR_KVM_PV_EOI_EN), (uintptr_t)&pv_eoi_flag | 1);
	WRMSR(MSR_KVM_PV_EOI_EN, 0);
	GUEST_ASSERT_EQ(rdmsr(MSR_KVM_PV_EOI_EN), 0);
	GUEST_DONE();
}

/* Five self-IPIs, each ended by clearing the flag: no EOI exit at all. */
GUEST_TEST(pv_eoi_without_exit)
{
	int i;

	x2apic_enable();
	WRMSR(MSR_KVM_PV_EOI_EN, (uintptr_t)&pv_eoi_flag | 1);
	for (i = 1; i <= 5; i++) {
		WRMSR(X2(APIC_SELF_IPI), VEC_PV);
		wait_irqs(i, 100);
		GUEST_ASSERT_EQ(irq_count, i);
	}
	/* This read is an exit: the last EOI was seen there, before it. */
	GUEST_ASSERT(!isr_bit(VEC_PV));
	GUEST_ASSERT_EQ(pv_eoi_flag, 0);
	GUEST_DONE();
}

TEST(pv_eoi_without_exit_counted)
{
	struct guest *g;

	RUN_TO_DONE(g, guest_pv_eoi_without_exit);
	EXPECT_EQ(5, stat(g, LKVM_STAT_APIC_PV_EOI));
	EXPECT_EQ(0, stat(g, LKVM_STAT_APIC_EOI));
	guest_destroy(g);
}

/*
 * Two vectors pending at once: the first injected has another behind it
 * in the IRR, so it gets no flag and its EOI exits (letting the second
 * in); the second has nothing behind it and ends through the flag.
 */
GUEST_TEST(pv_eoi_not_with_irr_pending)
{
	x2apic_enable();
	WRMSR(MSR_KVM_PV_EOI_EN, (uintptr_t)&pv_eoi_flag | 1);
	WRMSR(X2(APIC_SELF_IPI), VEC_PV_LOW);
	WRMSR(X2(APIC_SELF_IPI), VEC_PV);
	wait_irqs(2, 100);
	GUEST_ASSERT_EQ(irq_count, 2);
	GUEST_ASSERT(!isr_bit(VEC_PV));
	GUEST_ASSERT(!isr_bit(VEC_PV_LOW));
	GUEST_DONE();
}

TEST(pv_eoi_not_with_irr_pending_counted)
{
	struct guest *g;

	RUN_TO_DONE(g, guest_pv_eoi_not_with_irr_pending);
	EXPECT_EQ(1, stat(g, LKVM_STAT_APIC_PV_EOI));
	EXPECT_EQ(1, stat(g, LKVM_STAT_APIC_EOI));
	guest_destroy(g);
}

/*
 * Every interrupt is delivered once, also when its handler runs long
 * without an exit, as Linux's timer handler does (holding the runqueue
 * lock: a second delivery into it spins on that lock forever). QEMU's
 * SVM delivers an EVENTINJ interrupt a second time, IF clear or not,
 * when its CPU loop is kicked (a round-robin switch to the other vCPU)
 * before the guest's next exit; a virtual interrupt it delivers once.
 */
#define ONCE_IRQS	500

GUEST_TEST(irq_delivered_once)
{
	int i;

	x2apic_enable();
	once_tsc = 2 * tsc_per_ms;
	for (i = 1; i <= ONCE_IRQS; i++) {
		/* Pending while IF is clear: the STI opens its window. */
		WRMSR(X2(APIC_SELF_IPI), VEC_ONCE);
		asm volatile("sti" ::: "memory");
		while (irq_count < i)
			;
		asm volatile("cli" ::: "memory");
		GUEST_ASSERT_EQ(once_nested, 0);
		GUEST_ASSERT_EQ(irq_count, i);
	}
	GUEST_DONE();
}

TEST_HARNESS_MAIN
