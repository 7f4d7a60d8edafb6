// SPDX-License-Identifier: GPL-2.0
/*
 * lkvm-lite: the launcher.
 *
 * It only talks to /dev/lkvm_lite: everything a guest does is handled in
 * the module. "info" reports what the loaded module offers, "run" (run.c)
 * boots a Linux guest on the in-kernel platform, "stat" (stat.c) reads a
 * running VM's counters, "trace" (trace.c) watches the module's
 * tracepoints through BPF.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/lkvm_lite.h>

#include "run.h"
#include "stat.h"
#include "trace.h"

#define LKVM_DEV "/dev/lkvm_lite"
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const char usage_text[] =
	"usage: lkvm-lite <command> [options]\n"
	"\n"
	"commands:\n"
	"  info        show the loaded module's API version and capabilities\n"
	"  run         boot a Linux guest (lkvm-lite run --help for its options)\n"
	"  stat        show a running VM's counters: lkvm-lite stat PID [--json] (root)\n"
	"  trace       count every VM's exits by reason, with their latency (eBPF, root)\n"
	"  help        show this text\n";

static int open_dev(void)
{
	int fd = open(LKVM_DEV, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		int err = errno;

		fprintf(stderr, "lkvm-lite: cannot open %s: %s%s\n", LKVM_DEV, strerror(err),
			err == ENOENT ? " (is the lkvm_lite module loaded?)" : "");
	}
	return fd;
}

static const struct {
	unsigned int cap;
	const char *name;
	const char *fmt;
} caps[] = {
	{ LKVM_CAP_SVM, "svm", "%llu" },
	{ LKVM_CAP_SVM_FEATURES, "svm_features", "0x%llx" },
	{ LKVM_CAP_NR_ASIDS, "nr_asids", "%llu" },
	{ LKVM_CAP_VM, "vm", "%llu" },
	{ LKVM_CAP_NR_MEMORY_SLOTS, "nr_memory_slots", "%llu" },
	{ LKVM_CAP_GUEST_PHYS_BITS, "guest_phys_bits", "%llu" },
	{ LKVM_CAP_MAX_VCPUS, "max_vcpus", "%llu" },
	{ LKVM_CAP_RUN, "run", "%llu" },
	{ LKVM_CAP_TEST_EXITS, "test_exits", "%#llx" },
	{ LKVM_CAP_VCPU_STATS, "vcpu_stats", "%llu" },
	{ LKVM_CAP_PLATFORM, "platform", "%llu" },
	{ LKVM_CAP_NET, "net", "%llu" },
	{ LKVM_CAP_VM_STATS, "vm_stats", "%llu" },
};

static int cmd_info(int argc, char **argv)
{
	unsigned int i;
	int fd, version;

	if (argc > 1) {
		fprintf(stderr, "lkvm-lite info: unexpected argument '%s'\n", argv[1]);
		return 2;
	}
	fd = open_dev();
	if (fd < 0)
		return 1;
	version = ioctl(fd, LKVM_GET_API_VERSION, 0);
	if (version < 0) {
		fprintf(stderr, "lkvm-lite: LKVM_GET_API_VERSION on %s: %s\n", LKVM_DEV,
			strerror(errno));
		close(fd);
		return 1;
	}
	printf("api_version %d%s\n", version,
	       version == LKVM_API_VERSION ? "" : " (this launcher speaks another version)");
	for (i = 0; i < ARRAY_SIZE(caps); i++) {
		struct lkvm_cap c = { .cap = caps[i].cap };

		if (ioctl(fd, LKVM_CHECK_CAP, &c) < 0) {
			fprintf(stderr, "lkvm-lite: LKVM_CHECK_CAP(%s): %s\n", caps[i].name,
				strerror(errno));
			close(fd);
			return 1;
		}
		printf("%s ", caps[i].name);
		printf(caps[i].fmt, (unsigned long long)c.value);
		printf("\n");
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage_text, stderr);
		return 2;
	}
	if (!strcmp(argv[1], "info"))
		return cmd_info(argc - 1, argv + 1);
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "stat"))
		return cmd_stat(argc - 1, argv + 1);
	if (!strcmp(argv[1], "trace"))
		return cmd_trace(argc - 1, argv + 1);
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage_text, stdout);
		return 0;
	}
	fprintf(stderr, "lkvm-lite: unknown command '%s'\n%s", argv[1], usage_text);
	return 2;
}
