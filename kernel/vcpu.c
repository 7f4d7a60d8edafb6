// SPDX-License-Identifier: GPL-2.0-only
/*
 * vCPUs: their file descriptors and register state.
 *
 * A vCPU's state lives where VMRUN will read it: in its VMCB's save area
 * (segments, control registers, EFER, RIP, RSP, RAX, RFLAGS), and the
 * general registers VMRUN does not switch beside it. Setting state
 * refuses what VMRUN's consistency checks would refuse (AMD APM vol. 2,
 * 15.5.1), so a bad register set fails here, with EINVAL, not later as an
 * invalid-state exit.
 */
#include <linux/anon_inodes.h>
#include <linux/fs.h>
#include <linux/io.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <asm/cpufeature.h>
#include <asm/debugreg.h>
#include <asm/processor.h>
#include <asm/svm.h>

#include <linux/lkvm_lite.h>
#include "lkvm.h"

#define SEG_ATTRIB_MASK		0x0fffULL
#define SEG_ATTRIB_L		BIT(9)
#define SEG_ATTRIB_DB		BIT(10)
/* RFLAGS bits a guest may hold; bit 1 is always set. */
#define RFLAGS_VALID		0x3f7fd7ULL
#define RFLAGS_FIXED		BIT(1)
#define CR0_HIGH_MBZ		GENMASK_ULL(63, 32)
#define CR3_MBZ			GENMASK_ULL(63, 52)
/* The CR4 features a guest may turn on, if the host CPU has them. */
#define CR4_ALWAYS		(X86_CR4_VME | X86_CR4_PVI | X86_CR4_TSD | X86_CR4_DE | \
				 X86_CR4_PSE | X86_CR4_PAE | X86_CR4_MCE | X86_CR4_PGE | \
				 X86_CR4_PCE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT)
#define EFER_VALID		(EFER_SCE | EFER_LME | EFER_LMA | EFER_NX)

/*
 * A CR4 bit for a feature the CPU lacks is must-be-zero for VMRUN: allow
 * only what this host has.
 */
static u64 lkvm_cr4_valid(void)
{
	u64 valid = CR4_ALWAYS;

	if (boot_cpu_has(X86_FEATURE_UMIP))
		valid |= X86_CR4_UMIP;
	if (boot_cpu_has(X86_FEATURE_FSGSBASE))
		valid |= X86_CR4_FSGSBASE;
	if (boot_cpu_has(X86_FEATURE_PCID))
		valid |= X86_CR4_PCIDE;
	if (boot_cpu_has(X86_FEATURE_XSAVE))
		valid |= X86_CR4_OSXSAVE;
	if (boot_cpu_has(X86_FEATURE_SMEP))
		valid |= X86_CR4_SMEP;
	if (boot_cpu_has(X86_FEATURE_SMAP))
		valid |= X86_CR4_SMAP;
	return valid;
}

static void lkvm_seg_set(struct vmcb_seg *seg, u16 selector, u16 attrib, u32 limit, u64 base)
{
	seg->selector = selector;
	seg->attrib = attrib;
	seg->limit = limit;
	seg->base = base;
}

/*
 * The architectural state after RESET (AMD APM vol. 2, 14.1.3); also what
 * a shutdown leaves, as a PC's chipset resets a CPU that shut down.
 */
void lkvm_vcpu_reset(struct lkvm_vcpu *vcpu)
{
	struct vmcb_save_area *save = &vcpu->vmcb->save;
	struct vmcb_control_area *c = &vcpu->vmcb->control;

	memset(vcpu->gprs, 0, sizeof(vcpu->gprs));
	c->event_inj = 0;
	c->int_state = 0;
	c->int_ctl &= ~V_TPR_MASK;
	vcpu->halted = false;
	vcpu->read.pending = false;
	vcpu->kvmclock_msr = 0;
	vcpu->kvmclock_wall_msr = 0;
	vcpu->kvmclock_cpu = -1;
	vcpu->xcr0 = XFEATURE_MASK_FP;
	memset(vcpu->db, 0, sizeof(vcpu->db));
	vcpu->dr6 = LKVM_DR6_INIT;
	vcpu->dr7 = LKVM_DR7_INIT;
	/* RDX holds the processor signature, as CPUID 1 EAX reports it. */
	vcpu->gprs[GPR_RDX] = cpuid_eax(1);
	memset(save, 0, sizeof(*save));
	lkvm_seg_set(&save->cs, 0xf000, 0x9b, 0xffff, 0xffff0000);
	lkvm_seg_set(&save->ds, 0, 0x93, 0xffff, 0);
	save->es = save->ds;
	save->fs = save->ds;
	save->gs = save->ds;
	save->ss = save->ds;
	lkvm_seg_set(&save->gdtr, 0, 0, 0xffff, 0);
	save->idtr = save->gdtr;
	lkvm_seg_set(&save->ldtr, 0, 0x82, 0xffff, 0);
	lkvm_seg_set(&save->tr, 0, 0x8b, 0xffff, 0);
	save->cr0 = X86_CR0_ET | X86_CR0_CD | X86_CR0_NW;
	save->rflags = RFLAGS_FIXED;
	save->rip = 0xfff0;
	save->dr6 = LKVM_DR6_INIT;
	save->dr7 = LKVM_DR7_INIT;
	save->g_pat = 0x0007040600070406ULL;
	lkvm_set_efer(vcpu, EFER_SVME);
	if (vcpu->apic)
		lkvm_lapic_reset(vcpu);
}

static long lkvm_vcpu_get_regs(struct lkvm_vcpu *vcpu, struct lkvm_regs __user *uregs)
{
	const struct vmcb_save_area *save = &vcpu->vmcb->save;
	const u64 *g = vcpu->gprs;
	struct lkvm_regs r = {
		.rax = save->rax, .rbx = g[GPR_RBX], .rcx = g[GPR_RCX], .rdx = g[GPR_RDX],
		.rsi = g[GPR_RSI], .rdi = g[GPR_RDI], .rsp = save->rsp, .rbp = g[GPR_RBP],
		.r8 = g[GPR_R8], .r9 = g[GPR_R9], .r10 = g[GPR_R10], .r11 = g[GPR_R11],
		.r12 = g[GPR_R12], .r13 = g[GPR_R13], .r14 = g[GPR_R14], .r15 = g[GPR_R15],
		.rip = save->rip, .rflags = save->rflags,
	};

	return copy_to_user(uregs, &r, sizeof(r)) ? -EFAULT : 0;
}

static long lkvm_vcpu_set_regs(struct lkvm_vcpu *vcpu, const struct lkvm_regs __user *uregs)
{
	struct vmcb_save_area *save = &vcpu->vmcb->save;
	u64 *g = vcpu->gprs;
	struct lkvm_regs r;

	if (copy_from_user(&r, uregs, sizeof(r)))
		return -EFAULT;
	if ((r.rflags & ~RFLAGS_VALID) || !(r.rflags & RFLAGS_FIXED))
		return -EINVAL;
	save->rax = r.rax;
	g[GPR_RBX] = r.rbx;
	g[GPR_RCX] = r.rcx;
	g[GPR_RDX] = r.rdx;
	g[GPR_RSI] = r.rsi;
	g[GPR_RDI] = r.rdi;
	save->rsp = r.rsp;
	g[GPR_RBP] = r.rbp;
	g[GPR_R8] = r.r8;
	g[GPR_R9] = r.r9;
	g[GPR_R10] = r.r10;
	g[GPR_R11] = r.r11;
	g[GPR_R12] = r.r12;
	g[GPR_R13] = r.r13;
	g[GPR_R14] = r.r14;
	g[GPR_R15] = r.r15;
	save->rip = r.rip;
	save->rflags = r.rflags;
	return 0;
}

static void lkvm_seg_to_user(struct lkvm_segment *u, const struct vmcb_seg *seg)
{
	u->base = seg->base;
	u->limit = seg->limit;
	u->selector = seg->selector;
	u->attrib = seg->attrib;
}

static void lkvm_seg_from_user(struct vmcb_seg *seg, const struct lkvm_segment *u)
{
	lkvm_seg_set(seg, u->selector, u->attrib, u->limit, u->base);
}

static long lkvm_vcpu_get_sregs(struct lkvm_vcpu *vcpu, struct lkvm_sregs __user *usregs)
{
	const struct vmcb *vmcb = vcpu->vmcb;
	const struct vmcb_save_area *save = &vmcb->save;
	struct lkvm_sregs s = {
		.gdt = { .base = save->gdtr.base, .limit = save->gdtr.limit },
		.idt = { .base = save->idtr.base, .limit = save->idtr.limit },
		.cr0 = save->cr0, .cr2 = save->cr2, .cr3 = save->cr3, .cr4 = save->cr4,
		.cr8 = vmcb->control.int_ctl & V_TPR_MASK,
		/* EFER.SVME is VMRUN's requirement, not the guest's setting. */
		.efer = lkvm_guest_efer(vcpu),
	};

	lkvm_seg_to_user(&s.cs, &save->cs);
	lkvm_seg_to_user(&s.ds, &save->ds);
	lkvm_seg_to_user(&s.es, &save->es);
	lkvm_seg_to_user(&s.fs, &save->fs);
	lkvm_seg_to_user(&s.gs, &save->gs);
	lkvm_seg_to_user(&s.ss, &save->ss);
	lkvm_seg_to_user(&s.tr, &save->tr);
	lkvm_seg_to_user(&s.ldt, &save->ldtr);
	return copy_to_user(usregs, &s, sizeof(s)) ? -EFAULT : 0;
}

static bool lkvm_sregs_valid(const struct lkvm_sregs *s)
{
	const struct lkvm_segment *segs[] = {
		&s->cs, &s->ds, &s->es, &s->fs, &s->gs, &s->ss, &s->tr, &s->ldt,
	};
	bool long_mode = (s->efer & EFER_LME) && (s->cr0 & X86_CR0_PG);
	int i;

	for (i = 0; i < ARRAY_SIZE(s->reserved); i++)
		if (s->reserved[i])
			return false;
	for (i = 0; i < ARRAY_SIZE(s->gdt.pad); i++)
		if (s->gdt.pad[i] || s->idt.pad[i])
			return false;
	for (i = 0; i < ARRAY_SIZE(segs); i++)
		if (segs[i]->attrib & ~SEG_ATTRIB_MASK)
			return false;

	if ((s->cr0 & CR0_HIGH_MBZ) || ((s->cr0 & X86_CR0_NW) && !(s->cr0 & X86_CR0_CD)) ||
	    ((s->cr0 & X86_CR0_PG) && !(s->cr0 & X86_CR0_PE)))
		return false;
	/*
	 * CR3 bits at or above the CPU's physical address width are
	 * reserved. VMRUN refuses them, QEMU's before it loads any guest
	 * state: its #VMEXIT then leaves the host's state in the VMCB.
	 */
	if ((s->cr3 & CR3_MBZ) || (s->cr3 >> boot_cpu_data.x86_phys_bits) ||
	    (s->cr4 & ~lkvm_cr4_valid()) || s->cr8 > 15)
		return false;
	if ((s->efer & ~EFER_VALID) || !!(s->efer & EFER_LMA) != long_mode)
		return false;
	if (long_mode && (!(s->cr4 & X86_CR4_PAE) || (s->cr3 >> LKVM_GUEST_PHYS_BITS) ||
			  ((s->cs.attrib & SEG_ATTRIB_L) && (s->cs.attrib & SEG_ATTRIB_DB))))
		return false;
	return true;
}

static long lkvm_vcpu_set_sregs(struct lkvm_vcpu *vcpu, const struct lkvm_sregs __user *usregs)
{
	struct vmcb *vmcb = vcpu->vmcb;
	struct vmcb_save_area *save = &vmcb->save;
	struct lkvm_sregs s;

	if (copy_from_user(&s, usregs, sizeof(s)))
		return -EFAULT;
	if (!lkvm_sregs_valid(&s))
		return -EINVAL;

	lkvm_seg_from_user(&save->cs, &s.cs);
	lkvm_seg_from_user(&save->ds, &s.ds);
	lkvm_seg_from_user(&save->es, &s.es);
	lkvm_seg_from_user(&save->fs, &s.fs);
	lkvm_seg_from_user(&save->gs, &s.gs);
	lkvm_seg_from_user(&save->ss, &s.ss);
	lkvm_seg_from_user(&save->tr, &s.tr);
	lkvm_seg_from_user(&save->ldtr, &s.ldt);
	lkvm_seg_set(&save->gdtr, 0, 0, s.gdt.limit, s.gdt.base);
	lkvm_seg_set(&save->idtr, 0, 0, s.idt.limit, s.idt.base);
	save->cr0 = s.cr0;
	save->cr2 = s.cr2;
	save->cr3 = s.cr3;
	save->cr4 = s.cr4;
	vmcb->control.int_ctl = (vmcb->control.int_ctl & ~V_TPR_MASK) | s.cr8;
	lkvm_set_efer(vcpu, s.efer | EFER_SVME);
	/* SS.DPL is the CPL (CS.DPL is not, for a conforming code segment). */
	save->cpl = (s.cr0 & X86_CR0_PE) ? (s.ss.attrib >> 5) & 3 : 0;
	return 0;
}

static long lkvm_vcpu_interrupt(struct lkvm_vcpu *vcpu, const struct lkvm_interrupt __user *uirq)
{
	struct lkvm_interrupt irq;

	if (copy_from_user(&irq, uirq, sizeof(irq)))
		return -EFAULT;
	/* Vectors below 32 are exceptions, not interrupts. */
	if (irq.flags || irq.vector < 32 || irq.vector > 255)
		return -EINVAL;
	lkvm_pi_post(vcpu, irq.vector);
	return 0;
}

static long lkvm_vcpu_get_stats(struct lkvm_vcpu *vcpu, struct lkvm_vcpu_stats __user *ustats)
{
	BUILD_BUG_ON(LKVM_STAT_APIC_PV_EOI >= LKVM_VCPU_NR_STATS);
	BUILD_BUG_ON(sizeof(vcpu->stats) != sizeof(*ustats));
	return copy_to_user(ustats, vcpu->stats, sizeof(vcpu->stats)) ? -EFAULT : 0;
}

static long lkvm_vcpu_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct lkvm_vcpu *vcpu = filp->private_data;
	void __user *argp = (void __user *)arg;
	long ret;

	/*
	 * Any thread, even while the vCPU runs: posting is atomic, and the
	 * counters are read as they are (each one a naturally aligned u64).
	 */
	if (cmd == LKVM_INTERRUPT)
		return lkvm_vcpu_interrupt(vcpu, argp);
	if (cmd == LKVM_GET_VCPU_STATS)
		return lkvm_vcpu_get_stats(vcpu, argp);
	/* A vCPU is run by one thread at a time; a second caller waits, killably. */
	if (mutex_lock_killable(&vcpu->mutex))
		return -EINTR;
	switch (cmd) {
	case LKVM_GET_REGS:
		ret = lkvm_vcpu_get_regs(vcpu, argp);
		break;
	case LKVM_SET_REGS:
		ret = lkvm_vcpu_set_regs(vcpu, argp);
		break;
	case LKVM_GET_SREGS:
		ret = lkvm_vcpu_get_sregs(vcpu, argp);
		break;
	case LKVM_SET_SREGS:
		ret = lkvm_vcpu_set_sregs(vcpu, argp);
		break;
	case LKVM_RUN:
		ret = lkvm_vcpu_run(vcpu, argp);
		break;
	default:
		ret = -ENOTTY;
	}
	mutex_unlock(&vcpu->mutex);
	return ret;
}

static void lkvm_vcpu_free(struct lkvm_vcpu *vcpu)
{
	lkvm_lapic_free(vcpu);
	fpu_free_guest_fpstate(&vcpu->fpu);
	free_page((unsigned long)vcpu->vmcb);
	mutex_destroy(&vcpu->mutex);
	kfree(vcpu);
}

static int lkvm_vcpu_release(struct inode *inode, struct file *filp)
{
	struct lkvm_vcpu *vcpu = filp->private_data;
	struct lkvm_vm *vm = vcpu->vm;
	int i;

	/* Devices delivering an interrupt to it are done with it after this. */
	RCU_INIT_POINTER(vm->vcpus[vcpu->id], NULL);
	synchronize_rcu();
	mutex_lock(&vm->lock);
	for (i = 0; i < LKVM_VCPU_NR_STATS; i++)
		vm->gone_vcpu_stats[i] += vcpu->stats[i];
	mutex_unlock(&vm->lock);
	lkvm_vm_vcpu_gone(vm, vcpu->id);
	lkvm_vcpu_free(vcpu);
	lkvm_vm_put(vm);
	return 0;
}

static const struct file_operations lkvm_vcpu_fops = {
	.owner = THIS_MODULE,
	.release = lkvm_vcpu_release,
	.unlocked_ioctl = lkvm_vcpu_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

/* Called by vm.c with the id reserved; takes a VM reference on success. */
int lkvm_vcpu_create(struct lkvm_vm *vm, u32 id)
{
	struct lkvm_vcpu *vcpu;
	int fd;

	vcpu = kzalloc(sizeof(*vcpu), GFP_KERNEL_ACCOUNT);
	if (!vcpu)
		return -ENOMEM;
	vcpu->vmcb = (struct vmcb *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	if (!vcpu->vmcb) {
		kfree(vcpu);
		return -ENOMEM;
	}
	if (!fpu_alloc_guest_fpstate(&vcpu->fpu)) {
		free_page((unsigned long)vcpu->vmcb);
		kfree(vcpu);
		return -ENOMEM;
	}
	vcpu->vmcb_pa = lkvm_page_pa(virt_to_page(vcpu->vmcb));
	mutex_init(&vcpu->mutex);
	init_waitqueue_head(&vcpu->wq);
	vcpu->vm = vm;
	vcpu->id = id;
	lkvm_vcpu_init_vmcb(vcpu);
	/* The platform, once made, stays: no lock needed to see it. */
	if (READ_ONCE(vm->has_platform) && lkvm_lapic_create(vcpu)) {
		lkvm_vcpu_free(vcpu);
		return -ENOMEM;
	}
	lkvm_vcpu_reset(vcpu);

	lkvm_vm_get(vm);
	/*
	 * Published before the file exists: a release can only follow the
	 * install. If the install fails, nobody saw the vCPU but devices.
	 */
	rcu_assign_pointer(vm->vcpus[id], vcpu);
	fd = anon_inode_getfd("lkvm-vcpu", &lkvm_vcpu_fops, vcpu, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		RCU_INIT_POINTER(vm->vcpus[id], NULL);
		synchronize_rcu();
		lkvm_vm_put(vm);
		lkvm_vcpu_free(vcpu);
	}
	return fd;
}
