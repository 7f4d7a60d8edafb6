// SPDX-License-Identifier: GPL-2.0
/*
 * LKVM_RUN itself: what it refuses, how signals and closed descriptors end
 * it, what it keeps of the guest's registers and of both FPUs, and the
 * other vCPU and VM ioctls that come with it.
 */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib/guest.h"
#include "lib/lkvm_util.h"

static uint64_t stat(struct guest *g, int which)
{
	struct lkvm_vcpu_stats s;

	if (guest_stats(g, &s))
		return ~0ULL;
	return s.stat[which];
}

static void on_signal(int sig)
{
}

static void catch_signal(int sig)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(sig, &sa, NULL);
}

static void guest_spin_code(uint64_t a0, uint64_t a1)
{
	for (;;)
		asm volatile("pause");
}

/* ---- what LKVM_RUN and its companions refuse ---- */

TEST(caps)
{
	int dev = open(LKVM_DEV_PATH, O_RDWR);
	struct lkvm_cap c = { .cap = LKVM_CAP_RUN };

	ASSERT_LE(0, dev);
	ASSERT_EQ(0, lkvm_ioctl(dev, LKVM_CHECK_CAP, &c));
	EXPECT_EQ(1, c.value);
	c = (struct lkvm_cap){ .cap = LKVM_CAP_TEST_EXITS };
	ASSERT_EQ(0, lkvm_ioctl(dev, LKVM_CHECK_CAP, &c));
	EXPECT_EQ(LKVM_TEST_EXIT_IO | LKVM_TEST_EXIT_MMIO, c.value);
	c = (struct lkvm_cap){ .cap = LKVM_CAP_VCPU_STATS };
	ASSERT_EQ(0, lkvm_ioctl(dev, LKVM_CHECK_CAP, &c));
	EXPECT_EQ(LKVM_VCPU_NR_STATS, c.value);
	close(dev);
}

FIXTURE(vcpu) {
	int dev, vm, vcpu;
	void *mem;
};

#define MEM_SIZE	(2 << 20)

FIXTURE_SETUP(vcpu)
{
	struct lkvm_memory_region r = { .memory_size = MEM_SIZE };

	self->dev = open(LKVM_DEV_PATH, O_RDWR);
	ASSERT_LE(0, self->dev);
	self->vm = ioctl(self->dev, LKVM_CREATE_VM, 0);
	ASSERT_LE(0, self->vm);
	self->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	r.userspace_addr = (unsigned long)self->mem;
	r.guest_phys_addr = 0x100000;
	ASSERT_EQ(0, ioctl(self->vm, LKVM_SET_MEMORY_REGION, &r));
	self->vcpu = ioctl(self->vm, LKVM_CREATE_VCPU, 0);
	ASSERT_LE(0, self->vcpu);
}

FIXTURE_TEARDOWN(vcpu)
{
	close(self->vcpu);
	close(self->vm);
	close(self->dev);
	munmap(self->mem, MEM_SIZE);
}

TEST_F(vcpu, run_flags_nonzero_einval)
{
	struct lkvm_run run = { .flags = 1 };
	struct lkvm_vcpu_stats s;

	EXPECT_EQ(-EINVAL, lkvm_ioctl(self->vcpu, LKVM_RUN, &run));
	ASSERT_EQ(0, lkvm_ioctl(self->vcpu, LKVM_GET_VCPU_STATS, &s));
	EXPECT_EQ(0, s.stat[LKVM_STAT_EXITS]);
}

TEST_F(vcpu, run_bad_pointer_efault)
{
	EXPECT_EQ(-EFAULT, lkvm_ioctl(self->vcpu, LKVM_RUN, NULL));
}

/* At RESET the CPU fetches from 0xfffffff0, where this VM has no memory. */
TEST_F(vcpu, run_fetch_outside_memory_internal_error)
{
	struct lkvm_run run = { 0 };

	ASSERT_EQ(0, lkvm_ioctl(self->vcpu, LKVM_RUN, &run));
	EXPECT_EQ(LKVM_EXIT_INTERNAL_ERROR, run.exit_reason);
	EXPECT_EQ(LKVM_INTERNAL_UNHANDLED_EXIT, run.internal.suberror);
	EXPECT_EQ(0x400, run.exit_code);	/* nested page fault */
	EXPECT_EQ(0xfffffff0, run.exit_info2);
	EXPECT_EQ(0xfff0, run.rip);
}

TEST_F(vcpu, interrupt_vector_below_32_einval)
{
	struct lkvm_interrupt irq = { .vector = 31 };

	EXPECT_EQ(-EINVAL, lkvm_ioctl(self->vcpu, LKVM_INTERRUPT, &irq));
}

TEST_F(vcpu, interrupt_vector_above_255_einval)
{
	struct lkvm_interrupt irq = { .vector = 256 };

	EXPECT_EQ(-EINVAL, lkvm_ioctl(self->vcpu, LKVM_INTERRUPT, &irq));
}

TEST_F(vcpu, interrupt_flags_nonzero_einval)
{
	struct lkvm_interrupt irq = { .vector = 32, .flags = 1 };

	EXPECT_EQ(-EINVAL, lkvm_ioctl(self->vcpu, LKVM_INTERRUPT, &irq));
}

TEST_F(vcpu, interrupt_bad_pointer_efault)
{
	EXPECT_EQ(-EFAULT, lkvm_ioctl(self->vcpu, LKVM_INTERRUPT, NULL));
}

TEST_F(vcpu, stats_bad_pointer_efault)
{
	EXPECT_EQ(-EFAULT, lkvm_ioctl(self->vcpu, LKVM_GET_VCPU_STATS, NULL));
}

TEST_F(vcpu, stats_start_at_zero)
{
	struct lkvm_vcpu_stats s;
	int i;

	memset(&s, 0xff, sizeof(s));
	ASSERT_EQ(0, lkvm_ioctl(self->vcpu, LKVM_GET_VCPU_STATS, &s));
	for (i = 0; i < LKVM_VCPU_NR_STATS; i++)
		EXPECT_EQ(0, s.stat[i]) TH_LOG("stat %d", i);
}

/* ---- LKVM_SET_TEST_EXITS: one test per refusal ---- */

static int set_test_exits(int vm, uint32_t flags, uint16_t port, uint16_t pad, uint64_t gpa,
			  uint64_t size)
{
	struct lkvm_test_exits t = {
		.flags = flags, .io_port = port, .pad = pad, .mmio_gpa = gpa, .mmio_size = size,
	};

	return lkvm_ioctl(vm, LKVM_SET_TEST_EXITS, &t);
}

TEST_F(vcpu, test_exits_valid)
{
	EXPECT_EQ(0, set_test_exits(self->vm, LKVM_TEST_EXIT_IO | LKVM_TEST_EXIT_MMIO, 0x1000, 0,
				    0x10000000, 0x1000));
	EXPECT_EQ(0, set_test_exits(self->vm, 0, 0, 0, 0, 0));
}

TEST_F(vcpu, test_exits_unknown_flag_einval)
{
	EXPECT_EQ(-EINVAL, set_test_exits(self->vm, 4, 0, 0, 0, 0));
}

TEST_F(vcpu, test_exits_pad_nonzero_einval)
{
	EXPECT_EQ(-EINVAL, set_test_exits(self->vm, LKVM_TEST_EXIT_IO, 0x1000, 1, 0, 0));
}

TEST_F(vcpu, test_exits_port_without_flag_einval)
{
	EXPECT_EQ(-EINVAL, set_test_exits(self->vm, 0, 0x1000, 0, 0, 0));
}

TEST_F(vcpu, test_exits_mmio_without_flag_einval)
{
	EXPECT_EQ(-EINVAL, set_test_exits(self->vm, LKVM_TEST_EXIT_IO, 0x1000, 0, 0x10000000, 0));
	EXPECT_EQ(-EINVAL, set_test_exits(self->vm, 0, 0, 0, 0, 0x1000));
}

TEST_F(vcpu, test_exits_mmio_zero_size_einval)
{
	EXPECT_EQ(-EINVAL, set_test_exits(self->vm, LKVM_TEST_EXIT_MMIO, 0, 0, 0x10000000, 0));
}

TEST_F(vcpu, test_exits_mmio_beyond_guest_phys_einval)
{
	EXPECT_EQ(-EINVAL, set_test_exits(self->vm, LKVM_TEST_EXIT_MMIO, 0, 0, 1ULL << 48, 1));
	EXPECT_EQ(-EINVAL, set_test_exits(self->vm, LKVM_TEST_EXIT_MMIO, 0, 0, (1ULL << 48) - 1,
					  2));
	EXPECT_EQ(-EINVAL, set_test_exits(self->vm, LKVM_TEST_EXIT_MMIO, 0, 0, 1, ~0ULL));
}

TEST_F(vcpu, test_exits_mmio_over_ram_eexist)
{
	EXPECT_EQ(-EEXIST, set_test_exits(self->vm, LKVM_TEST_EXIT_MMIO, 0, 0,
					  0x100000 + MEM_SIZE - 1, 2));
}

/* The other way round: memory added over the test MMIO range. */
TEST_F(vcpu, memory_over_test_mmio_eexist)
{
	struct lkvm_memory_region r = { .slot = 1, .guest_phys_addr = 0x10000000,
					.memory_size = 0x2000 };

	ASSERT_EQ(0, set_test_exits(self->vm, LKVM_TEST_EXIT_MMIO, 0, 0, 0x10001000, 0x10));
	r.userspace_addr = (unsigned long)self->mem;
	EXPECT_EQ(-EEXIST, lkvm_ioctl(self->vm, LKVM_SET_MEMORY_REGION, &r));
	/* Beside it is fine. */
	r.memory_size = 0x1000;
	EXPECT_EQ(0, lkvm_ioctl(self->vm, LKVM_SET_MEMORY_REGION, &r));
}

TEST_F(vcpu, test_exits_bad_pointer_efault)
{
	EXPECT_EQ(-EFAULT, lkvm_ioctl(self->vm, LKVM_SET_TEST_EXITS, NULL));
}

/* ---- signals ---- */

TEST(signal_interrupts_busy_guest)
{
	struct guest_regs regs;
	struct guest *g;
	int i;

	GUEST_CREATE_OR_SKIP(g, GUEST_LKVM, guest_spin_code);
	catch_signal(SIGALRM);
	for (i = 0; i < 3; i++) {
		alarm(1);
		EXPECT_EQ(-EINTR, guest_run(g));
	}
	EXPECT_EQ(3, stat(g, LKVM_STAT_SIGNAL_EXITS));
	EXPECT_EQ(0, stat(g, LKVM_STAT_USERSPACE_EXITS));
	/* It ran: the timer and the signal itself are host interrupts in guest mode. */
	EXPECT_LE(3, stat(g, LKVM_STAT_INTR));
	ASSERT_EQ(0, guest_get_regs(g, &regs));
	EXPECT_LE((uint64_t)guest_spin_code, regs.rip);
	EXPECT_GT((uint64_t)guest_spin_code + 64, regs.rip);
	guest_destroy(g);
}

/* ---- closing every descriptor, in every order, while the vCPU runs ---- */

struct runner {
	int vcpu;
	struct lkvm_run run;
	int ret;
};

static void *run_until_signal(void *arg)
{
	struct runner *r = arg;

	r->ret = lkvm_ioctl(r->vcpu, LKVM_RUN, &r->run);
	return NULL;
}

static int module_refcnt(void)
{
	FILE *f = fopen("/sys/module/lkvm_lite/refcnt", "r");
	int n = -1;

	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

/* The guest keeps its own state in a fixed place: a tight loop at GPA 0. */
static const uint8_t spin_code[] = { 0xf3, 0x90, 0xeb, 0xfc };	/* pause; jmp .-4 */

TEST(close_fds_in_every_order_while_running)
{
	static const int orders[6][3] = {
		{ 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 }, { 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 },
	};
	long pin_before = lkvm_vm_pin_kb();
	int o, i;

	ASSERT_EQ(0, module_refcnt());
	catch_signal(SIGUSR1);
	for (o = 0; o < 6; o++) {
		struct lkvm_memory_region mr = { .memory_size = 0x10000 };
		struct lkvm_sregs sregs;
		struct lkvm_regs regs;
		struct runner r = { 0 };
		int fds[3];
		pthread_t t;
		void *mem;

		fds[0] = open(LKVM_DEV_PATH, O_RDWR);
		ASSERT_LE(0, fds[0]);
		fds[1] = ioctl(fds[0], LKVM_CREATE_VM, 0);
		ASSERT_LE(0, fds[1]);
		mem = mmap(NULL, mr.memory_size, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, mem);
		memcpy(mem, spin_code, sizeof(spin_code));
		mr.userspace_addr = (unsigned long)mem;
		ASSERT_EQ(0, ioctl(fds[1], LKVM_SET_MEMORY_REGION, &mr));
		fds[2] = ioctl(fds[1], LKVM_CREATE_VCPU, 0);
		ASSERT_LE(0, fds[2]);
		/* Real mode, CS base 0, IP 0: the loop above. */
		ASSERT_EQ(0, ioctl(fds[2], LKVM_GET_SREGS, &sregs));
		sregs.cs.base = 0;
		sregs.cs.selector = 0;
		ASSERT_EQ(0, ioctl(fds[2], LKVM_SET_SREGS, &sregs));
		ASSERT_EQ(0, ioctl(fds[2], LKVM_GET_REGS, &regs));
		regs.rip = 0;
		ASSERT_EQ(0, ioctl(fds[2], LKVM_SET_REGS, &regs));

		r.vcpu = fds[2];
		ASSERT_EQ(0, pthread_create(&t, NULL, run_until_signal, &r));
		usleep(200 * 1000);
		for (i = 0; i < 3; i++) {
			EXPECT_EQ(0, close(fds[orders[o][i]]));
		}
		/* Still running: the ioctl holds its file. */
		usleep(100 * 1000);
		EXPECT_LT(0, module_refcnt()) TH_LOG("order %d", o);
		pthread_kill(t, SIGUSR1);
		pthread_join(t, NULL);
		EXPECT_EQ(-EINTR, r.ret) TH_LOG("order %d", o);
		/* Everything went with the last reference. */
		EXPECT_EQ(0, module_refcnt()) TH_LOG("order %d", o);
		EXPECT_EQ(pin_before, lkvm_vm_pin_kb()) TH_LOG("order %d", o);
		munmap(mem, mr.memory_size);
	}
}

/* ---- the host's own state across LKVM_RUN ---- */

static __thread uint64_t tls_mark;

static void guest_sync_loop_code(uint64_t a0, uint64_t a1)
{
	uint64_t i;

	for (i = 0;; i++)
		GUEST_SYNC(i);
}

struct tls_job {
	uint64_t mark;
	int rounds;
	const char *fail;
};

#define TLS_ROUNDS	300

/*
 * Run a guest to many ucalls on CPU 0, where another thread does the same,
 * and check after each that this thread's FS base (its TLS) is its own:
 * the host state saved before VMRUN must be this task's, not the other's.
 */
static void *tls_runner(void *arg)
{
	struct tls_job *j = arg;
	char msg[GUEST_MSG_LEN];
	unsigned long fs_before, fs_after;
	struct guest_opts opts = { .backend = GUEST_LKVM };
	struct ucall uc;
	struct guest *g;
	cpu_set_t cpus;

	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	if (pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus)) {
		j->fail = "cannot run on CPU 0";
		return NULL;
	}
	tls_mark = j->mark;
	syscall(SYS_arch_prctl, ARCH_GET_FS, &fs_before);
	g = guest_create(&opts, guest_sync_loop_code);
	if (!g) {
		j->fail = "guest_create failed";
		return NULL;
	}
	for (j->rounds = 0; j->rounds < TLS_ROUNDS; j->rounds++) {
		if (guest_run_expect(g, UCALL_SYNC, &uc, msg, sizeof(msg))) {
			j->fail = "the guest did not sync";
			break;
		}
		syscall(SYS_arch_prctl, ARCH_GET_FS, &fs_after);
		if (tls_mark != j->mark || fs_after != fs_before) {
			j->fail = "this thread's FS base changed";
			break;
		}
		/* Let the other thread in between, on this CPU. */
		if (j->rounds % 16 == 0)
			sched_yield();
	}
	guest_destroy(g);
	return NULL;
}

TEST(host_tls_kept_with_two_vcpus_on_one_cpu)
{
	struct tls_job jobs[2] = { { .mark = 0x1111 }, { .mark = 0x2222 } };
	pthread_t t[2];
	int i;

	if (access(LKVM_DEV_PATH, F_OK))
		SKIP(return, "no %s", LKVM_DEV_PATH);
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, tls_runner, &jobs[i]));
	for (i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ(NULL, jobs[i].fail) TH_LOG("thread %d, round %d: %s", i, jobs[i].rounds,
						      jobs[i].fail);
		EXPECT_EQ(TLS_ROUNDS, jobs[i].rounds);
	}
}

/* ---- registers and the FPU across LKVM_RUN ---- */

/*
 * Add one to every general register but RSP, then report through a write
 * to the test port (DX = port, AL = data), then HLT.
 */
asm(".pushsection .text\n"
    "bump_regs:\n\t"
    "inc %rax; inc %rbx; inc %rcx; inc %rsi; inc %rdi; inc %rbp\n\t"
    "inc %r8; inc %r9; inc %r10; inc %r11; inc %r12; inc %r13; inc %r14; inc %r15\n\t"
    "mov $0x1000, %dx\n\t"
    "outb %al, %dx\n\t"
    "hlt\n"
    ".popsection");
void bump_regs(void);

TEST(registers_round_trip)
{
	struct guest_regs in, out;
	uint8_t *hlt;
	struct lkvm_run *run;
	struct guest *g;

	GUEST_CREATE_OR_SKIP(g, GUEST_LKVM, bump_regs);
	ASSERT_EQ(0, guest_get_regs(g, &in));
	in.rax = 0x1000000000000010ULL;
	in.rbx = 0x2000000000000020ULL;
	in.rcx = 0x3000000000000030ULL;
	in.rsi = 0x4000000000000040ULL;
	in.rdi = 0x5000000000000050ULL;
	in.rbp = 0x6000000000000060ULL;
	in.r8 = 0x8000000000000080ULL;
	in.r9 = 0x9000000000000090ULL;
	in.r10 = 0xa0000000000000a0ULL;
	in.r11 = 0xb0000000000000b0ULL;
	in.r12 = 0xc0000000000000c0ULL;
	in.r13 = 0xd0000000000000d0ULL;
	in.r14 = 0xe0000000000000e0ULL;
	in.r15 = 0xf0000000000000f0ULL;
	in.rdx = 0x7000000000000070ULL;
	in.rip = (uint64_t)bump_regs;
	in.rflags = 0x2 | (1 << 6) /* ZF */;
	ASSERT_EQ(0, guest_set_regs(g, &in));
	run = guest_lkvm_run(g);
	ASSERT_EQ(0, guest_run(g));
	ASSERT_EQ(LKVM_EXIT_TEST_IO, run->exit_reason);
	EXPECT_EQ(0x11, run->io.data);
	ASSERT_EQ(0, guest_get_regs(g, &out));
	EXPECT_EQ(in.rax + 1, out.rax);
	EXPECT_EQ(in.rbx + 1, out.rbx);
	EXPECT_EQ(in.rcx + 1, out.rcx);
	EXPECT_EQ((in.rdx & ~0xffffULL) | 0x1000, out.rdx);
	EXPECT_EQ(in.rsi + 1, out.rsi);
	EXPECT_EQ(in.rdi + 1, out.rdi);
	EXPECT_EQ(in.rsp, out.rsp);
	EXPECT_EQ(in.rbp + 1, out.rbp);
	EXPECT_EQ(in.r8 + 1, out.r8);
	EXPECT_EQ(in.r9 + 1, out.r9);
	EXPECT_EQ(in.r10 + 1, out.r10);
	EXPECT_EQ(in.r11 + 1, out.r11);
	EXPECT_EQ(in.r12 + 1, out.r12);
	EXPECT_EQ(in.r13 + 1, out.r13);
	EXPECT_EQ(in.r14 + 1, out.r14);
	EXPECT_EQ(in.r15 + 1, out.r15);
	/* RIP is past the OUT (one byte), at the HLT. */
	hlt = guest_gpa_to_hva(g, out.rip, 1);
	ASSERT_NE(NULL, hlt) TH_LOG("RIP %#llx", (unsigned long long)out.rip);
	EXPECT_EQ(0xf4, *hlt);
	/* The last INC (of R15, to 0xf0...f1) left ZF clear and SF set. */
	EXPECT_EQ(0x80, out.rflags & 0x8d4);
	guest_destroy(g);
}

/* The guest holds a pattern in XMM5 and checks it after each host run. */
static void guest_fpu_code(uint64_t a0, uint64_t a1)
{
	uint64_t lo = 0x0123456789abcdefULL, hi = 0xfedcba9876543210ULL, got_lo, got_hi;
	int i;

	asm volatile("movq %0, %%xmm5; pinsrq $1, %1, %%xmm5" : : "r"(lo), "r"(hi) : "xmm5");
	for (i = 0; i < 3; i++) {
		GUEST_SYNC(i);
		asm volatile("movq %%xmm5, %0; pextrq $1, %%xmm5, %1" : "=r"(got_lo), "=r"(got_hi));
		GUEST_ASSERT_EQ(got_lo, lo);
		GUEST_ASSERT_EQ(got_hi, hi);
	}
	GUEST_DONE();
}

/* One LKVM_RUN with the host's XMM5 loaded before and read right after. */
static long run_with_host_xmm5(int vcpu, struct lkvm_run *run, const uint64_t in[2],
			       uint64_t out[2])
{
	long ret;

	asm volatile("movdqu %[in], %%xmm5\n\t"
		     "syscall\n\t"
		     "movdqu %%xmm5, %[out]"
		     : [out] "=m"(*(uint64_t (*)[2])out), "=a"(ret)
		     : [in] "m"(*(const uint64_t (*)[2])in), "a"(SYS_ioctl), "D"(vcpu),
		       "S"(LKVM_RUN), "d"(run)
		     : "rcx", "r11", "xmm5", "memory");
	return ret;
}

TEST(fpu_state_kept_apart)
{
	const uint64_t host[2] = { 0x1111222233334444ULL, 0x5555666677778888ULL };
	uint64_t after[2];
	struct guest *g;
	struct ucall uc;
	int i;

	GUEST_CREATE_OR_SKIP(g, GUEST_LKVM, guest_fpu_code);
	for (i = 0; i < 3; i++) {
		memset(after, 0, sizeof(after));
		ASSERT_EQ(0, run_with_host_xmm5(guest_vcpu_fd(g), guest_lkvm_run(g), host, after));
		EXPECT_EQ(host[0], after[0]);
		EXPECT_EQ(host[1], after[1]);
		ASSERT_EQ(UCALL_SYNC, get_ucall(g, &uc));
		EXPECT_EQ(i, uc.args[0]);
		/* Let the scheduler save and restore both states in between. */
		usleep(10 * 1000);
	}
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	guest_destroy(g);
}

TEST_HARNESS_MAIN
