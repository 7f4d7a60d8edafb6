// SPDX-License-Identifier: GPL-2.0
/*
 * lkvm-lite stat PID: the counters of the VM a running process holds.
 *
 * The counters are read through the VM's own file descriptor, which only
 * the process that made the VM has: it is found among /proc/PID/fd by the
 * name the module gives it, and copied here with pidfd_getfd(), which the
 * kernel allows to whoever may ptrace the process. The vCPU counters come
 * summed over every vCPU, so one call sees the whole VM.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/lkvm_lite.h>

#include "stat.h"

#define LKVM_DEV	"/dev/lkvm_lite"
#define VM_FD_LINK	"anon_inode:lkvm-vm"
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static const char stat_usage[] =
	"usage: lkvm-lite stat PID [--json]\n"
	"\n"
	"Prints the counters of the VM that process PID holds (the first one, if\n"
	"it has several): the vCPU counters summed over its vCPUs, the VM's own,\n"
	"and per packet when its NICs moved any. Needs ptrace permission over PID.\n"
	"\n"
	"  --json      one JSON object instead of a table\n"
	"  -h, --help  show this text\n";

static const char *const vcpu_names[] = {
	[LKVM_STAT_EXITS] = "exits",
	[LKVM_STAT_USERSPACE_EXITS] = "userspace_exits",
	[LKVM_STAT_SIGNAL_EXITS] = "signal_exits",
	[LKVM_STAT_CPUID] = "cpuid",
	[LKVM_STAT_MSR_READ] = "msr_read",
	[LKVM_STAT_MSR_WRITE] = "msr_write",
	[LKVM_STAT_HLT] = "hlt",
	[LKVM_STAT_IO] = "io",
	[LKVM_STAT_MMIO] = "mmio",
	[LKVM_STAT_INTR] = "intr",
	[LKVM_STAT_NMI] = "nmi",
	[LKVM_STAT_SHUTDOWN] = "shutdown",
	[LKVM_STAT_DR_ACCESS] = "dr_access",
	[LKVM_STAT_XSETBV] = "xsetbv",
	[LKVM_STAT_EXCEPTION_INJECTED] = "exception_injected",
	[LKVM_STAT_IRQ_INJECTED] = "irq_injected",
	[LKVM_STAT_HALT_WAKEUPS] = "halt_wakeups",
	[LKVM_STAT_UNCLAIMED_IO] = "unclaimed_io",
	[LKVM_STAT_UNCLAIMED_MMIO] = "unclaimed_mmio",
	[LKVM_STAT_OTHER_EXITS] = "other_exits",
	[LKVM_STAT_GUEST_EXCEPTIONS] = "guest_exceptions",
	[LKVM_STAT_APIC_ACCESS] = "apic_access",
	[LKVM_STAT_APIC_TIMER] = "apic_timer",
	[LKVM_STAT_APIC_EOI] = "apic_eoi",
	[LKVM_STAT_SYSTEM_EVENTS] = "system_events",
	[LKVM_STAT_APIC_IPI_IGNORED] = "apic_ipi_ignored",
	[LKVM_STAT_APIC_PV_EOI] = "apic_pv_eoi",
};

static const char *const vm_names[] = {
	[LKVM_VM_STAT_NET_TX_PACKETS] = "net_tx_packets",
	[LKVM_VM_STAT_NET_TX_BYTES] = "net_tx_bytes",
	[LKVM_VM_STAT_NET_RX_PACKETS] = "net_rx_packets",
	[LKVM_VM_STAT_NET_RX_BYTES] = "net_rx_bytes",
	[LKVM_VM_STAT_NET_TX_DROPPED] = "net_tx_dropped",
	[LKVM_VM_STAT_NET_RX_DROPPED] = "net_rx_dropped",
	[LKVM_VM_STAT_NET_NOTIFY] = "net_notify",
	[LKVM_VM_STAT_NET_IRQS] = "net_irqs",
	[LKVM_VM_STAT_NET_TX_DEFERRED] = "net_tx_deferred",
	[LKVM_VM_STAT_NET_BAD_DESC] = "net_bad_desc",
	[LKVM_VM_STAT_NET_NEEDS_RESET] = "net_needs_reset",
	[LKVM_VM_STAT_IRQ_POSTED] = "irq_posted",
	[LKVM_VM_STAT_IRQ_KICKS] = "irq_kicks",
	[LKVM_VM_STAT_IRQ_NO_EXIT] = "irq_no_exit",
};

struct group {
	const char *key;	/* in the JSON object */
	const char *title;	/* above the table */
	const char *const *names;
	unsigned int nr_names;
	const __u64 *val;
	unsigned int nr;
};

/*
 * Per packet, guest to host and back: how much each frame cost in exits,
 * in interrupts the NICs raised and in trips to userspace (which should
 * stay near zero, the point of an in-kernel device).
 */
struct ratio {
	const char *name;
	double value;
};

/* The lowest fd of @pid that is a VM, or -1 with the reason printed. */
static int find_vm_fd(pid_t pid)
{
	char dir[32], path[300], link[64];
	struct dirent *d;
	int fd = -1, n;
	ssize_t len;
	DIR *fds;
	char *end;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	fds = opendir(dir);
	if (!fds) {
		if (errno == ENOENT)
			fprintf(stderr, "lkvm-lite stat: %d: no such process\n", pid);
		else
			fprintf(stderr, "lkvm-lite stat: %d: cannot read %s: %s\n", pid, dir,
				strerror(errno));
		return -1;
	}
	while ((d = readdir(fds))) {
		n = strtol(d->d_name, &end, 10);
		if (*end || end == d->d_name)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len < 0)
			continue;
		link[len] = '\0';
		if (!strcmp(link, VM_FD_LINK) && (fd < 0 || n < fd))
			fd = n;
	}
	closedir(fds);
	if (fd < 0)
		fprintf(stderr,
			"lkvm-lite stat: %d: the process holds no lkvm_lite VM (no %s in %s)\n",
			pid, VM_FD_LINK, dir);
	return fd;
}

/* @pid's file descriptor @fd, as one of ours. */
static int steal_fd(pid_t pid, int fd)
{
	int pidfd, ours;

	pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		fprintf(stderr, "lkvm-lite stat: %d: pidfd_open: %s\n", pid,
			errno == ESRCH ? "no such process (it exited)" : strerror(errno));
		return -1;
	}
	ours = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	if (ours < 0)
		fprintf(stderr, "lkvm-lite stat: %d: pidfd_getfd of its VM (fd %d) refused: %s%s\n",
			pid, fd, strerror(errno),
			errno == EPERM ? " (ptrace permission over the process is needed)" : "");
	close(pidfd);
	return ours;
}

static int has_vm_stats(pid_t pid)
{
	struct lkvm_cap c = { .cap = LKVM_CAP_VM_STATS };
	int fd = open(LKVM_DEV, O_RDWR | O_CLOEXEC);
	int ok;

	if (fd < 0) {
		fprintf(stderr, "lkvm-lite stat: %d: cannot open %s: %s\n", pid, LKVM_DEV,
			strerror(errno));
		return 0;
	}
	ok = !ioctl(fd, LKVM_CHECK_CAP, &c) && c.value;
	close(fd);
	if (!ok)
		fprintf(stderr,
			"lkvm-lite stat: %d: this lkvm_lite module cannot report VM counters (LKVM_CAP_VM_STATS is 0)\n",
			pid);
	return ok;
}

static void print_table(pid_t pid, int fd, const struct group *g, unsigned int nr_groups,
			const struct ratio *r, unsigned int nr_ratios, __u64 packets)
{
	unsigned int i, j;
	char name[32];

	printf("pid %d, VM fd %d\n", pid, fd);
	for (i = 0; i < nr_groups; i++) {
		printf("\n%s\n", g[i].title);
		for (j = 0; j < g[i].nr; j++) {
			/* A newer module's counters, unnamed here, still show when they count. */
			if (j >= g[i].nr_names || !g[i].names[j]) {
				if (!g[i].val[j])
					continue;
				snprintf(name, sizeof(name), "%s_%u", g[i].key, j);
			} else {
				snprintf(name, sizeof(name), "%s", g[i].names[j]);
			}
			printf("  %-24s %20llu\n", name, (unsigned long long)g[i].val[j]);
		}
	}
	if (!nr_ratios)
		return;
	printf("\nper packet (%llu packets, tx and rx)\n", (unsigned long long)packets);
	for (i = 0; i < nr_ratios; i++)
		printf("  %-24s %20.3f\n", r[i].name, r[i].value);
}

static void print_json(pid_t pid, const struct group *g, unsigned int nr_groups,
		       const struct ratio *r, unsigned int nr_ratios, __u64 packets)
{
	const char *sep;
	unsigned int i, j;

	printf("{\"pid\":%d", pid);
	for (i = 0; i < nr_groups; i++) {
		printf(",\"%s\":{", g[i].key);
		sep = "";
		for (j = 0; j < g[i].nr; j++) {
			if (j >= g[i].nr_names || !g[i].names[j]) {
				if (g[i].val[j])
					printf("%s\"%s_%u\":%llu", sep, g[i].key, j,
					       (unsigned long long)g[i].val[j]);
				else
					continue;
			} else {
				printf("%s\"%s\":%llu", sep, g[i].names[j],
				       (unsigned long long)g[i].val[j]);
			}
			sep = ",";
		}
		printf("}");
	}
	if (nr_ratios) {
		printf(",\"per_packet\":{\"packets\":%llu", (unsigned long long)packets);
		for (i = 0; i < nr_ratios; i++)
			printf(",\"%s\":%.3f", r[i].name, r[i].value);
		printf("}");
	}
	printf("}\n");
}

int cmd_stat(int argc, char **argv)
{
	struct lkvm_vm_stats st = {};
	const struct group groups[] = {
		{ "vcpu", "vCPU counters (summed over the VM's vCPUs)", vcpu_names,
		  ARRAY_SIZE(vcpu_names), st.vcpu, LKVM_VCPU_NR_STATS },
		{ "vm", "VM counters", vm_names, ARRAY_SIZE(vm_names), st.stat, LKVM_VM_NR_STATS },
	};
	const char *pid_arg = NULL;
	struct ratio ratios[3];
	unsigned int nr_ratios = 0;
	bool json = false;
	__u64 packets;
	int i, fd, vm_fd;
	char *end;
	long pid;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
			continue;
		}
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(stat_usage, stdout);
			return 0;
		}
		if (argv[i][0] == '-' || pid_arg) {
			fprintf(stderr, "lkvm-lite stat: unexpected argument '%s'\n%s", argv[i],
				stat_usage);
			return 2;
		}
		pid_arg = argv[i];
	}
	if (!pid_arg) {
		fprintf(stderr, "lkvm-lite stat: which process? (a PID)\n%s", stat_usage);
		return 2;
	}
	errno = 0;
	pid = strtol(pid_arg, &end, 10);
	if (errno || *end || end == pid_arg || pid < 1 || pid > INT_MAX) {
		fprintf(stderr, "lkvm-lite stat: '%s' is not a PID\n", pid_arg);
		return 2;
	}
	fd = find_vm_fd(pid);
	if (fd < 0)
		return 1;
	vm_fd = steal_fd(pid, fd);
	if (vm_fd < 0)
		return 1;
	if (!has_vm_stats(pid)) {
		close(vm_fd);
		return 1;
	}
	if (ioctl(vm_fd, LKVM_GET_VM_STATS, &st) < 0) {
		fprintf(stderr, "lkvm-lite stat: %ld: LKVM_GET_VM_STATS: %s\n", pid,
			strerror(errno));
		close(vm_fd);
		return 1;
	}
	close(vm_fd);

	packets = st.stat[LKVM_VM_STAT_NET_TX_PACKETS] + st.stat[LKVM_VM_STAT_NET_RX_PACKETS];
	if (packets) {
		ratios[nr_ratios++] = (struct ratio){ "exits",
			(double)st.vcpu[LKVM_STAT_EXITS] / packets };
		ratios[nr_ratios++] = (struct ratio){ "interrupts",
			(double)st.stat[LKVM_VM_STAT_NET_IRQS] / packets };
		ratios[nr_ratios++] = (struct ratio){ "userspace_exits",
			(double)st.vcpu[LKVM_STAT_USERSPACE_EXITS] / packets };
	}
	if (json)
		print_json(pid, groups, ARRAY_SIZE(groups), ratios, nr_ratios, packets);
	else
		print_table(pid, fd, groups, ARRAY_SIZE(groups), ratios, nr_ratios, packets);
	return 0;
}
