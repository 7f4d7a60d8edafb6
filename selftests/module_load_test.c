// SPDX-License-Identifier: GPL-2.0
/*
 * Loading and unloading the module many times leaks nothing: the kernel's
 * slab and page counts return to where they were.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib/lkvm_util.h"

#define LOAD_CYCLES	50
/*
 * What an idle test VM drifts by over the run, measured: a few pages and a
 * few KiB of slab. A leak of one page or one small object per load lands
 * above these.
 */
#define MAX_SLAB_GROWTH_KB	40
#define MAX_PAGE_GROWTH_KB	160

struct mem_counts {
	long slab_unreclaimable_kb;
	long used_kb;	/* neither free nor page cache nor reclaimable slab */
};

static long meminfo_kb(const char *text, const char *key)
{
	const char *p = strstr(text, key);

	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

static int read_counts(struct mem_counts *c)
{
	char buf[8192];
	ssize_t n;
	int fd;

	/* Settle: let RCU-freed objects and per-CPU page lists drain. */
	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "2", 1) < 0)
			return -errno;
		close(fd);
	}
	usleep(200000);

	fd = open("/proc/meminfo", O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	c->slab_unreclaimable_kb = meminfo_kb(buf, "SUnreclaim:");
	c->used_kb = meminfo_kb(buf, "MemTotal:") - meminfo_kb(buf, "MemFree:") -
		     meminfo_kb(buf, "Buffers:") - meminfo_kb(buf, "Cached:") -
		     meminfo_kb(buf, "SReclaimable:");
	return 0;
}

static int cycle(struct __test_metadata *_metadata)
{
	int fd, ret;

	ret = lkvm_module_load();
	if (ret)
		return ret;
	fd = open(LKVM_DEV_PATH, O_RDWR | O_CLOEXEC);
	EXPECT_LE(0, fd);
	if (fd >= 0) {
		EXPECT_EQ(LKVM_API_VERSION, ioctl(fd, LKVM_GET_API_VERSION, 0));
		close(fd);
	}
	return lkvm_module_unload();
}

/* Each test starts and ends with the module loaded. */
FIXTURE(mod) {
	int unused;
};

FIXTURE_SETUP(mod)
{
	ASSERT_TRUE(lkvm_module_loaded()) TH_LOG("lkvm_lite must be loaded before the tests");
}

FIXTURE_TEARDOWN(mod)
{
	if (!lkvm_module_loaded())
		EXPECT_EQ(0, lkvm_module_load()) TH_LOG("cannot reload lkvm_lite");
}

TEST_F_TIMEOUT(mod, load_unload_50_no_leak, 600)
{
	struct mem_counts before, after;
	int i, ret;

	ASSERT_EQ(0, lkvm_module_unload());

	/* Warm up: the first cycles fill caches that stay. */
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, cycle(_metadata));
	ASSERT_EQ(0, read_counts(&before));

	for (i = 0; i < LOAD_CYCLES; i++) {
		ret = cycle(_metadata);
		ASSERT_EQ(0, ret) TH_LOG("cycle %d: %s", i, strerror(-ret));
		ASSERT_EQ(0, lkvm_svme_mask()) TH_LOG("SVM left enabled after unload %d", i);
	}
	ASSERT_EQ(0, read_counts(&after));
	ASSERT_EQ(0, lkvm_module_load());

	TH_LOG("%d cycles: unreclaimable slab %+ld KiB, used pages %+ld KiB", LOAD_CYCLES,
	       after.slab_unreclaimable_kb - before.slab_unreclaimable_kb,
	       after.used_kb - before.used_kb);
	EXPECT_GE(MAX_SLAB_GROWTH_KB, after.slab_unreclaimable_kb - before.slab_unreclaimable_kb);
	EXPECT_GE(MAX_PAGE_GROWTH_KB, after.used_kb - before.used_kb);
}

TEST_HARNESS_MAIN
