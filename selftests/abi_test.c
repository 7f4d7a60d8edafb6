// SPDX-License-Identifier: GPL-2.0
/*
 * The system ioctls of /dev/lkvm_lite: the API version, the capability
 * query, and one negative test per validation path.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib/lkvm_util.h"

FIXTURE(dev) {
	int fd;
};

FIXTURE_SETUP(dev)
{
	self->fd = open(LKVM_DEV_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %s (module not loaded?)", LKVM_DEV_PATH,
				      strerror(errno));
}

FIXTURE_TEARDOWN(dev)
{
	close(self->fd);
}

TEST_F(dev, api_version)
{
	EXPECT_EQ(LKVM_API_VERSION, lkvm_ioctl(self->fd, LKVM_GET_API_VERSION, NULL));
}

TEST_F(dev, api_version_nonzero_arg_einval)
{
	EXPECT_EQ(-EINVAL, lkvm_ioctl(self->fd, LKVM_GET_API_VERSION, (void *)1));
}

static void svm_cpuid(unsigned int *eax, unsigned int *ebx, unsigned int *ecx, unsigned int *edx)
{
	__cpuid(0x8000000a, *eax, *ebx, *ecx, *edx);
}

TEST_F(dev, cap_svm)
{
	struct lkvm_cap c = { .cap = LKVM_CAP_SVM };

	ASSERT_EQ(0, lkvm_ioctl(self->fd, LKVM_CHECK_CAP, &c));
	EXPECT_EQ(1, c.value);
	EXPECT_EQ(LKVM_CAP_SVM, c.cap);
	EXPECT_EQ(0, c.flags);
}

TEST_F(dev, cap_svm_features_match_cpuid)
{
	struct lkvm_cap c = { .cap = LKVM_CAP_SVM_FEATURES };
	unsigned int eax, ebx, ecx, edx;

	svm_cpuid(&eax, &ebx, &ecx, &edx);
	ASSERT_EQ(0, lkvm_ioctl(self->fd, LKVM_CHECK_CAP, &c));
	EXPECT_EQ(edx, c.value) TH_LOG("CPUID 0x8000000A EDX is 0x%x, module says 0x%llx", edx,
				       (unsigned long long)c.value);
	/* Nested paging is what the module is built on; TCG's -cpu max has it. */
	EXPECT_NE(0, c.value & 1) TH_LOG("no NPT in SVM features 0x%llx",
					 (unsigned long long)c.value);
}

TEST_F(dev, cap_nr_asids_match_cpuid)
{
	struct lkvm_cap c = { .cap = LKVM_CAP_NR_ASIDS };
	unsigned int eax, ebx, ecx, edx;

	svm_cpuid(&eax, &ebx, &ecx, &edx);
	ASSERT_EQ(0, lkvm_ioctl(self->fd, LKVM_CHECK_CAP, &c));
	EXPECT_EQ(ebx, c.value);
	EXPECT_LT(0, c.value);
}

TEST_F(dev, cap_unknown_is_zero)
{
	/* Keep the second one just past the highest capability defined. */
	unsigned int caps[] = { 0, LKVM_CAP_VM_STATS + 1, 1000, 0xffffffffu };
	unsigned int i;

	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		struct lkvm_cap c = { .cap = caps[i] };

		EXPECT_EQ(0, lkvm_ioctl(self->fd, LKVM_CHECK_CAP, &c));
		EXPECT_EQ(0, c.value) TH_LOG("cap %u", caps[i]);
		EXPECT_EQ(caps[i], c.cap);
	}
}

TEST_F(dev, cap_flags_nonzero_einval)
{
	struct lkvm_cap c = { .cap = LKVM_CAP_SVM, .flags = 1 };

	EXPECT_EQ(-EINVAL, lkvm_ioctl(self->fd, LKVM_CHECK_CAP, &c));
	/* A refused call changes nothing, not even the output field. */
	EXPECT_EQ(0, c.value);
	EXPECT_EQ(1, c.flags);
	c.flags = 0x80000000u;
	EXPECT_EQ(-EINVAL, lkvm_ioctl(self->fd, LKVM_CHECK_CAP, &c));
}

TEST_F(dev, cap_value_nonzero_einval)
{
	struct lkvm_cap c = { .cap = LKVM_CAP_SVM, .value = 42 };

	EXPECT_EQ(-EINVAL, lkvm_ioctl(self->fd, LKVM_CHECK_CAP, &c));
	EXPECT_EQ(42, c.value);
}

TEST_F(dev, cap_bad_pointer_efault)
{
	void *ro;

	EXPECT_EQ(-EFAULT, lkvm_ioctl(self->fd, LKVM_CHECK_CAP, NULL));
	EXPECT_EQ(-EFAULT, lkvm_ioctl(self->fd, LKVM_CHECK_CAP, (void *)-4096L));

	/* Readable but not writable: the answer cannot be stored. */
	ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	((struct lkvm_cap *)ro)->cap = LKVM_CAP_SVM;
	ASSERT_EQ(0, mprotect(ro, 4096, PROT_READ));
	EXPECT_EQ(-EFAULT, lkvm_ioctl(self->fd, LKVM_CHECK_CAP, ro));
	munmap(ro, 4096);
}

TEST_F(dev, unknown_ioctl_enotty)
{
	struct lkvm_cap c = { .cap = LKVM_CAP_SVM };

	EXPECT_EQ(-ENOTTY, lkvm_ioctl(self->fd, _IO(LKVMIO, 0x7f), NULL));
	EXPECT_EQ(-ENOTTY, lkvm_ioctl(self->fd, _IO(LKVMIO, 0xff), NULL));
	/* Another driver's magic with our numbers. */
	EXPECT_EQ(-ENOTTY, lkvm_ioctl(self->fd, _IO(0xAE, 0x00), NULL));
	/* Our number with the wrong size or direction is another ioctl. */
	EXPECT_EQ(-ENOTTY, lkvm_ioctl(self->fd, _IOWR(LKVMIO, 0x01, __u64), &c));
	EXPECT_EQ(-ENOTTY, lkvm_ioctl(self->fd, _IOR(LKVMIO, 0x01, struct lkvm_cap), &c));
	EXPECT_EQ(-ENOTTY, lkvm_ioctl(self->fd, _IOR(LKVMIO, 0x00, int), &c));
	EXPECT_EQ(0, c.value);
}

TEST(dev_node_root_only)
{
	struct stat st;

	ASSERT_EQ(0, stat(LKVM_DEV_PATH, &st)) TH_LOG("%s: %s", LKVM_DEV_PATH, strerror(errno));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(10, major(st.st_rdev)) TH_LOG("not a misc device");
	EXPECT_EQ(0600, st.st_mode & 07777);
	EXPECT_EQ(0, st.st_uid);
}

TEST(dev_open_unprivileged_eacces)
{
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd;

		if (setgid(65534) || setuid(65534))
			_exit(2);
		fd = open(LKVM_DEV_PATH, O_RDWR);
		_exit(fd < 0 && errno == EACCES ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("nobody could open %s or setuid failed",
						 LKVM_DEV_PATH);
}

TEST_HARNESS_MAIN
