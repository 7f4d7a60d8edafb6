// SPDX-License-Identifier: GPL-2.0
/*
 * Exit round trip microbenchmark: one guest, built by lib/guest.c, runs a
 * loop of N exits that the hypervisor handles in the kernel, on lkvm_lite
 * or on stock KVM. run-bench.sh runs it on both, side by side.
 *
 * usage: exit_bench lkvm|kvm cpuid|pio N
 *
 *   cpuid: N CPUIDs of leaf 0
 *   pio:   N one-byte writes to port 0x80. lkvm_lite sinks them in the
 *          kernel; on KVM an ioeventfd on the port does the same, so
 *          neither side goes to userspace for them.
 *
 * The time is from the return of the LKVM_RUN/KVM_RUN that brings the
 * guest's GUEST_SYNC(0) to the return of the one that brings GUEST_SYNC(1):
 * N in-kernel exits, one exit to userspace and one re-entry. Prints, one
 * figure a line, "name value":
 *
 *   exit.cpuid_us.lkvm 81.23                 microseconds per exit
 *   exit.cpuid_userspace_exits.lkvm 0        during the loop (lkvm only)
 *
 * Userspace exits during the loop come from LKVM_GET_VCPU_STATS: every
 * return from LKVM_RUN (with an exit reason, or -EINTR for a signal) less
 * the one that ends the loop.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "lib/guest.h"

#define BENCH_PORT	0x80

enum { BENCH_CPUID, BENCH_PIO };

static const char *const bench_names[] = {
	[BENCH_CPUID] = "cpuid",
	[BENCH_PIO] = "pio",
};

static void bench_guest(uint64_t kind, uint64_t n)
{
	uint32_t eax, ebx, ecx, edx;
	uint64_t i;

	GUEST_SYNC(0);
	if (kind == BENCH_CPUID) {
		for (i = 0; i < n; i++)
			guest_cpuid(0, &eax, &ebx, &ecx, &edx);
	} else {
		for (i = 0; i < n; i++)
			guest_outb(BENCH_PORT, i);
	}
	GUEST_SYNC(1);
	GUEST_DONE();
}

static void __attribute__((noreturn)) usage(void)
{
	fprintf(stderr, "usage: exit_bench lkvm|kvm cpuid|pio N\n");
	exit(2);
}

static void __attribute__((noreturn)) die(const char *what, const char *why)
{
	fprintf(stderr, "exit_bench: %s: %s\n", what, why);
	exit(1);
}

/* KVM would take port 0x80 to userspace; an ioeventfd keeps it in the kernel. */
static void kvm_sink_port(struct guest *g)
{
	struct kvm_ioeventfd ioev = {
		.addr = BENCH_PORT,
		.len = 1,
		.flags = KVM_IOEVENTFD_FLAG_PIO,
	};

	ioev.fd = eventfd(0, EFD_CLOEXEC);
	if (ioev.fd < 0)
		die("eventfd", strerror(errno));
	if (ioctl(guest_vm_fd(g), KVM_IOEVENTFD, &ioev) < 0)
		die("KVM_IOEVENTFD", strerror(errno));
}

static void expect_sync(struct guest *g, uint64_t arg)
{
	char msg[GUEST_MSG_LEN];
	struct ucall uc;

	if (guest_run_expect(g, UCALL_SYNC, &uc, msg, sizeof(msg)))
		die("guest", msg);
	if (uc.args[0] != arg) {
		snprintf(msg, sizeof(msg), "GUEST_SYNC(%llu), want %llu",
			 (unsigned long long)uc.args[0], (unsigned long long)arg);
		die("guest", msg);
	}
}

static void stats(struct guest *g, struct lkvm_vcpu_stats *s)
{
	int ret = guest_stats(g, s);

	if (ret)
		die("LKVM_GET_VCPU_STATS", strerror(-ret));
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
	struct lkvm_vcpu_stats before, after;
	struct guest_opts opts = { 0 };
	unsigned long long n;
	struct guest *g;
	double t0, t1;
	char *end;
	int kind;

	if (argc != 4)
		usage();
	if (!strcmp(argv[1], "lkvm"))
		opts.backend = GUEST_LKVM;
	else if (!strcmp(argv[1], "kvm"))
		opts.backend = GUEST_KVM;
	else
		usage();
	if (!strcmp(argv[2], "cpuid"))
		kind = BENCH_CPUID;
	else if (!strcmp(argv[2], "pio"))
		kind = BENCH_PIO;
	else
		usage();
	n = strtoull(argv[3], &end, 0);
	if (*end || !n)
		usage();

	g = guest_create(&opts, bench_guest);
	if (!g) {
		fprintf(stderr, "exit_bench: %s\n", guest_error());
		/* 4: kselftest's "skip", the backend is not here. */
		return errno == ENODEV ? 4 : 1;
	}
	guest_set_args(g, kind, n);
	if (opts.backend == GUEST_KVM && kind == BENCH_PIO)
		kvm_sink_port(g);

	expect_sync(g, 0);
	if (opts.backend == GUEST_LKVM)
		stats(g, &before);
	t0 = now_us();
	expect_sync(g, 1);
	t1 = now_us();
	if (opts.backend == GUEST_LKVM)
		stats(g, &after);

	printf("exit.%s_us.%s %.2f\n", bench_names[kind], argv[1], (t1 - t0) / n);
	if (opts.backend == GUEST_LKVM) {
		long long exits;

		exits = after.stat[LKVM_STAT_USERSPACE_EXITS] -
			before.stat[LKVM_STAT_USERSPACE_EXITS] - 1 +
			after.stat[LKVM_STAT_SIGNAL_EXITS] - before.stat[LKVM_STAT_SIGNAL_EXITS];
		printf("exit.%s_userspace_exits.lkvm %lld\n", bench_names[kind], exits);
	}
	guest_destroy(g);
	return 0;
}
