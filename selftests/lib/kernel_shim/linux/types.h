/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel's own names for the fixed-size types, for the tests that build
 * a kernel source file (kernel/emulate.c) into a userspace program. Only
 * those programs have this directory on their include path, ahead of the
 * system headers; the uapi <linux/types.h> that it stands in front of is
 * still included, for the system headers that need it.
 */
#ifndef LKVM_KERNEL_SHIM_LINUX_TYPES_H
#define LKVM_KERNEL_SHIM_LINUX_TYPES_H

#include_next <linux/types.h>
#include <stdbool.h>

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s8 s8;
typedef __s16 s16;
typedef __s32 s32;
typedef __s64 s64;

#endif /* LKVM_KERNEL_SHIM_LINUX_TYPES_H */
