// SPDX-License-Identifier: GPL-2.0
/*
 * Tracing: a guest performs exactly N CPUIDs, M writes to port 0x80 and K
 * reads of memory outside its RAM (MMIO); the raw tracepoints, read from
 * tracefs, and lkvm-lite trace must both count exactly those. Also what
 * the tool says when it cannot work. And the virtio-net device's events,
 * for a guest that drives the NIC itself (lib/guest_virtio.c): what it
 * sends, what the host sends it, a drop each way, a bad chain, a reset.
 *
 * The guest runs in a child process ("trace_test --workload N M K"), so
 * that its events can be told apart by pid and the tool can trace it as
 * a command.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib/guest.h"
#include "lib/guest_virtio.h"
#include "lib/lkvm_util.h"

#define TRACEFS		"/sys/kernel/tracing"
#define WORKLOAD_N	300	/* CPUIDs */
#define WORKLOAD_M	200	/* writes to port 0x80 */
#define WORKLOAD_K	100	/* MMIO reads */
#define UNBACKED_GPA	0x20000000ULL
#define SVM_EXIT_CPUID	0x72
#define SVM_EXIT_IOIO	0x7b
#define SVM_EXIT_NPF	0x400

static void guest_workload(uint64_t n, uint64_t mk)
{
	uint64_t m = mk >> 32, k = mk & 0xffffffff, i;
	uint32_t eax, ebx, ecx, edx;

	for (i = 0; i < n; i++)
		guest_cpuid(0, &eax, &ebx, &ecx, &edx);
	for (i = 0; i < m; i++)
		guest_outb(0x80, i);
	for (i = 0; i < k; i++)
		GUEST_ASSERT_EQ(*(volatile uint32_t *)UNBACKED_GPA, 0xffffffff);
	GUEST_DONE();
}

/* The child's side: run the guest to its end; 0 on success. */
static int run_workload(uint64_t n, uint64_t m, uint64_t k)
{
	struct guest_opts opts = { .backend = GUEST_LKVM };
	char msg[GUEST_MSG_LEN];
	struct ucall uc;
	struct guest *g;

	g = guest_create(&opts, guest_workload);
	if (!g) {
		fprintf(stderr, "workload: %s\n", guest_error());
		return 1;
	}
	guest_set_args(g, n, (m << 32) | k);
	if (guest_run_expect(g, UCALL_DONE, &uc, msg, sizeof(msg))) {
		fprintf(stderr, "workload: %s\n", msg);
		return 1;
	}
	guest_destroy(g);
	return 0;
}

static char self_path[4096];

/* Fork and exec this program as the workload; its pid, or -1. */
static pid_t spawn_workload(const char *const *prefix)
{
	char n[32], m[32], k[32];
	const char *argv[32];
	int i = 0, j;
	pid_t pid;

	snprintf(n, sizeof(n), "%d", WORKLOAD_N);
	snprintf(m, sizeof(m), "%d", WORKLOAD_M);
	snprintf(k, sizeof(k), "%d", WORKLOAD_K);
	for (j = 0; prefix && prefix[j]; j++)
		argv[i++] = prefix[j];
	argv[i++] = self_path;
	argv[i++] = "--workload";
	argv[i++] = n;
	argv[i++] = m;
	argv[i++] = k;
	argv[i] = NULL;
	pid = fork();
	if (pid == 0) {
		execv(argv[0], (char **)argv);
		_exit(127);
	}
	return pid;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_TRUNC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		ret = -errno;
	close(fd);
	return ret;
}

/* The tracepoints, counted from tracefs: exits of @pid by reason. */
TEST(tracefs_counts_exact)
{
	unsigned long cpuid = 0, io80 = 0, npf = 0, entries = 0, handled = 0;
	char line[512], pidtag[32];
	unsigned long long info1;
	const char *p;
	int status;
	FILE *f;
	pid_t pid;

	if (access(TRACEFS "/events/lkvm_lite/lkvm_exit", F_OK))
		SKIP(return, "no lkvm_lite tracepoints in " TRACEFS);
	ASSERT_EQ(0, write_file(TRACEFS "/tracing_on", "0"));
	ASSERT_EQ(0, write_file(TRACEFS "/buffer_size_kb", "8192"));
	ASSERT_EQ(0, write_file(TRACEFS "/trace", ""));
	ASSERT_EQ(0, write_file(TRACEFS "/events/lkvm_lite/enable", "1"));
	ASSERT_EQ(0, write_file(TRACEFS "/tracing_on", "1"));
	pid = spawn_workload(NULL);
	ASSERT_LT(0, pid);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	write_file(TRACEFS "/tracing_on", "0");
	write_file(TRACEFS "/events/lkvm_lite/enable", "0");
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	snprintf(pidtag, sizeof(pidtag), "-%d ", pid);
	f = fopen(TRACEFS "/trace", "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, pidtag))
			continue;
		if (strstr(line, " lkvm_entry: "))
			entries++;
		if (strstr(line, " lkvm_handled: "))
			handled++;
		if (!strstr(line, " lkvm_exit: "))
			continue;
		if (strstr(line, " reason cpuid "))
			cpuid++;
		/*
		 * IOIO EXITINFO1: the port in bits 31:16; an OUT (bit 0 clear)
		 * of one byte (SZ8, bit 4); the address size bits may vary.
		 */
		p = strstr(line, " reason io ");
		p = p ? strstr(p, " info 0x") : NULL;
		if (p) {
			info1 = strtoull(p + strlen(" info "), NULL, 16);
			if ((info1 >> 16) == 0x80 && (info1 & 0x71) == 0x10)
				io80++;
		}
		if (strstr(line, " reason npf "))
			npf++;
	}
	fclose(f);
	EXPECT_EQ(WORKLOAD_N, cpuid);
	EXPECT_EQ(WORKLOAD_M, io80);
	EXPECT_EQ(WORKLOAD_K, npf);
	/* Every exit was handled, and every entry but the first followed one. */
	EXPECT_EQ(entries, handled);
	EXPECT_LE(WORKLOAD_N + WORKLOAD_M + WORKLOAD_K, entries);
}

/*
 * perf counts a tracepoint's hits, filtered on its fields: the CPUID exits
 * (exit code 0x72) of the workload, exactly.
 */
TEST(perf_counts_exact)
{
	const char *const perf[] = {
		"/usr/bin/perf", "stat", "-x", ",", "-o", "/tmp/trace_test.perf",
		"-e", "lkvm_lite:lkvm_exit", "--filter", "exit_code == 0x72", "--", NULL,
	};
	unsigned long count = 0;
	char line[512];
	int status;
	FILE *f;
	pid_t pid;

	if (access("/usr/bin/perf", X_OK))
		SKIP(return, "no perf");
	pid = spawn_workload(perf);
	ASSERT_LT(0, pid);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	f = fopen("/tmp/trace_test.perf", "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "lkvm_lite:lkvm_exit"))
			count = strtoul(line, NULL, 10);
	fclose(f);
	EXPECT_EQ(WORKLOAD_N, count);
}

#define LAUNCHER	"tools/lkvm-lite/lkvm-lite"
#define TOOL_JSON	"/tmp/trace_test.json"

/* The "count" of exit @reason in the tool's JSON for one VM, or -1. */
static long json_exit_count(const char *json, const char *reason)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "{\"reason\":\"%s\",", reason);
	p = strstr(json, key);
	if (!p)
		return -1;
	p = strstr(p, "\"count\":");
	return p ? strtol(p + strlen("\"count\":"), NULL, 10) : -1;
}

static long json_number(const char *json, const char *name)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "\"%s\":", name);
	p = strstr(json, key);
	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

/* Run the tool as a command's prefix; its exit status, output in @buf. */
static int run_tool(const char *const *prefix, char *buf, size_t len)
{
	int status, fd;
	ssize_t n;
	pid_t pid;

	unlink(TOOL_JSON);
	pid = spawn_workload(prefix);
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	buf[0] = '\0';
	fd = open(TOOL_JSON, O_RDONLY);
	if (fd >= 0) {
		n = read(fd, buf, len - 1);
		buf[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/*
 * Run the tool as a command's prefix with its stderr caught: its exit
 * status, and what it said in @err.
 */
static int run_tool_stderr(const char *const *prefix, char *err, size_t len)
{
	char out[4096];
	int ret, fd, saved;
	ssize_t n;

	fd = open("/tmp/trace_test.err", O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	saved = dup(2);
	dup2(fd, 2);
	ret = run_tool(prefix, out, sizeof(out));
	dup2(saved, 2);
	close(saved);
	n = pread(fd, err, len - 1, 0);
	err[n > 0 ? n : 0] = '\0';
	close(fd);
	return ret;
}

/*
 * lkvm-lite trace, through BPF on the tracepoints: the workload's exits by
 * reason, exactly. Port writes are "io" exits with the closing ucall's one
 * among them (the tool counts by reason, not by port).
 */
TEST(tool_counts_exact)
{
	const char *const tool[] = { LAUNCHER, "trace", "--json", "-o", TOOL_JSON, "--", NULL };
	static char json[65536];

	const char *vm, *cpuid;

	if (access(LAUNCHER, X_OK))
		SKIP(return, "no %s", LAUNCHER);
	ASSERT_EQ(0, run_tool(tool, json, sizeof(json)));
	ASSERT_NE(NULL, strstr(json, "\"vms\":[{")) TH_LOG("%s", json);
	EXPECT_EQ(0, json_number(json, "dropped")) TH_LOG("%s", json);
	/* The VM the workload ran: the only one, run by the tool's child. */
	vm = strstr(json, "{\"vm\":");
	ASSERT_NE(NULL, vm) TH_LOG("%s", json);
	EXPECT_EQ(NULL, strstr(vm + 1, "{\"vm\":")) TH_LOG("more than one VM: %s", json);
	EXPECT_LT(0, json_number(vm, "pid")) TH_LOG("%s", json);
	EXPECT_EQ(WORKLOAD_N, json_exit_count(vm, "cpuid")) TH_LOG("%s", json);
	EXPECT_EQ(WORKLOAD_M + 1, json_exit_count(vm, "io")) TH_LOG("%s", json);
	EXPECT_EQ(WORKLOAD_K, json_exit_count(vm, "npf")) TH_LOG("%s", json);
	/* One return to userspace: the closing GUEST_DONE. */
	EXPECT_EQ(1, json_number(vm, "userspace_exits")) TH_LOG("%s", json);
	EXPECT_EQ(0, json_number(vm, "signal_exits")) TH_LOG("%s", json);
	/* Every CPUID went back into the guest: each has a latency, none is 0. */
	cpuid = strstr(vm, "{\"reason\":\"cpuid\",");
	ASSERT_NE(NULL, cpuid) TH_LOG("%s", json);
	EXPECT_EQ(WORKLOAD_N, json_number(cpuid, "samples")) TH_LOG("%s", json);
	EXPECT_LT(WORKLOAD_N, json_number(cpuid, "sum")) TH_LOG("%s", json);
}

/* Without the module, the tool says so and fails; nothing is left attached. */
TEST(tool_without_module_fails_clearly)
{
	const char *const tool[] = { LAUNCHER, "trace", "--json", "-o", TOOL_JSON, "--", NULL };
	char err[4096];
	int ret;

	if (access(LAUNCHER, X_OK))
		SKIP(return, "no %s", LAUNCHER);
	ASSERT_EQ(0, lkvm_module_unload());
	ret = run_tool_stderr(tool, err, sizeof(err));
	ASSERT_EQ(0, lkvm_module_load());
	EXPECT_NE(0, ret);
	EXPECT_NE(NULL, strstr(err, "lkvm_lite module is not loaded")) TH_LOG("%s", err);
}

/* Without the privilege BPF needs, the tool says what it needs and fails. */
TEST(tool_without_bpf_privilege_fails_clearly)
{
	const char *const tool[] = {
		"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
		"--inh-caps=-all", LAUNCHER, "trace", "--json", "-o", "/tmp/trace_test_nobody.json",
		"--", NULL,
	};
	char err[4096];

	if (access(LAUNCHER, X_OK) || access("/usr/bin/setpriv", X_OK))
		SKIP(return, "no %s or setpriv", LAUNCHER);
	EXPECT_NE(0, run_tool_stderr(tool, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "BPF")) TH_LOG("%s", err);
}

/* ---- The virtio-net events ---- */

#define F_MRG_RXBUF		(1ULL << 15)
#define NET_ETH_G2H		0x88b5
#define NET_ETH_H2G		0x88b6
#define NET_TX_FRAMES		5
#define NET_TX_LEN(i)		(60 + 100 * (i))
/* The sum of NET_TX_LEN(0) to NET_TX_LEN(NET_TX_FRAMES - 1). */
#define NET_TX_BYTES		(NET_TX_FRAMES * 60 + 50 * (NET_TX_FRAMES - 1) * NET_TX_FRAMES)
/* A chain shorter than the header: dropped, not malformed. */
#define NET_TX_SHORT		4
/* With its header, the host's frame takes two of the small buffers. */
#define NET_RX_LEN		114
#define NET_RX_BUF		64
#define NET_NR_RX		8
/* What the guest's status is when the bad chain broke the device. */
#define NET_BROKEN_STATUS	(S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK | \
				 S_NEEDS_RESET)

static const uint8_t net_guest_mac[6] = { 0x02, 0x4c, 0x4b, 0x56, 0x54, 0x01 };

static uint8_t net_hdr[NET_HDR_LEN] __attribute__((aligned(16)));
static uint8_t net_frames[NET_TX_FRAMES][NET_TX_LEN(NET_TX_FRAMES)] __attribute__((aligned(16)));
static uint8_t net_rx[NET_NR_RX][NET_RX_BUF] __attribute__((aligned(64)));

/*
 * Steps, each ending in a sync the host checks and acts on: up; five
 * frames and a short chain on one notify; RX buffers posted; the host's
 * frame found in them; a TX chain with a writable buffer; a reset.
 */
static void guest_net(uint64_t a0, uint64_t a1)
{
	struct vio_vq *tq = &vio.q[TXQ], *rq = &vio.q[RXQ];
	uint64_t offered, status, len = 0;
	uint16_t i, j, used;

	vio_find(VIRTIO_NET_MODERN);
	status = vio_init(F_VERSION_1 | F_MAC | F_MRG_RXBUF, &offered);
	GUEST_SYNC_ARGS(1, status, vio.features, 0);

	for (i = 0; i < NET_TX_FRAMES; i++) {
		uint8_t *f = net_frames[i];

		for (j = 0; j < 6; j++) {
			f[j] = 0xff;
			f[6 + j] = vio.mac[j];
		}
		f[12] = NET_ETH_G2H >> 8;
		f[13] = NET_ETH_G2H & 0xff;
		vio_set_desc(&tq->ring->desc[2 * i], (uintptr_t)net_hdr, NET_HDR_LEN, D_NEXT,
			     2 * i + 1);
		vio_set_desc(&tq->ring->desc[2 * i + 1], (uintptr_t)f, NET_TX_LEN(i), 0, 0);
		vio_publish(tq, 2 * i, 1);
	}
	vio_set_desc(&tq->ring->desc[2 * i], (uintptr_t)net_hdr, NET_TX_SHORT, 0, 0);
	vio_publish(tq, 2 * i, 1);
	vio_notify(TXQ);
	GUEST_SYNC_ARGS(2, vio_wait_used(TXQ, tq->avail_idx), vio_status(), 0);

	for (i = 0; i < NET_NR_RX; i++) {
		vio_set_desc(&rq->ring->desc[i], (uintptr_t)net_rx[i], NET_RX_BUF, D_WRITE, 0);
		vio_publish(rq, i, 1);
	}
	vio_notify(RXQ);
	GUEST_SYNC_ARGS(3, vio_status(), 0, 0);

	vio_wait_used(RXQ, 2);
	used = vio_used_idx(RXQ);
	for (i = 0; i < used; i++)
		len += VOLATILE(rq->ring->used.ring[i].len);
	/* num_buffers, the header's last field, in the frame's first buffer. */
	GUEST_SYNC_ARGS(4, used, net_rx[rq->ring->used.ring[0].id][10], len);

	vio_set_desc(&tq->ring->desc[0], (uintptr_t)net_hdr, NET_HDR_LEN, D_NEXT, 1);
	vio_set_desc(&tq->ring->desc[1], (uintptr_t)net_frames[0], NET_TX_LEN(0), D_WRITE, 0);
	vio_publish(tq, 0, 1);
	vio_notify(TXQ);
	GUEST_SYNC_ARGS(5, vio_status(), 0, 0);

	vio_reset();
	GUEST_SYNC_ARGS(6, vio_status(), 0, 0);
	GUEST_DONE();
}

static int net_host_send(int fd, const uint8_t *dst)
{
	uint8_t f[NET_RX_LEN] = { 0 };
	int i;

	for (i = 0; i < 6; i++) {
		f[i] = dst[i];
		f[6 + i] = 0x02;
	}
	f[12] = NET_ETH_H2G >> 8;
	f[13] = NET_ETH_H2G & 0xff;
	for (i = 14; i < NET_RX_LEN; i++)
		f[i] = i;
	return send(fd, f, sizeof(f), 0) == sizeof(f) ? 0 : -errno;
}

static const char *const net_events[] = {
	"lkvm_net_tx", "lkvm_net_rx", "lkvm_net_drop", "lkvm_net_broken", "lkvm_net_reset",
};

static int net_events_enable(const char *on)
{
	char path[256];
	unsigned int i;
	int ret;

	for (i = 0; i < sizeof(net_events) / sizeof(net_events[0]); i++) {
		snprintf(path, sizeof(path), TRACEFS "/events/lkvm_lite/%s/enable", net_events[i]);
		ret = write_file(path, on);
		if (ret)
			return ret;
	}
	return 0;
}

/* The next guest sync: step @step, its other arguments in @r. */
#define NET_STEP(step, r) do {							\
	struct ucall __uc;							\
										\
	ASSERT_UCALL(g, UCALL_SYNC, &__uc);					\
	ASSERT_EQ(step, __uc.args[0]);						\
	memcpy((r), &__uc.args[1], 3 * sizeof(uint64_t));			\
} while (0)

/*
 * The NIC's events, read from tracefs, for what the guest did and what
 * the host sent it, field by field: the events of this process only (all
 * of them come from its own notifies, sends and resets).
 */
TEST(net_events_exact)
{
	struct guest_opts opts = { .backend = GUEST_LKVM, .platform = true };
	struct lkvm_net net = { .ifname = "lkvmt%d" };
	unsigned int tx = 0, rx = 0, drop_tx = 0, drop_rx = 0, broken = 0, resets = 0;
	unsigned int vm = 0, nic, a, b, c, d, bad_vm = 0;
	unsigned long long bytes;
	char line[512], pidtag[32], s1[32], s2[32];
	struct lkvm_cap cap = { .cap = LKVM_CAP_NET };
	uint64_t r[3];
	struct guest *g;
	const char *p;
	int fd, one = 1;
	struct ucall uc;
	FILE *f;

	if (access(TRACEFS "/events/lkvm_lite/lkvm_net_tx", F_OK))
		SKIP(return, "no lkvm_net_* tracepoints in " TRACEFS);
	fd = open(LKVM_DEV_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	if (ioctl(fd, LKVM_CHECK_CAP, &cap) || !cap.value) {
		close(fd);
		SKIP(return, "no LKVM_CAP_NET");
	}
	close(fd);
	g = guest_create(&opts, guest_net);
	ASSERT_NE(NULL, g) TH_LOG("%s", guest_error());
	memcpy(net.mac, net_guest_mac, 6);
	ASSERT_EQ(0, ioctl(guest_vm_fd(g), LKVM_CREATE_NET, &net)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, lkvm_ifup(net.ifname));
	fd = lkvm_packet_socket(net.ifindex, NET_ETH_H2G);
	ASSERT_LE(0, fd);
	/* Straight to the device in this process: no qdisc waiting for the carrier. */
	ASSERT_EQ(0, setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)));

	ASSERT_EQ(0, write_file(TRACEFS "/tracing_on", "0"));
	ASSERT_EQ(0, write_file(TRACEFS "/trace", ""));
	ASSERT_EQ(0, net_events_enable("1"));
	ASSERT_EQ(0, write_file(TRACEFS "/tracing_on", "1"));

	NET_STEP(1, r);
	ASSERT_EQ(S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK, r[0]);
	ASSERT_EQ(F_VERSION_1 | F_MAC | F_MRG_RXBUF, r[1]);
	NET_STEP(2, r);
	EXPECT_EQ(1, r[0]) TH_LOG("the TX chains never came back");
	EXPECT_EQ(0, r[1] & S_NEEDS_RESET);
	/* No receive buffers yet: dropped. */
	EXPECT_EQ(0, net_host_send(fd, net.mac));
	NET_STEP(3, r);
	EXPECT_EQ(0, net_host_send(fd, net.mac));
	NET_STEP(4, r);
	EXPECT_EQ(2, r[0]) TH_LOG("used entries");
	EXPECT_EQ(2, r[1]) TH_LOG("num_buffers");
	EXPECT_EQ(NET_HDR_LEN + NET_RX_LEN, r[2]);
	NET_STEP(5, r);
	EXPECT_EQ(NET_BROKEN_STATUS, r[0]);
	NET_STEP(6, r);
	EXPECT_EQ(0, r[0]);
	ASSERT_UCALL(g, UCALL_DONE, &uc);

	write_file(TRACEFS "/tracing_on", "0");
	net_events_enable("0");
	close(fd);
	guest_destroy(g);

	snprintf(pidtag, sizeof(pidtag), "-%d ", getpid());
	f = fopen(TRACEFS "/trace", "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f)) {
		p = strstr(line, ": lkvm_net_");
		if (!p || !strstr(line, pidtag))
			continue;
		p += strlen(": ");
		fprintf(stderr, "#   %s", p);
		if (sscanf(strchr(p, ' '), " vm %u nic %u", &a, &nic) != 2)
			continue;
		if (!vm)
			vm = a;
		bad_vm += a != vm || nic != 0;
		if (sscanf(p, "lkvm_net_tx: vm %*u nic %*u %31s chains %u packets %u bytes %llu",
			   s1, &b, &c, &bytes) == 4) {
			/* The five frames and the short chain, then the bad chain's pass. */
			if (!tx) {
				EXPECT_STREQ("notify", s1);
				EXPECT_EQ(NET_TX_FRAMES + 1, b);
				EXPECT_EQ(NET_TX_FRAMES, c);
				EXPECT_EQ(NET_TX_BYTES, bytes);
			} else {
				EXPECT_EQ(0, b);
				EXPECT_EQ(0, c);
			}
			EXPECT_EQ(NULL, strstr(p, "deferred")) TH_LOG("%s", line);
			tx++;
		} else if (sscanf(p, "lkvm_net_rx: vm %*u nic %*u len %u buffers %u irq %31s",
				  &b, &c, s1) == 3) {
			EXPECT_EQ(NET_RX_LEN, b);
			EXPECT_EQ(2, c);
			EXPECT_STREQ("sent", s1);
			rx++;
		} else if (sscanf(p, "lkvm_net_drop: vm %*u nic %*u %31s len %u %31s",
				  s2, &b, s1) == 3) {
			if (!strcmp(s2, "tx")) {
				EXPECT_EQ(NET_TX_SHORT, b);
				EXPECT_STREQ("bad_len", s1);
				drop_tx++;
			} else {
				EXPECT_STREQ("rx", s2);
				EXPECT_EQ(NET_RX_LEN, b);
				EXPECT_STREQ("no_buffer", s1);
				drop_rx++;
			}
		} else if (sscanf(p, "lkvm_net_broken: vm %*u nic %*u queue %u %31s",
				  &b, s1) == 2) {
			EXPECT_EQ(TXQ, b);
			EXPECT_STREQ("writable", s1);
			broken++;
		} else if (sscanf(p, "lkvm_net_reset: vm %*u nic %*u status was %x", &d) == 1) {
			/* vio_init's reset of a fresh device, then the broken one's. */
			EXPECT_EQ(resets ? NET_BROKEN_STATUS : 0, d) TH_LOG("%s", line);
			resets++;
		} else {
			EXPECT_TRUE(false) TH_LOG("an event the test does not know: %s", line);
		}
	}
	fclose(f);
	EXPECT_LT(0, vm);
	EXPECT_EQ(0, bad_vm) TH_LOG("events of another VM or NIC");
	EXPECT_EQ(2, tx);
	EXPECT_EQ(1, rx);
	EXPECT_EQ(1, drop_tx);
	EXPECT_EQ(1, drop_rx);
	EXPECT_EQ(1, broken);
	EXPECT_EQ(2, resets);
}

int main(int argc, char **argv)
{
	ssize_t n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);

	if (n > 0)
		self_path[n] = '\0';
	if (argc == 5 && !strcmp(argv[1], "--workload"))
		return run_workload(strtoull(argv[2], NULL, 0), strtoull(argv[3], NULL, 0),
				    strtoull(argv[4], NULL, 0));
	return test_harness_run(argc, argv);
}
