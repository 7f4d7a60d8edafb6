// SPDX-License-Identifier: GPL-2.0
/*
 * Runs in a second test VM whose CPU has no SVM (-cpu qemu64,-svm): loading
 * the module must fail with ENODEV, one kernel log line saying why, and
 * nothing left behind.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib/lkvm_util.h"

static bool cpu_has_svm(void)
{
	unsigned int eax, ebx, ecx, edx;

	if (!__get_cpuid(0x80000001, &eax, &ebx, &ecx, &edx))
		return false;
	return ecx & (1u << 2);
}

TEST(load_refused_without_svm)
{
	struct lkvm_kmsg kmsg;
	char log[1024];
	int n;

	if (cpu_has_svm())
		SKIP(return, "this CPU has SVM; the test belongs in the no-SVM test VM");
	ASSERT_FALSE(lkvm_module_loaded());

	ASSERT_EQ(0, lkvm_kmsg_open(&kmsg));
	EXPECT_EQ(-ENODEV, lkvm_module_load());
	n = lkvm_kmsg_grep(&kmsg, "lkvm_lite", log, sizeof(log));
	lkvm_kmsg_close(&kmsg);
	EXPECT_EQ(1, n) TH_LOG("want one kernel log line, got %d:\n%s", n, log);
	EXPECT_NE(NULL, strstr(log, "no AMD SVM")) TH_LOG("log line does not say why: %s", log);
	EXPECT_FALSE(lkvm_module_loaded());
	EXPECT_NE(0, access(LKVM_DEV_PATH, F_OK));
}

TEST_HARNESS_MAIN
