// SPDX-License-Identifier: GPL-2.0
/*
 * Each exit the module handles in the kernel, with exact expectations: a
 * guest built by lib/guest.c runs the instruction, the host checks what the
 * guest saw and what the vCPU's counters say happened.
 */
#include <cpuid.h>
#include <errno.h>
#include <linux/hw_breakpoint.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib/guest.h"

#define VECTOR_UD		6
#define VECTOR_GP		13
#define IRQ_VECTOR		0x40
/* Above the 32 MiB of guest RAM, below 4 GiB. */
#define TEST_MMIO_GPA		0x10000000ULL
#define TEST_MMIO_SIZE		0x1000
#define UNBACKED_GPA		0x20000000ULL
#define POST_PORT		0x80
#define UNCLAIMED_PORT		0x1234

static uint64_t stat(struct guest *g, int which)
{
	struct lkvm_vcpu_stats s;

	if (guest_stats(g, &s))
		return ~0ULL;
	return s.stat[which];
}

/* ---- CPUID ---- */

struct cpuid_regs {
	uint32_t eax, ebx, ecx, edx;
};

static const uint32_t cpuid_leaves[] = {
	0, 1, 0xd, 0x20, 0x40000000, 0x40000001, 0x4fffffff,
	0x80000000, 0x80000001, 0x80000008, 0x8fffffff,
};
#define NR_LEAVES (sizeof(cpuid_leaves) / sizeof(cpuid_leaves[0]))
static struct cpuid_regs cpuid_seen[NR_LEAVES];

static void guest_cpuid_code(uint64_t a0, uint64_t a1)
{
	unsigned int i;

	for (i = 0; i < NR_LEAVES; i++)
		guest_cpuid(cpuid_leaves[i], &cpuid_seen[i].eax, &cpuid_seen[i].ebx,
			    &cpuid_seen[i].ecx, &cpuid_seen[i].edx);
	GUEST_DONE();
}

static struct cpuid_regs host_cpuid(uint32_t leaf)
{
	struct cpuid_regs r;

	__cpuid_count(leaf, 0, r.eax, r.ebx, r.ecx, r.edx);
	return r;
}

static const struct cpuid_regs *seen(uint32_t leaf)
{
	unsigned int i;

	for (i = 0; i < NR_LEAVES; i++)
		if (cpuid_leaves[i] == leaf)
			return &cpuid_seen[i];
	return NULL;
}

#define BIT(n)			(1U << (n))
#define LEAF1_ECX_MONITOR	BIT(3)
#define LEAF1_ECX_VMX		BIT(5)
#define LEAF1_ECX_X2APIC	BIT(21)
#define LEAF1_ECX_OSXSAVE	BIT(27)
#define LEAF1_ECX_HYPERVISOR	BIT(31)
#define LEAF1_EDX_MCE		BIT(7)
#define LEAF1_EDX_APIC		BIT(9)
#define LEAF1_EDX_HTT		BIT(28)
#define EXT1_ECX_SVM		BIT(2)
#define EXT1_EDX_LM		BIT(29)
#define EXT1_EDX_RDTSCP		BIT(27)

TEST(cpuid_filtered_host_values)
{
	struct cpuid_regs h0 = host_cpuid(0), h1 = host_cpuid(1), he = host_cpuid(0x80000000);
	const struct cpuid_regs *r;
	struct guest *g;
	struct ucall uc;
	unsigned int i;

	GUEST_CREATE_OR_SKIP(g, GUEST_LKVM, guest_cpuid_code);
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	guest_read_global(g, cpuid_seen, sizeof(cpuid_seen));

	/* Vendor as the host's; basic leaves up to 0xd at most. */
	r = seen(0);
	EXPECT_EQ(h0.eax < 0xd ? h0.eax : 0xd, r->eax);
	EXPECT_EQ(h0.ebx, r->ebx);
	EXPECT_EQ(h0.ecx, r->ecx);
	EXPECT_EQ(h0.edx, r->edx);

	/* Signature as the host's, APIC id 0 (vCPU 0), one logical CPU. */
	r = seen(1);
	EXPECT_EQ(h1.eax, r->eax);
	EXPECT_EQ(0, r->ebx >> 24);
	EXPECT_EQ(1, (r->ebx >> 16) & 0xff);
	EXPECT_EQ(h1.ebx & 0xffff, r->ebx & 0xffff);
	EXPECT_TRUE(r->ecx & LEAF1_ECX_HYPERVISOR);
	EXPECT_FALSE(r->ecx & (LEAF1_ECX_MONITOR | LEAF1_ECX_VMX | LEAF1_ECX_X2APIC |
			       LEAF1_ECX_OSXSAVE));
	EXPECT_FALSE(r->edx & (LEAF1_EDX_MCE | LEAF1_EDX_APIC | LEAF1_EDX_HTT));
	/* Nothing the host lacks, beyond the hypervisor bit. */
	EXPECT_EQ(0, r->ecx & ~h1.ecx & ~LEAF1_ECX_HYPERVISOR);
	EXPECT_EQ(0, r->edx & ~h1.edx);
	/* What every 64-bit guest needs is passed through. */
	EXPECT_EQ(h1.edx & 0x07808111, r->edx & 0x07808111);	/* FPU TSC CX8 CMOV MMX FXSR SSE SSE2 */

	/* XSAVE: one component set (x87), so the legacy area and header: 576 bytes. */
	r = seen(0xd);
	if (h1.ecx & BIT(26)) {
		EXPECT_TRUE(r->eax & 3);
		EXPECT_EQ(576, r->ebx);
	}

	/* KVM's signature leaf, no paravirtual features yet. */
	r = seen(0x40000000);
	EXPECT_EQ(0x40000001, r->eax);
	EXPECT_EQ(0, memcmp(&r->ebx, "KVMK", 4));
	EXPECT_EQ(0, memcmp(&r->ecx, "VMKV", 4));
	EXPECT_EQ(0, memcmp(&r->edx, "M\0\0\0", 4));
	r = seen(0x40000001);
	EXPECT_EQ(0, r->eax | r->ebx | r->ecx | r->edx);

	r = seen(0x80000000);
	EXPECT_EQ(he.eax < 0x80000008 ? he.eax : 0x80000008, r->eax);
	r = seen(0x80000001);
	EXPECT_FALSE(r->ecx & EXT1_ECX_SVM);
	EXPECT_FALSE(r->edx & EXT1_EDX_RDTSCP);
	EXPECT_TRUE(r->edx & EXT1_EDX_LM);
	r = seen(0x80000008);
	if (he.eax >= 0x80000008) {
		uint32_t phys = host_cpuid(0x80000008).eax & 0xff;

		EXPECT_EQ(phys < 48 ? phys : 48, r->eax & 0xff);
		EXPECT_EQ(48, (r->eax >> 8) & 0xff);
	}

	/* Leaves out of every range read as zero, as on AMD. */
	for (i = 0; i < NR_LEAVES; i++) {
		uint32_t leaf = cpuid_leaves[i];

		if (leaf != 0x20 && leaf != 0x4fffffff && leaf != 0x8fffffff)
			continue;
		r = &cpuid_seen[i];
		EXPECT_EQ(0, r->eax | r->ebx | r->ecx | r->edx) TH_LOG("leaf %#x", leaf);
	}
	EXPECT_EQ(NR_LEAVES, stat(g, LKVM_STAT_CPUID));
	guest_destroy(g);
}

/* ---- MSRs ---- */

#define MSR_IA32_TSC		0x10
#define MSR_MTRRcap		0xfe
#define MSR_SYSENTER_CS		0x174
#define MSR_SYSENTER_ESP	0x175
#define MSR_SYSENTER_EIP	0x176
#define MSR_MCG_STATUS		0x17a
#define MSR_PAT			0x277
#define MSR_MTRRdefType		0x2ff
#define MSR_EFER		0xc0000080
#define MSR_STAR		0xc0000081
#define MSR_LSTAR		0xc0000082
#define MSR_CSTAR		0xc0000083
#define MSR_SFMASK		0xc0000084
#define MSR_FS_BASE		0xc0000100
#define MSR_GS_BASE		0xc0000101
#define MSR_KERNEL_GS_BASE	0xc0000102
#define NONCANONICAL		0x0000800000000000ULL

struct msr_case {
	uint32_t msr;
	uint64_t write;
	uint64_t read;		/* what reads back after the write */
};

static const struct msr_case msr_cases[] = {
	{ MSR_STAR, 0x0023001000000000ULL, 0x0023001000000000ULL },
	{ MSR_LSTAR, 0xffffffff81000000ULL, 0xffffffff81000000ULL },
	{ MSR_CSTAR, 0x00007fffffff0000ULL, 0x00007fffffff0000ULL },
	{ MSR_SFMASK, 0xffffffff00047700ULL, 0x47700 },
	{ MSR_KERNEL_GS_BASE, 0xffff888000000000ULL, 0xffff888000000000ULL },
	{ MSR_GS_BASE, 0x12345000, 0x12345000 },
	{ MSR_SYSENTER_CS, 0xabcd0010, 0x10 },
	{ MSR_SYSENTER_ESP, 0xffffc90000001000ULL, 0xffffc90000001000ULL },
	{ MSR_SYSENTER_EIP, 0xffffffff81234567ULL, 0xffffffff81234567ULL },
	{ MSR_PAT, 0x0007010600070106ULL, 0x0007010600070106ULL },
	{ MSR_MTRRdefType, 0xc06, 0xc06 },
};
#define NR_MSR_CASES (sizeof(msr_cases) / sizeof(msr_cases[0]))

/* Writes a guest must get #GP for, and the value that stays. */
static const struct msr_case msr_gp_cases[] = {
	{ MSR_LSTAR, NONCANONICAL, 0xffffffff81000000ULL },
	{ MSR_FS_BASE, NONCANONICAL, 0 },
	{ MSR_PAT, 0x0007010600070102ULL, 0x0007010600070106ULL },	/* type 2 is reserved */
	{ MSR_MTRRdefType, 0xc02, 0xc06 },
	{ MSR_EFER, (1ULL << 8) | (1ULL << 10) | (1ULL << 0) | (1ULL << 12), 0x501 },	/* SVME */
	{ MSR_EFER, (1ULL << 10) | (1ULL << 0), 0x501 },		/* LME off with paging */
	{ MSR_MCG_STATUS, 1, 0 },
};
#define NR_MSR_GP_CASES (sizeof(msr_gp_cases) / sizeof(msr_gp_cases[0]))

static uint64_t fs_target = 0x5eed5eed5eed5eedULL;

static void guest_msr_code(uint64_t a0, uint64_t a1)
{
	uint64_t val, tsc, via_fs;
	unsigned int i;

	for (i = 0; i < NR_MSR_CASES; i++) {
		GUEST_ASSERT_EQ(0, guest_wrmsr_safe(msr_cases[i].msr, msr_cases[i].write));
		GUEST_ASSERT_EQ(0, guest_rdmsr_safe(msr_cases[i].msr, &val));
		GUEST_SYNC_ARGS(msr_cases[i].msr, val, 0, 0);
	}
	for (i = 0; i < NR_MSR_GP_CASES; i++) {
		GUEST_ASSERT_EQ(VECTOR_GP, guest_wrmsr_safe(msr_gp_cases[i].msr,
							     msr_gp_cases[i].write));
		GUEST_ASSERT_EQ(0, guest_rdmsr_safe(msr_gp_cases[i].msr, &val));
		GUEST_SYNC_ARGS(msr_gp_cases[i].msr, val, 1, 0);
	}
	/* An MSR nobody has, both ways. */
	GUEST_ASSERT_EQ(VECTOR_GP, guest_rdmsr_safe(0xdeadbeef, &val));
	GUEST_ASSERT_EQ(VECTOR_GP, guest_wrmsr_safe(0xdeadbeef, 0));

	/* FS_BASE reaches the segment the guest really uses. */
	GUEST_ASSERT_EQ(0, guest_wrmsr_safe(MSR_FS_BASE, (uint64_t)&fs_target));
	asm volatile("mov %%fs:0, %0" : "=r"(via_fs));
	GUEST_ASSERT_EQ(via_fs, fs_target);

	/* The TSC can be set, and runs on from there. */
	GUEST_ASSERT_EQ(0, guest_wrmsr_safe(MSR_IA32_TSC, 1ULL << 50));
	GUEST_ASSERT_EQ(0, guest_rdmsr_safe(MSR_IA32_TSC, &tsc));
	GUEST_ASSERT(tsc >= 1ULL << 50 && tsc < (1ULL << 50) + (1ULL << 40));
	asm volatile("rdtsc; shl $32, %%rdx; or %%rdx, %%rax" : "=a"(val) : : "rdx");
	GUEST_ASSERT(val >= tsc);

	GUEST_ASSERT_EQ(0, guest_rdmsr_safe(MSR_MTRRcap, &val));
	GUEST_ASSERT_EQ(0, val);
	GUEST_DONE();
}

TEST(msr_round_trips_and_gp)
{
	struct guest *g;
	struct ucall uc;
	unsigned int i;

	GUEST_CREATE_OR_SKIP(g, GUEST_LKVM, guest_msr_code);
	for (i = 0; i < NR_MSR_CASES; i++) {
		ASSERT_UCALL(g, UCALL_SYNC, &uc);
		EXPECT_EQ(msr_cases[i].msr, uc.args[0]);
		EXPECT_EQ(msr_cases[i].read, uc.args[1]) TH_LOG("MSR %#x", msr_cases[i].msr);
	}
	for (i = 0; i < NR_MSR_GP_CASES; i++) {
		ASSERT_UCALL(g, UCALL_SYNC, &uc);
		EXPECT_EQ(msr_gp_cases[i].msr, uc.args[0]);
		EXPECT_EQ(msr_gp_cases[i].read, uc.args[1]) TH_LOG("MSR %#x", msr_gp_cases[i].msr);
	}
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	EXPECT_EQ(NR_MSR_GP_CASES + 2, stat(g, LKVM_STAT_EXCEPTION_INJECTED));
	guest_destroy(g);
}

/* ---- HLT and interrupts ---- */

static volatile uint64_t irq_count;

/* The interrupt handler: count, and return to the interrupted code. */
asm(".pushsection .text\n"
    "irq_stub:\n\t"
    "lock incq irq_count(%rip)\n\t"
    "iretq\n"
    ".popsection");
void irq_stub(void);

static void guest_hlt_code(uint64_t a0, uint64_t a1)
{
	asm volatile("cli; hlt" ::: "memory");
	GUEST_SYNC(1);
	GUEST_DONE();
}

static void on_alarm(int sig)
{
}

/* A one-shot SIGALRM in @ms, whose handler lets the ioctl fail with EINTR. */
static void alarm_in_ms(long ms)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerspec its = { .it_value = { .tv_sec = ms / 1000,
						.tv_nsec = (ms % 1000) * 1000000 } };
	static timer_t timer;
	static bool made;

	sigaction(SIGALRM, &sa, NULL);
	if (!made) {
		timer_create(CLOCK_MONOTONIC, NULL, &timer);
		made = true;
	}
	timer_settime(timer, 0, &its, NULL);
}

TEST(hlt_sleeps_until_signal)
{
	struct guest_regs regs;
	struct guest *g;
	uint8_t *hlt;
	int i;

	GUEST_CREATE_OR_SKIP(g, GUEST_LKVM, guest_hlt_code);
	for (i = 0; i < 2; i++) {
		alarm_in_ms(300);
		/* Halted with IF clear: only the signal ends this call. */
		EXPECT_EQ(-EINTR, guest_run(g));
	}
	EXPECT_EQ(1, stat(g, LKVM_STAT_HLT));
	EXPECT_EQ(2, stat(g, LKVM_STAT_SIGNAL_EXITS));
	EXPECT_EQ(0, stat(g, LKVM_STAT_USERSPACE_EXITS));
	EXPECT_EQ(0, stat(g, LKVM_STAT_HALT_WAKEUPS));
	ASSERT_EQ(0, guest_get_regs(g, &regs));
	hlt = guest_gpa_to_hva(g, regs.rip - 1, 1);
	ASSERT_NE(NULL, hlt) TH_LOG("RIP %#llx", (unsigned long long)regs.rip);
	EXPECT_EQ(0xf4, *hlt) TH_LOG("RIP %#llx", (unsigned long long)regs.rip);
	guest_destroy(g);
}

static void guest_sti_hlt_code(uint64_t a0, uint64_t a1)
{
	GUEST_ASSERT_EQ(irq_count, 0);
	asm volatile("sti; hlt; cli" ::: "memory");
	GUEST_SYNC(irq_count);
	GUEST_DONE();
}

struct poster {
	int fd;
	uint32_t vector;
	long delay_ms;
};

static void *post_later(void *arg)
{
	struct poster *p = arg;
	struct lkvm_interrupt irq = { .vector = p->vector };

	usleep(p->delay_ms * 1000);
	return (void *)(long)ioctl(p->fd, LKVM_INTERRUPT, &irq);
}

TEST(hlt_woken_by_interrupt)
{
	struct poster p = { .vector = IRQ_VECTOR, .delay_ms = 300 };
	struct guest *g;
	struct ucall uc;
	pthread_t t;
	void *ret;

	GUEST_CREATE_OR_SKIP(g, GUEST_LKVM, guest_sti_hlt_code);
	guest_set_idt_handler(g, IRQ_VECTOR, irq_stub);
	p.fd = guest_vcpu_fd(g);
	ASSERT_EQ(0, pthread_create(&t, NULL, post_later, &p));
	/* The guest halts before the interrupt comes, and the interrupt wakes it. */
	ASSERT_UCALL(g, UCALL_SYNC, &uc);
	pthread_join(t, &ret);
	EXPECT_EQ(0, (long)ret);
	EXPECT_EQ(1, uc.args[0]);
	EXPECT_EQ(1, stat(g, LKVM_STAT_HLT));
	EXPECT_EQ(1, stat(g, LKVM_STAT_HALT_WAKEUPS));
	EXPECT_EQ(1, stat(g, LKVM_STAT_IRQ_INJECTED));
	guest_destroy(g);
}

/* An interrupt posted while IF is clear waits until the guest sets it. */
static void guest_if_window_code(uint64_t a0, uint64_t a1)
{
	int i;

	for (i = 0; i < 1000; i++)
		asm volatile("pause");
	GUEST_ASSERT_EQ(irq_count, 0);
	asm volatile("sti; nop; cli" ::: "memory");
	GUEST_ASSERT_EQ(irq_count, 1);
	GUEST_DONE();
}

TEST(interrupt_waits_for_if)
{
	struct lkvm_interrupt irq = { .vector = IRQ_VECTOR };
	struct guest *g;
	struct ucall uc;

	GUEST_CREATE_OR_SKIP(g, GUEST_LKVM, guest_if_window_code);
	guest_set_idt_handler(g, IRQ_VECTOR, irq_stub);
	ASSERT_EQ(0, ioctl(guest_vcpu_fd(g), LKVM_INTERRUPT, &irq));
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	EXPECT_EQ(1, stat(g, LKVM_STAT_IRQ_INJECTED));
	guest_destroy(g);
}

/* ---- Port I/O ---- */

#define NR_POST_WRITES	100

static void guest_pio_code(uint64_t a0, uint64_t a1)
{
	uint64_t rax;
	int i;

	for (i = 0; i < NR_POST_WRITES; i++)
		guest_outb(POST_PORT, i);
	/* An 8-bit IN writes AL only. */
	asm volatile("mov $0x1234567812345600, %%rax; inb %1, %%al"
		     : "=a"(rax) : "Nd"((uint16_t)POST_PORT));
	GUEST_ASSERT_EQ(rax, 0x12345678123456ffULL);
	/* Nothing answers here: all ones, and RAX's upper half cleared by the 32-bit IN. */
	asm volatile("mov $-2, %%rax; inl %%dx, %%eax" : "=a"(rax) : "d"(UNCLAIMED_PORT));
	GUEST_ASSERT_EQ(rax, 0xffffffffULL);
	asm volatile("outw %%ax, %%dx" : : "a"(0x1234), "d"(UNCLAIMED_PORT));

	/* Test-port accesses of each size reach the host with their data. */
	asm volatile("outb %%al, %%dx" : : "a"(0x12), "d"(GUEST_UCALL_PORT));
	asm volatile("outw %%ax, %%dx" : : "a"(0x3456), "d"(GUEST_UCALL_PORT));
	/* The host answers 0xffffff9a: only AL takes it, AH keeps its 0xaa. */
	asm volatile("mov $0xaaaa, %%eax; inb %%dx, %%al" : "=a"(rax) : "d"(GUEST_UCALL_PORT));
	GUEST_ASSERT_EQ(rax, 0xaa9aULL);
	asm volatile("mov $-1, %%rax; inl %%dx, %%eax" : "=a"(rax) : "d"(GUEST_UCALL_PORT));
	GUEST_ASSERT_EQ(rax, 0x89abcdefULL);
	GUEST_DONE();
}

static void expect_test_io(struct __test_metadata *_metadata, struct guest *g, uint8_t size,
			   bool is_write, uint64_t data)
{
	struct lkvm_run *run = guest_lkvm_run(g);

	ASSERT_EQ(0, guest_run(g));
	ASSERT_EQ(LKVM_EXIT_TEST_IO, run->exit_reason);
	EXPECT_EQ(GUEST_UCALL_PORT, run->io.port);
	EXPECT_EQ(size, run->io.size);
	EXPECT_EQ(is_write, run->io.is_write);
	if (is_write) {
		EXPECT_EQ(data, run->io.data);
	} else {
		run->io.data = data;
	}
}

TEST(pio_in_kernel_and_test_port)
{
	uint64_t io_before;
	struct guest *g;
	struct ucall uc;

	GUEST_CREATE_OR_SKIP(g, GUEST_LKVM, guest_pio_code);
	expect_test_io(_metadata, g, 1, true, 0x12);
	io_before = stat(g, LKVM_STAT_IO);
	/* 100 POST writes, one POST read, two unclaimed accesses, one test write. */
	EXPECT_EQ(NR_POST_WRITES + 4, io_before);
	EXPECT_EQ(2, stat(g, LKVM_STAT_UNCLAIMED_IO));
	EXPECT_EQ(1, stat(g, LKVM_STAT_USERSPACE_EXITS));
	expect_test_io(_metadata, g, 2, true, 0x3456);
	/* A read returns to the guest with what the host put in run->io.data... */
	expect_test_io(_metadata, g, 1, false, 0xffffff9a);
	expect_test_io(_metadata, g, 4, false, 0x89abcdef);
	/* ...with only the access's size taken: AL for INB, EAX for INL. */
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	guest_destroy(g);
}

/* ---- MMIO ---- */

static void guest_mmio_code(uint64_t a0, uint64_t a1)
{
	volatile uint8_t *b = (volatile uint8_t *)TEST_MMIO_GPA;
	uint64_t q;
	uint32_t l;
	uint16_t w;
	uint8_t c;

	/* Stores of each size, from registers and immediates, low and high. */
	asm volatile("movb %b0, (%1)" : : "q"(0x11), "r"(b + 1) : "memory");
	asm volatile("movw %w0, (%1)" : : "r"(0x2222), "r"(b + 2) : "memory");
	asm volatile("movl %0, (%1)" : : "r"(0x33333333), "r"(b + 4) : "memory");
	asm volatile("movq %0, (%1)" : : "r"(0x4444444444444444ULL), "r"(b + 8) : "memory");
	asm volatile("movl $0x55555555, (%0)" : : "r"(b + 16) : "memory");
	asm volatile("movq $-2, (%0)" : : "r"(b + 24) : "memory");
	/* AH exists only without a REX prefix: keep the address in RDI. */
	asm volatile("mov $0x6600, %%eax; movb %%ah, (%0)" : : "D"(b + 32) : "rax", "memory");
	asm volatile("mov %0, %%r13; movq %%r13, (%1)" : : "r"(0x7777ULL), "r"(b + 40)
		     : "r13", "memory");

	/* Loads of each size; the host answers 0x8899aabbccddeeff every time. */
	asm volatile("movb (%1), %0" : "=q"(c) : "r"(b));
	GUEST_ASSERT_EQ(c, 0xff);
	asm volatile("movw (%1), %0" : "=r"(w) : "r"(b));
	GUEST_ASSERT_EQ(w, 0xeeff);
	/* A 32-bit load clears the upper half of the register. */
	asm volatile("mov $-1, %0; movl (%1), %k0" : "=&r"(q) : "r"(b));
	GUEST_ASSERT_EQ(q, 0xccddeeffULL);
	asm volatile("movq (%1), %0" : "=r"(q) : "r"(b));
	GUEST_ASSERT_EQ(q, 0x8899aabbccddeeffULL);
	asm volatile("mov $-1, %0; movzbl (%1), %k0" : "=&r"(q) : "r"(b));
	GUEST_ASSERT_EQ(q, 0xffULL);
	asm volatile("movsbq (%1), %0" : "=r"(q) : "r"(b));
	GUEST_ASSERT_EQ(q, -1ULL);
	asm volatile("movswl (%1), %0" : "=r"(l) : "r"(b));
	GUEST_ASSERT_EQ(l, 0xffffeeffU);
	/* A byte load into AH keeps the rest of RAX. */
	asm volatile("mov $0x1234, %%eax; movb (%1), %%ah" : "=a"(q) : "S"(b));
	GUEST_ASSERT_EQ(q, 0xff34ULL);
	asm volatile("mov (%1), %%r9; mov %%r9, %0" : "=r"(q) : "r"(b) : "r9");
	GUEST_ASSERT_EQ(q, 0x8899aabbccddeeffULL);
	GUEST_DONE();
}

static const struct { uint64_t off, size, data; } mmio_stores[] = {
	{ 1, 1, 0x11 }, { 2, 2, 0x2222 }, { 4, 4, 0x33333333 }, { 8, 8, 0x4444444444444444ULL },
	{ 16, 4, 0x55555555 }, { 24, 8, 0xfffffffffffffffeULL }, { 32, 1, 0x66 }, { 40, 8, 0x7777 },
};
static const uint8_t mmio_load_sizes[] = { 1, 2, 4, 8, 1, 1, 2, 1, 8 };

TEST(mmio_each_size_decoded)
{
	struct guest_mmio m;
	struct guest *g;
	struct ucall uc;
	unsigned int i;
	char msg[GUEST_MSG_LEN];

	GUEST_CREATE_OR_SKIP(g, GUEST_LKVM, guest_mmio_code);
	ASSERT_EQ(0, guest_enable_test_mmio(g, TEST_MMIO_GPA, TEST_MMIO_SIZE));
	for (i = 0; i < sizeof(mmio_stores) / sizeof(mmio_stores[0]); i++) {
		ASSERT_EQ(0, guest_run(g));
		ASSERT_TRUE(guest_mmio_exit(g, &m)) TH_LOG("%s", guest_exit_describe(g, msg,
							     sizeof(msg)));
		EXPECT_TRUE(m.is_write);
		EXPECT_EQ(TEST_MMIO_GPA + mmio_stores[i].off, m.gpa);
		EXPECT_EQ(mmio_stores[i].size, m.size);
		EXPECT_EQ(mmio_stores[i].data, m.data) TH_LOG("store %u", i);
	}
	for (i = 0; i < sizeof(mmio_load_sizes); i++) {
		ASSERT_EQ(0, guest_run(g));
		ASSERT_TRUE(guest_mmio_exit(g, &m)) TH_LOG("%s", guest_exit_describe(g, msg,
							     sizeof(msg)));
		EXPECT_FALSE(m.is_write);
		EXPECT_EQ(TEST_MMIO_GPA, m.gpa);
		EXPECT_EQ(mmio_load_sizes[i], m.size) TH_LOG("load %u", i);
		guest_mmio_set_read_data(g, 0x8899aabbccddeeffULL);
	}
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	EXPECT_EQ(sizeof(mmio_stores) / sizeof(mmio_stores[0]) + sizeof(mmio_load_sizes),
		  stat(g, LKVM_STAT_MMIO));
	guest_destroy(g);
}

/* Memory isolation: what the guest writes outside its RAM goes nowhere. */
static void guest_unbacked_code(uint64_t a0, uint64_t a1)
{
	volatile uint64_t *p = (volatile uint64_t *)UNBACKED_GPA;
	volatile uint32_t *ram = (volatile uint32_t *)(a0 / 2);

	GUEST_ASSERT_EQ(*p, ~0ULL);
	*p = 0x1122334455667788ULL;
	GUEST_ASSERT_EQ(*p, ~0ULL);
	/* The first byte past the end of RAM; and RAM, for contrast. */
	*(volatile uint8_t *)a0 = 0x5a;
	GUEST_ASSERT_EQ(*(volatile uint8_t *)a0, 0xff);
	*ram = 0xcafef00d;
	GUEST_ASSERT_EQ(*ram, 0xcafef00d);
	GUEST_DONE();
}

TEST(unbacked_memory_reads_ones_drops_writes)
{
	struct guest *g;
	struct ucall uc;
	uint32_t *ram;

	GUEST_CREATE_OR_SKIP(g, GUEST_LKVM, guest_unbacked_code);
	guest_set_args(g, GUEST_DEFAULT_MEM_SIZE, 0);
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	EXPECT_EQ(5, stat(g, LKVM_STAT_UNCLAIMED_MMIO));
	/* Guest RAM is the host's memory, at the same place. */
	ram = guest_gpa_to_hva(g, GUEST_DEFAULT_MEM_SIZE / 2, 4);
	ASSERT_NE(NULL, ram);
	EXPECT_EQ(0xcafef00d, *ram);
	EXPECT_EQ(NULL, guest_gpa_to_hva(g, GUEST_DEFAULT_MEM_SIZE, 1));
	guest_destroy(g);
}

/* ---- Shutdown ---- */

static void guest_triple_fault_code(uint64_t a0, uint64_t a1)
{
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) idtr = { 0, 0 };

	/* No IDT: #UD cannot be delivered, nor the #GP and #DF after it. */
	asm volatile("lidt %0; ud2" : : "m"(idtr));
	GUEST_DONE();
}

TEST(triple_fault_is_shutdown)
{
	struct lkvm_run *run;
	struct guest_regs regs;
	struct guest *g;

	GUEST_CREATE_OR_SKIP(g, GUEST_LKVM, guest_triple_fault_code);
	run = guest_lkvm_run(g);
	ASSERT_EQ(0, guest_run(g));
	EXPECT_EQ(LKVM_EXIT_SHUTDOWN, run->exit_reason);
	EXPECT_EQ(0x7f, run->exit_code);
	EXPECT_EQ(1, stat(g, LKVM_STAT_SHUTDOWN));
	/* Like a PC whose CPU shut down: reset, at the reset vector. */
	ASSERT_EQ(0, guest_get_regs(g, &regs));
	EXPECT_EQ(0xfff0, regs.rip);
	EXPECT_EQ(2, regs.rflags);
	guest_destroy(g);
}

/*
 * ---- Instructions the guest does not have ----
 *
 * RDTSCP is intercepted too, but QEMU's SVM does not implement that
 * intercept (nor XSETBV's), so the test VM cannot check it.
 */

/*
 * Operands that pass every check the CPU makes before the intercept:
 * RAX a page-aligned address (VMRUN, VMLOAD, VMSAVE), ECX and EDX zero
 * (MONITOR and MWAIT take no extensions).
 */
#define UD_CASE(insn) do {							\
	uint64_t __fault;							\
										\
	asm volatile(GUEST_ASM_SAFE(insn) : GUEST_ASM_SAFE_OUTPUT(__fault)	\
		     : "a"(0x100000), "c"(0), "d"(0) : GUEST_ASM_SAFE_CLOBBERS);	\
	GUEST_ASSERT_EQ(guest_fault_vector(__fault), VECTOR_UD);		\
	GUEST_ASSERT(guest_faulted(__fault));					\
} while (0)

static void guest_ud_code(uint64_t a0, uint64_t a1)
{
	UD_CASE("vmmcall");
	UD_CASE("vmrun");
	UD_CASE("vmload");
	UD_CASE("vmsave");
	UD_CASE("stgi");
	UD_CASE("clgi");
	UD_CASE("monitor");
	UD_CASE("mwait");
	GUEST_DONE();
}

TEST(svm_and_monitor_instructions_ud)
{
	struct guest *g;
	struct ucall uc;

	GUEST_CREATE_OR_SKIP(g, GUEST_LKVM, guest_ud_code);
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	EXPECT_EQ(8, stat(g, LKVM_STAT_EXCEPTION_INJECTED));
	guest_destroy(g);
}

/* ---- XSETBV ---- */

static void guest_xsetbv_code(uint64_t a0, uint64_t a1)
{
	uint64_t cr4, fault;
	uint32_t eax, ebx, ecx, edx;

	asm volatile("mov %%cr4, %0" : "=r"(cr4));
	asm volatile("mov %0, %%cr4" : : "r"(cr4 | (1ULL << 18)));
	guest_cpuid(1, &eax, &ebx, &ecx, &edx);
	GUEST_ASSERT(ecx & LEAF1_ECX_OSXSAVE);
	/* x87 and SSE: allowed; read back through XGETBV, which does not exit. */
	asm volatile(GUEST_ASM_SAFE("xsetbv") : GUEST_ASM_SAFE_OUTPUT(fault)
		     : "a"(3), "d"(0), "c"(0) : GUEST_ASM_SAFE_CLOBBERS);
	GUEST_ASSERT(!guest_faulted(fault));
	asm volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
	GUEST_ASSERT_EQ(eax, 3);
	GUEST_SYNC(0);
	asm volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
	GUEST_ASSERT_EQ(eax, 3);
	guest_cpuid(0xd, &eax, &ebx, &ecx, &edx);
	GUEST_ASSERT_EQ(ebx, 576 + 0);
	/* x87 off, AVX without SSE, a bit nobody has, XCR1: #GP each. */
	asm volatile(GUEST_ASM_SAFE("xsetbv") : GUEST_ASM_SAFE_OUTPUT(fault)
		     : "a"(2), "d"(0), "c"(0) : GUEST_ASM_SAFE_CLOBBERS);
	GUEST_ASSERT_EQ(guest_fault_vector(fault), VECTOR_GP);
	asm volatile(GUEST_ASM_SAFE("xsetbv") : GUEST_ASM_SAFE_OUTPUT(fault)
		     : "a"(5), "d"(0), "c"(0) : GUEST_ASM_SAFE_CLOBBERS);
	GUEST_ASSERT_EQ(guest_fault_vector(fault), VECTOR_GP);
	asm volatile(GUEST_ASM_SAFE("xsetbv") : GUEST_ASM_SAFE_OUTPUT(fault)
		     : "a"(3), "d"(0x80000000), "c"(0) : GUEST_ASM_SAFE_CLOBBERS);
	GUEST_ASSERT_EQ(guest_fault_vector(fault), VECTOR_GP);
	asm volatile(GUEST_ASM_SAFE("xsetbv") : GUEST_ASM_SAFE_OUTPUT(fault)
		     : "a"(3), "d"(0), "c"(1) : GUEST_ASM_SAFE_CLOBBERS);
	GUEST_ASSERT_EQ(guest_fault_vector(fault), VECTOR_GP);
	asm volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
	GUEST_ASSERT_EQ(eax, 3);
	GUEST_DONE();
}

TEST(xsetbv_checked)
{
	struct cpuid_regs h1 = host_cpuid(1);
	struct guest *g;
	struct ucall uc;

	if (!(h1.ecx & BIT(26)))
		SKIP(return, "this CPU has no XSAVE");
	GUEST_CREATE_OR_SKIP(g, GUEST_LKVM, guest_xsetbv_code);
	/* The guest's XCR0 survives a trip to userspace. */
	ASSERT_UCALL(g, UCALL_SYNC, &uc);
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	/*
	 * Five XSETBVs, each an exit where the CPU has the intercept; QEMU's
	 * SVM lacks it and the CPU checks the values itself.
	 */
	EXPECT_TRUE(stat(g, LKVM_STAT_XSETBV) == 5 || stat(g, LKVM_STAT_XSETBV) == 0);
	guest_destroy(g);
}

/* ---- Debug registers and #DB ---- */

static uint64_t host_watched;

/*
 * A host hardware breakpoint on @addr for this thread: the kernel loads it
 * into DR0-3 whenever the thread runs. Returns the perf fd or -errno.
 */
static int host_breakpoint(void *addr)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_BREAKPOINT,
		.size = sizeof(attr),
		.bp_type = HW_BREAKPOINT_W,
		.bp_addr = (uintptr_t)addr,
		.bp_len = HW_BREAKPOINT_LEN_8,
		.exclude_kernel = 1,
		.exclude_hv = 1,
	};
	int fd = syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);

	return fd < 0 ? -errno : fd;
}

static uint64_t perf_count(int fd)
{
	uint64_t n = 0;

	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return ~0ULL;
	return n;
}

static void guest_dr_code(uint64_t a0, uint64_t a1)
{
	uint64_t v, fault;

	/* Virtual registers at their reset values, whatever the host has. */
	asm volatile("mov %%dr0, %0" : "=r"(v));
	GUEST_ASSERT_EQ(v, 0);
	asm volatile("mov %%dr3, %0" : "=r"(v));
	GUEST_ASSERT_EQ(v, 0);
	asm volatile("mov %%dr6, %0" : "=r"(v));
	GUEST_ASSERT_EQ(v, 0xffff0ff0);
	asm volatile("mov %%dr7, %0" : "=r"(v));
	GUEST_ASSERT_EQ(v, 0x400);
	/* Round trips, through a register that needs REX.B. */
	asm volatile("mov %1, %%r9; mov %%r9, %%dr0; xor %%r9d, %%r9d; mov %%dr0, %%r9; mov %%r9, %0"
		     : "=r"(v) : "r"(0xffffffff81234560ULL) : "r9");
	GUEST_ASSERT_EQ(v, 0xffffffff81234560ULL);
	asm volatile("mov %0, %%dr7" : : "r"(0x1ULL));
	asm volatile("mov %%dr7, %0" : "=r"(v));
	GUEST_ASSERT_EQ(v, 0x401);
	/* DR7 with a bit above 31: #GP, and DR7 as it was. */
	asm volatile(GUEST_ASM_SAFE("mov %%rax, %%dr7") : GUEST_ASM_SAFE_OUTPUT(fault)
		     : "a"(1ULL << 32) : GUEST_ASM_SAFE_CLOBBERS);
	GUEST_ASSERT_EQ(guest_fault_vector(fault), VECTOR_GP);
	asm volatile("mov %%dr7, %0" : "=r"(v));
	GUEST_ASSERT_EQ(v, 0x401);
	GUEST_DONE();
}

TEST(debug_registers_virtual_host_breakpoint_kept)
{
	struct guest *g;
	struct ucall uc;
	int bp;

	GUEST_CREATE_OR_SKIP(g, GUEST_LKVM, guest_dr_code);
	bp = host_breakpoint(&host_watched);
	if (bp < 0)
		SKIP(guest_destroy(g); return, "no hardware breakpoint for the host: %d", bp);
	host_watched = 1;
	ASSERT_EQ(1, perf_count(bp));
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	/* 4 reads, 2 round trips of two accesses, the refused write, a read. */
	EXPECT_EQ(10, stat(g, LKVM_STAT_DR_ACCESS));
	/*
	 * The host's breakpoint still fires after the guest ran on this
	 * thread. (Hardware turns the host's DR7 off at #VMEXIT and the module
	 * turns it back on; QEMU's SVM restores DR7 itself, so in the test VM
	 * this part cannot fail for want of that.)
	 */
	host_watched = 2;
	EXPECT_EQ(2, perf_count(bp));
	close(bp);
	guest_destroy(g);
}

static volatile uint64_t db_count;

/* The #DB handler: count it, clear TF in the interrupted RFLAGS, return. */
asm(".pushsection .text\n"
    "db_stub:\n\t"
    "lock incq db_count(%rip)\n\t"
    "andq $~0x100, 16(%rsp)\n\t"
    "iretq\n"
    ".popsection");
void db_stub(void);

static void guest_single_step_code(uint64_t a0, uint64_t a1)
{
	asm volatile("pushf; orq $0x100, (%%rsp); popf; nop; nop" ::: "memory", "cc");
	GUEST_ASSERT_EQ(db_count, 1);
	GUEST_DONE();
}

TEST(single_step_db_reflected)
{
	struct guest *g;
	struct ucall uc;

	GUEST_CREATE_OR_SKIP(g, GUEST_LKVM, guest_single_step_code);
	guest_set_idt_handler(g, 1, db_stub);
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	EXPECT_EQ(1, stat(g, LKVM_STAT_GUEST_EXCEPTIONS));
	guest_destroy(g);
}

TEST_HARNESS_MAIN
