// SPDX-License-Identifier: GPL-2.0
/*
 * Booting stock Linux: the launcher boots Debian's packaged kernel (the
 * one the test VM runs, unmodified) to a busybox initramfs
 * (selftests/boot/guest-init) on the module's in-kernel platform, and
 * the guest reports on its console what it saw: its command line, its
 * memory, its PCI bus, its clock, its timer interrupts, a command's output. Then it
 * powers off, panics or reboots, and the launcher's exit status and last
 * line must say which.
 *
 * Console lines are timestamped as they arrive, so that the guest's clock
 * can be compared with the host's over the same stretch.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"

#define LAUNCHER	"tools/lkvm-lite/lkvm-lite"
#define GUEST_INITRD	"build/selftests/boot-guest.cpio.gz"
/*
 * Boots take 15 to 30 s in the test VM; one past this has hung. A test
 * retries a hung boot once, so its own limit holds two of them.
 */
#define BOOT_TIMEOUT_S	90
#define TEST_TIMEOUT_S	(2 * BOOT_TIMEOUT_S + 30)
#define MAX_LINES	4096
#define MIB		(1024ULL * 1024)

struct boot {
	int status;		/* as waitpid() gives it; -1: killed on timeout */
	char *console;		/* everything the launcher wrote to stdout */
	size_t console_len;
	char *err;		/* and to stderr */
	size_t err_len;
	/* "LKVM-GUEST-" lines, and when each arrived (CLOCK_MONOTONIC). */
	char *lines[MAX_LINES];
	double at[MAX_LINES];
	int nlines;
	double started;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void append(char **buf, size_t *len, const char *data, size_t n)
{
	*buf = realloc(*buf, *len + n + 1);
	memcpy(*buf + *len, data, n);
	*len += n;
	(*buf)[*len] = '\0';
}

/* Record each complete "LKVM-GUEST-" line that arrived since @from. */
static void scan_lines(struct boot *b, size_t *from, double t)
{
	char *nl;

	while ((nl = memchr(b->console + *from, '\n', b->console_len - *from))) {
		char *line = b->console + *from, *tag = strstr(line, "LKVM-GUEST-");
		size_t n = nl - line;

		if (tag && tag < nl && b->nlines < MAX_LINES) {
			n = nl - tag;
			if (n && tag[n - 1] == '\r')
				n--;
			b->lines[b->nlines] = strndup(tag, n);
			b->at[b->nlines++] = t;
		}
		*from = nl + 1 - b->console;
	}
}

static void boot_run_once(struct boot *b, char *const argv[]);
static void boot_free(struct boot *b);

/*
 * Run the launcher with @argv, stdin /dev/null, until it exits or times
 * out. A boot that hangs is said so and run once more: about one boot in
 * twenty under TCG stalls early (guest time stops; not yet understood,
 * see the issue notes), and a second hang, or any other failure, fails
 * the test.
 */
static void boot_run(struct boot *b, char *const argv[])
{
	boot_run_once(b, argv);
	if (b->status != -1)
		return;
	fprintf(stderr, "# the boot hung (%d s); console tail: %.300s\n# running it again\n",
		BOOT_TIMEOUT_S, b->console_len > 300 ? b->console + b->console_len - 300 : b->console);
	boot_free(b);
	boot_run_once(b, argv);
}

static void boot_run_once(struct boot *b, char *const argv[])
{
	int out[2], err[2], devnull, status;
	size_t scanned = 0;
	char buf[4096];
	pid_t pid;

	memset(b, 0, sizeof(*b));
	if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
		b->status = -1;
		return;
	}
	b->started = now_s();
	pid = fork();
	if (!pid) {
		/* Its own process group: a hung boot's kill reaches lkvm-lite trace's child too. */
		setpgid(0, 0);
		devnull = open("/dev/null", O_RDONLY);
		dup2(devnull, 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	for (;;) {
		struct pollfd p[2] = { { .fd = out[0], .events = POLLIN },
				       { .fd = err[0], .events = POLLIN } };
		int left = (int)((b->started + BOOT_TIMEOUT_S - now_s()) * 1000);
		ssize_t n;

		if (left <= 0 || poll(p, 2, left) == 0) {
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
			b->status = -1;
			goto out;
		}
		if (p[0].revents) {
			n = read(out[0], buf, sizeof(buf));
			if (n <= 0) {
				close(out[0]);
				out[0] = -1;
			} else {
				append(&b->console, &b->console_len, buf, n);
				scan_lines(b, &scanned, now_s());
			}
		}
		if (p[1].revents) {
			n = read(err[0], buf, sizeof(buf));
			if (n <= 0) {
				close(err[0]);
				err[0] = -1;
			} else {
				append(&b->err, &b->err_len, buf, n);
			}
		}
		/* poll() skips a closed pipe's -1. */
		if (out[0] < 0 && err[0] < 0)
			break;
	}
	waitpid(pid, &b->status, 0);
out:
	if (out[0] >= 0)
		close(out[0]);
	if (err[0] >= 0)
		close(err[0]);
	if (!b->console)
		append(&b->console, &b->console_len, "", 0);
	if (!b->err)
		append(&b->err, &b->err_len, "", 0);
}

static void boot_free(struct boot *b)
{
	int i;

	for (i = 0; i < b->nlines; i++)
		free(b->lines[i]);
	free(b->console);
	free(b->err);
}

/* The value after "LKVM-GUEST-@key " in the @nth such line, or NULL. */
static const char *boot_value(struct boot *b, const char *key, int nth, double *at)
{
	size_t klen = strlen(key);
	int i;

	for (i = 0; i < b->nlines; i++) {
		const char *l = b->lines[i] + strlen("LKVM-GUEST-");

		if (strncmp(l, key, klen) || (l[klen] != ' ' && l[klen] != '\0'))
			continue;
		if (nth--)
			continue;
		if (at)
			*at = b->at[i];
		return l[klen] ? l + klen + 1 : l + klen;
	}
	return NULL;
}

/* For a failure message: the end of what the guest and the launcher said. */
static const char *boot_tail(struct boot *b)
{
	static char msg[6144];
	size_t n = b->console_len > 4096 ? 4096 : b->console_len;

	snprintf(msg, sizeof(msg), "status %#x\n--- console (last %zu bytes) ---\n%s\n--- stderr ---\n%s",
		 b->status, n, b->console + b->console_len - n, b->err);
	return msg;
}

static bool launcher_exited(struct boot *b, int code)
{
	return b->status >= 0 && WIFEXITED(b->status) && WEXITSTATUS(b->status) == code;
}

static char kernel[256];

/* What a stock kernel prints when its platform disappoints it. */
static const char *const complaints[] = {
	"WARNING:", "BUG:", "Call Trace", "unchecked MSR access", "Oops",
	"Unable to open an initial console", "XSAVE consistency problem",
};

FIXTURE(boot) {
	char params[512];
};

FIXTURE_SETUP(boot)
{
	struct utsname u;

	if (access("/dev/lkvm_lite", F_OK))
		SKIP(return, "lkvm_lite is not loaded");
	ASSERT_EQ(0, uname(&u));
	snprintf(kernel, sizeof(kernel), "/boot/vmlinuz-%s", u.release);
	if (access(kernel, R_OK))
		SKIP(return, "no readable %s to boot", kernel);
	ASSERT_EQ(0, access(LAUNCHER, X_OK)) TH_LOG("%s: %s", LAUNCHER, strerror(errno));
	ASSERT_EQ(0, access(GUEST_INITRD, R_OK)) TH_LOG("%s: %s", GUEST_INITRD, strerror(errno));
}

FIXTURE_TEARDOWN(boot)
{
}

/*
 * Power-off after a full report: the command line, memory as given, a
 * clock that is kvmclock and runs at the host's rate, timer interrupts,
 * a command that ran.
 */
TEST_F_TIMEOUT(boot, poweroff_reports_memory_clock_timer, TEST_TIMEOUT_S)
{
	char *argv[] = { LAUNCHER, "run", "-k", kernel, "-i", GUEST_INITRD, "-m", "256M",
			 "-p", self->params, NULL };
	double t0, t1, guest_dt, host_dt;
	const char *v, *v0, *v1;
	unsigned long long ram;
	struct utsname u;
	struct boot b;
	long irqs0, irqs1;
	unsigned int i;

	snprintf(self->params, sizeof(self->params),
		 "lkvm.test=poweroff lkvm.cmd=uname lkvm.token=%d", getpid());
	boot_run(&b, argv);
	ASSERT_TRUE(launcher_exited(&b, 0)) TH_LOG("%s", boot_tail(&b));
	EXPECT_NE(NULL, strstr(b.err, "guest powered off")) TH_LOG("%s", boot_tail(&b));
	ASSERT_NE(NULL, boot_value(&b, "INIT", 0, NULL)) TH_LOG("%s", boot_tail(&b));
	ASSERT_NE(NULL, boot_value(&b, "DONE", 0, NULL)) TH_LOG("%s", boot_tail(&b));
	/* The platform gave the guest nothing to complain about. */
	for (i = 0; i < ARRAY_SIZE(complaints); i++) {
		const char *hit = strstr(b.console, complaints[i]);

		EXPECT_EQ(NULL, hit) TH_LOG("the guest's console has: %.300s", hit ? hit : "");
	}

	v = boot_value(&b, "CMDLINE", 0, NULL);
	ASSERT_NE(NULL, v);
	EXPECT_NE(NULL, strstr(v, self->params)) TH_LOG("guest command line: %s", v);
	EXPECT_NE(NULL, strstr(v, "console=ttyS0")) TH_LOG("guest command line: %s", v);

	/* Every byte of -m but the legacy hole (0x9fc00-0x100000) is RAM. */
	v = boot_value(&b, "E820-RAM", 0, NULL);
	ASSERT_NE(NULL, v);
	ram = strtoull(v, NULL, 0);
	EXPECT_LE(ram, 256 * MIB) TH_LOG("firmware map RAM %llu bytes", ram);
	EXPECT_GE(ram, 255 * MIB) TH_LOG("firmware map RAM %llu bytes", ram);
	v = boot_value(&b, "MEMTOTAL-KB", 0, NULL);
	ASSERT_NE(NULL, v);
	EXPECT_GT(strtoull(v, NULL, 0), 128 * 1024) TH_LOG("MemTotal %s kB", v);
	EXPECT_LE(strtoull(v, NULL, 0), 256 * 1024) TH_LOG("MemTotal %s kB", v);

	/* PCI configuration space: the guest's scan found the host bridge. */
	v = boot_value(&b, "PCI", 0, NULL);
	ASSERT_NE(NULL, v);
	EXPECT_NE(NULL, strstr(v, "0000:00:00.0")) TH_LOG("guest PCI devices: '%s'", v);

	v = boot_value(&b, "CLOCKSOURCE", 0, NULL);
	ASSERT_NE(NULL, v);
	EXPECT_STREQ("kvm-clock", v);
	v = boot_value(&b, "WALLCLOCK", 0, NULL);
	ASSERT_NE(NULL, v);
	EXPECT_LT(llabs(strtoll(v, NULL, 0) - (long long)time(NULL)), 120)
		TH_LOG("guest time of day %s, host %lld", v, (long long)time(NULL));

	/* The guest slept 3 s by its clock: the host saw as much, within 5%. */
	v0 = boot_value(&b, "UPTIME0", 0, &t0);
	v1 = boot_value(&b, "UPTIME1", 0, &t1);
	ASSERT_NE(NULL, v0);
	ASSERT_NE(NULL, v1);
	guest_dt = strtod(v1, NULL) - strtod(v0, NULL);
	host_dt = t1 - t0;
	EXPECT_GE(guest_dt, 3.0) TH_LOG("guest slept %.2f s", guest_dt);
	EXPECT_LT(guest_dt > host_dt ? guest_dt - host_dt : host_dt - guest_dt, 0.05 * host_dt)
		TH_LOG("guest clock %.3f s against host clock %.3f s", guest_dt, host_dt);

	/* Sleeping needs the timer: local APIC timer interrupts came. */
	v0 = boot_value(&b, "TIMER-IRQS", 0, NULL);
	v1 = boot_value(&b, "TIMER-IRQS", 1, NULL);
	ASSERT_NE(NULL, v0);
	ASSERT_NE(NULL, v1);
	irqs0 = strtol(v0, NULL, 0);
	irqs1 = strtol(v1, NULL, 0);
	EXPECT_GT(irqs0, 0);
	EXPECT_GT(irqs1, irqs0);

	ASSERT_EQ(0, uname(&u));
	v = boot_value(&b, "CMD-OUTPUT", 0, NULL);
	ASSERT_NE(NULL, v);
	EXPECT_STREQ(u.sysname, v);
	boot_free(&b);
}

/* A panic ends the launcher non-zero, with the kernel's reason. */
TEST_F_TIMEOUT(boot, panic_exits_nonzero_with_reason, TEST_TIMEOUT_S)
{
	char *argv[] = { LAUNCHER, "run", "-k", kernel, "-i", GUEST_INITRD, "-m", "128M",
			 "-p", "lkvm.test=panic", NULL };
	struct boot b;

	boot_run(&b, argv);
	ASSERT_TRUE(launcher_exited(&b, 1)) TH_LOG("%s", boot_tail(&b));
	ASSERT_NE(NULL, boot_value(&b, "INIT", 0, NULL)) TH_LOG("%s", boot_tail(&b));
	EXPECT_NE(NULL, strstr(b.err, "guest panicked")) TH_LOG("%s", boot_tail(&b));
	EXPECT_NE(NULL, strstr(b.err, "sysrq")) TH_LOG("%s", boot_tail(&b));
	boot_free(&b);
}

/* A reboot ends the launcher with status 0 and says so. */
TEST_F_TIMEOUT(boot, reboot_exits_zero, TEST_TIMEOUT_S)
{
	char *argv[] = { LAUNCHER, "run", "-k", kernel, "-i", GUEST_INITRD, "-m", "128M",
			 "-p", "lkvm.test=reboot", NULL };
	struct boot b;

	boot_run(&b, argv);
	ASSERT_TRUE(launcher_exited(&b, 0)) TH_LOG("%s", boot_tail(&b));
	ASSERT_NE(NULL, boot_value(&b, "INIT", 0, NULL)) TH_LOG("%s", boot_tail(&b));
	EXPECT_NE(NULL, strstr(b.err, "guest rebooted")) TH_LOG("%s", boot_tail(&b));
	EXPECT_EQ(NULL, strstr(b.err, "panicked")) TH_LOG("%s", boot_tail(&b));
	boot_free(&b);
}

/* No -k, no -i: the host's own kernel and the launcher's built-in guest. */
TEST_F_TIMEOUT(boot, default_guest, TEST_TIMEOUT_S)
{
	char *argv[] = { LAUNCHER, "run", "-m", "128M", NULL };
	struct utsname u;
	struct boot b;

	ASSERT_EQ(0, uname(&u));
	boot_run(&b, argv);
	ASSERT_TRUE(launcher_exited(&b, 0)) TH_LOG("%s", boot_tail(&b));
	EXPECT_NE(NULL, strstr(b.console, "lkvm-lite default guest")) TH_LOG("%s", boot_tail(&b));
	EXPECT_NE(NULL, strstr(b.console, u.release)) TH_LOG("%s", boot_tail(&b));
	EXPECT_NE(NULL, strstr(b.err, "guest powered off")) TH_LOG("%s", boot_tail(&b));
	boot_free(&b);
}

/* Count of exits of @reason in lkvm-lite trace's JSON, -1 if absent. */
static long trace_count(const char *json, const char *reason)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "\"reason\":\"%s\",", reason);
	p = strstr(json, key);
	if (!p)
		return -1;
	p = strstr(p, "\"count\":");
	return p ? strtol(p + strlen("\"count\":"), NULL, 10) : -1;
}

/*
 * lkvm-lite trace against a booted Linux guest: every exit of the whole
 * boot is counted, by reason, and the only return to userspace is the
 * power-off that ends it.
 */
TEST_F_TIMEOUT(boot, traced_boot_counts_exits, TEST_TIMEOUT_S)
{
	char json_path[] = "/tmp/boot_test-trace-XXXXXX";
	char *argv[] = { LAUNCHER, "trace", "--json", "-o", json_path, "--", LAUNCHER, "run",
			 "-k", kernel, "-i", GUEST_INITRD, "-m", "128M", "-p", "lkvm.test=poweroff",
			 NULL };
	char json[65536];
	struct boot b;
	ssize_t n;
	int fd;

	fd = mkstemp(json_path);
	ASSERT_LE(0, fd);
	boot_run(&b, argv);
	n = read(fd, json, sizeof(json) - 1);
	close(fd);
	unlink(json_path);
	ASSERT_TRUE(launcher_exited(&b, 0)) TH_LOG("%s", boot_tail(&b));
	ASSERT_NE(NULL, boot_value(&b, "INIT", 0, NULL)) TH_LOG("%s", boot_tail(&b));
	ASSERT_LT(0, n);
	json[n] = '\0';
	EXPECT_NE(NULL, strstr(json, "\"userspace_exits\":1,")) TH_LOG("%s", json);
	/*
	 * A Linux boot reads MSRs, writes its console and maps the IOAPIC;
	 * guest-init's sleep of 3 s halts (a boot alone may never idle).
	 */
	EXPECT_LT(100, trace_count(json, "msr")) TH_LOG("%s", json);
	EXPECT_LT(1000, trace_count(json, "io")) TH_LOG("%s", json);
	EXPECT_LT(0, trace_count(json, "hlt")) TH_LOG("%s", json);
	EXPECT_LT(0, trace_count(json, "npf")) TH_LOG("%s", json);
	EXPECT_LT(0, trace_count(json, "cpuid")) TH_LOG("%s", json);
	boot_free(&b);
}

TEST_HARNESS_MAIN
