// SPDX-License-Identifier: GPL-2.0
/*
 * lkvm-lite run and stat: what they refuse, and how they say so. Every
 * refusal ends with a non-zero status and a message that names the file,
 * option or process at fault; the bad files are made here, most from a
 * copy of the host's own kernel. Booting a guest is boot_test's business,
 * except that a launcher must be running for its NICs to exist and for
 * "stat" to read its counters.
 *
 * Runs from the repository's top directory, where the launcher is
 * tools/lkvm-lite/lkvm-lite.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/capability.h>

#include "kselftest_harness.h"
#include "lib/lkvm_util.h"

#define LAUNCHER	"tools/lkvm-lite/lkvm-lite"
#define OUT_MAX		16384
#define XLOADFLAGS	0x236
#define BOOT_FLAG	0x1fe
#define HDR_MAGIC	0x202
#define HDR_VERSION	0x206
#define ARGS_MAX	96
#define NET_PCI_MAX	31	/* PCI bus 0's slots less the host bridge */
#define WAIT_S		60	/* for a booting launcher under TCG to get somewhere */

struct result {
	int status;		/* the exit status, or -1 if it did not exit */
	char out[OUT_MAX];
	char err[OUT_MAX];
};

static void slurp(FILE *f, char *buf)
{
	size_t n;

	rewind(f);
	n = fread(buf, 1, OUT_MAX - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/*
 * Run "lkvm-lite CMD ARGS..." with stdin from /dev/null; @prep, if any,
 * runs in the child just before exec. Its status and what it printed.
 */
static void run_command(const char *cmd, const char *const *args, void (*prep)(void),
			struct result *r)
{
	const char *argv[ARGS_MAX + 3] = { LAUNCHER, cmd };
	FILE *out = tmpfile(), *err = tmpfile();
	int i, status, null;
	pid_t pid;

	for (i = 0; args[i] && i < ARGS_MAX; i++)
		argv[i + 2] = args[i];
	r->status = -1;
	r->out[0] = '\0';
	r->err[0] = '\0';
	if (!out || !err)
		return;
	pid = fork();
	if (pid == 0) {
		null = open("/dev/null", O_RDONLY);
		dup2(null, STDIN_FILENO);
		dup2(fileno(out), STDOUT_FILENO);
		dup2(fileno(err), STDERR_FILENO);
		if (prep)
			prep();
		execv(LAUNCHER, (char **)argv);
		_exit(127);
	}
	if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status))
		r->status = WEXITSTATUS(status);
	slurp(out, r->out);
	slurp(err, r->err);
}

static void run_launcher(const char *const *args, void (*prep)(void), struct result *r)
{
	run_command("run", args, prep, r);
}

/* The launcher must refuse, and say something that contains @what. */
#define EXPECT_REFUSED(r, what) do {						\
	EXPECT_NE(0, (r)->status) TH_LOG("status 0; stderr: %s", (r)->err);	\
	EXPECT_NE(-1, (r)->status) TH_LOG("did not exit; stderr: %s", (r)->err); \
	EXPECT_NE(127, (r)->status) TH_LOG("could not run " LAUNCHER);	\
	EXPECT_NE(NULL, strstr((r)->err, what))				\
		TH_LOG("stderr does not name '%s': %s", what, (r)->err);	\
} while (0)

static char host_kernel[256];

/* The host's kernel, which the launcher boots when given no -k. */
static const char *get_host_kernel(void)
{
	struct utsname u;

	uname(&u);
	snprintf(host_kernel, sizeof(host_kernel), "/boot/vmlinuz-%s", u.release);
	return access(host_kernel, R_OK) ? NULL : host_kernel;
}

/*
 * A root child loses capabilities across exec only if its bounding and
 * inheritable sets lose them: uid 0 regains everything else.
 */
static void drop_caps(const int *caps, int n)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {};
	int i;

	for (i = 0; i < n; i++)
		prctl(PR_CAPBSET_DROP, caps[i], 0, 0, 0);
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (!syscall(SYS_capget, &h, d)) {
		for (i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
			d[i].inheritable = 0;
		syscall(SYS_capset, &h, d);
	}
}

static void prep_no_dac_override(void)
{
	const int caps[] = { CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH };

	drop_caps(caps, 2);
}

#define MEMLOCK_LIMIT	(64ULL << 20)

static void prep_small_memlock(void)
{
	const int caps[] = { CAP_IPC_LOCK };
	struct rlimit rl = { MEMLOCK_LIMIT, MEMLOCK_LIMIT };

	drop_caps(caps, 1);
	setrlimit(RLIMIT_MEMLOCK, &rl);
}

FIXTURE(files) {
	char dir[64];
	char path[4][128];
	int n;
};

FIXTURE_SETUP(files)
{
	strcpy(self->dir, "/tmp/launcher_test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	self->n = 0;
}

FIXTURE_TEARDOWN(files)
{
	int i;

	for (i = 0; i < self->n; i++)
		unlink(self->path[i]);
	rmdir(self->dir);
}

/* A new file in the fixture's directory, @len bytes of @data (or a hole). */
static const char *make_file(FIXTURE_DATA(files) *self, const char *name, const void *data,
			     size_t len, mode_t mode)
{
	char *path = self->path[self->n++], dir[sizeof(self->dir)];
	int fd;

	strcpy(dir, self->dir);
	snprintf(path, sizeof(self->path[0]), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return NULL;
	if (data ? write(fd, data, len) != (ssize_t)len : ftruncate(fd, len) != 0) {
		close(fd);
		return NULL;
	}
	fchmod(fd, mode);
	close(fd);
	return path;
}

/* The first @len bytes of the host's kernel (all if 0), in @buf, malloced. */
static size_t read_host_kernel(uint8_t **buf, size_t len)
{
	const char *k = get_host_kernel();
	struct stat st;
	size_t n = 0;
	ssize_t got;
	int fd;

	*buf = NULL;
	if (!k)
		return 0;
	fd = open(k, O_RDONLY);
	if (fd < 0 || fstat(fd, &st) < 0)
		return 0;
	if (!len || len > (size_t)st.st_size)
		len = st.st_size;
	*buf = malloc(len);
	while (*buf && n < len && (got = read(fd, *buf + n, len - n)) > 0)
		n += got;
	close(fd);
	return n;
}

TEST(help_lists_every_option)
{
	const char *const args[] = { "--help", NULL };
	const char *const opts[] = {
		"-k, --kernel", "-i, --initrd", "-p, --params", "-m, --mem", "-c, --cpus",
		"--console", "-h, --help",
	};
	struct result r;
	unsigned int i;

	run_launcher(args, NULL, &r);
	ASSERT_EQ(0, r.status) TH_LOG("stderr: %s", r.err);
	/* Braces: an EXPECT with its TH_LOG is more than one statement. */
	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		EXPECT_NE(NULL, strstr(r.out, opts[i])) TH_LOG("no '%s' in: %s", opts[i], r.out);
	}
}

TEST(unknown_option)
{
	const char *const args[] = { "--frobnicate", NULL };
	struct result r;

	run_launcher(args, NULL, &r);
	EXPECT_REFUSED(&r, "--frobnicate");
}

TEST(option_without_value)
{
	const char *const args[] = { "-m", NULL };
	struct result r;

	run_launcher(args, NULL, &r);
	EXPECT_REFUSED(&r, "'-m' needs a value");
}

TEST(unexpected_argument)
{
	const char *const args[] = { "bzImage", NULL };
	struct result r;

	run_launcher(args, NULL, &r);
	EXPECT_REFUSED(&r, "'bzImage'");
}

TEST(mem_bad_syntax)
{
	const char *const args[] = { "-m", "12X", NULL };
	struct result r;

	run_launcher(args, NULL, &r);
	EXPECT_REFUSED(&r, "-m 12X");
}

TEST(mem_too_small)
{
	const char *const args[] = { "-m", "16M", NULL };
	struct result r;

	run_launcher(args, NULL, &r);
	EXPECT_REFUSED(&r, "-m 16M: too little memory");
}

TEST(mem_more_than_host)
{
	const char *const args[] = { "-m", "100000G", NULL };
	struct result r;

	run_launcher(args, NULL, &r);
	EXPECT_REFUSED(&r, "-m 100000G: more than the host");
}

TEST(mem_over_memlock_limit)
{
	const char *const args[] = { "-m", "128M", NULL };
	struct result r;

	run_launcher(args, prep_small_memlock, &r);
	EXPECT_REFUSED(&r, "-m 128M");
	EXPECT_NE(NULL, strstr(r.err, "RLIMIT_MEMLOCK")) TH_LOG("%s", r.err);
}

TEST(cpus_above_one)
{
	const char *const args[] = { "-c", "2", NULL };
	struct result r;

	run_launcher(args, NULL, &r);
	EXPECT_REFUSED(&r, "-c 2");
}

TEST(cpus_not_a_number)
{
	const char *const args[] = { "-c", "many", NULL };
	struct result r;

	run_launcher(args, NULL, &r);
	EXPECT_REFUSED(&r, "-c many");
}

TEST(console_bad_value)
{
	const char *const args[] = { "--console", "vga", NULL };
	struct result r;

	run_launcher(args, NULL, &r);
	EXPECT_REFUSED(&r, "--console vga");
}

TEST(kernel_missing)
{
	const char *const args[] = { "-k", "/nonexistent/bzImage", NULL };
	struct result r;

	run_launcher(args, NULL, &r);
	EXPECT_REFUSED(&r, "/nonexistent/bzImage");
}

TEST_F(files, kernel_unreadable)
{
	const char *k = make_file(self, "bzImage", NULL, 4096, 0);
	const char *const args[] = { "-k", k, NULL };
	struct result r;

	ASSERT_NE(NULL, k);
	run_launcher(args, prep_no_dac_override, &r);
	EXPECT_REFUSED(&r, k);
	EXPECT_NE(NULL, strstr(r.err, strerror(EACCES))) TH_LOG("%s", r.err);
}

TEST_F(files, kernel_not_a_bzimage)
{
	const char *k = make_file(self, "zeros", NULL, 65536, 0644);
	const char *const args[] = { "-k", k, NULL };
	struct result r;

	ASSERT_NE(NULL, k);
	run_launcher(args, NULL, &r);
	EXPECT_REFUSED(&r, k);
	EXPECT_NE(NULL, strstr(r.err, "not a bzImage")) TH_LOG("%s", r.err);
}

TEST_F(files, kernel_truncated)
{
	const char *args[] = { "-k", NULL, NULL };
	struct result r;
	uint8_t *img;
	size_t n;

	n = read_host_kernel(&img, 65536);
	if (n < 65536)
		SKIP(return, "cannot read the host's kernel");
	args[1] = make_file(self, "truncated", img, n, 0644);
	free(img);
	ASSERT_NE(NULL, args[1]);
	run_launcher(args, NULL, &r);
	EXPECT_REFUSED(&r, args[1]);
	EXPECT_NE(NULL, strstr(r.err, "truncated")) TH_LOG("%s", r.err);
}

TEST_F(files, kernel_old_boot_protocol)
{
	const char *args[] = { "-k", NULL, NULL };
	uint8_t img[8192] = {};
	struct result r;

	img[BOOT_FLAG] = 0x55;
	img[BOOT_FLAG + 1] = 0xaa;
	memcpy(img + HDR_MAGIC, "HdrS", 4);
	img[HDR_VERSION] = 0x00;
	img[HDR_VERSION + 1] = 0x02;
	args[1] = make_file(self, "old", img, sizeof(img), 0644);
	ASSERT_NE(NULL, args[1]);
	run_launcher(args, NULL, &r);
	EXPECT_REFUSED(&r, args[1]);
	EXPECT_NE(NULL, strstr(r.err, "boot protocol 2.00")) TH_LOG("%s", r.err);
}

/* The host's kernel with only its 64-bit entry flag cleared. */
TEST_F(files, kernel_without_64bit_entry)
{
	const char *args[] = { "-k", NULL, NULL };
	struct result r;
	uint8_t *img;
	size_t n;

	n = read_host_kernel(&img, 0);
	if (n < 4096)
		SKIP(return, "cannot read the host's kernel");
	img[XLOADFLAGS] &= ~1;
	args[1] = make_file(self, "no64", img, n, 0644);
	free(img);
	ASSERT_NE(NULL, args[1]);
	run_launcher(args, NULL, &r);
	EXPECT_REFUSED(&r, args[1]);
	EXPECT_NE(NULL, strstr(r.err, "XLF_KERNEL_64")) TH_LOG("%s", r.err);
}

TEST(kernel_needs_more_memory)
{
	const char *const args[] = { "-m", "64M", NULL };
	struct result r;

	if (!get_host_kernel())
		SKIP(return, "no readable host kernel");
	run_launcher(args, NULL, &r);
	/* Debian's kernel wants about 80 MiB from its load address up. */
	EXPECT_REFUSED(&r, "-m");
	EXPECT_NE(NULL, strstr(r.err, host_kernel)) TH_LOG("%s", r.err);
}

TEST(cmdline_too_long)
{
	static char params[4096];
	const char *const args[] = { "-p", params, NULL };
	struct result r;

	if (!get_host_kernel())
		SKIP(return, "no readable host kernel");
	memset(params, 'a', sizeof(params) - 1);
	run_launcher(args, NULL, &r);
	EXPECT_REFUSED(&r, "(-p)");
}

TEST(initrd_missing)
{
	const char *const args[] = { "-i", "/nonexistent/initrd", NULL };
	struct result r;

	if (!get_host_kernel())
		SKIP(return, "no readable host kernel");
	run_launcher(args, NULL, &r);
	EXPECT_REFUSED(&r, "/nonexistent/initrd");
}

TEST_F(files, initrd_unreadable)
{
	const char *i = make_file(self, "initrd", NULL, 4096, 0);
	const char *const args[] = { "-i", i, NULL };
	struct result r;

	if (!get_host_kernel())
		SKIP(return, "no readable host kernel");
	ASSERT_NE(NULL, i);
	run_launcher(args, prep_no_dac_override, &r);
	EXPECT_REFUSED(&r, i);
	EXPECT_NE(NULL, strstr(r.err, strerror(EACCES))) TH_LOG("%s", r.err);
}

TEST_F(files, initrd_does_not_fit)
{
	/* A hole of 100 MiB: more than 128 MiB leaves above Debian's kernel. */
	const char *i = make_file(self, "huge", NULL, 100 << 20, 0644);
	const char *const args[] = { "-m", "128M", "-i", i, NULL };
	struct result r;

	if (!get_host_kernel())
		SKIP(return, "no readable host kernel");
	ASSERT_NE(NULL, i);
	run_launcher(args, NULL, &r);
	EXPECT_REFUSED(&r, i);
	EXPECT_NE(NULL, strstr(r.err, "does not fit")) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.err, "-i")) TH_LOG("%s", r.err);
}

TEST(module_not_loaded)
{
	const char *const args[] = { "--console", "none", NULL };
	bool was_loaded = lkvm_module_loaded();
	struct result r;
	int unload = 0, reload = 0;

	if (!get_host_kernel())
		SKIP(return, "no readable host kernel");
	if (was_loaded)
		unload = lkvm_module_unload();
	if (!unload)
		run_launcher(args, NULL, &r);
	/* Put the module back before anything can fail. */
	if (was_loaded && !unload)
		reload = lkvm_module_load();
	ASSERT_EQ(0, unload);
	ASSERT_EQ(0, reload);
	EXPECT_REFUSED(&r, "/dev/lkvm_lite");
	EXPECT_NE(NULL, strstr(r.err, "module is not loaded")) TH_LOG("%s", r.err);
}

/* A capability of the loaded module; 0 without it, or without the module. */
static uint64_t module_cap(uint32_t cap)
{
	struct lkvm_cap c = { .cap = cap };
	int fd = open(LKVM_DEV_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return 0;
	if (ioctl(fd, LKVM_CHECK_CAP, &c) < 0)
		c.value = 0;
	close(fd);
	return c.value;
}

/* "lkvm-lite run -n ARG" must exit 2 before it reads a kernel, naming ARG and @what. */
static void expect_net_refused(struct __test_metadata *_metadata, const char *arg,
			       const char *what)
{
	const char *const args[] = { "-k", "/nonexistent/bzImage", "-n", arg, NULL };
	char named[256];
	struct result r;

	snprintf(named, sizeof(named), "-n %s: %s", arg, what);
	run_launcher(args, NULL, &r);
	EXPECT_REFUSED(&r, named);
	EXPECT_EQ(2, r.status) TH_LOG("stderr: %s", r.err);
	EXPECT_EQ(NULL, strstr(r.err, "/nonexistent/bzImage")) TH_LOG("read the kernel first");
}

TEST(net_unknown_key)
{
	expect_net_refused(_metadata, "ifname=a,speed=10", "unknown key 'speed'");
}

TEST(net_key_without_value)
{
	expect_net_refused(_metadata, "mac", "mac needs a value");
}

TEST(net_empty_key)
{
	expect_net_refused(_metadata, "ifname=a,", "an empty key");
}

TEST(net_duplicate_key)
{
	expect_net_refused(_metadata, "mac=52:54:00:00:00:01,mac=52:54:00:00:00:02",
			   "mac given twice");
	expect_net_refused(_metadata, "ifname=a,ifname=b", "ifname given twice");
}

TEST(net_bad_mac)
{
	expect_net_refused(_metadata, "mac=52:54:00:12:34", "mac: not an address");
	expect_net_refused(_metadata, "mac=52-54-00-12-34-56", "mac: not an address");
	expect_net_refused(_metadata, "mac=52:54:00:12:34:5g", "mac: not an address");
}

TEST(net_multicast_mac)
{
	expect_net_refused(_metadata, "mac=01:00:5e:00:00:01", "mac: a multicast address");
	expect_net_refused(_metadata, "mac=ff:ff:ff:ff:ff:ff", "mac: a multicast address");
}

TEST(net_zero_mac)
{
	expect_net_refused(_metadata, "mac=00:00:00:00:00:00",
			   "mac: 00:00:00:00:00:00 is no address");
}

TEST(net_long_name)
{
	expect_net_refused(_metadata, "ifname=lkvm-long-name-0",
			   "ifname: name longer than 15 characters");
}

TEST(net_empty_name)
{
	expect_net_refused(_metadata, "ifname=", "ifname: empty name");
}

TEST(net_bad_name)
{
	expect_net_refused(_metadata, "ifname=a/b", "ifname: no '/'");
	expect_net_refused(_metadata, "ifname=..", "ifname: not an interface name");
}

TEST(net_bad_pattern)
{
	expect_net_refused(_metadata, "ifname=n%s", "ifname: the only pattern allowed is one %d");
	expect_net_refused(_metadata, "ifname=n%d%d", "ifname: the only pattern allowed is one %d");
}

/* More than PCI bus 0 can hold, whatever the module: refused while parsing. */
TEST(net_more_than_pci_slots)
{
	const char *args[ARGS_MAX] = { "-k", "/nonexistent/bzImage" };
	struct result r;
	int i;

	for (i = 0; i <= NET_PCI_MAX; i++) {
		args[2 + 2 * i] = "-n";
		args[3 + 2 * i] = "";
	}
	run_launcher(args, NULL, &r);
	EXPECT_REFUSED(&r, "-n '': more than 31 NICs");
	EXPECT_EQ(2, r.status);
}

TEST(net_more_than_cap)
{
	const char *args[ARGS_MAX] = { "-m", "128M", "--console", "none" };
	uint64_t max = module_cap(LKVM_CAP_NET);
	struct result r;
	uint64_t i;

	if (!max)
		SKIP(return, "the module has no LKVM_CAP_NET");
	if (max >= NET_PCI_MAX)
		SKIP(return, "LKVM_CAP_NET is %llu, as many as PCI allows",
		     (unsigned long long)max);
	if (!get_host_kernel())
		SKIP(return, "no readable host kernel");
	for (i = 0; i <= max; i++) {
		args[4 + 2 * i] = "-n";
		args[5 + 2 * i] = "";
	}
	run_launcher(args, NULL, &r);
	EXPECT_REFUSED(&r, "-n '': too many NICs");
	EXPECT_EQ(2, r.status);
}

/* The kernel alone knows that a name is taken: the launcher names the option. */
TEST(net_name_taken)
{
	const char *const args[] = { "-m", "128M", "--console", "none", "-n", "ifname=lo", NULL };
	struct result r;

	if (!module_cap(LKVM_CAP_NET))
		SKIP(return, "the module has no LKVM_CAP_NET");
	if (!get_host_kernel())
		SKIP(return, "no readable host kernel");
	run_launcher(args, NULL, &r);
	EXPECT_REFUSED(&r, "-n ifname=lo: LKVM_CREATE_NET");
	EXPECT_NE(NULL, strstr(r.err, "name is taken")) TH_LOG("%s", r.err);
}

TEST(stat_not_a_pid)
{
	const char *const args[] = { "lkvm", NULL };
	struct result r;

	run_command("stat", args, NULL, &r);
	EXPECT_REFUSED(&r, "'lkvm' is not a PID");
	EXPECT_EQ(2, r.status);
}

TEST(stat_no_such_pid)
{
	const char *args[] = { NULL, NULL };
	char pid_s[16], what[64];
	struct result r;
	pid_t pid;

	/* A PID that was just freed: reused only after the whole PID space wraps. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(0);
	ASSERT_EQ(pid, waitpid(pid, NULL, 0));
	snprintf(pid_s, sizeof(pid_s), "%d", pid);
	args[0] = pid_s;
	run_command("stat", args, NULL, &r);
	snprintf(what, sizeof(what), "%d: no such process", pid);
	EXPECT_REFUSED(&r, what);
}

TEST(stat_pid_without_vm)
{
	const char *args[] = { NULL, NULL };
	char pid_s[16], what[80];
	struct result r;

	snprintf(pid_s, sizeof(pid_s), "%d", getpid());
	args[0] = pid_s;
	run_command("stat", args, NULL, &r);
	snprintf(what, sizeof(what), "%d: the process holds no lkvm_lite VM", getpid());
	EXPECT_REFUSED(&r, what);
}

/*
 * /proc/PID/fd is read with the filesystem uid (still root), pidfd_getfd()
 * asks for ptrace attach rights with the real one (nobody, and no
 * CAP_SYS_PTRACE): the fd is found, and copying it is refused. Reading
 * needs too that the caller's capabilities cover the target's, so the
 * target lacks CAP_SYS_PTRACE as well.
 */
static void prep_no_ptrace(void)
{
	const int caps[] = { CAP_SYS_PTRACE };

	drop_caps(caps, 1);
	if (setresuid(65534, 0, 0))
		_exit(126);
}

/* A child without CAP_SYS_PTRACE that holds a VM until killed; its VM fd in @fd. */
static pid_t hold_vm_without_ptrace(int *fd)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {};
	int p[2], sys_fd, vm_fd = -1;
	pid_t pid;

	if (pipe(p))
		return -1;
	pid = fork();
	if (!pid) {
		if (!syscall(SYS_capget, &h, d)) {
			d[CAP_TO_INDEX(CAP_SYS_PTRACE)].effective &= ~CAP_TO_MASK(CAP_SYS_PTRACE);
			d[CAP_TO_INDEX(CAP_SYS_PTRACE)].permitted &= ~CAP_TO_MASK(CAP_SYS_PTRACE);
			if (syscall(SYS_capset, &h, d))
				_exit(1);
		}
		sys_fd = open(LKVM_DEV_PATH, O_RDWR | O_CLOEXEC);
		if (sys_fd >= 0)
			vm_fd = ioctl(sys_fd, LKVM_CREATE_VM, 0);
		if (write(p[1], &vm_fd, sizeof(vm_fd)) != sizeof(vm_fd))
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	*fd = -1;
	if (pid > 0 && read(p[0], fd, sizeof(*fd)) != sizeof(*fd))
		*fd = -1;
	close(p[0]);
	return pid;
}

FIXTURE(vm) {
	int sys_fd, vm_fd;
	char pid_s[16];
	const char *args[3];
};

FIXTURE_SETUP(vm)
{
	/* A SKIP here would still run the test: each test skips on vm_fd < 0. */
	self->sys_fd = -1;
	self->vm_fd = -1;
	if (!lkvm_module_loaded())
		return;
	self->sys_fd = open(LKVM_DEV_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->sys_fd) TH_LOG("%s: %s", LKVM_DEV_PATH, strerror(errno));
	self->vm_fd = ioctl(self->sys_fd, LKVM_CREATE_VM, 0);
	ASSERT_LE(0, self->vm_fd) TH_LOG("LKVM_CREATE_VM: %s", strerror(errno));
	snprintf(self->pid_s, sizeof(self->pid_s), "%d", getpid());
	self->args[0] = self->pid_s;
}

FIXTURE_TEARDOWN(vm)
{
	if (self->vm_fd >= 0)
		close(self->vm_fd);
	if (self->sys_fd >= 0)
		close(self->sys_fd);
}

TEST_F(vm, stat_getfd_refused)
{
	const char *args[] = { NULL, NULL };
	char what[80], pid_s[16];
	struct result r;
	int vm_fd;
	pid_t pid;

	if (self->vm_fd < 0)
		SKIP(return, "the module is not loaded");
	pid = hold_vm_without_ptrace(&vm_fd);
	ASSERT_LT(0, pid);
	if (vm_fd >= 0) {
		snprintf(pid_s, sizeof(pid_s), "%d", pid);
		args[0] = pid_s;
		run_command("stat", args, prep_no_ptrace, &r);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ASSERT_LE(0, vm_fd) TH_LOG("the child could not make a VM");
	/* The lowest VM fd it holds, maybe one inherited from the fixture: no number here. */
	snprintf(what, sizeof(what), "%d: pidfd_getfd of its VM (fd ", pid);
	EXPECT_REFUSED(&r, what);
	EXPECT_NE(NULL, strstr(r.err, strerror(EPERM))) TH_LOG("%s", r.err);
}

/* A VM that has never run has counted nothing, and says so in both forms. */
TEST_F(vm, stat_idle_vm)
{
	const char *json_args[] = { self->pid_s, "--json", NULL };
	char want[64];
	struct result r;

	if (self->vm_fd < 0)
		SKIP(return, "the module is not loaded");
	if (!module_cap(LKVM_CAP_VM_STATS))
		SKIP(return, "the module has no LKVM_CAP_VM_STATS");
	run_command("stat", self->args, NULL, &r);
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "\n  exits ")) TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "\n  net_tx_packets ")) TH_LOG("%s", r.out);
	EXPECT_EQ(NULL, strstr(r.out, "per packet")) TH_LOG("%s", r.out);
	run_command("stat", json_args, NULL, &r);
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	snprintf(want, sizeof(want), "{\"pid\":%d,\"vcpu\":{\"exits\":0,", getpid());
	EXPECT_EQ(0, strncmp(r.out, want, strlen(want))) TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "\"vm\":{\"net_tx_packets\":0,")) TH_LOG("%s", r.out);
}

/* A launcher running in the background, its stderr in a file. */
FIXTURE(running) {
	pid_t pid;
	bool exited;
	FILE *err;
	char pid_s[16];
};

FIXTURE_SETUP(running)
{
	self->pid = -1;
	self->exited = false;
	self->err = NULL;
}

FIXTURE_TEARDOWN(running)
{
	int i;

	if (self->pid > 0 && !self->exited) {
		kill(self->pid, SIGTERM);
		for (i = 0; i < 100 && !waitpid(self->pid, NULL, WNOHANG); i++)
			usleep(100000);
		if (i == 100) {
			kill(self->pid, SIGKILL);
			waitpid(self->pid, NULL, 0);
		}
	}
	if (self->err)
		fclose(self->err);
}

static int start_launcher(FIXTURE_DATA(running) *self, const char *const *args)
{
	const char *argv[ARGS_MAX + 3] = { LAUNCHER, "run" };
	int i, null;

	for (i = 0; args[i] && i < ARGS_MAX; i++)
		argv[i + 2] = args[i];
	self->err = tmpfile();
	if (!self->err)
		return -1;
	self->pid = fork();
	if (self->pid == 0) {
		null = open("/dev/null", O_RDWR);
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(fileno(self->err), STDERR_FILENO);
		execv(LAUNCHER, (char **)argv);
		_exit(127);
	}
	snprintf(self->pid_s, sizeof(self->pid_s), "%d", self->pid);
	return self->pid < 0 ? -1 : 0;
}

static bool launcher_running(FIXTURE_DATA(running) *self)
{
	if (!self->exited && waitpid(self->pid, NULL, WNOHANG) == self->pid)
		self->exited = true;
	return !self->exited;
}

/* What it printed so far, in @buf (OUT_MAX). */
static void launcher_err(FIXTURE_DATA(running) *self, char *buf)
{
	ssize_t n = pread(fileno(self->err), buf, OUT_MAX - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
}

/* Wait for the launcher to print @what (true) or to exit (false). */
static bool wait_for_err(FIXTURE_DATA(running) *self, const char *what, char *buf)
{
	int i;

	for (i = 0; i < WAIT_S * 10; i++) {
		launcher_err(self, buf);
		if (strstr(buf, what))
			return true;
		if (!launcher_running(self))
			break;
		usleep(100000);
	}
	launcher_err(self, buf);
	return strstr(buf, what);
}

static bool path_gone(const char *path, int tenths)
{
	while (!access(path, F_OK) && tenths-- > 0)
		usleep(100000);
	return access(path, F_OK);
}

/* The host end of a NIC exists while its VM does, and goes with it. */
TEST_F_TIMEOUT(running, net_host_interface_lives_with_vm, WAIT_S + 30)
{
	const char *const args[] = { "-m", "128M", "--console", "none", "-n",
				     "ifname=lkvmt%d,mac=52:54:00:12:34:56", NULL };
	char err[OUT_MAX], name[16] = "", path[64];
	const char *line;

	if (!module_cap(LKVM_CAP_NET))
		SKIP(return, "the module has no LKVM_CAP_NET");
	if (!get_host_kernel())
		SKIP(return, "no readable host kernel");
	ASSERT_EQ(0, start_launcher(self, args));
	ASSERT_TRUE(wait_for_err(self, "lkvm-lite: net0: host ", err)) TH_LOG("%s", err);
	line = strstr(err, "lkvm-lite: net0: host ") + strlen("lkvm-lite: net0: host ");
	ASSERT_EQ(1, sscanf(line, "%15[^,\n]", name)) TH_LOG("%s", err);
	snprintf(path, sizeof(path), "/sys/class/net/%s", name);
	EXPECT_EQ(0, access(path, F_OK)) TH_LOG("no %s: %s", path, err);
	/* Still running after the look: the interface was there while the VM was. */
	ASSERT_TRUE(launcher_running(self)) TH_LOG("the guest ended too soon: %s", err);
	EXPECT_EQ(0, strncmp(name, "lkvmt", 5)) TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(line, ", guest 52:54:00:12:34:56, pci 00:01.0\n")) TH_LOG("%s", err);
	kill(self->pid, SIGTERM);
	ASSERT_EQ(self->pid, waitpid(self->pid, NULL, 0));
	self->exited = true;
	EXPECT_TRUE(path_gone(path, 50)) TH_LOG("%s outlived its VM", path);
}

/* Parsed from stat's table: the value of counter @name, or -1. */
static long long table_value(const char *out, const char *name)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "\n  %s ", name);
	p = strstr(out, key);
	return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

TEST_F_TIMEOUT(running, stat_running_launcher, WAIT_S + 30)
{
	const char *const args[] = { "-m", "128M", "--console", "none", NULL };
	const char *stat_args[] = { NULL, NULL, NULL };
	char want[64], err[OUT_MAX];
	long long exits = -1;
	struct result r;
	int i;

	if (!module_cap(LKVM_CAP_VM_STATS))
		SKIP(return, "the module has no LKVM_CAP_VM_STATS");
	if (!get_host_kernel())
		SKIP(return, "no readable host kernel");
	ASSERT_EQ(0, start_launcher(self, args));
	stat_args[0] = self->pid_s;
	/* Before the VM exists stat finds none; before the vCPU runs, no exits. */
	for (i = 0; i < WAIT_S * 10 && launcher_running(self); i++) {
		run_command("stat", stat_args, NULL, &r);
		exits = r.status ? -1 : table_value(r.out, "exits");
		if (exits > 0)
			break;
		usleep(100000);
	}
	launcher_err(self, err);
	ASSERT_LT(0, exits) TH_LOG("stat: %s%s; launcher: %s", r.out, r.err, err);
	EXPECT_LE(0, table_value(r.out, "net_tx_packets")) TH_LOG("%s", r.out);
	stat_args[1] = "--json";
	run_command("stat", stat_args, NULL, &r);
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	snprintf(want, sizeof(want), "{\"pid\":%d,\"vcpu\":{\"exits\":", self->pid);
	ASSERT_EQ(0, strncmp(r.out, want, strlen(want))) TH_LOG("%s", r.out);
	EXPECT_LT(0, strtoll(r.out + strlen(want), NULL, 10)) TH_LOG("%s", r.out);
}

TEST_HARNESS_MAIN
