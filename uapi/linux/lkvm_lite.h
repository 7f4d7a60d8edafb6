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
#define LKVM_CAP_RUN		8	/* value: 1, LKVM_RUN runs guests */
#define LKVM_CAP_TEST_EXITS	9	/* value: the LKVM_TEST_EXIT_* flags supported */
#define LKVM_CAP_VCPU_STATS	10	/* value: LKVM_VCPU_NR_STATS */
#define LKVM_CAP_PLATFORM	11	/* value: 1, LKVM_CREATE_PLATFORM works */
#define LKVM_CAP_NET		12	/* value: virtio-net devices per VM (LKVM_CREATE_NET) */
#define LKVM_CAP_VM_STATS	13	/* value: LKVM_VM_NR_STATS */

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

/**
 * struct lkvm_test_exits - argument of LKVM_SET_TEST_EXITS
 * @flags:     in: LKVM_TEST_EXIT_IO and/or LKVM_TEST_EXIT_MMIO, or 0 for none
 * @io_port:   in: with LKVM_TEST_EXIT_IO, the port whose accesses (any size)
 *             return from LKVM_RUN as LKVM_EXIT_TEST_IO; else must be zero
 * @pad:       must be zero
 * @mmio_gpa:  in: with LKVM_TEST_EXIT_MMIO, start of a guest physical range,
 *             outside every memory region, whose accesses return as
 *             LKVM_EXIT_TEST_MMIO; else must be zero
 * @mmio_size: in: its size in bytes, not zero; else must be zero
 *
 * Test-only exits: a selftest asks for them, a VMM never needs them.
 */
struct lkvm_test_exits {
	__u32 flags;
	__u16 io_port;
	__u16 pad;
	__u64 mmio_gpa;
	__u64 mmio_size;
};

#define LKVM_TEST_EXIT_IO	0x1U
#define LKVM_TEST_EXIT_MMIO	0x2U

/* Why LKVM_RUN returned 0: lkvm_run.exit_reason */
#define LKVM_EXIT_SHUTDOWN	1	/* the guest shut down (triple fault) */
#define LKVM_EXIT_INTERNAL_ERROR 2	/* the module could not go on: see @internal */
#define LKVM_EXIT_TEST_IO	3	/* an access to the test port: see @io */
#define LKVM_EXIT_TEST_MMIO	4	/* an access to the test MMIO range: see @mmio */
#define LKVM_EXIT_SYSTEM_EVENT	5	/* the guest powered off or reset: see @system_event */

/* lkvm_run.system_event.type */
#define LKVM_SYSTEM_EVENT_POWEROFF	1	/* ACPI sleep state S5 */
#define LKVM_SYSTEM_EVENT_RESET		2	/* reset control (0xcf9), keyboard controller */

/* lkvm_run.internal.suberror */
#define LKVM_INTERNAL_UNHANDLED_EXIT	1	/* an SVM exit code with no handler */
#define LKVM_INTERNAL_EMULATION		2	/* an instruction to emulate not decoded */
#define LKVM_INTERNAL_VMRUN_FAILED	3	/* VMRUN refused the state (SVM_EXIT_ERR) */
#define LKVM_INTERNAL_FETCH		4	/* the instruction could not be read */
#define LKVM_INTERNAL_DELIVERY		5	/* delivering an event touched memory outside RAM */

/**
 * struct lkvm_run - argument of LKVM_RUN
 * @flags:       in: must be zero
 * @exit_reason: out: LKVM_EXIT_*
 * @exit_code:   out: the SVM exit code of the last #VMEXIT
 * @exit_info1:  out: its EXITINFO1
 * @exit_info2:  out: its EXITINFO2
 * @rip:         out: guest RIP of the instruction that exited
 * @io:          LKVM_EXIT_TEST_IO: @port, @size (1, 2 or 4), @is_write and,
 *               for a write, @data; a read returns @data as it is when
 *               LKVM_RUN is called next
 * @mmio:        LKVM_EXIT_TEST_MMIO: @gpa, @size (1, 2, 4 or 8), @is_write
 *               and, for a write, @data; a read completes with @data as it
 *               is when LKVM_RUN is called next
 * @internal:    LKVM_EXIT_INTERNAL_ERROR: @suberror (LKVM_INTERNAL_*), and
 *               the first @insn_len bytes of the instruction at @rip if known
 * @system_event: LKVM_EXIT_SYSTEM_EVENT: @type (LKVM_SYSTEM_EVENT_*), and in
 *               @data the port the guest wrote (bits 0-15) and the value
 *               (bits 16-23)
 *
 * The guest's RIP has already moved past a test-port or test-MMIO access
 * when LKVM_RUN returns; the next LKVM_RUN completes a read and goes on.
 */
struct lkvm_run {
	__u32 flags;
	__u32 exit_reason;
	__u64 exit_code;
	__u64 exit_info1;
	__u64 exit_info2;
	__u64 rip;
	union {
		struct {
			__u16 port;
			__u8 size;
			__u8 is_write;
			__u32 pad;
			__u64 data;
		} io;
		struct {
			__u64 gpa;
			__u8 size;
			__u8 is_write;
			__u8 pad[6];
			__u64 data;
		} mmio;
		struct {
			__u32 suberror;
			__u32 insn_len;
			__u8 insn[16];
		} internal;
		struct {
			__u32 type;
			__u32 pad;
			__u64 data;
		} system_event;
		__u64 pad[8];
	};
};

/*
 * In the lkvm_entry and lkvm_userspace_exit tracepoints (trace system
 * lkvm_lite): no exit to report.
 */
#define LKVM_TRACE_NO_EXIT	0xffffffffU

/**
 * struct lkvm_interrupt - argument of LKVM_INTERRUPT
 * @vector: in: 32 .. 255
 * @flags:  in: must be zero
 */
struct lkvm_interrupt {
	__u32 vector;
	__u32 flags;
};

/* Indexes into lkvm_vcpu_stats.stat; never renumbered. */
enum {
	LKVM_STAT_EXITS,		/* every #VMEXIT */
	LKVM_STAT_USERSPACE_EXITS,	/* LKVM_RUN returned with an exit reason */
	LKVM_STAT_SIGNAL_EXITS,		/* LKVM_RUN returned -EINTR */
	LKVM_STAT_CPUID,
	LKVM_STAT_MSR_READ,
	LKVM_STAT_MSR_WRITE,
	LKVM_STAT_HLT,
	LKVM_STAT_IO,
	LKVM_STAT_MMIO,
	LKVM_STAT_INTR,			/* a host interrupt arrived in guest mode */
	LKVM_STAT_NMI,
	LKVM_STAT_SHUTDOWN,
	LKVM_STAT_DR_ACCESS,		/* debug register reads and writes */
	LKVM_STAT_XSETBV,
	LKVM_STAT_EXCEPTION_INJECTED,	/* faults the module raised in the guest */
	LKVM_STAT_IRQ_INJECTED,		/* interrupts handed to the guest */
	LKVM_STAT_HALT_WAKEUPS,
	LKVM_STAT_UNCLAIMED_IO,		/* port accesses no device claimed */
	LKVM_STAT_UNCLAIMED_MMIO,	/* accesses outside memory no device claimed */
	LKVM_STAT_OTHER_EXITS,		/* exits no counter above or below names */
	LKVM_STAT_GUEST_EXCEPTIONS,	/* #DB and #AC the guest raised, passed back to it */
	LKVM_STAT_APIC_ACCESS,		/* local APIC register reads and writes (MSR or MMIO) */
	LKVM_STAT_APIC_TIMER,		/* local APIC timer expiries */
	LKVM_STAT_APIC_EOI,		/* EOIs the guest wrote */
	LKVM_STAT_SYSTEM_EVENTS,	/* power-off and reset requests */
	LKVM_STAT_APIC_IPI_IGNORED,	/* IPIs of a delivery mode not modelled (NMI, INIT...) */
	LKVM_STAT_APIC_PV_EOI,		/* EOIs through the paravirtual flag, without an exit */
};

#define LKVM_VCPU_NR_STATS	64

/**
 * struct lkvm_vcpu_stats - argument of LKVM_GET_VCPU_STATS
 * @stat: out: counters since the vCPU was created, indexed by LKVM_STAT_*;
 *        unused entries read as zero
 */
struct lkvm_vcpu_stats {
	__u64 stat[LKVM_VCPU_NR_STATS];
};

/*
 * The PC platform LKVM_CREATE_PLATFORM builds in the module, at fixed
 * places. Guest RAM may not overlap LKVM_PLATFORM_MMIO_BASE ..
 * LKVM_PLATFORM_MMIO_END (the 32-bit PCI hole, the IOAPIC and the local
 * APICs); the firmware tables a VMM writes (MADT, FADT) describe these.
 */
#define LKVM_PLATFORM_MMIO_BASE		0xc0000000ULL
#define LKVM_PLATFORM_MMIO_END		0x100000000ULL
#define LKVM_PLATFORM_IOAPIC_BASE	0xfec00000ULL
#define LKVM_PLATFORM_IOAPIC_ID		1
#define LKVM_PLATFORM_IOAPIC_PINS	24
#define LKVM_PLATFORM_LAPIC_BASE	0xfee00000ULL
#define LKVM_PLATFORM_UART_PORT		0x3f8	/* 16550A, COM1 */
#define LKVM_PLATFORM_UART_IRQ		4	/* its IOAPIC pin, edge, active high */
#define LKVM_PLATFORM_PCI_CONFIG_PORT	0xcf8	/* configuration mechanism #1 */
#define LKVM_PLATFORM_RESET_PORT	0xcf9	/* write 0x06 (or any value with bit 2): reset */
#define LKVM_PLATFORM_RESET_VALUE	0x06
#define LKVM_PLATFORM_SLEEP_CTL_PORT	0x600	/* ACPI sleep control register (8 bits) */
#define LKVM_PLATFORM_SLEEP_STS_PORT	0x601	/* ACPI sleep status register (8 bits) */
#define LKVM_PLATFORM_S5_SLP_TYP	5	/* the SLP_TYP of S5 the DSDT's _S5 must name */

/**
 * struct lkvm_platform - argument of LKVM_CREATE_PLATFORM
 *
 * Builds the in-kernel PC platform of a VM: a local APIC for every vCPU
 * created after it, the IOAPIC, the UART, PCI configuration space with a
 * host bridge, kvmclock, and the reset and power-off registers. Only
 * before the first vCPU, once per VM, with no RAM in the MMIO window.
 * Returns a new file descriptor, the console: read() returns what the
 * guest wrote to the UART, write() queues what it will read.
 *
 * @flags:    in: must be zero
 * @pad:      must be zero
 * @reserved: must be zero
 */
struct lkvm_platform {
	__u32 flags;
	__u32 pad;
	__u64 reserved[3];
};

/**
 * struct lkvm_net - argument of LKVM_CREATE_NET
 * @flags:     in: must be zero
 * @pci_devfn: out: the device's slot and function on PCI bus 0
 * @ifname:    in: the host net_device's name, NUL-terminated: a name, or a
 *             pattern with one "%d"; all zero means "lkvm%d".
 *             out: the name it got
 * @mac:       in: the guest's MAC address, unicast; all zero means a random
 *             locally administered one. out: the address it got
 * @pad:       must be zero
 * @ifindex:   out: the host net_device's interface index
 * @pad2:      must be zero
 * @reserved:  must be zero
 *
 * Adds a virtio 1.x network device on virtio-pci to a VM that has a
 * platform, and a host net_device that is its other end: what the guest
 * sends arrives on the host through it, what the host sends through it
 * reaches the guest. Both live as long as the VM; deleting the host
 * net_device first takes the guest's link down. Only before the first
 * vCPU runs.
 */
struct lkvm_net {
	__u32 flags;
	__u32 pci_devfn;
	char ifname[16];
	__u8 mac[6];
	__u16 pad;
	__u32 ifindex;
	__u32 pad2;
	__u64 reserved[4];
};

/* Indexes into lkvm_vm_stats.stat; never renumbered. Net counters sum every NIC. */
enum {
	LKVM_VM_STAT_NET_TX_PACKETS,	/* frames the guest sent, passed to the host */
	LKVM_VM_STAT_NET_TX_BYTES,
	LKVM_VM_STAT_NET_RX_PACKETS,	/* frames the host sent, put in guest buffers */
	LKVM_VM_STAT_NET_RX_BYTES,
	LKVM_VM_STAT_NET_TX_DROPPED,	/* guest frames dropped: link down, bad header, no memory */
	LKVM_VM_STAT_NET_RX_DROPPED,	/* host frames dropped: no buffers, no driver, too big */
	LKVM_VM_STAT_NET_NOTIFY,	/* queue notifications the guest wrote */
	LKVM_VM_STAT_NET_IRQS,		/* interrupts the devices raised */
	LKVM_VM_STAT_NET_TX_DEFERRED,	/* TX drains left to a worker, over budget */
	LKVM_VM_STAT_NET_BAD_DESC,	/* malformed descriptor chains */
	LKVM_VM_STAT_NET_NEEDS_RESET,	/* times a device marked itself broken */
	LKVM_VM_STAT_IRQ_POSTED,	/* interrupts posted to any vCPU */
	LKVM_VM_STAT_IRQ_KICKS,		/* IPIs sent to a vCPU in guest mode */
	LKVM_VM_STAT_IRQ_NO_EXIT,	/* posts to a vCPU outside guest mode: no exit for them */
};

#define LKVM_VM_NR_STATS	32

/**
 * struct lkvm_vm_stats - argument of LKVM_GET_VM_STATS
 * @vcpu: out: the LKVM_STAT_* counters summed over every vCPU the VM has
 *        had, closed ones included
 * @stat: out: the VM's own counters, indexed by LKVM_VM_STAT_*; unused
 *        entries read as zero
 */
struct lkvm_vm_stats {
	__u64 vcpu[LKVM_VCPU_NR_STATS];
	__u64 stat[LKVM_VM_NR_STATS];
};

/* ioctls on /dev/lkvm_lite */
#define LKVM_GET_API_VERSION	_IO(LKVMIO, 0x00)
#define LKVM_CHECK_CAP		_IOWR(LKVMIO, 0x01, struct lkvm_cap)
#define LKVM_CREATE_VM		_IO(LKVMIO, 0x02)

/* ioctls on a VM file descriptor */
#define LKVM_SET_MEMORY_REGION	_IOW(LKVMIO, 0x10, struct lkvm_memory_region)
#define LKVM_CREATE_VCPU	_IO(LKVMIO, 0x11)
#define LKVM_SET_TEST_EXITS	_IOW(LKVMIO, 0x12, struct lkvm_test_exits)
#define LKVM_CREATE_PLATFORM	_IOW(LKVMIO, 0x13, struct lkvm_platform)
#define LKVM_CREATE_NET		_IOWR(LKVMIO, 0x14, struct lkvm_net)
#define LKVM_GET_VM_STATS	_IOR(LKVMIO, 0x15, struct lkvm_vm_stats)

/* ioctls on a vCPU file descriptor */
#define LKVM_GET_REGS		_IOR(LKVMIO, 0x20, struct lkvm_regs)
#define LKVM_SET_REGS		_IOW(LKVMIO, 0x21, struct lkvm_regs)
#define LKVM_GET_SREGS		_IOR(LKVMIO, 0x22, struct lkvm_sregs)
#define LKVM_SET_SREGS		_IOW(LKVMIO, 0x23, struct lkvm_sregs)
#define LKVM_RUN		_IOWR(LKVMIO, 0x24, struct lkvm_run)
#define LKVM_INTERRUPT		_IOW(LKVMIO, 0x25, struct lkvm_interrupt)
#define LKVM_GET_VCPU_STATS	_IOR(LKVMIO, 0x26, struct lkvm_vcpu_stats)

#endif /* _UAPI_LINUX_LKVM_LITE_H */
