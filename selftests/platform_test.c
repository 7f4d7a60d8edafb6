// SPDX-License-Identifier: GPL-2.0
/*
 * The in-kernel PC platform (LKVM_CREATE_PLATFORM): its ioctl with one
 * negative test per validation path, the console file's lifetime, and
 * what a guest sees of it: power-off and reset, PCI configuration space
 * with its host bridge, kvmclock, and none of it without a platform.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib/guest.h"
#include "lib/guest_pci.h"
#include "lib/lkvm_util.h"

#define VECTOR_GP		13
#define SLEEP_CTL_PORT		LKVM_PLATFORM_SLEEP_CTL_PORT
#define SLEEP_STS_PORT		LKVM_PLATFORM_SLEEP_STS_PORT
#define SLP_EN			0x20
#define SLP_TYP(t)		((t) << 2)
#define KBC_PORT		0x64
/* The host bridge: Red Hat's QEMU PCIe host bridge id, class 06.00.00. */
#define HOST_BRIDGE_ID		0x00081b36u
#define CLASS_HOST_BRIDGE	0x060000u

#define MSR_KVM_WALL_CLOCK	0x11
#define MSR_KVM_SYSTEM_TIME	0x12
#define MSR_KVM_WALL_CLOCK_NEW	0x4b564d00
#define MSR_KVM_SYSTEM_TIME_NEW	0x4b564d01
#define KVM_FEATURE_CLOCKSOURCE		(1u << 0)
#define KVM_FEATURE_CLOCKSOURCE2	(1u << 3)
#define KVM_FEATURE_PV_EOI		(1u << 6)
#define KVM_FEATURE_CLOCKSOURCE_STABLE	(1u << 24)
#define PVCLOCK_TSC_STABLE_BIT		1
/* Above the 32 MiB of guest RAM, below the MMIO window. */
#define UNBACKED_GPA		0x20000000ULL

/* ---- LKVM_CREATE_PLATFORM ---- */

FIXTURE(vm) {
	int dev, vm;
};

FIXTURE_SETUP(vm)
{
	self->dev = open(LKVM_DEV_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->dev) TH_LOG("open %s: %s", LKVM_DEV_PATH, strerror(errno));
	self->vm = lkvm_ioctl(self->dev, LKVM_CREATE_VM, NULL);
	ASSERT_LE(0, self->vm) TH_LOG("LKVM_CREATE_VM: %s", strerror(-self->vm));
}

FIXTURE_TEARDOWN(vm)
{
	if (self->vm >= 0)
		close(self->vm);
	close(self->dev);
}

static int create_platform(int vm, const struct lkvm_platform *p)
{
	return lkvm_ioctl(vm, LKVM_CREATE_PLATFORM, (void *)p);
}

static int set_region(int vm, uint32_t slot, uint64_t gpa, uint64_t size)
{
	void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct lkvm_memory_region r = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)mem,
	};

	if (mem == MAP_FAILED)
		return -ENOMEM;
	/* Pinned pages stay with the VM; the mapping may go. */
	return lkvm_ioctl(vm, LKVM_SET_MEMORY_REGION, &r);
}

/* A refused call changes nothing: the platform can still be made. */
#define EXPECT_NO_PLATFORM_YET(vm) do {						\
	struct lkvm_platform __ok = {};						\
	int __fd = create_platform((vm), &__ok);				\
										\
	EXPECT_LE(0, __fd) TH_LOG("after a refused call: %s", strerror(-__fd));	\
	if (__fd >= 0)								\
		close(__fd);							\
} while (0)

TEST_F(vm, cap_platform)
{
	struct lkvm_cap c = { .cap = LKVM_CAP_PLATFORM };

	ASSERT_EQ(0, lkvm_ioctl(self->dev, LKVM_CHECK_CAP, &c));
	EXPECT_EQ(1, c.value);
}

TEST_F(vm, console_fd_is_anon_cloexec_rdwr)
{
	struct lkvm_platform p = {};
	char path[64], link[128] = "";
	int fd;

	fd = create_platform(self->vm, &p);
	ASSERT_LE(0, fd) TH_LOG("LKVM_CREATE_PLATFORM: %s", strerror(-fd));
	EXPECT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD));
	EXPECT_EQ(O_RDWR, fcntl(fd, F_GETFL) & O_ACCMODE);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	EXPECT_LT(0, readlink(path, link, sizeof(link) - 1));
	EXPECT_STREQ("anon_inode:lkvm-console", link);
	close(fd);
}

TEST_F(vm, flags_nonzero_einval)
{
	struct lkvm_platform p = { .flags = 1 };

	EXPECT_EQ(-EINVAL, create_platform(self->vm, &p));
	p.flags = 0x80000000u;
	EXPECT_EQ(-EINVAL, create_platform(self->vm, &p));
	EXPECT_NO_PLATFORM_YET(self->vm);
}

TEST_F(vm, pad_nonzero_einval)
{
	struct lkvm_platform p = { .pad = 1 };

	EXPECT_EQ(-EINVAL, create_platform(self->vm, &p));
	EXPECT_NO_PLATFORM_YET(self->vm);
}

TEST_F(vm, reserved_nonzero_einval)
{
	unsigned int i;

	for (i = 0; i < 3; i++) {
		struct lkvm_platform p = {};

		p.reserved[i] = 1ULL << 63;
		EXPECT_EQ(-EINVAL, create_platform(self->vm, &p)) TH_LOG("reserved[%u]", i);
	}
	EXPECT_NO_PLATFORM_YET(self->vm);
}

TEST_F(vm, bad_pointer_efault)
{
	EXPECT_EQ(-EFAULT, lkvm_ioctl(self->vm, LKVM_CREATE_PLATFORM, NULL));
	EXPECT_EQ(-EFAULT, lkvm_ioctl(self->vm, LKVM_CREATE_PLATFORM, (void *)-4096L));
	EXPECT_NO_PLATFORM_YET(self->vm);
}

TEST_F(vm, twice_eexist)
{
	struct lkvm_platform p = {};
	int fd;

	fd = create_platform(self->vm, &p);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EEXIST, create_platform(self->vm, &p));
	close(fd);
	/* Its console closed, the platform stays with the VM. */
	EXPECT_EQ(-EEXIST, create_platform(self->vm, &p));
}

TEST_F(vm, after_vcpu_ebusy)
{
	struct lkvm_platform p = {};
	int vcpu;

	vcpu = lkvm_ioctl(self->vm, LKVM_CREATE_VCPU, NULL);
	ASSERT_LE(0, vcpu) TH_LOG("LKVM_CREATE_VCPU: %s", strerror(-vcpu));
	EXPECT_EQ(-EBUSY, create_platform(self->vm, &p));
	/* The vCPU gone, nothing is left that lacks an APIC. */
	close(vcpu);
	EXPECT_NO_PLATFORM_YET(self->vm);
}

TEST_F(vm, ram_in_mmio_window_eexist)
{
	struct lkvm_platform p = {};

	ASSERT_EQ(0, set_region(self->vm, 0, LKVM_PLATFORM_MMIO_END - 4096, 4096));
	EXPECT_EQ(-EEXIST, create_platform(self->vm, &p));
}

TEST_F(vm, ram_at_mmio_window_start_eexist)
{
	struct lkvm_platform p = {};

	ASSERT_EQ(0, set_region(self->vm, 0, LKVM_PLATFORM_MMIO_BASE - 4096, 8192));
	EXPECT_EQ(-EEXIST, create_platform(self->vm, &p));
}

TEST_F(vm, ram_beside_mmio_window_ok)
{
	struct lkvm_platform p = {};
	int fd;

	ASSERT_EQ(0, set_region(self->vm, 0, LKVM_PLATFORM_MMIO_BASE - 4096, 4096));
	ASSERT_EQ(0, set_region(self->vm, 1, LKVM_PLATFORM_MMIO_END, 4096));
	fd = create_platform(self->vm, &p);
	EXPECT_LE(0, fd) TH_LOG("LKVM_CREATE_PLATFORM: %s", strerror(-fd));
	close(fd);
}

TEST_F(vm, region_into_mmio_window_after_platform_eexist)
{
	struct lkvm_platform p = {};
	int fd;

	fd = create_platform(self->vm, &p);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EEXIST, set_region(self->vm, 0, LKVM_PLATFORM_LAPIC_BASE, 4096));
	EXPECT_EQ(-EEXIST, set_region(self->vm, 0, LKVM_PLATFORM_MMIO_BASE - 4096, 8192));
	EXPECT_EQ(-EEXIST, set_region(self->vm, 0, LKVM_PLATFORM_MMIO_END - 4096, 8192));
	/* The slot is still free for RAM outside the window. */
	EXPECT_EQ(0, set_region(self->vm, 0, LKVM_PLATFORM_MMIO_BASE - 4096, 4096));
	close(fd);
}

/* The console file holds the VM: closing the VM file first is fine. */
TEST_F(vm, console_outlives_vm_fd)
{
	struct lkvm_platform p = {};
	struct pollfd pfd;
	char buf[8];
	int fd;

	fd = create_platform(self->vm, &p);
	ASSERT_LE(0, fd);
	close(self->vm);
	self->vm = -1;
	ASSERT_EQ(0, fcntl(fd, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-1, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(3, write(fd, "abc", 3));
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN | POLLOUT };
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLOUT, pfd.revents);
	EXPECT_EQ(0, close(fd));
}

/* ---- Guests: power-off and reset ---- */

static struct guest *platform_guest(struct __test_metadata *_metadata, void *code, bool platform)
{
	struct guest_opts opts = { .backend = GUEST_LKVM, .platform = platform };
	struct guest *g = guest_create(&opts, code);

	if (!g && errno == ENODEV)
		return NULL;
	EXPECT_NE(NULL, g) TH_LOG("%s", guest_error());
	return g;
}

#define PLATFORM_GUEST_OR_SKIP(g, code, platform) do {				\
	(g) = platform_guest(_metadata, (code), (platform));			\
	if (!(g) && errno == ENODEV)						\
		SKIP(return, "%s", guest_error());				\
	ASSERT_NE(NULL, (g));							\
} while (0)

static void expect_system_event(struct __test_metadata *_metadata, struct guest *g,
				uint32_t type, uint16_t port, uint8_t val)
{
	struct lkvm_run *run = guest_lkvm_run(g);
	char msg[GUEST_MSG_LEN];

	ASSERT_EQ(0, guest_run(g));
	ASSERT_EQ(LKVM_EXIT_SYSTEM_EVENT, run->exit_reason)
		TH_LOG("%s", guest_exit_describe(g, msg, sizeof(msg)));
	EXPECT_EQ(type, run->system_event.type);
	EXPECT_EQ(port | ((uint64_t)val << 16), run->system_event.data);
}

static void guest_poweroff_code(uint64_t a0, uint64_t a1)
{
	unsigned int t;

	/* Sleep status reads "woken", so a wait on it ends. */
	GUEST_ASSERT_EQ(inb(SLEEP_STS_PORT), 0x80);
	/* Only S5 is offered: other sleep types and S5 without SLP_EN do nothing. */
	for (t = 0; t < 8; t++)
		if (t != LKVM_PLATFORM_S5_SLP_TYP)
			guest_outb(SLEEP_CTL_PORT, SLP_EN | SLP_TYP(t));
	guest_outb(SLEEP_CTL_PORT, SLP_TYP(LKVM_PLATFORM_S5_SLP_TYP));
	GUEST_SYNC(1);
	guest_outb(SLEEP_CTL_PORT, SLP_EN | SLP_TYP(LKVM_PLATFORM_S5_SLP_TYP));
	GUEST_ASSERT(0);
}

TEST(poweroff_through_sleep_control)
{
	struct lkvm_vcpu_stats stats;
	struct guest *g;
	struct ucall uc;

	PLATFORM_GUEST_OR_SKIP(g, guest_poweroff_code, true);
	ASSERT_UCALL(g, UCALL_SYNC, &uc);
	expect_system_event(_metadata, g, LKVM_SYSTEM_EVENT_POWEROFF, SLEEP_CTL_PORT,
			    SLP_EN | SLP_TYP(LKVM_PLATFORM_S5_SLP_TYP));
	ASSERT_EQ(0, guest_stats(g, &stats));
	EXPECT_EQ(1, stats.stat[LKVM_STAT_SYSTEM_EVENTS]);
	guest_destroy(g);
}

static void guest_reset_cf9_code(uint64_t a0, uint64_t a1)
{
	/* Without RST_CPU (bit 2), the reset control register does nothing. */
	guest_outb(LKVM_PLATFORM_RESET_PORT, 0x02);
	GUEST_SYNC(1);
	guest_outb(LKVM_PLATFORM_RESET_PORT, LKVM_PLATFORM_RESET_VALUE);
	GUEST_ASSERT(0);
}

TEST(reset_through_cf9)
{
	struct guest *g;
	struct ucall uc;

	PLATFORM_GUEST_OR_SKIP(g, guest_reset_cf9_code, true);
	ASSERT_UCALL(g, UCALL_SYNC, &uc);
	expect_system_event(_metadata, g, LKVM_SYSTEM_EVENT_RESET, LKVM_PLATFORM_RESET_PORT,
			    LKVM_PLATFORM_RESET_VALUE);
	guest_destroy(g);
}

static void guest_reset_kbc_code(uint64_t a0, uint64_t a1)
{
	/* Both buffers empty: a guest waiting for the input buffer goes on. */
	GUEST_ASSERT_EQ(inb(KBC_PORT), 0);
	guest_outb(KBC_PORT, 0xd1);
	GUEST_SYNC(1);
	guest_outb(KBC_PORT, 0xfe);
	GUEST_ASSERT(0);
}

TEST(reset_through_keyboard_controller)
{
	struct guest *g;
	struct ucall uc;

	PLATFORM_GUEST_OR_SKIP(g, guest_reset_kbc_code, true);
	ASSERT_UCALL(g, UCALL_SYNC, &uc);
	expect_system_event(_metadata, g, LKVM_SYSTEM_EVENT_RESET, KBC_PORT, 0xfe);
	guest_destroy(g);
}

/* ---- Guests: PCI configuration space ---- */

static void guest_pci_code(uint64_t a0, uint64_t a1)
{
	uint32_t v;

	/* Identity of 00:00.0, as dword, words and bytes. */
	GUEST_ASSERT_EQ(pci_read32(PCI_ADDR(0, 0, 0)), HOST_BRIDGE_ID);
	GUEST_ASSERT_EQ(inl(PCI_ADDR_PORT), PCI_ADDR(0, 0, 0));
	GUEST_ASSERT_EQ(inw(PCI_DATA_PORT), HOST_BRIDGE_ID & 0xffff);
	GUEST_ASSERT_EQ(inw(PCI_DATA_PORT + 2), HOST_BRIDGE_ID >> 16);
	GUEST_ASSERT_EQ(inb(PCI_DATA_PORT), HOST_BRIDGE_ID & 0xff);
	GUEST_ASSERT_EQ(inb(PCI_DATA_PORT + 1), (HOST_BRIDGE_ID >> 8) & 0xff);
	GUEST_ASSERT_EQ(inb(PCI_DATA_PORT + 3), HOST_BRIDGE_ID >> 24);
	/* Class code, revision; header type 0, single function. */
	GUEST_ASSERT_EQ(pci_read32(PCI_ADDR(0, 0, 0x08)) >> 8, CLASS_HOST_BRIDGE);
	GUEST_ASSERT_EQ(inb(PCI_DATA_PORT + 3), CLASS_HOST_BRIDGE >> 16);
	GUEST_ASSERT_EQ((pci_read32(PCI_ADDR(0, 0, 0x0c)) >> 16) & 0xff, 0);
	/* Low address bits select nothing and read as zero; bits 30-24 too. */
	outl(PCI_ADDR_PORT, PCI_ADDR(0, 0, 0) | 0x7f000003);
	GUEST_ASSERT_EQ(inl(PCI_ADDR_PORT), PCI_ADDR(0, 0, 0));

	/* Empty slots, other buses, other functions and the disabled address: all ones. */
	GUEST_ASSERT_EQ(pci_read32(PCI_ADDR(1, 0, 0)), 0xffffffff);
	GUEST_ASSERT_EQ(pci_read32(PCI_ADDR(31, 0, 0)), 0xffffffff);
	GUEST_ASSERT_EQ(pci_read32(PCI_ADDR(0, 1, 0)), 0xffffffff);
	GUEST_ASSERT_EQ(inw(PCI_DATA_PORT + 2), 0xffff);
	GUEST_ASSERT_EQ(pci_read32(PCI_ADDR(0, 0, 0) | (1 << 16)), 0xffffffff);
	GUEST_ASSERT_EQ(pci_read32(PCI_ADDR(0, 0, 0) & ~PCI_ENABLE), 0xffffffff);

	/* Read-only fields stay as they are. */
	outl(PCI_ADDR_PORT, PCI_ADDR(0, 0, 0));
	outl(PCI_DATA_PORT, 0x12345678);
	GUEST_ASSERT_EQ(pci_read32(PCI_ADDR(0, 0, 0)), HOST_BRIDGE_ID);
	outl(PCI_ADDR_PORT, PCI_ADDR(0, 0, 0x08));
	outl(PCI_DATA_PORT, 0);
	GUEST_ASSERT_EQ(pci_read32(PCI_ADDR(0, 0, 0x08)) >> 8, CLASS_HOST_BRIDGE);
	outl(PCI_ADDR_PORT, PCI_ADDR(0, 0, 0x3c));
	outl(PCI_DATA_PORT, 0xffffffff);
	GUEST_ASSERT_EQ(pci_read32(PCI_ADDR(0, 0, 0x3c)), 0);

	/* Command: I/O and memory decoding on; those and bus mastering stick. */
	v = pci_read32(PCI_ADDR(0, 0, 0x04));
	GUEST_ASSERT_EQ(v & 0xffff, 0x0003);
	outl(PCI_ADDR_PORT, PCI_ADDR(0, 0, 0x04));
	outw(PCI_DATA_PORT, 0xffff);
	GUEST_ASSERT_EQ(pci_read32(PCI_ADDR(0, 0, 0x04)), 0x0007);
	guest_outb(PCI_DATA_PORT, 0x04);
	GUEST_ASSERT_EQ(inw(PCI_DATA_PORT), 0x0004);
	/* Status (the upper word) is not the guest's to write. */
	outl(PCI_DATA_PORT, 0xffff0002);
	GUEST_ASSERT_EQ(pci_read32(PCI_ADDR(0, 0, 0x04)), 0x0002);
	GUEST_DONE();
}

TEST(pci_host_bridge_config_space)
{
	struct guest *g;
	struct ucall uc;

	PLATFORM_GUEST_OR_SKIP(g, guest_pci_code, true);
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	guest_destroy(g);
}

/* ---- Guests: without a platform, none of it answers ---- */

static void guest_no_platform_code(uint64_t a0, uint64_t a1)
{
	uint32_t eax, ebx, ecx, edx;
	uint64_t val;
	uint16_t p;

	GUEST_ASSERT_EQ(pci_read32(PCI_ADDR(0, 0, 0)), 0xffffffff);
	GUEST_ASSERT_EQ(inl(PCI_ADDR_PORT), 0xffffffff);
	for (p = LKVM_PLATFORM_UART_PORT; p < LKVM_PLATFORM_UART_PORT + 8; p++)
		GUEST_ASSERT_EQ(inb(p), 0xff);
	GUEST_ASSERT_EQ(inb(SLEEP_CTL_PORT), 0xff);
	GUEST_ASSERT_EQ(inb(SLEEP_STS_PORT), 0xff);
	GUEST_ASSERT_EQ(inb(KBC_PORT), 0xff);
	GUEST_ASSERT_EQ(inb(LKVM_PLATFORM_RESET_PORT), 0xff);
	/* Writes that would end a platform guest go nowhere. */
	guest_outb(SLEEP_CTL_PORT, SLP_EN | SLP_TYP(LKVM_PLATFORM_S5_SLP_TYP));
	guest_outb(LKVM_PLATFORM_RESET_PORT, LKVM_PLATFORM_RESET_VALUE);
	guest_outb(KBC_PORT, 0xfe);
	guest_outb(LKVM_PLATFORM_UART_PORT, 'x');
	/* No kvmclock either. */
	guest_cpuid(0x40000001, &eax, &ebx, &ecx, &edx);
	GUEST_ASSERT_EQ(eax, 0);
	GUEST_ASSERT_EQ(guest_rdmsr_safe(MSR_KVM_SYSTEM_TIME_NEW, &val), VECTOR_GP);
	GUEST_ASSERT_EQ(guest_wrmsr_safe(MSR_KVM_SYSTEM_TIME_NEW, 0x100001), VECTOR_GP);
	GUEST_ASSERT_EQ(guest_wrmsr_safe(MSR_KVM_WALL_CLOCK_NEW, 0x100000), VECTOR_GP);
	GUEST_DONE();
}

TEST(no_platform_nothing_answers)
{
	struct guest *g;
	struct ucall uc;

	PLATFORM_GUEST_OR_SKIP(g, guest_no_platform_code, false);
	EXPECT_EQ(-1, guest_console_fd(g));
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	guest_destroy(g);
}

/* ---- Guests: kvmclock ---- */

struct pvclock_vcpu_time_info {
	uint32_t version;
	uint32_t pad0;
	uint64_t tsc_timestamp;
	uint64_t system_time;
	uint32_t tsc_to_system_mul;
	int8_t tsc_shift;
	uint8_t flags;
	uint8_t pad[2];
} __attribute__((packed));

struct pvclock_wall_clock {
	uint32_t version;
	uint32_t sec;
	uint32_t nsec;
} __attribute__((packed));

static struct pvclock_vcpu_time_info pvti __attribute__((aligned(32)));
static struct pvclock_wall_clock wall __attribute__((aligned(16)));

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* Nanoseconds since the platform was made, as a guest's pvclock reads them. */
static uint64_t pvclock_now(void)
{
	volatile struct pvclock_vcpu_time_info *p = &pvti;
	uint64_t delta = rdtsc() - p->tsc_timestamp;

	if (p->tsc_shift < 0)
		delta >>= -p->tsc_shift;
	else
		delta <<= p->tsc_shift;
	return p->system_time + (uint64_t)(((unsigned __int128)delta * p->tsc_to_system_mul) >> 32);
}

static void guest_kvmclock_code(uint64_t ram_end, uint64_t host_tsc_stable)
{
	uint32_t eax, ebx, ecx, edx;
	uint64_t val, t1, t2;

	guest_cpuid(0x40000000, &eax, &ebx, &ecx, &edx);
	GUEST_ASSERT(eax >= 0x40000001);
	GUEST_ASSERT_EQ(ebx, 0x4b4d564b);	/* "KVMK" */
	GUEST_ASSERT_EQ(ecx, 0x564b4d56);	/* "VMKV" */
	GUEST_ASSERT_EQ(edx, 0x4d);		/* "M\0\0\0" */
	guest_cpuid(0x40000001, &eax, &ebx, &ecx, &edx);
	GUEST_ASSERT_EQ(eax, KVM_FEATURE_CLOCKSOURCE | KVM_FEATURE_CLOCKSOURCE2 |
			     KVM_FEATURE_CLOCKSOURCE_STABLE | KVM_FEATURE_PV_EOI);

	/* Structures not wholly in RAM are a #GP, and change nothing. */
	GUEST_ASSERT_EQ(guest_wrmsr_safe(MSR_KVM_SYSTEM_TIME_NEW, UNBACKED_GPA | 1), VECTOR_GP);
	GUEST_ASSERT_EQ(guest_wrmsr_safe(MSR_KVM_SYSTEM_TIME_NEW, (ram_end - 16) | 1), VECTOR_GP);
	GUEST_ASSERT_EQ(guest_wrmsr_safe(MSR_KVM_WALL_CLOCK_NEW, UNBACKED_GPA), VECTOR_GP);
	GUEST_ASSERT_EQ(guest_rdmsr_safe(MSR_KVM_SYSTEM_TIME_NEW, &val), 0);
	GUEST_ASSERT_EQ(val, 0);

	GUEST_ASSERT_EQ(guest_wrmsr_safe(MSR_KVM_SYSTEM_TIME_NEW, (uintptr_t)&pvti | 1), 0);
	GUEST_ASSERT_EQ(guest_rdmsr_safe(MSR_KVM_SYSTEM_TIME_NEW, &val), 0);
	GUEST_ASSERT_EQ(val, (uintptr_t)&pvti | 1);
	GUEST_ASSERT(pvti.version && !(pvti.version & 1));
	/* Stable exactly when the host kernel trusts its own TSC. */
	GUEST_ASSERT_EQ(pvti.flags, host_tsc_stable ? PVCLOCK_TSC_STABLE_BIT : 0);
	GUEST_ASSERT(pvti.tsc_to_system_mul >= 0x80000000u);

	t1 = pvclock_now();
	GUEST_SYNC(t1);
	t2 = pvclock_now();
	GUEST_SYNC(t2);

	GUEST_ASSERT_EQ(guest_wrmsr_safe(MSR_KVM_WALL_CLOCK_NEW, (uintptr_t)&wall), 0);
	GUEST_ASSERT(wall.version && !(wall.version & 1));
	GUEST_ASSERT(wall.nsec < 1000000000u);
	GUEST_SYNC(wall.sec);

	/* The first MSR set, which CLOCKSOURCE offers, works the same. */
	pvti.version = 0;
	GUEST_ASSERT_EQ(guest_wrmsr_safe(MSR_KVM_SYSTEM_TIME, (uintptr_t)&pvti | 1), 0);
	GUEST_ASSERT(pvti.version && !(pvti.version & 1));
	GUEST_ASSERT_EQ(guest_wrmsr_safe(MSR_KVM_WALL_CLOCK, (uintptr_t)&wall), 0);
	GUEST_DONE();
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/*
 * Does the host kernel trust its TSC? Then it registered the tsc
 * clocksource; one it marked unstable early (as the test VM's kernel under
 * TCG does) is not among them.
 */
static bool host_tsc_stable(void)
{
	FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/available_clocksource", "r");
	char name[64];
	bool found = false;

	if (!f)
		return false;
	while (fscanf(f, "%63s", name) == 1)
		found |= !strcmp(name, "tsc");
	fclose(f);
	return found;
}

TEST(kvmclock_rate_and_wall_clock)
{
	uint64_t before, h1, h2, t1, t2, guest_ns, host_ns;
	time_t wall_before;
	struct guest *g;
	struct ucall uc;

	wall_before = time(NULL);
	before = mono_ns();
	PLATFORM_GUEST_OR_SKIP(g, guest_kvmclock_code, true);
	guest_set_args(g, GUEST_DEFAULT_MEM_SIZE, host_tsc_stable());
	ASSERT_UCALL(g, UCALL_SYNC, &uc);
	h1 = mono_ns();
	t1 = uc.args[0];
	/* System time counts from the platform's making, which came after @before. */
	EXPECT_LT(t1, h1 - before);
	usleep(200 * 1000);
	ASSERT_UCALL(g, UCALL_SYNC, &uc);
	h2 = mono_ns();
	t2 = uc.args[0];
	guest_ns = t2 - t1;
	host_ns = h2 - h1;
	EXPECT_LT(host_ns * 95 / 100, guest_ns)
		TH_LOG("guest %llu ns, host %llu ns", (unsigned long long)guest_ns,
		       (unsigned long long)host_ns);
	EXPECT_GT(host_ns * 105 / 100, guest_ns)
		TH_LOG("guest %llu ns, host %llu ns", (unsigned long long)guest_ns,
		       (unsigned long long)host_ns);
	ASSERT_UCALL(g, UCALL_SYNC, &uc);
	EXPECT_LE(wall_before, (time_t)uc.args[0]);
	EXPECT_GE(time(NULL), (time_t)uc.args[0]);
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	guest_destroy(g);
}

TEST_HARNESS_MAIN
