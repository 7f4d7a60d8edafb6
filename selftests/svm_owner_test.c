// SPDX-License-Identifier: GPL-2.0
/*
 * Ownership of SVM: EFER.SVME on every online CPU while the module is
 * loaded, following CPU hotplug, given back at unload; and the rule shared
 * with kvm_amd: whoever enabled SVM first keeps it, the other one fails
 * cleanly and disturbs nothing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib/lkvm_util.h"

/*
 * Each test starts and ends with the module loaded and all CPUs online; a
 * kvm_amd guest a test started is destroyed before the module is reloaded.
 */
FIXTURE(owner) {
	int64_t online;
	struct lkvm_kvm_guest g;
};

FIXTURE_SETUP(owner)
{
	int64_t svme;

	self->g.kvm_fd = self->g.vm_fd = self->g.vcpu_fd = -1;
	ASSERT_TRUE(lkvm_module_loaded()) TH_LOG("lkvm_lite must be loaded before the tests");
	self->online = lkvm_online_mask();
	/* The test VM has the msr driver; without it nothing here is checked. */
	svme = lkvm_svme_mask();
	ASSERT_LE(0, svme) TH_LOG("reading EFER: %s", strerror((int)-svme));
}

FIXTURE_TEARDOWN(owner)
{
	int cpu;

	lkvm_kvm_guest_destroy(&self->g);
	for (cpu = 0; cpu < lkvm_nr_cpus() && cpu < 63; cpu++)
		if (self->online & (1LL << cpu))
			lkvm_cpu_set_online(cpu, true);
	if (!lkvm_module_loaded())
		EXPECT_EQ(0, lkvm_module_load()) TH_LOG("cannot reload lkvm_lite");
}

TEST_F(owner, svme_set_on_every_online_cpu)
{
	EXPECT_EQ(self->online, lkvm_svme_mask());
}

TEST_F(owner, unload_clears_svme_reload_sets)
{
	ASSERT_EQ(0, lkvm_module_unload());
	EXPECT_EQ(0, lkvm_svme_mask());
	EXPECT_NE(0, access(LKVM_DEV_PATH, F_OK));
	ASSERT_EQ(0, lkvm_module_load());
	EXPECT_EQ(self->online, lkvm_svme_mask());
	EXPECT_EQ(0, access(LKVM_DEV_PATH, F_OK));
}

TEST_F_TIMEOUT(owner, cpu_hotplug_followed, 120)
{
	int64_t cpu1 = 1LL << 1;

	if (!(self->online & cpu1) || access("/sys/devices/system/cpu/cpu1/online", W_OK))
		SKIP(return, "needs a hot-pluggable CPU 1");

	/* Offline and back: the CPU comes back with SVM ours again. */
	ASSERT_EQ(0, lkvm_cpu_set_online(1, false));
	EXPECT_EQ(self->online & ~cpu1, lkvm_svme_mask());
	ASSERT_EQ(0, lkvm_cpu_set_online(1, true));
	EXPECT_EQ(self->online, lkvm_svme_mask());

	/* A CPU that was offline at load gets SVM when it comes online. */
	ASSERT_EQ(0, lkvm_cpu_set_online(1, false));
	ASSERT_EQ(0, lkvm_module_unload());
	ASSERT_EQ(0, lkvm_module_load());
	EXPECT_EQ(self->online & ~cpu1, lkvm_svme_mask());
	ASSERT_EQ(0, lkvm_cpu_set_online(1, true));
	EXPECT_EQ(self->online, lkvm_svme_mask());

	/* After unload, a CPU coming online stays without SVM. */
	ASSERT_EQ(0, lkvm_module_unload());
	ASSERT_EQ(0, lkvm_cpu_set_online(1, false));
	ASSERT_EQ(0, lkvm_cpu_set_online(1, true));
	EXPECT_EQ(0, lkvm_svme_mask());
}

TEST_F_TIMEOUT(owner, load_refused_while_kvm_vm_runs, 120)
{
	struct lkvm_kvm_guest *g = &self->g;
	int ret;

	ASSERT_EQ(0, lkvm_module_unload());
	ret = lkvm_kvm_guest_create(g);
	if (ret == -ENODEV)
		SKIP(return, "kvm_amd cannot be used in this VM");
	ASSERT_EQ(0, ret) TH_LOG("kvm_amd VM: %s", strerror(-ret));
	EXPECT_EQ(1, lkvm_kvm_guest_step(g));
	EXPECT_EQ(2, lkvm_kvm_guest_step(g));
	EXPECT_EQ(self->online, lkvm_svme_mask()) TH_LOG("kvm_amd should own SVM now");

	EXPECT_LOAD_REFUSED(-EBUSY, "EFER.SVME");

	/* No side effects: kvm_amd keeps SVM and its VM runs on. */
	EXPECT_EQ(self->online, lkvm_svme_mask());
	EXPECT_EQ(3, lkvm_kvm_guest_step(g));
	EXPECT_EQ(4, lkvm_kvm_guest_step(g));

	/* Once kvm_amd lets go of SVM, we can take it. */
	lkvm_kvm_guest_destroy(g);
	EXPECT_EQ(0, lkvm_svme_mask());
	EXPECT_EQ(0, lkvm_module_load());
	EXPECT_EQ(self->online, lkvm_svme_mask());
}

TEST_F_TIMEOUT(owner, kvm_vm_refused_while_loaded, 120)
{
	struct lkvm_kvm_guest *g = &self->g;
	int fd, ret;

	ret = lkvm_kvm_open(&fd);
	if (ret == -ENODEV)
		SKIP(return, "kvm_amd cannot be used in this VM");
	ASSERT_EQ(0, ret);
	close(fd);

	EXPECT_EQ(-EBUSY, lkvm_kvm_guest_create(g));
	/* kvm_amd's failure did not take SVM from us. */
	EXPECT_EQ(self->online, lkvm_svme_mask());
	fd = open(LKVM_DEV_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(LKVM_API_VERSION, ioctl(fd, LKVM_GET_API_VERSION, 0));
	close(fd);

	ASSERT_EQ(0, lkvm_module_unload());
	ret = lkvm_kvm_guest_create(g);
	ASSERT_EQ(0, ret) TH_LOG("kvm_amd VM after unload: %s", strerror(-ret));
	EXPECT_EQ(1, lkvm_kvm_guest_step(g));
	EXPECT_EQ(2, lkvm_kvm_guest_step(g));
	lkvm_kvm_guest_destroy(g);
}

TEST_HARNESS_MAIN
