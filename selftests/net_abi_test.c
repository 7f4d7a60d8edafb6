// SPDX-License-Identifier: GPL-2.0
/*
 * LKVM_CREATE_NET and LKVM_GET_VM_STATS: one negative test per
 * validation path, each followed by proof that the refused call changed
 * nothing (the next NIC still lands in the first PCI slot), and the host
 * net_device's life: it appears with the name and index the call
 * reports, and goes with the VM or with ip link del.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib/lkvm_util.h"

#define FIRST_DEVFN	(1 << 3)	/* 00:01.0 */

static bool netdev_exists(const char *name)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/class/net/%s", name);
	return !stat(path, &st);
}

FIXTURE(vm) {
	int dev, vm;
};

FIXTURE_SETUP(vm)
{
	struct lkvm_platform p = {};
	struct lkvm_cap cap = { .cap = LKVM_CAP_NET };
	int fd;

	self->vm = -1;
	self->dev = open(LKVM_DEV_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->dev) TH_LOG("open %s: %s", LKVM_DEV_PATH, strerror(errno));
	ASSERT_EQ(0, lkvm_ioctl(self->dev, LKVM_CHECK_CAP, &cap));
	if (!cap.value)
		SKIP(return, "the module has no LKVM_CAP_NET");
	self->vm = lkvm_ioctl(self->dev, LKVM_CREATE_VM, NULL);
	ASSERT_LE(0, self->vm) TH_LOG("LKVM_CREATE_VM: %s", strerror(-self->vm));
	fd = lkvm_ioctl(self->vm, LKVM_CREATE_PLATFORM, &p);
	ASSERT_LE(0, fd) TH_LOG("LKVM_CREATE_PLATFORM: %s", strerror(-fd));
	close(fd);
}

FIXTURE_TEARDOWN(vm)
{
	if (self->vm >= 0)
		close(self->vm);
	close(self->dev);
}

static int create_net(int vm, struct lkvm_net *n)
{
	return lkvm_ioctl(vm, LKVM_CREATE_NET, n);
}

/* A refused call changed nothing: the next NIC is still the first. */
#define EXPECT_FIRST_NIC_STILL_FREE(vm) do {					\
	struct lkvm_net __n = {};						\
										\
	EXPECT_EQ(0, create_net((vm), &__n));					\
	EXPECT_EQ(FIRST_DEVFN, __n.pci_devfn);					\
} while (0)

TEST(caps)
{
	struct lkvm_cap net = { .cap = LKVM_CAP_NET }, st = { .cap = LKVM_CAP_VM_STATS };
	int dev = open(LKVM_DEV_PATH, O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, dev);
	ASSERT_EQ(0, lkvm_ioctl(dev, LKVM_CHECK_CAP, &net));
	ASSERT_EQ(0, lkvm_ioctl(dev, LKVM_CHECK_CAP, &st));
	if (!net.value)
		SKIP(return, "the module has no LKVM_CAP_NET");
	EXPECT_EQ(8, net.value);
	EXPECT_EQ(LKVM_VM_NR_STATS, st.value);
	close(dev);
}

TEST(without_platform_enodev)
{
	struct lkvm_cap cap = { .cap = LKVM_CAP_NET };
	struct lkvm_net n = {};
	int dev, vm;

	dev = open(LKVM_DEV_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, dev);
	ASSERT_EQ(0, lkvm_ioctl(dev, LKVM_CHECK_CAP, &cap));
	if (!cap.value)
		SKIP(return, "the module has no LKVM_CAP_NET");
	vm = lkvm_ioctl(dev, LKVM_CREATE_VM, NULL);
	ASSERT_LE(0, vm);
	EXPECT_EQ(-ENODEV, create_net(vm, &n));
	close(vm);
	close(dev);
}

TEST_F(vm, defaults)
{
	struct lkvm_net n = {};
	unsigned int i;

	ASSERT_EQ(0, create_net(self->vm, &n));
	EXPECT_EQ(FIRST_DEVFN, n.pci_devfn);
	EXPECT_EQ(0, strncmp(n.ifname, "lkvm", 4)) TH_LOG("name %.16s", n.ifname);
	EXPECT_EQ(NULL, strchr(n.ifname, '%'));
	EXPECT_TRUE(netdev_exists(n.ifname));
	EXPECT_EQ(n.ifindex, if_nametoindex(n.ifname));
	/* A random address: locally administered, unicast, not zero. */
	EXPECT_EQ(0x02, n.mac[0] & 0x03);
	for (i = 1; i < 6 && !n.mac[i]; i++)
		;
	EXPECT_GT(6, i);
}

TEST_F(vm, named_with_mac_and_gone_with_vm)
{
	struct lkvm_net n = { .ifname = "lkvmabi%d", .mac = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 } };
	const uint8_t mac[6] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };
	char name[IFNAMSIZ];
	int i;

	ASSERT_EQ(0, create_net(self->vm, &n));
	EXPECT_EQ(0, memcmp(mac, n.mac, 6));
	EXPECT_EQ(0, strncmp(n.ifname, "lkvmabi", 7));
	memcpy(name, n.ifname, IFNAMSIZ);
	ASSERT_TRUE(netdev_exists(name));
	close(self->vm);
	self->vm = -1;
	/* Unregistering may finish after close returns, but not much after. */
	for (i = 0; i < 100 && netdev_exists(name); i++)
		usleep(50000);
	EXPECT_FALSE(netdev_exists(name)) TH_LOG("%s outlived its VM", name);
}

TEST_F(vm, two_nics_two_slots)
{
	struct lkvm_net a = {}, b = {};

	ASSERT_EQ(0, create_net(self->vm, &a));
	ASSERT_EQ(0, create_net(self->vm, &b));
	EXPECT_EQ(FIRST_DEVFN, a.pci_devfn);
	EXPECT_EQ(2 << 3, b.pci_devfn);
	EXPECT_NE(0, strcmp(a.ifname, b.ifname));
	EXPECT_NE(0, memcmp(a.mac, b.mac, 6));
}

TEST_F(vm, flags_nonzero_einval)
{
	struct lkvm_net n = { .flags = 1 };

	EXPECT_EQ(-EINVAL, create_net(self->vm, &n));
	EXPECT_FIRST_NIC_STILL_FREE(self->vm);
}

TEST_F(vm, pad_nonzero_einval)
{
	struct lkvm_net n = { .pad = 1 };

	EXPECT_EQ(-EINVAL, create_net(self->vm, &n));
	EXPECT_FIRST_NIC_STILL_FREE(self->vm);
}

TEST_F(vm, pad2_nonzero_einval)
{
	struct lkvm_net n = { .pad2 = 1 };

	EXPECT_EQ(-EINVAL, create_net(self->vm, &n));
	EXPECT_FIRST_NIC_STILL_FREE(self->vm);
}

TEST_F(vm, reserved_nonzero_einval)
{
	struct lkvm_net n = { .reserved[3] = 1 };

	EXPECT_EQ(-EINVAL, create_net(self->vm, &n));
	EXPECT_FIRST_NIC_STILL_FREE(self->vm);
}

TEST_F(vm, ifname_unterminated_einval)
{
	struct lkvm_net n;

	memset(&n, 0, sizeof(n));
	memset(n.ifname, 'a', sizeof(n.ifname));
	EXPECT_EQ(-EINVAL, create_net(self->vm, &n));
	EXPECT_FIRST_NIC_STILL_FREE(self->vm);
}

TEST_F(vm, ifname_invalid_einval)
{
	struct lkvm_net slash = { .ifname = "lk/vm" }, space = { .ifname = "lk vm" };
	struct lkvm_net dot = { .ifname = ".." };

	EXPECT_EQ(-EINVAL, create_net(self->vm, &slash));
	EXPECT_EQ(-EINVAL, create_net(self->vm, &space));
	EXPECT_EQ(-EINVAL, create_net(self->vm, &dot));
	EXPECT_FIRST_NIC_STILL_FREE(self->vm);
}

TEST_F(vm, ifname_bad_pattern_einval)
{
	struct lkvm_net n = { .ifname = "lkvm%d%d" };

	EXPECT_EQ(-EINVAL, create_net(self->vm, &n));
	EXPECT_FIRST_NIC_STILL_FREE(self->vm);
}

TEST_F(vm, ifname_taken_eexist)
{
	struct lkvm_net n = { .ifname = "lo" };

	EXPECT_EQ(-EEXIST, create_net(self->vm, &n));
	EXPECT_FIRST_NIC_STILL_FREE(self->vm);
}

TEST_F(vm, multicast_mac_einval)
{
	struct lkvm_net n = { .mac = { 0x01, 0, 0x5e, 0, 0, 1 } };

	EXPECT_EQ(-EINVAL, create_net(self->vm, &n));
	EXPECT_FIRST_NIC_STILL_FREE(self->vm);
}

TEST_F(vm, broadcast_mac_einval)
{
	struct lkvm_net n = { .mac = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };

	EXPECT_EQ(-EINVAL, create_net(self->vm, &n));
	EXPECT_FIRST_NIC_STILL_FREE(self->vm);
}

TEST_F(vm, bad_pointer_efault)
{
	EXPECT_EQ(-EFAULT, lkvm_ioctl(self->vm, LKVM_CREATE_NET, (void *)8));
	EXPECT_FIRST_NIC_STILL_FREE(self->vm);
}

TEST_F(vm, more_than_cap_enospc)
{
	struct lkvm_net n;
	int i;

	for (i = 0; i < 8; i++) {
		memset(&n, 0, sizeof(n));
		ASSERT_EQ(0, create_net(self->vm, &n)) TH_LOG("NIC %d", i);
	}
	memset(&n, 0, sizeof(n));
	EXPECT_EQ(-ENOSPC, create_net(self->vm, &n));
}

TEST_F(vm, after_first_run_ebusy)
{
	struct lkvm_run run = {};
	struct lkvm_net n = {};
	int vcpu;

	vcpu = lkvm_ioctl(self->vm, LKVM_CREATE_VCPU, (void *)0);
	ASSERT_LE(0, vcpu);
	/* Before it ran, a vCPU's existence is no obstacle. */
	ASSERT_EQ(0, create_net(self->vm, &n));
	/* No memory: the vCPU stops at once, but it ran. */
	lkvm_ioctl(vcpu, LKVM_RUN, &run);
	memset(&n, 0, sizeof(n));
	EXPECT_EQ(-EBUSY, create_net(self->vm, &n));
	close(vcpu);
}

TEST_F(vm, ip_link_del_then_vm_close)
{
	struct lkvm_net n = { .ifname = "lkvmdel0" };
	char cmd[64];

	ASSERT_EQ(0, create_net(self->vm, &n));
	snprintf(cmd, sizeof(cmd), "ip link del %s", n.ifname);
	ASSERT_EQ(0, system(cmd));
	EXPECT_FALSE(netdev_exists(n.ifname));
	/* The name is free again: another VM may take it. */
	close(self->vm);
	self->vm = lkvm_ioctl(self->dev, LKVM_CREATE_VM, NULL);
	ASSERT_LE(0, self->vm);
}

TEST_F(vm, stats_fresh_vm_zero)
{
	struct lkvm_vm_stats *s = calloc(1, sizeof(*s));
	unsigned int i;

	ASSERT_NE(NULL, s);
	memset(s, 0xa5, sizeof(*s));
	ASSERT_EQ(0, lkvm_ioctl(self->vm, LKVM_GET_VM_STATS, s));
	for (i = 0; i < LKVM_VCPU_NR_STATS; i++)
		EXPECT_EQ(0, s->vcpu[i]) TH_LOG("vcpu[%u]", i);
	for (i = 0; i < LKVM_VM_NR_STATS; i++)
		EXPECT_EQ(0, s->stat[i]) TH_LOG("stat[%u]", i);
	free(s);
}

TEST_F(vm, stats_keep_a_closed_vcpus_counts)
{
	struct lkvm_vm_stats *s = calloc(1, sizeof(*s));
	struct lkvm_run run = {};
	int vcpu;

	ASSERT_NE(NULL, s);
	vcpu = lkvm_ioctl(self->vm, LKVM_CREATE_VCPU, (void *)0);
	ASSERT_LE(0, vcpu);
	lkvm_ioctl(vcpu, LKVM_RUN, &run);
	close(vcpu);
	ASSERT_EQ(0, lkvm_ioctl(self->vm, LKVM_GET_VM_STATS, s));
	EXPECT_LE(1, s->vcpu[LKVM_STAT_EXITS]);
	free(s);
}

TEST_F(vm, stats_bad_pointer_efault)
{
	EXPECT_EQ(-EFAULT, lkvm_ioctl(self->vm, LKVM_GET_VM_STATS, (void *)8));
}

TEST_HARNESS_MAIN
