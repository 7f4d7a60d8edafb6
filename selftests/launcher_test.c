// SPDX-License-Identifier: GPL-2.0
/*
 * lkvm-lite run: what it refuses, and how it says so. Every refusal ends
 * with a non-zero status and a message that names the file or option at
 * fault; the bad files are made here, most from a copy of the host's own
 * kernel. Booting a guest is boot_test's business.
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
 * Run "lkvm-lite run ARGS..." with stdin from /dev/null; @prep, if any,
 * runs in the child just before exec. Its status and what it printed.
 */
static void run_launcher(const char *const *args, void (*prep)(void), struct result *r)
{
	const char *argv[32] = { LAUNCHER, "run" };
	FILE *out = tmpfile(), *err = tmpfile();
	int i, status, null;
	pid_t pid;

	for (i = 0; args[i] && i < 29; i++)
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

TEST_HARNESS_MAIN
