// SPDX-License-Identifier: GPL-2.0
/*
 * Tracing: a guest performs exactly N CPUIDs, M writes to port 0x80 and K
 * reads of memory outside its RAM (MMIO); the raw tracepoints, read from
 * tracefs, and lkvm-lite trace must both count exactly those. Also what
 * the tool says when it cannot work.
 *
 * The guest runs in a child process ("trace_test --workload N M K"), so
 * that its events can be told apart by pid and the tool can trace it as
 * a command.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib/guest.h"
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
