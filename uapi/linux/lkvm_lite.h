/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * lkvm-lite: the ioctl ABI between the lkvm_lite module and userspace.
 *
 * Rules kept by every ioctl here: fixed-size fields only, explicit padding,
 * structs a multiple of 8 bytes, pointers carried as __u64, and every flag
 * or reserved field that is not defined must be zero or the call fails with
 * -EINVAL. Numbers are grouped by the file descriptor they act on and are
 * never reused. New features are added as new capabilities, never by
 * changing an existing ioctl. See Documentation/api.rst.
 */
#ifndef _UAPI_LINUX_LKVM_LITE_H
#define _UAPI_LINUX_LKVM_LITE_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Bumped only if an existing ioctl ever has to change meaning. */
#define LKVM_API_VERSION	1

#define LKVMIO			0xB9	/* unused in ioctl-number.rst of Linux 6.1 */

/* Capabilities, asked for with LKVM_CHECK_CAP. Never renumbered. */
#define LKVM_CAP_SVM		1	/* value: 1, the module owns SVM on every online CPU */
#define LKVM_CAP_SVM_FEATURES	2	/* value: CPUID 0x8000000A EDX of the host */
#define LKVM_CAP_NR_ASIDS	3	/* value: CPUID 0x8000000A EBX of the host */
#define LKVM_CAP_VM		4	/* value: 1, LKVM_CREATE_VM works */
#define LKVM_CAP_NR_MEMORY_SLOTS 5	/* value: memory slots per VM */
#define LKVM_CAP_GUEST_PHYS_BITS 6	/* value: guest physical addresses are below 1 << value */
#define LKVM_CAP_MAX_VCPUS	7	/* value: vCPU ids are below this */

/**
 * struct lkvm_cap - argument of LKVM_CHECK_CAP
 * @cap:   in: one of LKVM_CAP_*
 * @flags: in: must be zero
 * @value: in: must be zero; out: the capability's value, 0 if unsupported
 */
struct lkvm_cap {
	__u32 cap;
	__u32 flags;
	__u64 value;
};

/**
 * struct lkvm_memory_region - argument of LKVM_SET_MEMORY_REGION
 * @slot:            in: 0 .. LKVM_CAP_NR_MEMORY_SLOTS - 1, not in use yet
 * @flags:           in: must be zero
 * @guest_phys_addr: in: where the region starts in the guest, page aligned
 * @memory_size:     in: bytes, page aligned, not zero
 * @userspace_addr:  in: the caller's memory backing it, page aligned
 */
struct lkvm_memory_region {
	__u32 slot;
	__u32 flags;
	__u64 guest_phys_addr;
	__u64 memory_size;
	__u64 userspace_addr;
};

/**
 * struct lkvm_regs - general registers, for LKVM_GET_REGS and LKVM_SET_REGS
 */
struct lkvm_regs {
	__u64 rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
	__u64 r8, r9, r10, r11, r12, r13, r14, r15;
	__u64 rip, rflags;
};

/**
 * struct lkvm_segment - a segment register, hidden part included
 * @base:     base address
 * @limit:    limit, in bytes (already scaled by the granularity bit)
 * @selector: the visible selector
 * @attrib:   attributes in SVM's packed form (AMD APM vol. 2, 15.5.1):
 *            bits 0-3 type, 4 S, 5-6 DPL, 7 P, 8 AVL, 9 L, 10 D/B, 11 G;
 *            bits 12-15 must be zero
 */
struct lkvm_segment {
	__u64 base;
	__u32 limit;
	__u16 selector;
	__u16 attrib;
};

/**
 * struct lkvm_dtable - GDTR or IDTR
 * @base:  base address
 * @limit: limit, in bytes
 * @pad:   must be zero
 */
struct lkvm_dtable {
	__u64 base;
	__u16 limit;
	__u16 pad[3];
};

/**
 * struct lkvm_sregs - system registers, for LKVM_GET_SREGS and LKVM_SET_SREGS
 * @reserved: must be zero
 */
struct lkvm_sregs {
	struct lkvm_segment cs, ds, es, fs, gs, ss, tr, ldt;
	struct lkvm_dtable gdt, idt;
	__u64 cr0, cr2, cr3, cr4, cr8, efer;
	__u64 reserved[4];
};

/* ioctls on /dev/lkvm_lite */
#define LKVM_GET_API_VERSION	_IO(LKVMIO, 0x00)
#define LKVM_CHECK_CAP		_IOWR(LKVMIO, 0x01, struct lkvm_cap)
#define LKVM_CREATE_VM		_IO(LKVMIO, 0x02)

/* ioctls on a VM file descriptor */
#define LKVM_SET_MEMORY_REGION	_IOW(LKVMIO, 0x10, struct lkvm_memory_region)
#define LKVM_CREATE_VCPU	_IO(LKVMIO, 0x11)

/* ioctls on a vCPU file descriptor */
#define LKVM_GET_REGS		_IOR(LKVMIO, 0x20, struct lkvm_regs)
#define LKVM_SET_REGS		_IOW(LKVMIO, 0x21, struct lkvm_regs)
#define LKVM_GET_SREGS		_IOR(LKVMIO, 0x22, struct lkvm_sregs)
#define LKVM_SET_SREGS		_IOW(LKVMIO, 0x23, struct lkvm_sregs)

#endif /* _UAPI_LINUX_LKVM_LITE_H */
