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
	if (cpu_has_svm())
		SKIP(return, "this CPU has SVM; the test belongs in the no-SVM test VM");
	ASSERT_FALSE(lkvm_module_loaded());

	EXPECT_LOAD_REFUSED(-ENODEV, "no AMD SVM");
}

TEST_HARNESS_MAIN
