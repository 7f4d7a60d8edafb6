/* SPDX-License-Identifier: GPL-2.0-only */
/* Declarations shared between the files of the lkvm_lite module. */
#ifndef LKVM_LKVM_H
#define LKVM_LKVM_H

#include <linux/bitmap.h>
#include <linux/io.h>
#include <linux/kref.h>
#include <linux/mem_encrypt.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/time64.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <asm/fpu/api.h>
#include <asm/svm.h>

#include <linux/lkvm_lite.h>
#include "emulate.h"

/*
 * The address the CPU is given for a page it reads itself (VMCB, save
 * areas, permission maps, nested page tables, guest memory): with SME
 * active, the kernel's own pages are encrypted and the C-bit says so.
 */
static inline u64 lkvm_page_pa(struct page *page)
{
	return __sme_set(page_to_phys(page));
}

/* svm.c: ownership of AMD SVM on every online CPU */
int lkvm_svm_init(void);
void lkvm_svm_exit(void);
u64 lkvm_svm_cap(u32 cap);
u64 lkvm_svm_iopm_pa(void);
u64 lkvm_svm_msrpm_pa(void);

/* Where a vCPU's ASID is valid: one CPU, one generation of its ASIDs. */
struct lkvm_asid {
	int cpu;
	u64 generation;
	u32 asid;
};

bool lkvm_svm_prepare_run(u64 vmcb_pa, struct lkvm_asid *a, u64 *host_save_pa, bool *flush_all);

/* vmenter.S */
void lkvm_svm_vmrun(u64 vmcb_pa, u64 *gprs, u64 host_save_pa);

/* Four-level nested page tables map 48 bits of guest physical space. */
#define LKVM_GUEST_PHYS_BITS	48
#define LKVM_NR_MEMORY_SLOTS	32
#define LKVM_MAX_VCPUS		64
#define LKVM_MAX_NICS		8

struct lkvm_memslot {
	u64 gpa;		/* guest physical start, page aligned */
	u64 npages;		/* 0: the slot is free; written last (release) */
	u64 uaddr;		/* where the memory is in the creator's address space */
	struct page **pages;	/* pinned, npages of them */
};

struct lkvm_ioapic;
struct lkvm_uart;
struct lkvm_pci;
struct lkvm_lapic;
struct lkvm_vcpu;
struct lkvm_nic;

struct lkvm_vm {
	/* The VM file, each vCPU file and the console file hold one. */
	struct kref ref;
	/* Names the VM in tracepoints: VMs are numbered as they are created. */
	u32 id;
	/* The creating process's mm: the only one that may add memory. */
	struct mm_struct *mm;
	/*
	 * Serializes changes to @slots, the nested page tables and the test
	 * exits; held while pinning, which can be long. Slots are only ever
	 * added while the VM lives, so vCPUs read them without it.
	 */
	struct mutex lock;
	struct lkvm_memslot slots[LKVM_NR_MEMORY_SLOTS];
	/*
	 * The ids of the vCPUs that exist or are being created. Atomic bit
	 * operations only, so that closing a vCPU never waits for a pin.
	 */
	DECLARE_BITMAP(vcpu_ids, LKVM_MAX_VCPUS);
	/* Nested page tables (npt.c), under @lock. */
	struct page *npt_root;
	int npt_levels;
	/* Test-only exits (LKVM_SET_TEST_EXITS); read by vCPUs with READ_ONCE. */
	struct lkvm_test_exits test_exits;
	/*
	 * The PC platform (platform.c): set once under @lock before any vCPU
	 * exists, freed with the VM; NULL without LKVM_CREATE_PLATFORM.
	 */
	bool has_platform;
	struct lkvm_ioapic *ioapic;
	struct lkvm_uart *uart;
	struct lkvm_pci *pci;
	/* kvmclock's epoch: host ktime (ns) and wall time when the platform was made. */
	u64 clock_base_ns;
	struct timespec64 clock_base_wall;
	/*
	 * vCPUs by id, for interrupt delivery from any context: published by
	 * vcpu.c once a vCPU is complete, cleared (then an RCU grace period)
	 * before it is freed. Readers hold rcu_read_lock().
	 */
	struct lkvm_vcpu __rcu *vcpus[LKVM_MAX_VCPUS];
	/* Set by the first LKVM_RUN: the guest may have seen the PCI bus. */
	bool ran;
	/* virtio-net devices (virtio_net.c), added under @lock, freed with the platform. */
	struct lkvm_nic *nics[LKVM_MAX_NICS];
	unsigned int nr_nics;
	/* Interrupt delivery, from any context (posted_irq.c). */
	atomic64_t irq_posted;
	atomic64_t irq_kicks;
	atomic64_t irq_no_exit;
	/* The counters of vCPUs closed so far, under @lock. */
	u64 gone_vcpu_stats[LKVM_VCPU_NR_STATS];
};

/* vm.c: VMs and their guest memory */
long lkvm_create_vm(unsigned long arg);
u64 lkvm_vm_cap(u32 cap);
void lkvm_vm_get(struct lkvm_vm *vm);
void lkvm_vm_put(struct lkvm_vm *vm);
/* A vCPU's file is gone (or was never made): its id is free again. */
void lkvm_vm_vcpu_gone(struct lkvm_vm *vm, u32 id);

/* npt.c: nested page tables built from the memory slots */
int lkvm_npt_init(struct lkvm_vm *vm);
void lkvm_npt_free(struct lkvm_vm *vm);
int lkvm_npt_map(struct lkvm_vm *vm, u64 gpa, struct page **pages, u64 npages);

/* DR6 and DR7 at reset: every breakpoint off, the fixed bits set. */
#define LKVM_DR6_INIT		0xffff0ff0ULL
#define LKVM_DR7_INIT		0x400ULL

/* General registers in x86 encoding order; RAX and RSP live in the VMCB. */
enum lkvm_gpr {
	GPR_RAX, GPR_RCX, GPR_RDX, GPR_RBX, GPR_RSP, GPR_RBP, GPR_RSI, GPR_RDI,
	GPR_R8, GPR_R9, GPR_R10, GPR_R11, GPR_R12, GPR_R13, GPR_R14, GPR_R15,
	NR_LKVM_GPRS
};

/* posted_irq.c: interrupts any context may post to a vCPU */
struct lkvm_pi_desc {
	/* One bit per vector; set by any context, taken by the vCPU. */
	DECLARE_BITMAP(pir, 256);
	/* Outstanding notification: some bit of @pir is set. */
	unsigned long on;
};

/* A read the guest is waiting for, completed by the next LKVM_RUN. */
struct lkvm_pending_read {
	bool pending;
	bool mmio;		/* else a port read into RAX */
	u8 size;		/* port reads: 1, 2 or 4 bytes */
	struct lkvm_insn insn;	/* MMIO: how the load writes its register */
};

enum lkvm_vcpu_mode {
	LKVM_OUTSIDE_GUEST,
	LKVM_IN_GUEST,
};

struct lkvm_vcpu {
	struct lkvm_vm *vm;	/* holds a reference */
	u32 id;
	/* Serializes this vCPU's ioctls, LKVM_RUN included. */
	struct mutex mutex;
	struct vmcb *vmcb;
	u64 vmcb_pa;
	/* What VMRUN does not switch; the RAX and RSP slots are unused. */
	u64 gprs[NR_LKVM_GPRS];
	struct fpu_guest fpu;
	/* The guest's XCR0, loaded around VMRUN while its CR4.OSXSAVE is set. */
	u64 xcr0;
	u32 pkru;
	u32 host_pkru;		/* the task's, read at LKVM_RUN entry */
	struct lkvm_asid asid;
	/* The physical CPU it runs on, and whether in guest mode (for kicks). */
	int cpu;
	int mode;
	/* Halted in HLT until an interrupt it can take, across LKVM_RUN calls. */
	bool halted;
	/* The guest's EFER.LME, kept out of the VMCB while paging is off (lme.c). */
	bool lme_held;
	wait_queue_head_t wq;
	struct lkvm_pi_desc pi;
	/* A vector was offered as V_IRQ at the last entry (posted_irq.c). */
	bool irq_offered;
	struct lkvm_pending_read read;
	u64 mtrr_def_type;
	/* The guest's debug registers: virtual, never loaded into the CPU. */
	u64 db[4];
	u64 dr6, dr7;
	/*
	 * For tracing: the last exit no entry has followed yet, and when it
	 * came (0 when the lkvm_entry tracepoint is off).
	 */
	u32 trace_exit_code;
	u64 trace_exit_ns;
	/* The local APIC (lapic.c), if the VM has a platform; else NULL. */
	struct lkvm_lapic *apic;
	/* kvmclock (kvmclock.c): the MSRs' values; bit 0 of the first enables. */
	u64 kvmclock_msr;
	u64 kvmclock_wall_msr;
	int kvmclock_cpu;	/* the host CPU its structure was last written on */
	/* Filled as exits happen; copied out when LKVM_RUN returns 0. */
	struct lkvm_run run;
	u64 stats[LKVM_VCPU_NR_STATS];
};

static inline u64 lkvm_gpr_read(struct lkvm_vcpu *vcpu, int reg)
{
	if (reg == GPR_RAX)
		return vcpu->vmcb->save.rax;
	if (reg == GPR_RSP)
		return vcpu->vmcb->save.rsp;
	return vcpu->gprs[reg];
}

static inline void lkvm_gpr_write(struct lkvm_vcpu *vcpu, int reg, u64 val)
{
	if (reg == GPR_RAX)
		vcpu->vmcb->save.rax = val;
	else if (reg == GPR_RSP)
		vcpu->vmcb->save.rsp = val;
	else
		vcpu->gprs[reg] = val;
}

static inline void lkvm_stat_inc(struct lkvm_vcpu *vcpu, int stat)
{
	vcpu->stats[stat]++;
}

/* vcpu.c: vCPU files and register state */
int lkvm_vcpu_create(struct lkvm_vm *vm, u32 id);
void lkvm_vcpu_reset(struct lkvm_vcpu *vcpu);

/* run.c: LKVM_RUN */
void lkvm_run_init(void);
long lkvm_vcpu_run(struct lkvm_vcpu *vcpu, struct lkvm_run __user *urun);
void lkvm_vcpu_init_vmcb(struct lkvm_vcpu *vcpu);
void lkvm_inject_exception(struct lkvm_vcpu *vcpu, u8 vector, bool has_error, u32 error);
#define lkvm_inject_gp(vcpu)	lkvm_inject_exception(vcpu, GP_VECTOR, true, 0)
#define lkvm_inject_ud(vcpu)	lkvm_inject_exception(vcpu, UD_VECTOR, false, 0)

/*
 * exit.c: the exit handlers. A handler returns 1 to go on running the
 * guest, 0 to return to userspace with vcpu->run filled in, or -errno.
 */
int lkvm_handle_exit(struct lkvm_vcpu *vcpu);
/* Skip the instruction that exited, @len bytes long. */
void lkvm_skip_insn(struct lkvm_vcpu *vcpu, unsigned int len);
int lkvm_internal_error(struct lkvm_vcpu *vcpu, u32 suberror);
/* 16, 32 or 64: the code the guest runs. */
int lkvm_code_mode(struct lkvm_vcpu *vcpu);
/* Up to @len bytes at CS:RIP, as far as the guest's mapping goes. */
unsigned int lkvm_fetch(struct lkvm_vcpu *vcpu, int mode, u8 *bytes, unsigned int len);

/* lme.c: EFER.LME while paging is off (a QEMU 7.2 #VMEXIT bug) */
void lkvm_lme_sync(struct lkvm_vcpu *vcpu);
u64 lkvm_guest_efer(struct lkvm_vcpu *vcpu);
void lkvm_set_efer(struct lkvm_vcpu *vcpu, u64 efer);
int lkvm_exit_cr0_write(struct lkvm_vcpu *vcpu);
/* Complete a test-port or test-MMIO read with what userspace put in @run. */
void lkvm_complete_read(struct lkvm_vcpu *vcpu, const struct lkvm_run *run);

/* cpuid.c */
void lkvm_cpuid(struct lkvm_vcpu *vcpu, u32 leaf, u32 subleaf, u32 *eax, u32 *ebx,
		u32 *ecx, u32 *edx);
u64 lkvm_guest_xcr0_allowed(void);

/* msr.c: 0 on success, -EINVAL for an MSR the guest gets #GP for */
int lkvm_msr_read(struct lkvm_vcpu *vcpu, u32 msr, u64 *val);
int lkvm_msr_write(struct lkvm_vcpu *vcpu, u32 msr, u64 val);

/* gmem.c: guest memory through the kernel's mapping of the pinned pages */
struct page *lkvm_gpa_to_page(struct lkvm_vm *vm, u64 gpa);
int lkvm_read_guest(struct lkvm_vm *vm, u64 gpa, void *buf, unsigned int len);
int lkvm_write_guest(struct lkvm_vm *vm, u64 gpa, const void *buf, unsigned int len);
/* [@gpa, @gpa + @len) lies in one memory slot. */
bool lkvm_gpa_range_in_ram(struct lkvm_vm *vm, u64 gpa, u64 len);
/*
 * Call @fn on each piece of [@gpa, @gpa + @len), page by page, through
 * the kernel's mapping; stops at @fn's first nonzero return, or -EFAULT
 * at a page outside RAM.
 */
int lkvm_guest_iter(struct lkvm_vm *vm, u64 gpa, u32 len,
		    int (*fn)(void *ctx, void *p, u32 n), void *ctx);
/* Guest virtual to guest physical under the vCPU's paging mode; -EFAULT if unmapped. */
int lkvm_gva_to_gpa(struct lkvm_vcpu *vcpu, u64 gva, u64 *gpa);

/*
 * iobus.c: the port and MMIO buses. Device handlers and these return 0
 * when the access is done, or LKVM_IO_EXIT when it also ends LKVM_RUN,
 * with vcpu->run filled in (a power-off or reset).
 */
#define LKVM_IO_EXIT	1
int lkvm_io_access(struct lkvm_vcpu *vcpu, u16 port, u8 size, bool in, u32 *val);
int lkvm_mmio_access(struct lkvm_vcpu *vcpu, u64 gpa, u8 size, bool write, u64 *val);

/* platform.c: LKVM_CREATE_PLATFORM, and freeing the platform with the VM */
long lkvm_create_platform(struct lkvm_vm *vm, const struct lkvm_platform __user *up);
void lkvm_platform_free(struct lkvm_vm *vm);
/* Does [@gpa, @gpa + @size) meet the platform's MMIO window? */
bool lkvm_platform_mmio_overlaps(u64 gpa, u64 size);
/* The vCPU with APIC id @id, under rcu_read_lock(); NULL if none. */
static inline struct lkvm_vcpu *lkvm_vm_vcpu(struct lkvm_vm *vm, u32 id)
{
	return id < LKVM_MAX_VCPUS ? rcu_dereference(vm->vcpus[id]) : NULL;
}

/*
 * lapic.c: the local APIC of each vCPU: xAPIC registers through MMIO at
 * its base, x2APIC through MSRs, the timer (one-shot, periodic,
 * TSC-deadline) on an hrtimer. Its IRR is vcpu->pi.pir: anything may
 * post; the vCPU accepts before VMRUN.
 */
int lkvm_lapic_create(struct lkvm_vcpu *vcpu);
/* Safe on a vCPU without an APIC. */
void lkvm_lapic_free(struct lkvm_vcpu *vcpu);
/* The state at RESET; called by lkvm_vcpu_reset() on a vCPU with an APIC. */
void lkvm_lapic_reset(struct lkvm_vcpu *vcpu);
/* -ENOENT: not an MSR of the APIC's; -EINVAL: #GP; 0: done. */
int lkvm_lapic_msr_read(struct lkvm_vcpu *vcpu, u32 msr, u64 *val);
int lkvm_lapic_msr_write(struct lkvm_vcpu *vcpu, u32 msr, u64 val);
/* Paravirtual EOI: before VMRUN (IRQs off), and after each #VMEXIT. */
void lkvm_lapic_pv_eoi_enter(struct lkvm_vcpu *vcpu);
void lkvm_lapic_pv_eoi_exit(struct lkvm_vcpu *vcpu);
/* true if @gpa is this vCPU's xAPIC page (in xAPIC mode) and was handled. */
bool lkvm_lapic_mmio(struct lkvm_vcpu *vcpu, u64 gpa, u8 size, bool write, u64 *val);
/*
 * For the vCPU before VMRUN and in HLT: the vector the APIC would hand
 * the CPU now, or -1; and taking it.
 */
int lkvm_lapic_next_irq(struct lkvm_vcpu *vcpu);
void lkvm_lapic_accept(struct lkvm_vcpu *vcpu, u8 vector);
void lkvm_lapic_unaccept(struct lkvm_vcpu *vcpu, u8 vector);
/* The vCPU goes to sleep in HLT: trace what the APIC holds (lkvm_apic_halt). */
void lkvm_lapic_trace_halt(struct lkvm_vcpu *vcpu);

/* An interrupt message, as an IOAPIC entry, an MSI or an ICR write sends it. */
struct lkvm_apic_irq {
	u32 dest;		/* APIC id, or logical destination if @logical */
	u8 vector;
	u8 delivery_mode;	/* APIC_DM_FIXED, APIC_DM_LOWEST, APIC_DM_NMI... >> 8 */
	bool logical;
	bool level;		/* level-triggered: the EOI goes back to the IOAPIC */
};

/* Deliver @irq to every APIC its destination names; any context. */
void lkvm_apic_deliver(struct lkvm_vm *vm, const struct lkvm_apic_irq *irq);

/* ioapic.c: the IOAPIC, at LKVM_PLATFORM_IOAPIC_BASE */
int lkvm_ioapic_create(struct lkvm_vm *vm);
void lkvm_ioapic_free(struct lkvm_vm *vm);
/* Raise or lower input @pin; any context. */
void lkvm_ioapic_set_irq(struct lkvm_vm *vm, unsigned int pin, bool level);
/* A local APIC's EOI of a level-triggered @vector. */
void lkvm_ioapic_eoi(struct lkvm_vm *vm, u8 vector);
bool lkvm_ioapic_mmio(struct lkvm_vcpu *vcpu, u64 gpa, u8 size, bool write, u64 *val);

/*
 * uart.c: a 16550A at LKVM_PLATFORM_UART_PORT on IOAPIC pin
 * LKVM_PLATFORM_UART_IRQ, whose other end is the console file.
 */
int lkvm_uart_create(struct lkvm_vm *vm);
void lkvm_uart_free(struct lkvm_vm *vm);
/* A new console file descriptor (it holds a VM reference), or -errno. */
int lkvm_uart_console_fd(struct lkvm_vm *vm);
int lkvm_uart_in(struct lkvm_vcpu *vcpu, u16 port, u8 size, u32 *val);
int lkvm_uart_out(struct lkvm_vcpu *vcpu, u16 port, u8 size, u32 val);

/* pci.c: configuration space through ports 0xcf8-0xcff, with a host bridge */
int lkvm_pci_create(struct lkvm_vm *vm);
void lkvm_pci_free(struct lkvm_vm *vm);
int lkvm_pci_in(struct lkvm_vcpu *vcpu, u16 port, u8 size, u32 *val);
int lkvm_pci_out(struct lkvm_vcpu *vcpu, u16 port, u8 size, u32 val);

/* power.c: reset and power-off, ending LKVM_RUN with LKVM_EXIT_SYSTEM_EVENT */
int lkvm_system_event(struct lkvm_vcpu *vcpu, u32 type, u16 port, u8 val);
int lkvm_power_in(struct lkvm_vcpu *vcpu, u16 port, u8 size, u32 *val);
int lkvm_power_out(struct lkvm_vcpu *vcpu, u16 port, u8 size, u32 val);

/* virtio_net.c: the in-kernel NICs and their host net_devices */
int lkvm_net_init(void);
void lkvm_net_exit(void);
long lkvm_create_net(struct lkvm_vm *vm, struct lkvm_net __user *un);
void lkvm_net_free(struct lkvm_vm *vm);
/* Add the NICs' counters into @stat, indexed by LKVM_VM_STAT_*. */
void lkvm_net_stats(struct lkvm_vm *vm, u64 *stat);

/* kvmclock.c: KVM's paravirtual clock MSRs */
int lkvm_kvmclock_msr_read(struct lkvm_vcpu *vcpu, u32 msr, u64 *val);
int lkvm_kvmclock_msr_write(struct lkvm_vcpu *vcpu, u32 msr, u64 val);
void lkvm_kvmclock_enter(struct lkvm_vcpu *vcpu, int cpu);

/* posted_irq.c */
void lkvm_pi_post(struct lkvm_vcpu *vcpu, u8 vector);
bool lkvm_pi_pending(struct lkvm_vcpu *vcpu);
void lkvm_pi_inject(struct lkvm_vcpu *vcpu);
void lkvm_pi_exit(struct lkvm_vcpu *vcpu);
/* @vector, offered or being delivered, was not taken: back to the IRR. */
void lkvm_pi_requeue(struct lkvm_vcpu *vcpu, u8 vector);
bool lkvm_vcpu_interruptible(struct lkvm_vcpu *vcpu);

#endif /* LKVM_LKVM_H */
