// SPDX-License-Identifier: GPL-2.0
/*
 * Load: 8 VMs at once, each created, run and destroyed by its own thread,
 * 200 rounds. Each VM has guest memory, one vCPU and, in every other VM,
 * the platform; its guest runs a few CPUIDs and port writes to the
 * platform's POST port, then reports through a test port. Afterwards
 * nothing stays pinned, the kernel's memory and slab counts are back
 * where they were, and the module unloads.
 *
 * Measured in the test VM: the 1600 VMs take about 6 s.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib/lkvm_util.h"

#define NR_VMS		8
#define ROUNDS		200
#define MEM_SIZE	0x10000
#define CODE_GPA	0x1000
#define DONE_PORT	0x1000
#define LOOPS		16

/*
 * Real mode at CODE_GPA:
 *	mov si, LOOPS
 * 1:	mov eax, 0; cpuid
 *	out 0x80, al
 *	dec si; jnz 1b
 *	mov dx, DONE_PORT; out dx, al
 *	hlt
 */
static const uint8_t guest_code[] = {
	0xbe, LOOPS, 0x00,
	0x66, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x0f, 0xa2,
	0xe6, 0x80,
	0x4e, 0x75, 0xf3,
	0xba, DONE_PORT & 0xff, DONE_PORT >> 8, 0xee,
	0xf4,
};

static pthread_barrier_t round_start;
static atomic_int failures;

static void fail(int vm, int round, const char *what, int err)
{
	if (atomic_fetch_add(&failures, 1) < 10)
		fprintf(stderr, "# vm %d, round %d: %s: %s\n", vm, round, what, strerror(err));
}

/* One VM's life: 0, or -1 after saying what failed. */
static int one_vm(int dev, int index, int round)
{
	struct lkvm_test_exits exits = { .flags = LKVM_TEST_EXIT_IO, .io_port = DONE_PORT };
	struct lkvm_platform platform = { 0 };
	struct lkvm_memory_region region = { .memory_size = MEM_SIZE };
	struct lkvm_regs regs = { .rip = CODE_GPA, .rflags = 2 };
	int vm, vcpu = -1, console = -1, ret = -1;
	struct lkvm_sregs sregs;
	struct lkvm_run run;
	uint8_t *mem;

	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		fail(index, round, "mmap", errno);
		return -1;
	}
	memcpy(mem + CODE_GPA, guest_code, sizeof(guest_code));
	region.userspace_addr = (uintptr_t)mem;
	vm = ioctl(dev, LKVM_CREATE_VM, 0);
	if (vm < 0) {
		fail(index, round, "LKVM_CREATE_VM", errno);
		goto out_unmap;
	}
	if ((index % 2) && (console = ioctl(vm, LKVM_CREATE_PLATFORM, &platform)) < 0) {
		fail(index, round, "LKVM_CREATE_PLATFORM", errno);
		goto out;
	}
	if (ioctl(vm, LKVM_SET_MEMORY_REGION, &region) || ioctl(vm, LKVM_SET_TEST_EXITS, &exits)) {
		fail(index, round, "VM setup", errno);
		goto out;
	}
	vcpu = ioctl(vm, LKVM_CREATE_VCPU, 0);
	if (vcpu < 0 || ioctl(vcpu, LKVM_GET_SREGS, &sregs)) {
		fail(index, round, "LKVM_CREATE_VCPU", errno);
		goto out;
	}
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, LKVM_SET_SREGS, &sregs) || ioctl(vcpu, LKVM_SET_REGS, &regs)) {
		fail(index, round, "vCPU setup", errno);
		goto out;
	}
	memset(&run, 0, sizeof(run));
	do {
		ret = ioctl(vcpu, LKVM_RUN, &run);
	} while (ret < 0 && errno == EINTR);
	if (ret < 0) {
		fail(index, round, "LKVM_RUN", errno);
		goto out;
	}
	if (run.exit_reason != LKVM_EXIT_TEST_IO || run.io.port != DONE_PORT) {
		fail(index, round, "the guest did not finish", EPROTO);
		ret = -1;
	}
out:
	if (vcpu >= 0)
		close(vcpu);
	if (console >= 0)
		close(console);
	close(vm);
out_unmap:
	munmap(mem, MEM_SIZE);
	return ret;
}

static void *runner(void *arg)
{
	int index = (intptr_t)arg, dev, round;

	dev = open(LKVM_DEV_PATH, O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		fail(index, 0, "open", errno);
		return NULL;
	}
	for (round = 0; round < ROUNDS; round++) {
		/* All eight VMs of a round exist at once. */
		pthread_barrier_wait(&round_start);
		one_vm(dev, index, round);
	}
	close(dev);
	return NULL;
}

FIXTURE(load) {
	struct lkvm_mem_snapshot before, after;
};

FIXTURE_SETUP(load)
{
	ASSERT_TRUE(lkvm_module_loaded()) TH_LOG("lkvm_lite must be loaded");
}

FIXTURE_TEARDOWN(load)
{
	if (!lkvm_module_loaded())
		EXPECT_EQ(0, lkvm_module_load());
}

TEST_F_TIMEOUT(load, eight_vms_200_rounds_no_leak, 300)
{
	pthread_t t[NR_VMS];
	long pin_before, pins_before;
	char msg[512];
	time_t start;
	int i, grown;

	pin_before = lkvm_vm_pin_kb();
	pins_before = lkvm_foll_pins_held();
	ASSERT_LE(0, pin_before);
	ASSERT_LE(0, pins_before);
	ASSERT_EQ(0, lkvm_mem_snapshot(&self->before));

	start = time(NULL);
	ASSERT_EQ(0, pthread_barrier_init(&round_start, NULL, NR_VMS));
	for (i = 0; i < NR_VMS; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, runner, (void *)(intptr_t)i));
	for (i = 0; i < NR_VMS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&round_start);
	fprintf(stderr, "# %d rounds of %d VMs in %lds\n", ROUNDS, NR_VMS,
		(long)(time(NULL) - start));
	EXPECT_EQ(0, atomic_load(&failures));

	EXPECT_EQ(pin_before, lkvm_vm_pin_kb());
	/* (A count over all the kernel: another process's pins may go meanwhile.) */
	EXPECT_GE(pins_before, lkvm_foll_pins_held());
	ASSERT_EQ(0, lkvm_module_unload());
	ASSERT_EQ(0, lkvm_module_load());
	ASSERT_EQ(0, lkvm_mem_snapshot(&self->after));
	/* One object leaked per VM would be 1600; what the test VM drifts by, tens. */
	grown = lkvm_mem_grown(&self->before, &self->after, NR_VMS * ROUNDS / 2, msg, sizeof(msg));
	fprintf(stderr, "# %s\n", msg);
	EXPECT_EQ(0, grown) TH_LOG("kernel memory grew with the VMs: %s", msg);
}

TEST_HARNESS_MAIN
