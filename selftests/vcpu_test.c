// SPDX-License-Identifier: GPL-2.0
/*
 * vCPU files and their registers: creation and its limits, the state
 * after RESET, register round trips, and one negative test per validation
 * path of LKVM_SET_REGS and LKVM_SET_SREGS, each checking that the refused
 * call changed nothing.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib/lkvm_util.h"

#define MAX_VCPUS	64

FIXTURE(vcpu) {
	int dev, vm, vcpu;
	struct lkvm_regs regs;
	struct lkvm_sregs sregs;
};

/* A 64-bit guest's system registers, as a launcher would set them. */
static struct lkvm_sregs long_mode_sregs(void)
{
	struct lkvm_segment code = { .limit = 0xffffffff, .selector = 0x10, .attrib = 0xa9b };
	struct lkvm_segment data = { .limit = 0xffffffff, .selector = 0x18, .attrib = 0xc93 };

	return (struct lkvm_sregs) {
		.cs = code, .ds = data, .es = data, .fs = data, .gs = data, .ss = data,
		.tr = { .base = 0x3000, .limit = 0x67, .selector = 0x20, .attrib = 0x8b },
		.ldt = { .attrib = 0x82 },
		.gdt = { .base = 0x1000, .limit = 0x27 },
		.idt = { .base = 0x2000, .limit = 0xfff },
		.cr0 = 0x80050033, .cr3 = 0x9000, .cr4 = 0x6a0, .cr8 = 3,
		.efer = 0xd01,	/* SCE, LME, LMA, NXE */
	};
}

FIXTURE_SETUP(vcpu)
{
	self->dev = open(LKVM_DEV_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->dev);
	self->vm = lkvm_ioctl(self->dev, LKVM_CREATE_VM, NULL);
	ASSERT_LE(0, self->vm);
	self->vcpu = lkvm_ioctl(self->vm, LKVM_CREATE_VCPU, (void *)0);
	ASSERT_LE(0, self->vcpu) TH_LOG("LKVM_CREATE_VCPU: %s", strerror(-self->vcpu));
	/* A known state that every negative test must find unchanged. */
	self->sregs = long_mode_sregs();
	ASSERT_EQ(0, lkvm_ioctl(self->vcpu, LKVM_SET_SREGS, &self->sregs));
	memset(&self->regs, 0x5a, sizeof(self->regs));
	self->regs.rflags = 0x246;
	ASSERT_EQ(0, lkvm_ioctl(self->vcpu, LKVM_SET_REGS, &self->regs));
}

FIXTURE_TEARDOWN(vcpu)
{
	close(self->vcpu);
	close(self->vm);
	close(self->dev);
}

#define EXPECT_UNCHANGED() do {							\
	struct lkvm_regs r;							\
	struct lkvm_sregs s;							\
	ASSERT_EQ(0, lkvm_ioctl(self->vcpu, LKVM_GET_REGS, &r));		\
	ASSERT_EQ(0, lkvm_ioctl(self->vcpu, LKVM_GET_SREGS, &s));		\
	EXPECT_EQ(0, memcmp(&r, &self->regs, sizeof(r)));			\
	EXPECT_EQ(0, memcmp(&s, &self->sregs, sizeof(s)));			\
} while (0)

/* One SET_SREGS negative test: the known state changed by @stmt is EINVAL. */
#define SREGS_EINVAL(name, stmt)						\
TEST_F(vcpu, name)								\
{										\
	struct lkvm_sregs s = self->sregs;					\
	stmt;									\
	EXPECT_EQ(-EINVAL, lkvm_ioctl(self->vcpu, LKVM_SET_SREGS, &s));	\
	EXPECT_UNCHANGED();							\
}

TEST_F(vcpu, cap_max_vcpus)
{
	struct lkvm_cap c = { .cap = LKVM_CAP_MAX_VCPUS };

	ASSERT_EQ(0, lkvm_ioctl(self->dev, LKVM_CHECK_CAP, &c));
	EXPECT_EQ(MAX_VCPUS, c.value);
}

TEST_F(vcpu, create_ids)
{
	int fd;

	EXPECT_EQ(-EEXIST, lkvm_ioctl(self->vm, LKVM_CREATE_VCPU, (void *)0));
	EXPECT_EQ(-EINVAL, lkvm_ioctl(self->vm, LKVM_CREATE_VCPU, (void *)MAX_VCPUS));
	EXPECT_EQ(-EINVAL, lkvm_ioctl(self->vm, LKVM_CREATE_VCPU, (void *)-1L));
	fd = lkvm_ioctl(self->vm, LKVM_CREATE_VCPU, (void *)(MAX_VCPUS - 1));
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EEXIST, lkvm_ioctl(self->vm, LKVM_CREATE_VCPU, (void *)(MAX_VCPUS - 1)));
	/* Closing a vCPU frees its id. */
	close(fd);
	fd = lkvm_ioctl(self->vm, LKVM_CREATE_VCPU, (void *)(MAX_VCPUS - 1));
	EXPECT_LE(0, fd);
	close(fd);
}

TEST_F(vcpu, outlives_vm_fd)
{
	struct lkvm_memory_region region = { .memory_size = 1 << 20 };
	long pinned = lkvm_vm_pin_kb();
	struct lkvm_regs r;
	void *mem;

	/* The VM, with its memory, lives until its last vCPU is closed. */
	mem = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	region.userspace_addr = (uintptr_t)mem;
	ASSERT_EQ(0, lkvm_ioctl(self->vm, LKVM_SET_MEMORY_REGION, &region));
	close(self->vm);
	self->vm = open("/dev/null", O_RDONLY);
	EXPECT_EQ(pinned + 1024, lkvm_vm_pin_kb());
	ASSERT_EQ(0, lkvm_ioctl(self->vcpu, LKVM_GET_REGS, &r));
	EXPECT_EQ(0, memcmp(&r, &self->regs, sizeof(r)));
	close(self->vcpu);
	self->vcpu = open("/dev/null", O_RDONLY);
	EXPECT_EQ(pinned, lkvm_vm_pin_kb());
	munmap(mem, 1 << 20);
}

TEST_F(vcpu, reset_state)
{
	struct lkvm_sregs s;
	struct lkvm_regs r;
	int fd;

	fd = lkvm_ioctl(self->vm, LKVM_CREATE_VCPU, (void *)1);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, lkvm_ioctl(fd, LKVM_GET_REGS, &r));
	ASSERT_EQ(0, lkvm_ioctl(fd, LKVM_GET_SREGS, &s));
	close(fd);
	EXPECT_EQ(0xfff0, r.rip);
	EXPECT_EQ(0x2, r.rflags);
	EXPECT_EQ(0, r.rax | r.rbx | r.rcx | r.rsp | r.r15);
	EXPECT_EQ(__get_cpuid_max(0, NULL) ? ({ unsigned int a, b, c, d;
						__cpuid(1, a, b, c, d); a; }) : 0, r.rdx);
	EXPECT_EQ(0xf000, s.cs.selector);
	EXPECT_EQ(0xffff0000, s.cs.base);
	EXPECT_EQ(0xffff, s.cs.limit);
	EXPECT_EQ(0x9b, s.cs.attrib);
	EXPECT_EQ(0x93, s.ds.attrib);
	EXPECT_EQ(0xffff, s.gdt.limit);
	EXPECT_EQ(0x60000010, s.cr0);
	EXPECT_EQ(0, s.cr3 | s.cr4 | s.cr8 | s.efer);
}

TEST_F(vcpu, regs_round_trip)
{
	struct lkvm_regs in, out;
	__u64 *p = (__u64 *)&in;
	unsigned int i;

	for (i = 0; i < sizeof(in) / 8; i++)
		p[i] = 0x0101010101010101ULL * (i + 1);
	in.rflags = 0x3f7fd7;	/* every bit a guest may hold */
	ASSERT_EQ(0, lkvm_ioctl(self->vcpu, LKVM_SET_REGS, &in));
	ASSERT_EQ(0, lkvm_ioctl(self->vcpu, LKVM_GET_REGS, &out));
	EXPECT_EQ(0, memcmp(&in, &out, sizeof(in)));
}

TEST_F(vcpu, sregs_round_trip)
{
	struct lkvm_sregs out;

	ASSERT_EQ(0, lkvm_ioctl(self->vcpu, LKVM_GET_SREGS, &out));
	EXPECT_EQ(0, memcmp(&self->sregs, &out, sizeof(out)));
	/* Back to 32-bit protected mode without paging is fine too. */
	self->sregs.efer = 0;
	self->sregs.cr0 = 0x11;
	self->sregs.cs.attrib = 0xc9b;
	ASSERT_EQ(0, lkvm_ioctl(self->vcpu, LKVM_SET_SREGS, &self->sregs));
	EXPECT_UNCHANGED();
}

TEST_F(vcpu, regs_rflags_reserved_einval)
{
	struct lkvm_regs r = self->regs;

	r.rflags = 0x246 | (1ULL << 22);
	EXPECT_EQ(-EINVAL, lkvm_ioctl(self->vcpu, LKVM_SET_REGS, &r));
	r.rflags = 0x246 | (1ULL << 3);
	EXPECT_EQ(-EINVAL, lkvm_ioctl(self->vcpu, LKVM_SET_REGS, &r));
	EXPECT_UNCHANGED();
}

TEST_F(vcpu, regs_rflags_bit1_clear_einval)
{
	struct lkvm_regs r = self->regs;

	r.rflags = 0x244;
	EXPECT_EQ(-EINVAL, lkvm_ioctl(self->vcpu, LKVM_SET_REGS, &r));
	EXPECT_UNCHANGED();
}

SREGS_EINVAL(sregs_reserved_einval, s.reserved[3] = 1)
SREGS_EINVAL(sregs_dtable_pad_einval, s.idt.pad[2] = 1)
SREGS_EINVAL(sregs_segment_attrib_einval, s.ss.attrib = 0x1c93)
SREGS_EINVAL(sregs_cr0_high_bits_einval, s.cr0 |= 1ULL << 32)
SREGS_EINVAL(sregs_cr0_nw_without_cd_einval, s.cr0 |= 1ULL << 29)
SREGS_EINVAL(sregs_cr0_pg_without_pe_einval, s.cr0 &= ~1ULL)
SREGS_EINVAL(sregs_cr3_mbz_einval, s.cr3 |= 1ULL << 52)
SREGS_EINVAL(sregs_cr4_reserved_bit_einval, s.cr4 |= 1ULL << 31)
SREGS_EINVAL(sregs_cr4_unsupported_feature_einval, s.cr4 |= 1ULL << 12 /* LA57 */)
SREGS_EINVAL(sregs_cr3_beyond_guest_phys_einval, s.cr3 = 1ULL << 48)
SREGS_EINVAL(sregs_cr8_above_15_einval, s.cr8 = 16)

/*
 * In any mode, CR3 may not reach the CPU's physical address width: VMRUN
 * would refuse it (found by fuzz_ioctl_test; QEMU then leaves the host's
 * state in the VMCB). One bit lower is fine.
 */
TEST_F(vcpu, sregs_cr3_beyond_phys_bits_einval)
{
	struct lkvm_sregs s = self->sregs;
	unsigned int eax, ebx, ecx, edx;

	ASSERT_TRUE(__get_cpuid(0x80000008, &eax, &ebx, &ecx, &edx));
	/* Protected mode with paging off: not long mode. */
	s.cr0 &= ~(1ULL << 31);
	s.efer &= ~((1ULL << 8) | (1ULL << 10));
	s.cr3 = 1ULL << (eax & 0xff);
	EXPECT_EQ(-EINVAL, lkvm_ioctl(self->vcpu, LKVM_SET_SREGS, &s));
	EXPECT_UNCHANGED();
	s.cr3 >>= 1;
	EXPECT_EQ(0, lkvm_ioctl(self->vcpu, LKVM_SET_SREGS, &s));
}
SREGS_EINVAL(sregs_efer_reserved_bit_einval, s.efer |= 1ULL << 40)
SREGS_EINVAL(sregs_efer_svme_einval, s.efer |= 1ULL << 12 /* no nested SVM */)
SREGS_EINVAL(sregs_efer_lma_mismatch_einval, s.efer &= ~(1ULL << 10))
SREGS_EINVAL(sregs_long_mode_without_pae_einval, s.cr4 &= ~(1ULL << 5))
SREGS_EINVAL(sregs_long_mode_cs_l_and_d_einval, s.cs.attrib |= 1 << 10)

TEST_F(vcpu, bad_pointers_efault)
{
	EXPECT_EQ(-EFAULT, lkvm_ioctl(self->vcpu, LKVM_GET_REGS, NULL));
	EXPECT_EQ(-EFAULT, lkvm_ioctl(self->vcpu, LKVM_SET_REGS, NULL));
	EXPECT_EQ(-EFAULT, lkvm_ioctl(self->vcpu, LKVM_GET_SREGS, (void *)-4096L));
	EXPECT_EQ(-EFAULT, lkvm_ioctl(self->vcpu, LKVM_SET_SREGS, (void *)-4096L));
	EXPECT_UNCHANGED();
}

TEST_F(vcpu, unknown_ioctl_enotty)
{
	struct lkvm_regs r;

	EXPECT_EQ(-ENOTTY, lkvm_ioctl(self->vcpu, _IO(LKVMIO, 0x7f), NULL));
	EXPECT_EQ(-ENOTTY, lkvm_ioctl(self->vcpu, LKVM_CREATE_VCPU, (void *)1));
	/* vCPU ioctls do not work on the VM. */
	EXPECT_EQ(-ENOTTY, lkvm_ioctl(self->vm, LKVM_GET_REGS, &r));
	EXPECT_UNCHANGED();
}

struct hammer {
	int vm;
	unsigned int seed;
	atomic_int created, eexist, errors;
};

/* Create and close vCPUs with random ids, as fast as possible. */
static void *hammer_vcpus(void *arg)
{
	struct hammer *h = arg;
	unsigned int seed = __atomic_fetch_add(&h->seed, 7919, __ATOMIC_RELAXED);
	int i, fd;

	for (i = 0; i < 300; i++) {
		fd = ioctl(h->vm, LKVM_CREATE_VCPU, rand_r(&seed) % 8);
		if (fd >= 0) {
			atomic_fetch_add(&h->created, 1);
			close(fd);
		} else if (errno == EEXIST) {
			atomic_fetch_add(&h->eexist, 1);
		} else {
			atomic_fetch_add(&h->errors, 1);
		}
	}
	return NULL;
}

TEST_F_TIMEOUT(vcpu, concurrent_create_close, 120)
{
	struct hammer h = { .vm = self->vm, .seed = 1 };
	long pinned = lkvm_vm_pin_kb();
	pthread_t t[4];
	void *mem;
	int i;

	/* Memory changes race with vCPU creation and release. */
	mem = mmap(NULL, 8 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, hammer_vcpus, &h));
	for (i = 0; i < 8; i++) {
		struct lkvm_memory_region r = {
			.slot = i, .guest_phys_addr = (__u64)i << 20, .memory_size = 1 << 20,
			.userspace_addr = (uintptr_t)mem + ((uintptr_t)i << 20),
		};

		EXPECT_EQ(0, lkvm_ioctl(self->vm, LKVM_SET_MEMORY_REGION, &r));
	}
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	TH_LOG("%d vCPUs created, %d EEXIST", h.created, h.eexist);
	EXPECT_EQ(0, h.errors);
	EXPECT_LT(0, h.created);
	EXPECT_EQ(pinned + 8 * 1024, lkvm_vm_pin_kb());

	/* Every id the threads used is free again. */
	for (i = 1; i < 8; i++) {
		int fd = lkvm_ioctl(self->vm, LKVM_CREATE_VCPU, (void *)(long)i);

		EXPECT_LE(0, fd) TH_LOG("vCPU id %d still taken", i);
		close(fd);
	}
	close(self->vm);
	close(self->vcpu);
	self->vm = open("/dev/null", O_RDONLY);
	self->vcpu = open("/dev/null", O_RDONLY);
	EXPECT_EQ(pinned, lkvm_vm_pin_kb());
	munmap(mem, 8 << 20);
}

TEST_HARNESS_MAIN
