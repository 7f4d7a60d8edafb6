// SPDX-License-Identifier: GPL-2.0
/* Helpers shared by the lkvm-lite selftests; see lkvm_util.h. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_packet.h>
#include <linux/kvm.h>
#include <net/if.h>

#include "lkvm_util.h"

int lkvm_ioctl(int fd, unsigned long cmd, void *arg)
{
	int ret = ioctl(fd, cmd, arg);

	return ret < 0 ? -errno : ret;
}

const char *lkvm_module_path(void)
{
	const char *p = getenv("LKVM_MODULE");

	return p && *p ? p : "kernel/lkvm_lite.ko";
}

bool lkvm_module_loaded(void)
{
	return access("/sys/module/lkvm_lite", F_OK) == 0;
}

int lkvm_module_load(void)
{
	int fd, ret;

	fd = open(lkvm_module_path(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, "", 0);
	ret = ret < 0 ? -errno : 0;
	close(fd);
	return ret;
}

int lkvm_module_load_logged(char *log, size_t len, int *nlines)
{
	struct lkvm_kmsg kmsg;
	int ret;

	ret = lkvm_kmsg_open(&kmsg);
	if (ret)
		return ret;
	ret = lkvm_module_load();
	*nlines = lkvm_kmsg_grep(&kmsg, "lkvm_lite", log, len);
	lkvm_kmsg_close(&kmsg);
	return ret;
}

int lkvm_module_unload(void)
{
	int i;

	/* A test child that just exited may still hold /dev/lkvm_lite. */
	for (i = 0; i < 200; i++) {
		if (syscall(SYS_delete_module, "lkvm_lite", O_NONBLOCK) == 0)
			return 0;
		if (errno != EAGAIN && errno != EBUSY && errno != EWOULDBLOCK)
			return -errno;
		usleep(10000);
	}
	return -EBUSY;
}

long lkvm_vm_pin_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f;

	f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPin: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

long lkvm_foll_pins_held(void)
{
	long acquired = -1, released = -1;
	char line[256];
	FILE *f;
	int fd;

	/* Fold the per-CPU counter deltas in first, or the two can disagree. */
	fd = open("/proc/sys/vm/stat_refresh", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "1", 1) != 1)
			errno = 0;
		close(fd);
	}
	f = fopen("/proc/vmstat", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "nr_foll_pin_acquired %ld", &acquired);
		sscanf(line, "nr_foll_pin_released %ld", &released);
	}
	fclose(f);
	return acquired < 0 || released < 0 ? -1 : acquired - released;
}

static int lkvm_read_text(const char *path, char *buf, size_t len)
{
	size_t used = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (used + 1 < len && (n = read(fd, buf + used, len - 1 - used)) > 0)
		used += n;
	close(fd);
	buf[used] = '\0';
	return 0;
}

/* Sum of "key value" over every line of @text whose first word is @key. */
static long lkvm_sum_key(const char *text, const char *key)
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

/* Free unused dentries and inodes, then every cache's per-CPU slabs. */
static void lkvm_shrink_slabs(void)
{
	struct dirent *de;
	char path[512];
	DIR *d;
	int fd;

	fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "2", 1) != 1)
			errno = 0;
		close(fd);
	}
	d = opendir("/sys/kernel/slab");
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink", de->d_name);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		/* A cache that cannot shrink is still counted, less exactly. */
		if (write(fd, "1", 1) != 1)
			errno = 0;
		close(fd);
	}
	closedir(d);
}

int lkvm_mem_snapshot(struct lkvm_mem_snapshot *s)
{
	static char buf[1 << 18];
	long free_pages, kib;
	char *line;
	int ret;

	sync();
	sleep(3);
	lkvm_shrink_slabs();

	ret = lkvm_read_text("/proc/slabinfo", buf, sizeof(buf));
	if (ret)
		return ret;
	s->nr_caches = 0;
	line = strchr(buf, '\n');
	line = line ? strchr(line + 1, '\n') : NULL;	/* the two header lines */
	while (line && *++line && s->nr_caches < LKVM_MAX_SLAB_CACHES) {
		if (sscanf(line, "%63s %ld", s->cache[s->nr_caches].name,
			   &s->cache[s->nr_caches].active) == 2)
			s->nr_caches++;
		line = strchr(line, '\n');
	}

	/* Free pages include those parked on the per-CPU lists. */
	ret = lkvm_read_text("/proc/zoneinfo", buf, sizeof(buf));
	if (ret)
		return ret;
	free_pages = lkvm_sum_key(buf, "nr_free_pages") + lkvm_sum_key(buf, "count");
	ret = lkvm_read_text("/proc/vmstat", buf, sizeof(buf));
	if (ret)
		return ret;
	s->kernel_pages = -free_pages - lkvm_sum_key(buf, "nr_file_pages") -
			  lkvm_sum_key(buf, "nr_anon_pages") -
			  lkvm_sum_key(buf, "nr_slab_reclaimable") -
			  lkvm_sum_key(buf, "nr_slab_unreclaimable") -
			  lkvm_sum_key(buf, "nr_page_table_pages") -
			  lkvm_sum_key(buf, "nr_kernel_stack") / 4;
	ret = lkvm_read_text("/proc/meminfo", buf, sizeof(buf));
	if (ret)
		return ret;
	kib = lkvm_sum_key(buf, "MemTotal") - lkvm_sum_key(buf, "VmallocUsed") -
	      lkvm_sum_key(buf, "Percpu");
	s->kernel_pages += kib / 4;
	return 0;
}

int lkvm_mem_grown(const struct lkvm_mem_snapshot *before, const struct lkvm_mem_snapshot *after,
		   long limit, char *buf, size_t len)
{
	long d, top[3] = { 0 }, pages = after->kernel_pages - before->kernel_pages;
	int i, j, k, n, top_i[3] = { -1, -1, -1 }, grown = 0;
	size_t used;

	for (i = 0; i < after->nr_caches; i++) {
		d = after->cache[i].active;
		for (j = 0; j < before->nr_caches; j++)
			if (!strcmp(before->cache[j].name, after->cache[i].name)) {
				d -= before->cache[j].active;
				break;
			}
		if (d >= limit)
			grown++;
		for (k = 0; k < 3; k++)
			if (d > top[k]) {
				memmove(&top[k + 1], &top[k], (2 - k) * sizeof(top[0]));
				memmove(&top_i[k + 1], &top_i[k], (2 - k) * sizeof(top_i[0]));
				top[k] = d;
				top_i[k] = i;
				break;
			}
	}
	if (pages >= limit)
		grown++;
	n = snprintf(buf, len, "kernel pages %+ld; most grown slab caches:", pages);
	used = n < 0 ? 0 : (size_t)n;
	for (k = 0; k < 3 && top_i[k] >= 0 && used < len; k++) {
		n = snprintf(buf + used, len - used, " %s %+ld", after->cache[top_i[k]].name, top[k]);
		used += n < 0 ? 0 : (size_t)n;
	}
	return grown;
}

int lkvm_rdmsr(int cpu, uint32_t msr, uint64_t *val)
{
	char path[64];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/dev/cpu/%d/msr", cpu);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if (system("modprobe -q msr") != 0)
			return -ENOENT;
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0)
		return -errno;
	if (pread(fd, val, sizeof(*val), msr) != sizeof(*val))
		ret = errno ? -errno : -EIO;
	close(fd);
	return ret;
}

int lkvm_nr_cpus(void)
{
	char path[64];
	int n = 0;

	for (;;) {
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d", n);
		if (access(path, F_OK))
			return n;
		n++;
	}
}

int lkvm_cpu_online(int cpu)
{
	char path[80], c;
	int fd;
	ssize_t r;

	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", cpu);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT && cpu == 0 ? 1 : -errno;
	r = read(fd, &c, 1);
	close(fd);
	if (r != 1)
		return -EIO;
	return c == '1';
}

int lkvm_cpu_set_online(int cpu, bool online)
{
	char path[80];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", cpu);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, online ? "1" : "0", 1) != 1)
		ret = -errno;
	close(fd);
	return ret;
}

int64_t lkvm_online_mask(void)
{
	int cpu, n = lkvm_nr_cpus();
	int64_t mask = 0;

	for (cpu = 0; cpu < n && cpu < 63; cpu++)
		if (lkvm_cpu_online(cpu) == 1)
			mask |= 1LL << cpu;
	return mask;
}

int64_t lkvm_svme_mask(void)
{
	int cpu, n = lkvm_nr_cpus();
	int64_t mask = 0;
	uint64_t efer;
	int ret;

	for (cpu = 0; cpu < n && cpu < 63; cpu++) {
		if (lkvm_cpu_online(cpu) != 1)
			continue;
		ret = lkvm_rdmsr(cpu, MSR_EFER, &efer);
		if (ret)
			return ret;
		if (efer & EFER_SVME)
			mask |= 1LL << cpu;
	}
	return mask;
}

int lkvm_kmsg_open(struct lkvm_kmsg *k)
{
	k->fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (k->fd < 0)
		return -errno;
	if (lseek(k->fd, 0, SEEK_END) < 0) {
		close(k->fd);
		return -errno;
	}
	return 0;
}

int lkvm_kmsg_grep(struct lkvm_kmsg *k, const char *needle, char *buf, size_t len)
{
	char rec[2048];
	size_t used = 0;
	int count = 0;
	ssize_t r;

	if (len)
		buf[0] = '\0';
	for (;;) {
		char *msg, *nl;

		r = read(k->fd, rec, sizeof(rec) - 1);
		if (r < 0 && errno == EPIPE)
			continue;
		if (r <= 0)
			break;
		rec[r] = '\0';
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		nl = strchr(msg, '\n');
		if (nl)
			*nl = '\0';
		/* The kernel's once-per-boot taint notes on our module are not ours. */
		if (!strstr(msg, needle) || strstr(msg, "module verification failed") ||
		    strstr(msg, "taints kernel"))
			continue;
		count++;
		if (used + 1 < len)
			used += snprintf(buf + used, len - used, "%s\n", msg);
		if (used >= len)
			used = len - 1;
	}
	return count;
}

void lkvm_kmsg_close(struct lkvm_kmsg *k)
{
	close(k->fd);
}

int lkvm_kvm_open(int *kvm_fd)
{
	int fd;

	if (access("/dev/kvm", F_OK) && system("modprobe -q kvm_amd") != 0)
		return -ENODEV;
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ENODEV : -errno;
	if (ioctl(fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		close(fd);
		return -ENODEV;
	}
	*kvm_fd = fd;
	return 0;
}

/*
 * Real mode at 0x1000:
 *	mov al, 0
 * 1:	inc al
 *	out 0x10, al
 *	jmp 1b
 */
static const uint8_t lkvm_kvm_guest_code[] = {
	0xb0, 0x00, 0xfe, 0xc0, 0xe6, 0x10, 0xeb, 0xfa,
};

#define GUEST_CODE_GPA	0x1000
#define GUEST_PORT	0x10

int lkvm_kvm_guest_create(struct lkvm_kvm_guest *g)
{
	struct kvm_userspace_memory_region region;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int ret;

	memset(g, 0, sizeof(*g));
	g->kvm_fd = g->vm_fd = g->vcpu_fd = -1;
	ret = lkvm_kvm_open(&g->kvm_fd);
	if (ret)
		return ret;

	g->vm_fd = ioctl(g->kvm_fd, KVM_CREATE_VM, 0);
	if (g->vm_fd < 0) {
		ret = -errno;
		goto err;
	}
	g->mem_size = 0x10000;
	g->mem = mmap(NULL, g->mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		      -1, 0);
	if (g->mem == MAP_FAILED) {
		g->mem = NULL;
		ret = -ENOMEM;
		goto err;
	}
	memcpy((char *)g->mem + GUEST_CODE_GPA, lkvm_kvm_guest_code,
	       sizeof(lkvm_kvm_guest_code));
	region = (struct kvm_userspace_memory_region) {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = g->mem_size,
		.userspace_addr = (uintptr_t)g->mem,
	};
	if (ioctl(g->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		goto err_errno;
	g->vcpu_fd = ioctl(g->vm_fd, KVM_CREATE_VCPU, 0);
	if (g->vcpu_fd < 0)
		goto err_errno;
	g->run_size = ioctl(g->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	g->run = mmap(NULL, g->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, g->vcpu_fd, 0);
	if (g->run == MAP_FAILED) {
		g->run = NULL;
		goto err_errno;
	}
	if (ioctl(g->vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		goto err_errno;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(g->vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		goto err_errno;
	memset(&regs, 0, sizeof(regs));
	regs.rip = GUEST_CODE_GPA;
	regs.rflags = 0x2;
	if (ioctl(g->vcpu_fd, KVM_SET_REGS, &regs) < 0)
		goto err_errno;
	return 0;

err_errno:
	ret = -errno;
err:
	lkvm_kvm_guest_destroy(g);
	return ret;
}

int lkvm_kvm_guest_step(struct lkvm_kvm_guest *g)
{
	if (ioctl(g->vcpu_fd, KVM_RUN, 0) < 0)
		return -errno;
	if (g->run->exit_reason != KVM_EXIT_IO || g->run->io.direction != KVM_EXIT_IO_OUT ||
	    g->run->io.port != GUEST_PORT || g->run->io.size != 1)
		return -EPROTO;
	return *((uint8_t *)g->run + g->run->io.data_offset);
}

void lkvm_kvm_guest_destroy(struct lkvm_kvm_guest *g)
{
	if (g->run)
		munmap(g->run, g->run_size);
	if (g->vcpu_fd >= 0)
		close(g->vcpu_fd);
	if (g->vm_fd >= 0)
		close(g->vm_fd);
	if (g->mem)
		munmap(g->mem, g->mem_size);
	if (g->kvm_fd >= 0)
		close(g->kvm_fd);
	memset(g, 0, sizeof(*g));
	g->kvm_fd = g->vm_fd = g->vcpu_fd = -1;
}

int lkvm_ifup(const char *ifname)
{
	struct ifreq ifr = { 0 };
	char path[128];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "1", 1) != 1)
			ret = -errno;
		close(fd);
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	if (!ret && ioctl(fd, SIOCGIFFLAGS, &ifr))
		ret = -errno;
	ifr.ifr_flags |= IFF_UP;
	if (!ret && ioctl(fd, SIOCSIFFLAGS, &ifr))
		ret = -errno;
	close(fd);
	return ret;
}

int lkvm_packet_socket(int ifindex, uint16_t proto)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(proto),
		.sll_ifindex = ifindex,
	};
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(proto));

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		close(fd);
		return -1;
	}
	return fd;
}
