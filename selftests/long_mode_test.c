// SPDX-License-Identifier: GPL-2.0
/*
 * EFER.LME with paging off, and the CR0 writes that enter and leave long
 * mode (kernel/lme.c). The state "LME set, paging off, CR4.PAE clear" is
 * architecturally valid, and under QEMU 7.2 the first exit from it used to
 * leave the host CPU with paging off (the test VM hung: an RCU stall, then
 * the time limit), so the first test is also the regression test for that.
 *
 * The guests are a few hand-assembled instructions in real mode or 32-bit
 * protected mode without paging, each ending with an OUT to the test port.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib/lkvm_util.h"

#define MEM_SIZE	(2UL << 20)
#define CODE_GPA	0x1000
#define GP_HANDLER_GPA	0x1800
#define PML4_GPA	0x2000
#define PDPT_GPA	0x3000
#define PD_GPA		0x4000
#define GDT_GPA		0x5000
#define IDT_GPA		0x6000
#define PORT		0x99
#define GP_MARK		0x0d

#define EFER_LME	(1ULL << 8)
#define EFER_LMA	(1ULL << 10)
#define CR0_PE		(1ULL << 0)
#define CR0_TS		(1ULL << 3)
#define CR0_ET		(1ULL << 4)
#define CR0_PG		(1ULL << 31)
#define CR4_PAE		(1ULL << 5)

/* Guest code: read EFER, then its byte 1 (LME is bit 0, LMA bit 2) goes to the port. */
#define RDMSR_EFER_OUT	0xb9, 0x80, 0x00, 0x00, 0xc0,	/* mov ecx, 0xc0000080 */	\
			0x0f, 0x32,			/* rdmsr */			\
			0x88, 0xe0,			/* mov al, ah */		\
			0xe6, PORT			/* out PORT, al */
#define PAGING_ON	0x0f, 0x20, 0xc0,		/* mov eax, cr0 */		\
			0x0d, 0x00, 0x00, 0x00, 0x80,	/* or eax, 0x80000000 */	\
			0x0f, 0x22, 0xc0		/* mov cr0, eax */

FIXTURE(lme) {
	int dev, vm, vcpu;
	uint8_t *mem;
	struct lkvm_sregs sregs;
	struct lkvm_run run;
};

FIXTURE_SETUP(lme)
{
	struct lkvm_test_exits exits = { .flags = LKVM_TEST_EXIT_IO, .io_port = PORT };
	struct lkvm_memory_region region = { .memory_size = MEM_SIZE };
	uint64_t *pml4, *pdpt, *pd, *gdt;

	self->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	region.userspace_addr = (uintptr_t)self->mem;
	self->dev = open(LKVM_DEV_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->dev);
	self->vm = lkvm_ioctl(self->dev, LKVM_CREATE_VM, NULL);
	ASSERT_LE(0, self->vm);
	ASSERT_EQ(0, lkvm_ioctl(self->vm, LKVM_SET_MEMORY_REGION, &region));
	ASSERT_EQ(0, lkvm_ioctl(self->vm, LKVM_SET_TEST_EXITS, &exits));
	self->vcpu = lkvm_ioctl(self->vm, LKVM_CREATE_VCPU, (void *)0);
	ASSERT_LE(0, self->vcpu);

	/* The first 2 MiB identity mapped with one large page, for long mode. */
	pml4 = (uint64_t *)(self->mem + PML4_GPA);
	pdpt = (uint64_t *)(self->mem + PDPT_GPA);
	pd = (uint64_t *)(self->mem + PD_GPA);
	pml4[0] = PDPT_GPA | 3;
	pdpt[0] = PD_GPA | 3;
	pd[0] = 0x83;
	/* A flat 32-bit code segment at selector 8, for the #GP handler's gate. */
	gdt = (uint64_t *)(self->mem + GDT_GPA);
	gdt[1] = 0x00cf9b000000ffffULL;
	ASSERT_EQ(0, lkvm_ioctl(self->vcpu, LKVM_GET_SREGS, &self->sregs));
}

FIXTURE_TEARDOWN(lme)
{
	close(self->vcpu);
	close(self->vm);
	close(self->dev);
	munmap(self->mem, MEM_SIZE);
}

/* Real mode at CODE_GPA with the RESET state's CR0, and @efer, @cr4. */
static int real_mode(struct _test_data_lme *self, uint64_t efer, uint64_t cr4)
{
	struct lkvm_regs regs = { .rip = CODE_GPA, .rflags = 2 };
	struct lkvm_sregs s = self->sregs;

	s.cs.base = 0;
	s.cs.selector = 0;
	s.efer = efer;
	s.cr4 = cr4;
	return lkvm_ioctl(self->vcpu, LKVM_SET_SREGS, &s) ?:
	       lkvm_ioctl(self->vcpu, LKVM_SET_REGS, &regs);
}

/* 32-bit protected mode, flat, paging off, CR3 at the identity map, and @efer, @cr4. */
static int protected_mode(struct _test_data_lme *self, uint64_t efer, uint64_t cr4)
{
	struct lkvm_segment code = { .limit = 0xffffffff, .selector = 8, .attrib = 0xc9b };
	struct lkvm_segment data = { .limit = 0xffffffff, .selector = 0x10, .attrib = 0xc93 };
	struct lkvm_regs regs = { .rip = CODE_GPA, .rflags = 2, .rsp = 0x8000 };
	struct lkvm_sregs s = self->sregs;

	s.cs = code;
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	s.gdt.base = GDT_GPA;
	s.gdt.limit = 0x17;
	s.idt.base = IDT_GPA;
	s.idt.limit = 0x7f;
	s.cr0 = CR0_PE | CR0_ET;
	s.cr3 = PML4_GPA;
	s.cr4 = cr4;
	s.efer = efer;
	return lkvm_ioctl(self->vcpu, LKVM_SET_SREGS, &s) ?:
	       lkvm_ioctl(self->vcpu, LKVM_SET_REGS, &regs);
}

static void put_code(struct _test_data_lme *self, const uint8_t *code, size_t len)
{
	memcpy(self->mem + CODE_GPA, code, len);
}

/* Run to the next test-port access; its byte, or -1. */
static int run_to_port(struct _test_data_lme *self)
{
	memset(&self->run, 0, sizeof(self->run));
	if (lkvm_ioctl(self->vcpu, LKVM_RUN, &self->run) ||
	    self->run.exit_reason != LKVM_EXIT_TEST_IO || self->run.io.port != PORT)
		return -1;
	return self->run.io.data & 0xff;
}

/*
 * The regression test: LME set, paging off, PAE clear, and an exit (CPUID
 * is one, handled in the module) before the port's. The guest and
 * LKVM_GET_SREGS both see the LME that was set.
 */
TEST_F(lme, lme_without_pae_or_paging_exits_safely)
{
	/* cpuid; then, with an operand-size prefix in real mode, the EFER read */
	static const uint8_t code[] = { 0x0f, 0xa2, 0x66, RDMSR_EFER_OUT };
	struct lkvm_sregs s;

	put_code(self, code, sizeof(code));
	ASSERT_EQ(0, real_mode(self, EFER_LME, 0));
	ASSERT_EQ(1, run_to_port(self)) TH_LOG("exit reason %u", self->run.exit_reason);
	ASSERT_EQ(0, lkvm_ioctl(self->vcpu, LKVM_GET_SREGS, &s));
	EXPECT_EQ(EFER_LME, s.efer);
	EXPECT_EQ(0, s.cr0 & CR0_PG);
}

/* Paging turned on with LME and PAE set activates long mode (compatibility mode). */
TEST_F(lme, paging_on_with_lme_enters_long_mode)
{
	static const uint8_t code[] = { PAGING_ON, RDMSR_EFER_OUT };
	struct lkvm_sregs s;

	put_code(self, code, sizeof(code));
	ASSERT_EQ(0, protected_mode(self, EFER_LME, CR4_PAE));
	/* LME and LMA, as the guest reads them. */
	ASSERT_EQ(5, run_to_port(self)) TH_LOG("exit reason %u", self->run.exit_reason);
	ASSERT_EQ(0, lkvm_ioctl(self->vcpu, LKVM_GET_SREGS, &s));
	EXPECT_EQ(EFER_LME | EFER_LMA, s.efer);
	EXPECT_EQ(CR0_PG, s.cr0 & CR0_PG);
}

/* Without LME, the same code turns on legacy paging (the same identity map works). */
TEST_F(lme, paging_on_without_lme_stays_legacy)
{
	static const uint8_t code[] = { PAGING_ON, RDMSR_EFER_OUT };
	struct lkvm_sregs s;

	/* A 4 MiB PSE page at 0 as the legacy page directory's first entry. */
	*(uint32_t *)(self->mem + PML4_GPA) = 0x83;
	put_code(self, code, sizeof(code));
	ASSERT_EQ(0, protected_mode(self, 0, 0x10 /* PSE */));
	ASSERT_EQ(0, run_to_port(self)) TH_LOG("exit reason %u", self->run.exit_reason);
	ASSERT_EQ(0, lkvm_ioctl(self->vcpu, LKVM_GET_SREGS, &s));
	EXPECT_EQ(0, s.efer);
	EXPECT_EQ(CR0_PG, s.cr0 & CR0_PG);
}

/* Paging with LME but no PAE is a #GP, as on the CPU: the handler reports it. */
TEST_F(lme, paging_on_with_lme_without_pae_is_gp)
{
	static const uint8_t code[] = { PAGING_ON, RDMSR_EFER_OUT };
	/* mov al, GP_MARK; out PORT, al */
	static const uint8_t handler[] = { 0xb0, GP_MARK, 0xe6, PORT };
	uint64_t *idt = (uint64_t *)(self->mem + IDT_GPA);
	struct lkvm_sregs s;

	put_code(self, code, sizeof(code));
	memcpy(self->mem + GP_HANDLER_GPA, handler, sizeof(handler));
	/* A 32-bit interrupt gate for #GP at selector 8. */
	idt[13] = (GP_HANDLER_GPA & 0xffff) | (8ULL << 16) | (0x8eULL << 40) |
		  ((uint64_t)(GP_HANDLER_GPA >> 16) << 48);
	ASSERT_EQ(0, protected_mode(self, EFER_LME, 0));
	ASSERT_EQ(GP_MARK, run_to_port(self)) TH_LOG("exit reason %u", self->run.exit_reason);
	ASSERT_EQ(0, lkvm_ioctl(self->vcpu, LKVM_GET_SREGS, &s));
	EXPECT_EQ(EFER_LME, s.efer);
	EXPECT_EQ(0, s.cr0 & CR0_PG);
}

/* CLTS and LMSW, emulated while LME is held back, do what the CPU does. */
TEST_F(lme, clts_and_lmsw_with_lme_held)
{
	static const uint8_t code[] = {
		0x0f, 0x06,			/* clts */
		0x0f, 0x20, 0xc0,		/* mov eax, cr0 */
		0xe6, PORT,			/* out PORT, al */
		0x0c, 0x08,			/* or al, 8 (TS) */
		0x0f, 0x01, 0xf0,		/* lmsw ax */
		0x0f, 0x20, 0xc0,		/* mov eax, cr0 */
		0xe6, PORT,			/* out PORT, al */
	};
	struct lkvm_sregs s;

	put_code(self, code, sizeof(code));
	ASSERT_EQ(0, real_mode(self, EFER_LME, 0));
	ASSERT_EQ(0, lkvm_ioctl(self->vcpu, LKVM_GET_SREGS, &s));
	s.cr0 |= CR0_TS;
	ASSERT_EQ(0, lkvm_ioctl(self->vcpu, LKVM_SET_SREGS, &s));
	ASSERT_EQ(CR0_ET, run_to_port(self) & 0x1f);
	ASSERT_EQ(CR0_ET | CR0_TS, run_to_port(self) & 0x1f);
}

/* A CR0 write the module does not decode (LMSW from memory) is reported, not guessed. */
TEST_F(lme, lmsw_from_memory_is_an_internal_error)
{
	static const uint8_t code[] = { 0x0f, 0x01, 0x37 };	/* lmsw [bx] */

	put_code(self, code, sizeof(code));
	ASSERT_EQ(0, real_mode(self, EFER_LME, 0));
	memset(&self->run, 0, sizeof(self->run));
	ASSERT_EQ(0, lkvm_ioctl(self->vcpu, LKVM_RUN, &self->run));
	ASSERT_EQ(LKVM_EXIT_INTERNAL_ERROR, self->run.exit_reason);
	EXPECT_EQ(LKVM_INTERNAL_EMULATION, self->run.internal.suberror);
	/* The instruction's bytes, for the VMM to say what it was. */
	ASSERT_LE(sizeof(code), self->run.internal.insn_len);
	EXPECT_EQ(0, memcmp(code, self->run.internal.insn, sizeof(code)));
}

TEST_HARNESS_MAIN
