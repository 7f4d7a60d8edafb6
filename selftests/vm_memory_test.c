// SPDX-License-Identifier: GPL-2.0
/*
 * VMs and guest memory regions: creation, pinning and its accounting, the
 * release of everything when the VM closes, and one negative test per
 * validation path of LKVM_SET_MEMORY_REGION (each also checks that the
 * refused call changed nothing).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib/lkvm_util.h"

#define REGION_SIZE	(2UL << 20)

/*
 * Pins the kernel holds, all users together: must return to where it was
 * once a call is refused or a VM is closed. VmPin is only the module's own
 * accounting; this counts the pins themselves.
 */
static long foll_pins_held(void)
{
	long acquired = -1, released = -1;
	char line[256];
	FILE *f;
	int fd;

	/* Fold the per-CPU counter deltas in first, or the two can disagree. */
	fd = open("/proc/sys/vm/stat_refresh", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "1", 1) != 1)
			errno = 0;
		close(fd);
	}
	f = fopen("/proc/vmstat", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "nr_foll_pin_acquired %ld", &acquired);
		sscanf(line, "nr_foll_pin_released %ld", &released);
	}
	fclose(f);
	return acquired < 0 || released < 0 ? -1 : acquired - released;
}

FIXTURE(vm) {
	int dev, vm;
	void *mem;
	long pin_before;
	long pins_before;
};

FIXTURE_SETUP(vm)
{
	self->dev = open(LKVM_DEV_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->dev) TH_LOG("open %s: %s", LKVM_DEV_PATH, strerror(errno));
	self->vm = lkvm_ioctl(self->dev, LKVM_CREATE_VM, NULL);
	ASSERT_LE(0, self->vm) TH_LOG("LKVM_CREATE_VM: %s", strerror(-self->vm));
	self->mem = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	self->pin_before = lkvm_vm_pin_kb();
	ASSERT_LE(0, self->pin_before);
	self->pins_before = foll_pins_held();
	ASSERT_LE(0, self->pins_before);
}

FIXTURE_TEARDOWN(vm)
{
	if (self->vm >= 0)
		close(self->vm);
	if (self->dev >= 0)
		close(self->dev);
	munmap(self->mem, REGION_SIZE);
	if (!lkvm_module_loaded())
		EXPECT_EQ(0, lkvm_module_load()) TH_LOG("cannot reload lkvm_lite");
}

static int set_region(int vm, __u32 slot, __u64 gpa, __u64 size, const void *uaddr)
{
	struct lkvm_memory_region r = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)uaddr,
	};

	return lkvm_ioctl(vm, LKVM_SET_MEMORY_REGION, &r);
}

/* A refused call must leave the slot free and nothing pinned. */
#define EXPECT_UNCHANGED() do {							\
	EXPECT_EQ(self->pin_before, lkvm_vm_pin_kb());				\
	EXPECT_EQ(self->pins_before, foll_pins_held());				\
	EXPECT_EQ(0, set_region(self->vm, 0, 0, REGION_SIZE, self->mem));	\
} while (0)

TEST_F(vm, caps)
{
	struct lkvm_cap c = { .cap = LKVM_CAP_VM };

	ASSERT_EQ(0, lkvm_ioctl(self->dev, LKVM_CHECK_CAP, &c));
	EXPECT_EQ(1, c.value);
	c = (struct lkvm_cap){ .cap = LKVM_CAP_NR_MEMORY_SLOTS };
	ASSERT_EQ(0, lkvm_ioctl(self->dev, LKVM_CHECK_CAP, &c));
	EXPECT_EQ(32, c.value);
	c = (struct lkvm_cap){ .cap = LKVM_CAP_GUEST_PHYS_BITS };
	ASSERT_EQ(0, lkvm_ioctl(self->dev, LKVM_CHECK_CAP, &c));
	EXPECT_EQ(48, c.value);
}

TEST_F(vm, create_vm_nonzero_arg_einval)
{
	EXPECT_EQ(-EINVAL, lkvm_ioctl(self->dev, LKVM_CREATE_VM, (void *)1));
}

TEST_F(vm, vm_unknown_ioctl_enotty)
{
	struct lkvm_cap c = { .cap = LKVM_CAP_VM };

	EXPECT_EQ(-ENOTTY, lkvm_ioctl(self->vm, _IO(LKVMIO, 0x7f), NULL));
	/* System ioctls belong to /dev/lkvm_lite, not to a VM. */
	EXPECT_EQ(-ENOTTY, lkvm_ioctl(self->vm, LKVM_CHECK_CAP, &c));
	EXPECT_EQ(-ENOTTY, lkvm_ioctl(self->vm, LKVM_CREATE_VM, NULL));
	/* VM ioctls do not work on /dev/lkvm_lite. */
	EXPECT_EQ(-ENOTTY, set_region(self->dev, 0, 0, REGION_SIZE, self->mem));
}

TEST_F(vm, region_pinned_and_released)
{
	ASSERT_EQ(0, set_region(self->vm, 0, 0, REGION_SIZE, self->mem));
	EXPECT_EQ(self->pin_before + (long)(REGION_SIZE >> 10), lkvm_vm_pin_kb());
	/* Counted per page or per huge page, depending on the backing. */
	EXPECT_LT(self->pins_before, foll_pins_held());
	/* More slots, anywhere that does not overlap. */
	ASSERT_EQ(0, set_region(self->vm, 31, 1ULL << 40, REGION_SIZE / 2, self->mem));
	ASSERT_EQ(0, set_region(self->vm, 1, REGION_SIZE, 4096, self->mem));
	EXPECT_EQ(self->pin_before + (long)((REGION_SIZE + REGION_SIZE / 2 + 4096) >> 10),
		  lkvm_vm_pin_kb());
	close(self->vm);
	self->vm = -1;
	EXPECT_EQ(self->pin_before, lkvm_vm_pin_kb());
	EXPECT_EQ(self->pins_before, foll_pins_held());
}

TEST_F(vm, vm_holds_module)
{
	/* A VM alone keeps the module loaded; closing it lets the module go. */
	ASSERT_EQ(0, set_region(self->vm, 0, 0, REGION_SIZE, self->mem));
	close(self->dev);
	self->dev = -1;
	EXPECT_EQ(-1, syscall(SYS_delete_module, "lkvm_lite", O_NONBLOCK));
	EXPECT_TRUE(errno == EWOULDBLOCK || errno == EBUSY);
	EXPECT_TRUE(lkvm_module_loaded());
	close(self->vm);
	self->vm = -1;
	EXPECT_EQ(0, lkvm_module_unload());
	EXPECT_EQ(self->pins_before, foll_pins_held());
	EXPECT_EQ(0, lkvm_module_load());
}

TEST_F(vm, region_not_anonymous_einval)
{
	char path[] = "/tmp/lkvm-region-XXXXXX";
	void *file, *shared;
	int fd;

	/* A file mapping, even a private one, is not guest memory. */
	fd = mkstemp(path);
	ASSERT_LE(0, fd);
	unlink(path);
	ASSERT_EQ(0, ftruncate(fd, REGION_SIZE));
	file = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, file);
	EXPECT_EQ(-EINVAL, set_region(self->vm, 0, 0, REGION_SIZE, file));
	munmap(file, REGION_SIZE);
	file = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	ASSERT_NE(MAP_FAILED, file);
	EXPECT_EQ(-EINVAL, set_region(self->vm, 0, 0, REGION_SIZE, file));
	munmap(file, REGION_SIZE);
	close(fd);
	/* Shared anonymous memory is a shmem file too. */
	shared = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		      -1, 0);
	ASSERT_NE(MAP_FAILED, shared);
	EXPECT_EQ(-EINVAL, set_region(self->vm, 0, 0, REGION_SIZE, shared));
	munmap(shared, REGION_SIZE);
	EXPECT_UNCHANGED();
}

TEST_F(vm, region_flags_nonzero_einval)
{
	struct lkvm_memory_region r = {
		.flags = 1, .memory_size = REGION_SIZE, .userspace_addr = (uintptr_t)self->mem,
	};

	EXPECT_EQ(-EINVAL, lkvm_ioctl(self->vm, LKVM_SET_MEMORY_REGION, &r));
	EXPECT_UNCHANGED();
}

TEST_F(vm, region_slot_out_of_range_einval)
{
	EXPECT_EQ(-EINVAL, set_region(self->vm, 32, 0, REGION_SIZE, self->mem));
	EXPECT_EQ(-EINVAL, set_region(self->vm, 0xffffffffu, 0, REGION_SIZE, self->mem));
	EXPECT_UNCHANGED();
}

TEST_F(vm, region_zero_size_einval)
{
	EXPECT_EQ(-EINVAL, set_region(self->vm, 0, 0, 0, self->mem));
	EXPECT_UNCHANGED();
}

TEST_F(vm, region_unaligned_einval)
{
	EXPECT_EQ(-EINVAL, set_region(self->vm, 0, 0x800, REGION_SIZE, self->mem));
	EXPECT_EQ(-EINVAL, set_region(self->vm, 0, 0, REGION_SIZE - 1, self->mem));
	EXPECT_EQ(-EINVAL, set_region(self->vm, 0, 0, REGION_SIZE / 2, (char *)self->mem + 8));
	EXPECT_UNCHANGED();
}

TEST_F(vm, region_beyond_guest_phys_einval)
{
	EXPECT_EQ(-EINVAL, set_region(self->vm, 0, 1ULL << 48, REGION_SIZE, self->mem));
	EXPECT_EQ(-EINVAL, set_region(self->vm, 0, (1ULL << 48) - 4096, 8192, self->mem));
	/* gpa + size wraps around */
	EXPECT_EQ(-EINVAL, set_region(self->vm, 0, -4096ULL, REGION_SIZE, self->mem));
	EXPECT_UNCHANGED();
}

TEST_F(vm, region_larger_than_host_ram_einval)
{
	long pages = sysconf(_SC_PHYS_PAGES);

	ASSERT_LT(0, pages);
	EXPECT_EQ(-EINVAL, set_region(self->vm, 0, 0, (__u64)(pages + 1) * 4096, self->mem));
	EXPECT_UNCHANGED();
}

TEST_F(vm, region_unmapped_memory_efault)
{
	char *hole = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);

	ASSERT_NE(MAP_FAILED, hole);
	/* The middle page goes away: the pin fails part way and is undone. */
	ASSERT_EQ(0, munmap(hole + 4096, 4096));
	EXPECT_EQ(-EFAULT, set_region(self->vm, 0, 0, 3 * 4096, hole));
	munmap(hole, 3 * 4096);
	/*
	 * Read-only memory cannot be pinned for the guest to write. With only
	 * the second half read-only, the first half is pinned before the
	 * pin fails, and must be unpinned again.
	 */
	ASSERT_EQ(0, mprotect((char *)self->mem + REGION_SIZE / 2, REGION_SIZE / 2, PROT_READ));
	EXPECT_EQ(-EFAULT, set_region(self->vm, 0, 0, REGION_SIZE, self->mem));
	ASSERT_EQ(0, mprotect(self->mem, REGION_SIZE, PROT_READ | PROT_WRITE));
	EXPECT_UNCHANGED();
}

TEST_F(vm, region_kernel_or_wrapping_address_efault)
{
	EXPECT_EQ(-EFAULT, set_region(self->vm, 0, 0, REGION_SIZE,
				      (void *)0xffff888000000000UL));
	EXPECT_EQ(-EFAULT, set_region(self->vm, 0, 0, REGION_SIZE, (void *)-4096UL));
	EXPECT_UNCHANGED();
}

TEST_F(vm, region_bad_argument_pointer_efault)
{
	EXPECT_EQ(-EFAULT, lkvm_ioctl(self->vm, LKVM_SET_MEMORY_REGION, NULL));
	EXPECT_EQ(-EFAULT, lkvm_ioctl(self->vm, LKVM_SET_MEMORY_REGION, (void *)-4096L));
	EXPECT_UNCHANGED();
}

TEST_F(vm, region_slot_in_use_eexist)
{
	ASSERT_EQ(0, set_region(self->vm, 0, 0, 4096, self->mem));
	EXPECT_EQ(-EEXIST, set_region(self->vm, 0, 1ULL << 30, 4096, self->mem));
	EXPECT_EQ(self->pin_before + 4, lkvm_vm_pin_kb());
}

TEST_F(vm, region_overlap_eexist)
{
	const __u64 base = 1ULL << 30, size = 16 * 4096;

	ASSERT_EQ(0, set_region(self->vm, 0, base, size, self->mem));
	/* Same start, inside, straddling either end, covering it all. */
	EXPECT_EQ(-EEXIST, set_region(self->vm, 1, base, 4096, self->mem));
	EXPECT_EQ(-EEXIST, set_region(self->vm, 1, base + 4096, 4096, self->mem));
	EXPECT_EQ(-EEXIST, set_region(self->vm, 1, base - 4096, 8192, self->mem));
	EXPECT_EQ(-EEXIST, set_region(self->vm, 1, base + size - 4096, 8192, self->mem));
	EXPECT_EQ(-EEXIST, set_region(self->vm, 1, base - 4096, size + 8192, self->mem));
	EXPECT_EQ(self->pin_before + (long)(size >> 10), lkvm_vm_pin_kb());
	/* Right next to it on both sides is fine. */
	EXPECT_EQ(0, set_region(self->vm, 1, base - 4096, 4096, self->mem));
	EXPECT_EQ(0, set_region(self->vm, 2, base + size, 4096, self->mem));
}

TEST_F(vm, region_from_another_process_eperm)
{
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(set_region(self->vm, 0, 0, REGION_SIZE, self->mem) == -EPERM ? 0 : 1);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_UNCHANGED();
}

TEST_F(vm, region_over_memlock_limit_enomem)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	struct rlimit rl = { REGION_SIZE / 2, REGION_SIZE / 2 };

	/* Without CAP_IPC_LOCK, RLIMIT_MEMLOCK bounds what may be pinned. */
	ASSERT_EQ(0, syscall(SYS_capget, &hdr, data));
	data[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
	ASSERT_EQ(0, syscall(SYS_capset, &hdr, data));
	ASSERT_EQ(0, setrlimit(RLIMIT_MEMLOCK, &rl));

	EXPECT_EQ(-ENOMEM, set_region(self->vm, 0, 0, REGION_SIZE, self->mem));
	EXPECT_EQ(self->pin_before, lkvm_vm_pin_kb());
	EXPECT_EQ(self->pins_before, foll_pins_held());
	EXPECT_EQ(0, set_region(self->vm, 0, 0, REGION_SIZE / 2, self->mem));
	EXPECT_EQ(-ENOMEM, set_region(self->vm, 1, REGION_SIZE, 4096, self->mem));
}

TEST_HARNESS_MAIN
