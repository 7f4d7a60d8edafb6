// SPDX-License-Identifier: GPL-2.0
/*
 * The guest library (lib/guest.c) end to end on lkvm_lite: ucalls arrive in
 * order with their arguments, a failing guest assertion names its file,
 * line and values, an unexpected exception arrives with its vector and
 * RIP, faults can be caught on purpose, and test MMIO round-trips.
 *
 * LKVM_GUEST_BACKEND=kvm runs the same guests on stock KVM (kvm_amd, with
 * lkvm_lite unloaded): a check of the tests themselves.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "kselftest_harness.h"
#include "lib/guest.h"

#define MSR_EFER		0xc0000080
#define EFER_LONG_MODE		((1ULL << 0) | (1ULL << 8) | (1ULL << 10))	/* SCE, LME, LMA */
#define MSR_NONEXISTENT		0xdeadbeef
#define VECTOR_BP		3
#define VECTOR_UD		6
#define VECTOR_GP		13
/* Above the default 32 MiB of RAM, below 4 GiB. */
#define TEST_MMIO_GPA		0xc0000000ULL
#define TEST_MMIO_SIZE		0x1000

/* Set by the host after the image is loaded: reaches the guest only by sync. */
static uint64_t host_value = 1;

static void guest_sync_code(uint64_t a0, uint64_t a1)
{
	GUEST_SYNC(1);
	GUEST_SYNC(2);
	GUEST_ASSERT_EQ(a0 + 1, a1);
	GUEST_SYNC_ARGS(a0, a1, host_value, 4);
	host_value = 0x5eed;
	GUEST_DONE();
}

TEST(sync_args_done)
{
	struct guest *g;
	struct ucall uc;

	GUEST_CREATE_OR_SKIP(g, guest_backend_from_env(), guest_sync_code);
	guest_set_args(g, 41, 42);
	host_value = 0xfeedface;
	guest_sync_global(g, &host_value, sizeof(host_value));

	ASSERT_UCALL(g, UCALL_SYNC, &uc);
	EXPECT_EQ(1, uc.args[0]);
	EXPECT_EQ(0, uc.args[1]);
	ASSERT_UCALL(g, UCALL_SYNC, &uc);
	EXPECT_EQ(2, uc.args[0]);
	ASSERT_UCALL(g, UCALL_SYNC, &uc);
	EXPECT_EQ(41, uc.args[0]);
	EXPECT_EQ(42, uc.args[1]);
	EXPECT_EQ(0xfeedface, uc.args[2]);
	EXPECT_EQ(4, uc.args[3]);
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	/* The guest stays done. */
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	guest_read_global(g, &host_value, sizeof(host_value));
	EXPECT_EQ(0x5eed, host_value);
	guest_destroy(g);
}

/* Where the two assertions below are, for the host to compare. */
enum { GUEST_ASSERT_LINE = __LINE__ + 4, GUEST_ASSERT_EQ_LINE = __LINE__ + 5 };
static void guest_assert_code(uint64_t which, uint64_t a1)
{
	if (which == 0)
		GUEST_ASSERT(which == a1);
	GUEST_ASSERT_EQ(which + 1, a1);
	GUEST_DONE();
}

TEST(assert_fails)
{
	char msg[GUEST_MSG_LEN], want[GUEST_MSG_LEN];
	struct guest *g;
	struct ucall uc;

	GUEST_CREATE_OR_SKIP(g, guest_backend_from_env(), guest_assert_code);
	guest_set_args(g, 0, 7);
	ASSERT_UCALL(g, UCALL_ASSERT, &uc);
	EXPECT_EQ(GUEST_ASSERT_LINE, uc.line);
	EXPECT_EQ(0, uc.nr_values);
	EXPECT_STREQ(__FILE__, (const char *)(uintptr_t)uc.file);
	EXPECT_STREQ("which == a1", (const char *)(uintptr_t)uc.expr);
	snprintf(want, sizeof(want), "guest assertion failed: %s:%d: which == a1",
		 __FILE__, GUEST_ASSERT_LINE);
	EXPECT_STREQ(want, guest_exit_describe(g, msg, sizeof(msg)));
	/* A failed assertion stops the guest: it reports again, never goes on. */
	ASSERT_UCALL(g, UCALL_ASSERT, &uc);
	EXPECT_EQ(GUEST_ASSERT_LINE, uc.line);
	guest_destroy(g);
}

TEST(assert_eq_fails)
{
	char msg[GUEST_MSG_LEN], want[GUEST_MSG_LEN];
	struct guest *g;
	struct ucall uc;

	GUEST_CREATE_OR_SKIP(g, guest_backend_from_env(), guest_assert_code);
	guest_set_args(g, 5, 7);
	ASSERT_UCALL(g, UCALL_ASSERT, &uc);
	EXPECT_EQ(GUEST_ASSERT_EQ_LINE, uc.line);
	EXPECT_EQ(2, uc.nr_values);
	EXPECT_EQ(6, uc.values[0]);
	EXPECT_EQ(7, uc.values[1]);
	snprintf(want, sizeof(want),
		 "guest assertion failed: %s:%d: which + 1 == a1: 0x6 (6) != 0x7 (7)",
		 __FILE__, GUEST_ASSERT_EQ_LINE);
	EXPECT_STREQ(want, guest_exit_describe(g, msg, sizeof(msg)));

	/* guest_run_expect() hands a test the same message. */
	EXPECT_EQ(-1, guest_run_expect(g, UCALL_DONE, &uc, msg, sizeof(msg)));
	EXPECT_NE(NULL, strstr(msg, want)) TH_LOG("%s", msg);
	guest_destroy(g);
}

/* Declared by the asm label in the guest code below. */
extern const char guest_ud2_insn[];

static void guest_ud_code(uint64_t a0, uint64_t a1)
{
	asm volatile("guest_ud2_insn: ud2");
	GUEST_DONE();
}

TEST(unexpected_exception)
{
	char msg[GUEST_MSG_LEN], want[GUEST_MSG_LEN];
	struct guest *g;
	struct ucall uc;

	GUEST_CREATE_OR_SKIP(g, guest_backend_from_env(), guest_ud_code);
	ASSERT_UCALL(g, UCALL_UNHANDLED, &uc);
	EXPECT_EQ(VECTOR_UD, uc.vector);
	EXPECT_EQ(0, uc.error_code);
	EXPECT_EQ((uintptr_t)guest_ud2_insn, uc.rip);
	snprintf(want, sizeof(want),
		 "unexpected exception in the guest: vector 6 (#UD), error code 0x0, rip %p",
		 guest_ud2_insn);
	EXPECT_STREQ(want, guest_exit_describe(g, msg, sizeof(msg)));
	ASSERT_UCALL(g, UCALL_UNHANDLED, &uc);
	EXPECT_EQ((uintptr_t)guest_ud2_insn, uc.rip);
	guest_destroy(g);
}

/* Page 0 is not mapped: a NULL pointer is a #PF at address 0, not a write to the tables. */
static void guest_null_code(uint64_t a0, uint64_t a1)
{
	*(volatile uint64_t *)a0 = 0x1234;
	GUEST_DONE();
}

TEST(null_pointer_faults)
{
	struct guest *g;
	struct ucall uc;

	GUEST_CREATE_OR_SKIP(g, guest_backend_from_env(), guest_null_code);
	guest_set_args(g, 8, 0);
	ASSERT_UCALL(g, UCALL_UNHANDLED, &uc);
	EXPECT_EQ(14, uc.vector);
	/* Not present, a write, at CPL 0. */
	EXPECT_EQ(2, uc.error_code);
	guest_destroy(g);
}

static void guest_msr_code(uint64_t a0, uint64_t a1)
{
	uint64_t val = 0x1234;

	GUEST_SYNC(guest_rdmsr_safe(MSR_NONEXISTENT, &val));
	GUEST_SYNC(val);
	GUEST_SYNC(guest_wrmsr_safe(MSR_NONEXISTENT, 0));
	GUEST_SYNC(guest_rdmsr_safe(MSR_EFER, &val));
	GUEST_SYNC(val);
	GUEST_DONE();
}

TEST(msr_safe)
{
	struct guest *g;
	struct ucall uc;

	GUEST_CREATE_OR_SKIP(g, guest_backend_from_env(), guest_msr_code);
	ASSERT_UCALL(g, UCALL_SYNC, &uc);
	EXPECT_EQ(VECTOR_GP, uc.args[0]) TH_LOG("RDMSR 0x%x", MSR_NONEXISTENT);
	ASSERT_UCALL(g, UCALL_SYNC, &uc);
	EXPECT_EQ(0, uc.args[0]) TH_LOG("a faulting RDMSR reads as 0");
	ASSERT_UCALL(g, UCALL_SYNC, &uc);
	EXPECT_EQ(VECTOR_GP, uc.args[0]) TH_LOG("WRMSR 0x%x", MSR_NONEXISTENT);
	ASSERT_UCALL(g, UCALL_SYNC, &uc);
	EXPECT_EQ(0, uc.args[0]) TH_LOG("RDMSR EFER");
	ASSERT_UCALL(g, UCALL_SYNC, &uc);
	EXPECT_EQ(EFER_LONG_MODE, uc.args[0] & EFER_LONG_MODE);
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	guest_destroy(g);
}

static void guest_asm_safe_code(uint64_t a0, uint64_t a1)
{
	uint64_t fault;

	asm volatile(GUEST_ASM_SAFE("ud2")
		     : GUEST_ASM_SAFE_OUTPUT(fault) : : GUEST_ASM_SAFE_CLOBBERS);
	GUEST_SYNC(fault);
	/* A trap: the CPU reports the RIP after the instruction. */
	GUEST_SYNC(GUEST_SAFE_INSN("int3"));
	GUEST_SYNC(GUEST_SAFE_INSN("nop"));
	GUEST_DONE();
}

TEST(asm_safe)
{
	struct guest *g;
	struct ucall uc;

	GUEST_CREATE_OR_SKIP(g, guest_backend_from_env(), guest_asm_safe_code);
	ASSERT_UCALL(g, UCALL_SYNC, &uc);
	EXPECT_TRUE(guest_faulted(uc.args[0]));
	EXPECT_EQ(VECTOR_UD, guest_fault_vector(uc.args[0]));
	EXPECT_EQ(0, guest_fault_error_code(uc.args[0]));
	ASSERT_UCALL(g, UCALL_SYNC, &uc);
	EXPECT_TRUE(guest_faulted(uc.args[0]));
	EXPECT_EQ(VECTOR_BP, guest_fault_vector(uc.args[0]));
	ASSERT_UCALL(g, UCALL_SYNC, &uc);
	EXPECT_EQ(0, uc.args[0]);
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	guest_destroy(g);
}

static void guest_mmio_code(uint64_t gpa, uint64_t a1)
{
	*(volatile uint32_t *)gpa = 0xdeadbeef;
	GUEST_SYNC(*(volatile uint32_t *)(gpa + 8));
	GUEST_DONE();
}

TEST(test_mmio)
{
	struct guest_mmio m;
	struct guest *g;
	struct ucall uc;
	char msg[GUEST_MSG_LEN];

	GUEST_CREATE_OR_SKIP(g, guest_backend_from_env(), guest_mmio_code);
	ASSERT_EQ(0, guest_enable_test_mmio(g, TEST_MMIO_GPA, TEST_MMIO_SIZE))
		TH_LOG("%s", guest_error());
	guest_set_args(g, TEST_MMIO_GPA, 0);

	ASSERT_EQ(0, guest_run(g));
	ASSERT_TRUE(guest_mmio_exit(g, &m)) TH_LOG("%s", guest_exit_describe(g, msg, sizeof(msg)));
	EXPECT_EQ(TEST_MMIO_GPA, m.gpa);
	EXPECT_EQ(4, m.size);
	EXPECT_TRUE(m.is_write);
	EXPECT_EQ(0xdeadbeef, m.data);

	ASSERT_EQ(0, guest_run(g));
	ASSERT_TRUE(guest_mmio_exit(g, &m)) TH_LOG("%s", guest_exit_describe(g, msg, sizeof(msg)));
	EXPECT_EQ(TEST_MMIO_GPA + 8, m.gpa);
	EXPECT_EQ(4, m.size);
	EXPECT_FALSE(m.is_write);
	guest_mmio_set_read_data(g, 0x12345678);

	ASSERT_UCALL(g, UCALL_SYNC, &uc);
	EXPECT_EQ(0x12345678, uc.args[0]);
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	guest_destroy(g);
}

/* Returning from the guest code is GUEST_DONE(). */
static void guest_return_code(uint64_t a0, uint64_t a1)
{
	GUEST_SYNC(a0);
}

TEST(return_is_done)
{
	struct guest *g;
	struct ucall uc;

	GUEST_CREATE_OR_SKIP(g, guest_backend_from_env(), guest_return_code);
	guest_set_args(g, 9, 0);
	ASSERT_UCALL(g, UCALL_SYNC, &uc);
	EXPECT_EQ(9, uc.args[0]);
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	guest_destroy(g);
}

TEST_HARNESS_MAIN
