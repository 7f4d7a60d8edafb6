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
		/* IOIO EXITINFO1 of OUTB to 0x80: port in 31:16, SZ8 in bit 4. */
		if (strstr(line, " reason io ") && strstr(line, " info 0x800010 "))
			io80++;
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
