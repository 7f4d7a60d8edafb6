/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the lkvm-lite selftests: the device, loading and
 * unloading the module, reading MSRs and the kernel log, and a tiny
 * kvm_amd guest used as the other hypervisor.
 */
#ifndef LKVM_SELFTEST_UTIL_H
#define LKVM_SELFTEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>
#include <linux/lkvm_lite.h>

#define LKVM_DEV_PATH	"/dev/lkvm_lite"
#define MSR_EFER	0xc0000080
#define EFER_SVME	(1ULL << 12)

/* ioctl() that returns -errno instead of -1, for exact errno checks. */
int lkvm_ioctl(int fd, unsigned long cmd, void *arg);

/* Path of lkvm_lite.ko: $LKVM_MODULE, else kernel/lkvm_lite.ko. */
const char *lkvm_module_path(void);
bool lkvm_module_loaded(void);
/* 0 or -errno from finit_module(). */
int lkvm_module_load(void);
/* 0 or -errno from delete_module(), retried while the module is in use. */
int lkvm_module_unload(void);

/* VmPin of this process in KiB (what is pinned and accounted for it), or -1. */
long lkvm_vm_pin_kb(void);

/* Pins the kernel holds, all users together (nr_foll_pin_acquired - released), or -1. */
long lkvm_foll_pins_held(void);

/*
 * What the kernel holds, for leak checks around a workload: the live
 * objects of every slab cache and the pages that are neither free, page
 * cache, anon, slab nor page tables. lkvm_mem_snapshot() lets deferred
 * frees land first (RCU, kfree_rcu batches: a few seconds) and flushes
 * the per-CPU slabs.
 */
#define LKVM_MAX_SLAB_CACHES	512

struct lkvm_mem_snapshot {
	struct {
		char name[64];
		long active;
	} cache[LKVM_MAX_SLAB_CACHES];
	int nr_caches;
	long kernel_pages;
};

int lkvm_mem_snapshot(struct lkvm_mem_snapshot *s);
/*
 * Compare two snapshots: the number of slab caches that grew by @limit
 * objects or more, plus one if the kernel pages grew by @limit or more.
 * What grew most is described in @buf either way.
 */
int lkvm_mem_grown(const struct lkvm_mem_snapshot *before, const struct lkvm_mem_snapshot *after,
		   long limit, char *buf, size_t len);

/*
 * Try to load the module and collect what it logged: the load's result
 * (0 or -errno), its log lines in @log, their number in @nlines.
 */
int lkvm_module_load_logged(char *log, size_t len, int *nlines);

/*
 * In a harness test: loading must fail with @err, log exactly one line
 * that contains @why, and leave neither module nor device behind.
 */
#define EXPECT_LOAD_REFUSED(err, why) do {					\
	char __log[1024];							\
	int __n = -1;								\
	EXPECT_EQ(err, lkvm_module_load_logged(__log, sizeof(__log), &__n));	\
	EXPECT_EQ(1, __n) TH_LOG("want one kernel log line, got %d:\n%s", __n, __log); \
	EXPECT_NE(NULL, strstr(__log, why)) TH_LOG("log does not say why: %s", __log); \
	EXPECT_FALSE(lkvm_module_loaded());					\
	EXPECT_NE(0, access(LKVM_DEV_PATH, F_OK));				\
} while (0)

/* Read an MSR on @cpu through /dev/cpu/N/msr: 0 or -errno. */
int lkvm_rdmsr(int cpu, uint32_t msr, uint64_t *val);
/* Number of CPUs present (cpu0..cpuN-1 in sysfs). */
int lkvm_nr_cpus(void);
/* 1 online, 0 offline, -errno if it cannot be read. */
int lkvm_cpu_online(int cpu);
/* 0 or -errno. */
int lkvm_cpu_set_online(int cpu, bool online);
/* EFER.SVME of every online CPU in a bitmap (bit n: CPU n), or -errno. */
int64_t lkvm_svme_mask(void);
/* Bitmap of the online CPUs. */
int64_t lkvm_online_mask(void);

/* Kernel log: remember where it ends, then collect what came after. */
struct lkvm_kmsg {
	int fd;
};
int lkvm_kmsg_open(struct lkvm_kmsg *k);
/*
 * Lines logged since open that contain @needle, joined into @buf; the
 * kernel's once-per-boot notes about an unsigned or out-of-tree module
 * (the first load taints the kernel) are left out.
 */
int lkvm_kmsg_grep(struct lkvm_kmsg *k, const char *needle, char *buf, size_t len);
void lkvm_kmsg_close(struct lkvm_kmsg *k);

/*
 * A kvm_amd VM running a real-mode loop that counts up in AL and writes it
 * to port 0x10: each KVM_RUN returns one KVM_EXIT_IO with the next value.
 */
struct lkvm_kvm_guest {
	int kvm_fd, vm_fd, vcpu_fd;
	void *mem;
	size_t mem_size;
	struct kvm_run *run;
	size_t run_size;
};

/* 0, -ENODEV if kvm_amd cannot be used here, or -errno of the failing call. */
int lkvm_kvm_open(int *kvm_fd);
/* 0 or -errno of KVM_CREATE_VM (the step that takes SVM in kvm_amd). */
int lkvm_kvm_guest_create(struct lkvm_kvm_guest *g);
/* Run until the next port write: the byte written, or -errno / -EPROTO. */
int lkvm_kvm_guest_step(struct lkvm_kvm_guest *g);
void lkvm_kvm_guest_destroy(struct lkvm_kvm_guest *g);

/*
 * Network: bring @ifname up, with IPv6 off so that nothing but the test's
 * own frames crosses it (no router solicitations, no DAD). 0 or -errno.
 */
int lkvm_ifup(const char *ifname);
/* An AF_PACKET socket bound to @ifindex for EtherType @proto, or -1. */
int lkvm_packet_socket(int ifindex, uint16_t proto);

#endif /* LKVM_SELFTEST_UTIL_H */
