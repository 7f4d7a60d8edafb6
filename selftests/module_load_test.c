// SPDX-License-Identifier: GPL-2.0
/*
 * Loading and unloading the module many times leaks nothing: every slab
 * cache's live object count and the kernel's page count return to where
 * they were.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib/lkvm_util.h"

#define LOAD_CYCLES	50
/*
 * A leak is steady: one object per load grows its slab cache, one page per
 * load grows the kernel's pages, by LOAD_CYCLES / PARTS in every part of
 * the run. What the test VM drifts by with nothing leaking comes in bursts
 * that land in one or two parts only (measured: slab caches moving by tens
 * or hundreds of small objects, sysfs nodes and kmalloc-8 churn; kernel
 * pages by -24..+47 over the whole run). So a leak is growth of at least
 * 80% of one unit per load in every part.
 */
#define PARTS			4
#define MIN_LEAK_PER_PART	(LOAD_CYCLES / PARTS * 4 / 5)
#define MAX_CACHES		512
#define SETTLE_SECONDS		3
#define WARMUP_CYCLES		30

struct slab_cache {
	char name[64];
	long active;
	long size;
};

struct mem_snapshot {
	struct slab_cache cache[MAX_CACHES];
	int nr_caches;
	/* Pages that are neither free, page cache, anon, slab nor page tables. */
	long kernel_pages;
};

/*
 * The shrink files of every slab cache, opened once: opening them at each
 * snapshot would itself allocate (and RCU-free) file objects.
 */
static int shrink_fd[MAX_CACHES];
static int nr_shrink_fds;
static int drop_caches_fd = -1;

static void open_shrink_files(void)
{
	struct dirent *de;
	char path[512];
	DIR *d;
	int fd;

	drop_caches_fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	d = opendir("/sys/kernel/slab");
	if (!d)
		return;
	while ((de = readdir(d)) && nr_shrink_fds < MAX_CACHES) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink", de->d_name);
		fd = open(path, O_WRONLY);
		if (fd >= 0)
			shrink_fd[nr_shrink_fds++] = fd;
	}
	closedir(d);
}

/*
 * Free unused dentries and inodes (a removed sysfs directory's dentries
 * pin its kernfs nodes until then), then flush per-CPU slabs so that free
 * objects no longer count as live.
 */
static void shrink_slabs(void)
{
	int i;

	if (drop_caches_fd >= 0 && pwrite(drop_caches_fd, "2", 1, 0) != 1)
		errno = 0;

	for (i = 0; i < nr_shrink_fds; i++)
		/* A cache that cannot shrink is still counted, less exactly. */
		if (pwrite(shrink_fd[i], "1", 1, 0) != 1)
			errno = 0;
}

static int read_file(const char *path, char *buf, size_t len)
{
	size_t used = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	while (used + 1 < len && (n = read(fd, buf + used, len - 1 - used)) > 0)
		used += n;
	close(fd);
	buf[used] = '\0';
	return 0;
}

/* Sum of "key value" over every line of @text whose first word is @key. */
static long sum_key(const char *text, const char *key)
{
	size_t klen = strlen(key);
	const char *p = text;
	long sum = 0;

	while (p && *p) {
		while (*p == ' ')
			p++;
		if (!strncmp(p, key, klen) && (p[klen] == ' ' || p[klen] == ':'))
			sum += strtol(p + klen + 1, NULL, 10);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return sum;
}

static int snapshot(struct mem_snapshot *s)
{
	static char buf[1 << 18];
	long free_pages, kib;
	char *line;
	int ret;

	/*
	 * Let deferred frees land first: kfree_rcu() batches for seconds,
	 * and files and sysfs nodes go away after a grace period.
	 */
	sync();
	sleep(SETTLE_SECONDS);
	shrink_slabs();

	ret = read_file("/proc/slabinfo", buf, sizeof(buf));
	if (ret)
		return ret;
	s->nr_caches = 0;
	line = strchr(buf, '\n');
	line = line ? strchr(line + 1, '\n') : NULL;	/* skip the two header lines */
	while (line && *++line && s->nr_caches < MAX_CACHES) {
		struct slab_cache *c = &s->cache[s->nr_caches];

		if (sscanf(line, "%63s %ld %*d %ld", c->name, &c->active, &c->size) == 3)
			s->nr_caches++;
		line = strchr(line, '\n');
	}

	/* Free pages include those parked on the per-CPU lists. */
	ret = read_file("/proc/zoneinfo", buf, sizeof(buf));
	if (ret)
		return ret;
	free_pages = sum_key(buf, "nr_free_pages") + sum_key(buf, "count");

	ret = read_file("/proc/vmstat", buf, sizeof(buf));
	if (ret)
		return ret;
	s->kernel_pages = -free_pages - sum_key(buf, "nr_file_pages") -
			  sum_key(buf, "nr_anon_pages") - sum_key(buf, "nr_slab_reclaimable") -
			  sum_key(buf, "nr_slab_unreclaimable") -
			  sum_key(buf, "nr_page_table_pages") - sum_key(buf, "nr_kernel_stack") / 4;

	ret = read_file("/proc/meminfo", buf, sizeof(buf));
	if (ret)
		return ret;
	kib = sum_key(buf, "MemTotal") - sum_key(buf, "VmallocUsed") - sum_key(buf, "Percpu");
	s->kernel_pages += kib / 4;
	return 0;
}

static long cache_active(const struct mem_snapshot *s, const char *name)
{
	int i;

	for (i = 0; i < s->nr_caches; i++)
		if (!strcmp(s->cache[i].name, name))
			return s->cache[i].active;
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
	struct mem_snapshot snap[PARTS + 1];
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
	const struct mem_snapshot *last;
	int i, p, ret, leaking = 0;
	long pages[PARTS], min;

	ASSERT_EQ(0, lkvm_module_unload());

	open_shrink_files();
	/* Warm up: the first cycles fill caches that stay. */
	for (i = 0; i < WARMUP_CYCLES; i++)
		ASSERT_EQ(0, cycle(_metadata));
	ASSERT_EQ(0, snapshot(&self->snap[0]));

	for (i = 0; i < LOAD_CYCLES; i++) {
		if (i && i % (LOAD_CYCLES / PARTS) == 0 && i / (LOAD_CYCLES / PARTS) < PARTS)
			ASSERT_EQ(0, snapshot(&self->snap[i / (LOAD_CYCLES / PARTS)]));
		ret = cycle(_metadata);
		ASSERT_EQ(0, ret) TH_LOG("cycle %d: %s", i, strerror(-ret));
		ASSERT_EQ(0, lkvm_svme_mask()) TH_LOG("SVM left enabled after unload %d", i);
	}
	ASSERT_EQ(0, snapshot(&self->snap[PARTS]));
	ASSERT_EQ(0, lkvm_module_load());

	last = &self->snap[PARTS];
	for (i = 0; i < last->nr_caches; i++) {
		const char *name = last->cache[i].name;
		long d[PARTS];

		for (p = 0, min = LONG_MAX; p < PARTS; p++) {
			d[p] = cache_active(&self->snap[p + 1], name) -
			       cache_active(&self->snap[p], name);
			if (d[p] < min)
				min = d[p];
		}
		if (min >= MIN_LEAK_PER_PART / 2)
			TH_LOG("slab cache %s (%ld bytes): %+ld %+ld %+ld %+ld objects", name,
			       last->cache[i].size, d[0], d[1], d[2], d[3]);
		if (min >= MIN_LEAK_PER_PART)
			leaking++;
	}
	for (p = 0, min = LONG_MAX; p < PARTS; p++) {
		pages[p] = self->snap[p + 1].kernel_pages - self->snap[p].kernel_pages;
		if (pages[p] < min)
			min = pages[p];
	}
	TH_LOG("%d cycles: kernel pages %+ld %+ld %+ld %+ld", LOAD_CYCLES, pages[0], pages[1],
	       pages[2], pages[3]);
	EXPECT_EQ(0, leaking) TH_LOG("%d slab caches grew by %d+ objects in every part of the run",
				     leaking, MIN_LEAK_PER_PART);
	EXPECT_GT(MIN_LEAK_PER_PART, min) TH_LOG("kernel pages grew in every part of the run");
}

TEST_HARNESS_MAIN
