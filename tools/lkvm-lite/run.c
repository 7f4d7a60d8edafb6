// SPDX-License-Identifier: GPL-2.0
/*
 * lkvm-lite run: boot a Linux bzImage on the module's in-kernel platform.
 *
 * Everything that can be checked is checked before a VM exists: options,
 * memory against what the host can pin, the kernel, the initrd and where
 * they go. Then one VM with its RAM, the platform (which gives the console
 * file), the NICs (net.c), one vCPU in the kernel's 64-bit entry state, and two threads: the
 * vCPU thread sits in LKVM_RUN, which returns only when the guest ends (or
 * for a signal), while the main thread relays the console. A signal with a
 * no-op handler gets the vCPU thread out of LKVM_RUN when the user quits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <linux/capability.h>

#include "acpi.h"
#include "boot.h"
#include "console.h"
#include "net.h"
#include "run.h"

#define LKVM_DEV		"/dev/lkvm_lite"
/*
 * panic=-1: a panicking guest resets at once, and the console tells why.
 * reboot=acpi: on a hardware-reduced ACPI platform Linux would otherwise
 * reset through EFI, which is not there, and then through a real-mode
 * BIOS jump, which hangs; the FADT's reset register is what we offer.
 */
#define DEFAULT_CMDLINE		"console=ttyS0 panic=-1 reboot=acpi"
#define DEFAULT_MEM		(256 * SZ_1M)
/* Below this not even a small kernel boots; bigger kernels say what they need. */
#define MIN_MEM			(64 * SZ_1M)
#define MAX_CPUS		1
#define KICK_SIGNAL		SIGUSR1
#define KICK_RETRY_MS		20
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))

enum { OPT_CONSOLE = 256 };

static const char run_usage[] =
	"usage: lkvm-lite run [options]\n"
	"\n"
	"Boots a Linux bzImage on the lkvm_lite module's in-kernel platform.\n"
	"\n"
	"  -k, --kernel FILE     the bzImage to boot (default: the host's own kernel,\n"
	"                        /boot/vmlinuz-$(uname -r), with a built-in initramfs\n"
	"                        unless -i is given)\n"
	"  -i, --initrd FILE     the initrd (initramfs) the kernel unpacks\n"
	"  -p, --params CMDLINE  appended to the command line \"" DEFAULT_CMDLINE "\"\n"
	"  -m, --mem SIZE        guest RAM; K, M or G suffix, a plain number is MiB\n"
	"                        (default 256M, at least 64M)\n"
	"  -c, --cpus N          vCPUs (only 1 is supported)\n"
	"  -n, --net [ifname=NAME][,mac=MAC]\n"
	"                        a virtio-net NIC in the module, its host end the\n"
	"                        interface NAME (default lkvm%d; one %d is a number);\n"
	"                        MAC unicast, xx:xx:xx:xx:xx:xx (default random);\n"
	"                        repeat for more NICs, -n '' for the defaults\n"
	"      --console serial|none\n"
	"                        serial (default): the guest's ttyS0 on stdin and stdout;\n"
	"                        none: discard what the guest prints\n"
	"  -h, --help            show this text\n"
	"\n"
	"On a terminal, Ctrl-A x quits and Ctrl-A Ctrl-A sends one Ctrl-A.\n";

static const struct option run_options[] = {
	{ "kernel", required_argument, NULL, 'k' },
	{ "initrd", required_argument, NULL, 'i' },
	{ "params", required_argument, NULL, 'p' },
	{ "mem", required_argument, NULL, 'm' },
	{ "cpus", required_argument, NULL, 'c' },
	{ "net", required_argument, NULL, 'n' },
	{ "console", required_argument, NULL, OPT_CONSOLE },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct run_opts {
	const char *kernel;
	const char *initrd;
	const char *params;
	const char *mem_arg;
	uint64_t mem;
	unsigned int cpus;
	bool console_none;
	struct net_opts nets;
};

struct vm {
	int sys_fd, vm_fd, vcpu_fd, console_fd;
	struct guest_mem mem;
	pthread_t vcpu_thread;
	int done_fd;		/* eventfd: the vCPU thread has left LKVM_RUN for good */
	atomic_bool stop;
	struct lkvm_run run;
	int run_errno;		/* LKVM_RUN failed with this, or 0 */
};

static int parse_mem(const char *arg, uint64_t *mem)
{
	unsigned long long v;
	uint64_t shift = 20;
	char *end;

	errno = 0;
	if (arg[0] < '0' || arg[0] > '9')
		return -1;
	v = strtoull(arg, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case 'k': case 'K':
		shift = 10;
		end++;
		break;
	case 'm': case 'M':
		end++;
		break;
	case 'g': case 'G':
		shift = 30;
		end++;
		break;
	}
	if (*end || v > (UINT64_MAX >> shift))
		return -1;
	*mem = (uint64_t)v << shift;
	return 0;
}

static int parse_options(int argc, char **argv, struct run_opts *o)
{
	char *end;
	long n;
	int opt;

	memset(o, 0, sizeof(*o));
	o->mem = DEFAULT_MEM;
	o->cpus = 1;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+:k:i:p:m:c:n:h", run_options, NULL)) != -1) {
		switch (opt) {
		case 'k':
			o->kernel = optarg;
			break;
		case 'i':
			o->initrd = optarg;
			break;
		case 'p':
			o->params = optarg;
			break;
		case 'm':
			o->mem_arg = optarg;
			if (parse_mem(optarg, &o->mem)) {
				fprintf(stderr,
					"lkvm-lite run: -m %s: not a size (a number with K, M or G; plain is MiB)\n",
					optarg);
				return 2;
			}
			break;
		case 'c':
			errno = 0;
			n = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || n < 1) {
				fprintf(stderr, "lkvm-lite run: -c %s: not a number of vCPUs\n",
					optarg);
				return 2;
			}
			if (n > MAX_CPUS) {
				fprintf(stderr,
					"lkvm-lite run: -c %s: only %d vCPU is supported for now\n",
					optarg, MAX_CPUS);
				return 2;
			}
			o->cpus = n;
			break;
		case 'n':
			if (net_parse(&o->nets, optarg))
				return 2;
			break;
		case OPT_CONSOLE:
			o->console_none = !strcmp(optarg, "none");
			if (!o->console_none && strcmp(optarg, "serial")) {
				fprintf(stderr, "lkvm-lite run: --console %s: %s\n", optarg,
					"must be serial or none");
				return 2;
			}
			break;
		case 'h':
			fputs(run_usage, stdout);
			return 0;
		case ':':
			fprintf(stderr, "lkvm-lite run: option '%s' needs a value\n%s",
				argv[optind - 1], run_usage);
			return 2;
		default:
			fprintf(stderr, "lkvm-lite run: unknown option '%s'\n%s",
				argv[optind - 1], run_usage);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "lkvm-lite run: unexpected argument '%s'\n%s", argv[optind],
			run_usage);
		return 2;
	}
	return -1;
}

static bool has_cap_ipc_lock(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {};

	if (syscall(SYS_capget, &h, d))
		return false;
	return d[CAP_TO_INDEX(CAP_IPC_LOCK)].effective & CAP_TO_MASK(CAP_IPC_LOCK);
}

/* The module pins all of guest RAM: refuse what it would refuse, and say why. */
static int check_mem(const struct run_opts *o)
{
	const char *arg = o->mem_arg ?: "256M";
	uint64_t host = (uint64_t)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE);
	struct rlimit rl;

	if (o->mem < MIN_MEM) {
		fprintf(stderr, "lkvm-lite run: -m %s: too little memory, the minimum is %llu M\n",
			arg, (unsigned long long)(MIN_MEM >> 20));
		return -1;
	}
	if (o->mem & (sysconf(_SC_PAGESIZE) - 1)) {
		fprintf(stderr, "lkvm-lite run: -m %s: not a whole number of pages\n", arg);
		return -1;
	}
	if (o->mem > host) {
		fprintf(stderr, "lkvm-lite run: -m %s: more than the host's %llu MiB of RAM\n", arg,
			(unsigned long long)(host >> 20));
		return -1;
	}
	if (!has_cap_ipc_lock() && !getrlimit(RLIMIT_MEMLOCK, &rl) &&
	    rl.rlim_cur != RLIM_INFINITY && o->mem > rl.rlim_cur) {
		fprintf(stderr,
			"lkvm-lite run: -m %s: guest RAM is pinned, and RLIMIT_MEMLOCK allows %llu KiB (raise ulimit -l, or run with CAP_IPC_LOCK)\n",
			arg, (unsigned long long)(rl.rlim_cur >> 10));
		return -1;
	}
	return 0;
}

static int open_initrd(const char *path, uint64_t *size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "lkvm-lite run: cannot read initrd %s: %s (-i)\n", path,
			strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !st.st_size) {
		fprintf(stderr, "lkvm-lite run: initrd %s is not a non-empty regular file (-i)\n",
			path);
		close(fd);
		return -1;
	}
	*size = st.st_size;
	return fd;
}

static int read_initrd(int fd, const char *path, void *dst, uint64_t size)
{
	uint64_t done = 0;
	ssize_t n;

	while (done < size) {
		n = read(fd, (uint8_t *)dst + done, size - done);
		if (n <= 0) {
			fprintf(stderr, "lkvm-lite run: cannot read initrd %s: %s (-i)\n", path,
				n ? strerror(errno) : "it shrank");
			return -1;
		}
		done += n;
	}
	return 0;
}

static uint64_t check_cap(int fd, uint32_t cap)
{
	struct lkvm_cap c = { .cap = cap };

	return ioctl(fd, LKVM_CHECK_CAP, &c) < 0 ? 0 : c.value;
}

static int open_module(void)
{
	int fd = open(LKVM_DEV, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		if (errno == ENOENT)
			fprintf(stderr,
				"lkvm-lite run: no %s: the lkvm_lite module is not loaded (insmod kernel/lkvm_lite.ko)\n",
				LKVM_DEV);
		else
			fprintf(stderr, "lkvm-lite run: cannot open %s: %s\n", LKVM_DEV,
				strerror(errno));
		return -1;
	}
	if (!check_cap(fd, LKVM_CAP_RUN) || !check_cap(fd, LKVM_CAP_PLATFORM)) {
		fprintf(stderr,
			"lkvm-lite run: this lkvm_lite module cannot boot guests: it has no %s\n",
			check_cap(fd, LKVM_CAP_RUN) ? "in-kernel platform (LKVM_CAP_PLATFORM)" :
						      "run loop (LKVM_CAP_RUN)");
		close(fd);
		return -1;
	}
	return fd;
}

static int set_region(struct vm *vm, uint32_t slot, uint64_t gpa, uint64_t size, void *uaddr)
{
	struct lkvm_memory_region r = {
		.slot = slot, .guest_phys_addr = gpa, .memory_size = size,
		.userspace_addr = (uintptr_t)uaddr,
	};

	if (!ioctl(vm->vm_fd, LKVM_SET_MEMORY_REGION, &r))
		return 0;
	fprintf(stderr, "lkvm-lite run: cannot give the guest %llu MiB of RAM at %#llx: %s (-m)\n",
		(unsigned long long)(size >> 20), (unsigned long long)gpa, strerror(errno));
	return -1;
}

static int create_vm(struct vm *vm, const struct net_opts *nets, const struct lkvm_regs *regs,
		     const struct lkvm_sregs *boot)
{
	struct lkvm_platform platform = {};
	struct lkvm_sregs sregs;
	uint64_t high = vm->mem.size - vm->mem.low_size;

	vm->vm_fd = ioctl(vm->sys_fd, LKVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		fprintf(stderr, "lkvm-lite run: LKVM_CREATE_VM: %s\n", strerror(errno));
		return -1;
	}
	if (set_region(vm, 0, 0, vm->mem.low_size, vm->mem.ram))
		return -1;
	if (high && set_region(vm, 1, SZ_4G, high, vm->mem.ram + vm->mem.low_size))
		return -1;
	vm->console_fd = ioctl(vm->vm_fd, LKVM_CREATE_PLATFORM, &platform);
	if (vm->console_fd < 0) {
		fprintf(stderr, "lkvm-lite run: LKVM_CREATE_PLATFORM: %s\n", strerror(errno));
		return -1;
	}
	if (net_create(vm->vm_fd, nets))
		return -1;
	vm->vcpu_fd = ioctl(vm->vm_fd, LKVM_CREATE_VCPU, 0);
	if (vm->vcpu_fd < 0) {
		fprintf(stderr, "lkvm-lite run: LKVM_CREATE_VCPU: %s\n", strerror(errno));
		return -1;
	}
	/* Starts from the vCPU's own state: only what the boot protocol sets changes. */
	if (ioctl(vm->vcpu_fd, LKVM_GET_SREGS, &sregs) < 0) {
		fprintf(stderr, "lkvm-lite run: LKVM_GET_SREGS: %s\n", strerror(errno));
		return -1;
	}
	sregs.cs = boot->cs;
	sregs.ds = boot->ds;
	sregs.es = boot->es;
	sregs.fs = boot->fs;
	sregs.gs = boot->gs;
	sregs.ss = boot->ss;
	sregs.tr = boot->tr;
	sregs.ldt = boot->ldt;
	sregs.gdt = boot->gdt;
	sregs.idt = boot->idt;
	sregs.cr0 = boot->cr0;
	sregs.cr3 = boot->cr3;
	sregs.cr4 = boot->cr4;
	sregs.efer = boot->efer;
	if (ioctl(vm->vcpu_fd, LKVM_SET_SREGS, &sregs) < 0) {
		fprintf(stderr, "lkvm-lite run: LKVM_SET_SREGS: %s\n", strerror(errno));
		return -1;
	}
	if (ioctl(vm->vcpu_fd, LKVM_SET_REGS, regs) < 0) {
		fprintf(stderr, "lkvm-lite run: LKVM_SET_REGS: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static void kick_handler(int sig)
{
	(void)sig;
}

static void *vcpu_thread(void *arg)
{
	struct vm *vm = arg;

	while (!atomic_load(&vm->stop)) {
		if (!ioctl(vm->vcpu_fd, LKVM_RUN, &vm->run))
			break;
		if (errno != EINTR) {
			vm->run_errno = errno;
			break;
		}
	}
	eventfd_write(vm->done_fd, 1);
	return NULL;
}

/*
 * A kick can land just before the thread enters LKVM_RUN, where it changes
 * nothing: kick again until the thread is out.
 */
static void stop_vcpu(struct vm *vm)
{
	struct pollfd p = { .fd = vm->done_fd, .events = POLLIN };

	atomic_store(&vm->stop, true);
	do {
		pthread_kill(vm->vcpu_thread, KICK_SIGNAL);
	} while (poll(&p, 1, KICK_RETRY_MS) == 0);
}

static const char *const suberrors[] = {
	[LKVM_INTERNAL_UNHANDLED_EXIT] = "an exit the module does not handle",
	[LKVM_INTERNAL_EMULATION] = "an MMIO instruction the module cannot decode",
	[LKVM_INTERNAL_VMRUN_FAILED] = "VMRUN refused the guest state",
	[LKVM_INTERNAL_FETCH] = "the instruction could not be read",
	[LKVM_INTERNAL_DELIVERY] = "delivering an event touched memory outside RAM",
};

static void dump_vcpu(struct vm *vm)
{
	struct lkvm_vcpu_stats st;
	struct lkvm_sregs s;
	struct lkvm_regs r;

	if (!ioctl(vm->vcpu_fd, LKVM_GET_REGS, &r)) {
		fprintf(stderr,
			"lkvm-lite:   rax %016llx rbx %016llx rcx %016llx rdx %016llx\n"
			"lkvm-lite:   rsi %016llx rdi %016llx rsp %016llx rbp %016llx\n"
			"lkvm-lite:   r8  %016llx r9  %016llx r10 %016llx r11 %016llx\n"
			"lkvm-lite:   r12 %016llx r13 %016llx r14 %016llx r15 %016llx\n"
			"lkvm-lite:   rip %016llx rflags %08llx\n",
			r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rsp, r.rbp, r.r8, r.r9, r.r10,
			r.r11, r.r12, r.r13, r.r14, r.r15, r.rip, r.rflags);
	}
	if (!ioctl(vm->vcpu_fd, LKVM_GET_SREGS, &s)) {
		fprintf(stderr,
			"lkvm-lite:   cs %04x ss %04x cr0 %llx cr2 %llx cr3 %llx cr4 %llx efer %llx\n"
			"lkvm-lite:   gdt %llx/%x idt %llx/%x\n",
			s.cs.selector, s.ss.selector, s.cr0, s.cr2, s.cr3, s.cr4, s.efer,
			s.gdt.base, s.gdt.limit, s.idt.base, s.idt.limit);
	}
	if (!ioctl(vm->vcpu_fd, LKVM_GET_VCPU_STATS, &st)) {
		fprintf(stderr,
			"lkvm-lite:   exits %llu: io %llu mmio %llu msr %llu/%llu hlt %llu irqs %llu exceptions injected %llu\n",
			st.stat[LKVM_STAT_EXITS], st.stat[LKVM_STAT_IO], st.stat[LKVM_STAT_MMIO],
			st.stat[LKVM_STAT_MSR_READ], st.stat[LKVM_STAT_MSR_WRITE],
			st.stat[LKVM_STAT_HLT], st.stat[LKVM_STAT_IRQ_INJECTED],
			st.stat[LKVM_STAT_EXCEPTION_INJECTED]);
	}
}

static int report_exit(struct vm *vm, const struct console *con)
{
	const struct lkvm_run *run = &vm->run;
	unsigned int i, sub;

	if (vm->run_errno) {
		fprintf(stderr, "lkvm-lite: LKVM_RUN: %s\n", strerror(vm->run_errno));
		return 1;
	}
	switch (run->exit_reason) {
	case LKVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == LKVM_SYSTEM_EVENT_POWEROFF) {
			fprintf(stderr, "lkvm-lite: guest powered off\n");
			return 0;
		}
		if (con->panic[0]) {
			fprintf(stderr, "lkvm-lite: guest panicked: %s\n", con->panic);
			return 1;
		}
		fprintf(stderr, "lkvm-lite: guest rebooted\n");
		return 0;
	case LKVM_EXIT_SHUTDOWN:
		fprintf(stderr, "lkvm-lite: guest shut down (triple fault) at RIP %#llx\n",
			run->rip);
		dump_vcpu(vm);
		return 1;
	case LKVM_EXIT_INTERNAL_ERROR:
		sub = run->internal.suberror;
		fprintf(stderr,
			"lkvm-lite: internal error: %s (suberror %u) at RIP %#llx, exit code %#llx, info %#llx %#llx, instruction:",
			sub < ARRAY_SIZE(suberrors) && suberrors[sub] ? suberrors[sub] : "unknown",
			sub, run->rip, run->exit_code, run->exit_info1, run->exit_info2);
		for (i = 0; i < run->internal.insn_len && i < sizeof(run->internal.insn); i++)
			fprintf(stderr, " %02x", run->internal.insn[i]);
		fprintf(stderr, "%s\n", run->internal.insn_len ? "" : " unknown");
		dump_vcpu(vm);
		return 1;
	}
	fprintf(stderr, "lkvm-lite: unexpected exit reason %u at RIP %#llx\n", run->exit_reason,
		run->rip);
	return 1;
}

/* The main thread's loop: relay the console until the guest or the user ends it. */
static int relay(struct vm *vm, struct console *con, int sig_fd)
{
	struct signalfd_siginfo si;
	struct pollfd p[4];
	int ret;

	for (;;) {
		p[0] = (struct pollfd){ .fd = vm->console_fd, .events = POLLIN };
		if (con->pending_len)
			p[0].events |= POLLOUT;
		p[1] = (struct pollfd){
			.fd = con->stdin_open && !con->pending_len ? STDIN_FILENO : -1,
			.events = POLLIN,
		};
		p[2] = (struct pollfd){ .fd = vm->done_fd, .events = POLLIN };
		p[3] = (struct pollfd){ .fd = sig_fd, .events = POLLIN };
		if (poll(p, ARRAY_SIZE(p), -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "lkvm-lite: poll: %s\n", strerror(errno));
			stop_vcpu(vm);
			return 1;
		}
		if (p[0].revents & POLLIN)
			console_from_guest(con);
		if (p[0].revents & POLLOUT)
			console_flush_input(con);
		if (p[1].revents && console_from_user(con)) {
			stop_vcpu(vm);
			console_drain(con);
			console_restore();
			fprintf(stderr, "%slkvm-lite: quit\n", con->tty ? "\r\n" : "");
			return 0;
		}
		if (p[2].revents) {
			console_drain(con);
			console_restore();
			return report_exit(vm, con);
		}
		/* Likely a guest that hung, killed from outside: say where it was. */
		if (p[3].revents && read(sig_fd, &si, sizeof(si)) == sizeof(si)) {
			stop_vcpu(vm);
			console_drain(con);
			console_restore();
			ret = 128 + si.ssi_signo;
			fprintf(stderr, "%slkvm-lite: quit on %s\n", con->tty ? "\r\n" : "",
				strsignal(si.ssi_signo));
			dump_vcpu(vm);
			return ret;
		}
	}
}

/*
 * SIGINT, SIGTERM and SIGHUP are read from a signalfd, so that each ends
 * through the same path (terminal restored); the vCPU thread inherits
 * them blocked and gets only the kick.
 */
static int start(struct vm *vm, struct console *con)
{
	struct sigaction sa = { .sa_handler = kick_handler };
	sigset_t quit;
	int sig_fd, ret;

	sigemptyset(&quit);
	sigaddset(&quit, SIGINT);
	sigaddset(&quit, SIGTERM);
	sigaddset(&quit, SIGHUP);
	signal(SIGPIPE, SIG_IGN);
	/* No SA_RESTART: LKVM_RUN must return to the loop, which checks @stop. */
	sigemptyset(&sa.sa_mask);
	if (sigaction(KICK_SIGNAL, &sa, NULL) || pthread_sigmask(SIG_BLOCK, &quit, NULL))
		return 1;
	sig_fd = signalfd(-1, &quit, SFD_CLOEXEC);
	vm->done_fd = eventfd(0, EFD_CLOEXEC);
	if (sig_fd < 0 || vm->done_fd < 0) {
		fprintf(stderr, "lkvm-lite run: signalfd/eventfd: %s\n", strerror(errno));
		return 1;
	}
	ret = console_init(con, vm->console_fd, con->discard);
	if (ret) {
		fprintf(stderr, "lkvm-lite run: console: %s\n", strerror(-ret));
		return 1;
	}
	ret = pthread_create(&vm->vcpu_thread, NULL, vcpu_thread, vm);
	if (ret) {
		console_restore();
		fprintf(stderr, "lkvm-lite run: no vCPU thread: %s\n", strerror(ret));
		return 1;
	}
	ret = relay(vm, con, sig_fd);
	pthread_join(vm->vcpu_thread, NULL);
	return ret;
}

static char *make_cmdline(const char *params)
{
	char *s;

	if (!params || !params[0])
		return strdup(DEFAULT_CMDLINE);
	return asprintf(&s, "%s %s", DEFAULT_CMDLINE, params) < 0 ? NULL : s;
}

int cmd_run(int argc, char **argv)
{
	static char host_kernel[128];
	struct run_opts o;
	struct bzimage k;
	struct boot_plan plan = {};
	struct lkvm_regs regs;
	struct lkvm_sregs sregs = {};
	struct vm vm = { .sys_fd = -1, .vm_fd = -1, .vcpu_fd = -1, .console_fd = -1 };
	struct console con = {};
	const char *kernel;
	struct utsname u;
	int ret, initrd_fd = -1;

	ret = parse_options(argc, argv, &o);
	if (ret >= 0)
		return ret;
	ret = 1;
	if (check_mem(&o))
		return 1;
	kernel = o.kernel;
	if (!kernel) {
		uname(&u);
		snprintf(host_kernel, sizeof(host_kernel), "/boot/vmlinuz-%s", u.release);
		kernel = host_kernel;
	}
	if (bzimage_read(kernel, &k))
		return 1;
	plan.mem_size = o.mem;
	plan.nr_cpus = o.cpus;
	plan.cmdline = make_cmdline(o.params);
	if (!plan.cmdline)
		goto out_oom;
	if (o.initrd) {
		initrd_fd = open_initrd(o.initrd, &plan.initrd_size);
		if (initrd_fd < 0)
			goto out;
		plan.initrd_name = o.initrd;
	} else if (!o.kernel) {
		plan.initrd_size = guest_initramfs_end - guest_initramfs;
		plan.initrd_name = "(the built-in initramfs)";
	}
	if (boot_plan(&k, &plan))
		goto out;
	vm.sys_fd = open_module();
	if (vm.sys_fd < 0)
		goto out;
	ret = net_check(vm.sys_fd, &o.nets);
	if (ret)
		goto out;
	ret = 1;

	vm.mem.size = o.mem;
	vm.mem.low_size = o.mem < LKVM_PLATFORM_MMIO_BASE ? o.mem : LKVM_PLATFORM_MMIO_BASE;
	vm.mem.ram = mmap(NULL, o.mem, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm.mem.ram == MAP_FAILED) {
		fprintf(stderr, "lkvm-lite run: cannot map %llu MiB of guest RAM: %s (-m)\n",
			(unsigned long long)(o.mem >> 20), strerror(errno));
		goto out;
	}
	if (initrd_fd >= 0) {
		if (read_initrd(initrd_fd, o.initrd,
				gpa_ptr(&vm.mem, plan.initrd_addr, plan.initrd_size),
				plan.initrd_size))
			goto out;
	} else if (plan.initrd_size) {
		memcpy(gpa_ptr(&vm.mem, plan.initrd_addr, plan.initrd_size), guest_initramfs,
		       plan.initrd_size);
	}
	if (boot_setup(&vm.mem, &k, &plan, acpi_setup(&vm.mem, o.cpus), &regs, &sregs))
		goto out;
	bzimage_free(&k);
	if (create_vm(&vm, &o.nets, &regs, &sregs))
		goto out;
	con.discard = o.console_none;
	ret = start(&vm, &con);
out:
	if (initrd_fd >= 0)
		close(initrd_fd);
	free((char *)plan.cmdline);
	bzimage_free(&k);
	return ret;
out_oom:
	fprintf(stderr, "lkvm-lite run: out of memory\n");
	bzimage_free(&k);
	return 1;
}
