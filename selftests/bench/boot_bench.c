// SPDX-License-Identifier: GPL-2.0
/*
 * Boot time and VMM memory: run one VMM command line that boots a Linux
 * guest to selftests/boot/guest-init with lkvm.test=init (init reports,
 * then powers off), and measure from launch:
 *
 *   boot.to_init_s.NAME     until the guest's "LKVM-GUEST-INIT" line arrives
 *   boot.to_exit_s.NAME     until the VMM process has exited
 *   mem.vmm_rss_kib.NAME    the VMM's peak resident memory, guest RAM excluded
 *
 * The same program runs lkvm-lite and QEMU, so both are measured alike.
 * Resident memory is sampled from /proc/PID/smaps every 10 ms: the sum of
 * every mapping's Rss, less that of guest RAM, which is the one anonymous
 * mapping whose size is the guest's memory (plus at most 4 MiB of
 * alignment slack, as QEMU allocates it). lkvm-lite pins all guest RAM,
 * QEMU only what the guest touched; neither counts here.
 *
 * usage: boot_bench NAME MEM_MIB COMMAND [ARG]...
 * Prints the three "name value" lines; exits 1 if the guest's init never
 * reported or the VMM failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MARKER		"LKVM-GUEST-INIT"
/* Eight times the usual boot under TCG: a VMM still at it has hung. */
#define TIMEOUT_S	240
#define SAMPLE_MS	10

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Resident KiB of @pid, less its guest RAM mapping's; -1 if unreadable. */
static long vmm_rss_kib(pid_t pid, unsigned long long mem_kib)
{
	unsigned long long start, end, size_kib = 0;
	long total = 0, guest = 0, rss;
	bool anon = false;
	char path[64], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char name[256] = "";

		/* A mapping's header line; only those start "start-end ". */
		if (sscanf(line, "%llx-%llx %*s %*s %*s %*s %255s", &start, &end, name) >= 2) {
			size_kib = (end - start) / 1024;
			anon = !name[0];
			continue;
		}
		if (sscanf(line, "Rss: %ld kB", &rss) == 1) {
			total += rss;
			if (anon && size_kib >= mem_kib && size_kib <= mem_kib + 4096 && rss > guest)
				guest = rss;
		}
	}
	fclose(f);
	return total - guest;
}

int main(int argc, char **argv)
{
	double start, t_init = -1, t_exit;
	unsigned long long mem_kib;
	long peak = -1, rss;
	/* What came since the last read's end, and the bytes before: a marker may straddle. */
	char buf[4096], win[sizeof(MARKER) + sizeof(buf)];
	size_t keep = 0, len;
	int out[2], status, devnull;
	bool open_out = true;
	pid_t pid;

	if (argc < 4) {
		fprintf(stderr, "usage: boot_bench NAME MEM_MIB COMMAND [ARG]...\n");
		return 2;
	}
	mem_kib = strtoull(argv[2], NULL, 0) * 1024;
	if (pipe2(out, O_CLOEXEC)) {
		perror("boot_bench: pipe");
		return 1;
	}
	start = now_s();
	pid = fork();
	if (!pid) {
		devnull = open("/dev/null", O_RDWR);
		dup2(devnull, 0);
		dup2(out[1], 1);
		dup2(devnull, 2);
		execvp(argv[3], argv + 3);
		_exit(127);
	}
	close(out[1]);
	for (;;) {
		struct pollfd p = { .fd = open_out ? out[0] : -1, .events = POLLIN };
		ssize_t n;

		if (now_s() - start > TIMEOUT_S) {
			fprintf(stderr, "boot_bench: %s: no exit after %d s\n", argv[1], TIMEOUT_S);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return 1;
		}
		if (poll(&p, 1, SAMPLE_MS) > 0) {
			n = read(out[0], buf, sizeof(buf));
			if (n <= 0) {
				open_out = false;
			} else if (t_init < 0) {
				memcpy(win + keep, buf, n);
				len = keep + n;
				if (memmem(win, len, MARKER, strlen(MARKER)))
					t_init = now_s() - start;
				keep = len < strlen(MARKER) ? len : strlen(MARKER) - 1;
				memmove(win, win + len - keep, keep);
			}
		}
		rss = vmm_rss_kib(pid, mem_kib);
		if (rss > peak)
			peak = rss;
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
	}
	t_exit = now_s() - start;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "boot_bench: %s: %s exited with status %#x\n", argv[1], argv[3],
			status);
		return 1;
	}
	if (t_init < 0) {
		fprintf(stderr, "boot_bench: %s: the guest's init never reported\n", argv[1]);
		return 1;
	}
	printf("boot.to_init_s.%s %.2f\n", argv[1], t_init);
	printf("boot.to_exit_s.%s %.2f\n", argv[1], t_exit);
	printf("mem.vmm_rss_kib.%s %ld\n", argv[1], peak);
	return 0;
}
