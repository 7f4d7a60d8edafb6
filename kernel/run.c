// SPDX-License-Identifier: GPL-2.0-only
/*
 * LKVM_RUN: the loop VMRUN -> #VMEXIT -> handler -> VMRUN, inside one
 * ioctl, until a handler asks to return to userspace, a signal is
 * pending, or something fails.
 *
 * The guest's FPU registers are loaded once per LKVM_RUN, the way KVM does
 * it: the task's FPU state is swapped for the guest's, so a context switch
 * in between saves the guest's registers into the guest's buffer and the
 * loop reloads them before the next VMRUN. XCR0 and PKRU are not part of
 * that swap and are switched around each VMRUN, with GIF clear.
 */
#include <linux/kvm_host.h>
#include <linux/mem_encrypt.h>
#include <linux/io.h>
#include <linux/kernel.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/uaccess.h>
#include <asm/fpu/api.h>
#include <asm/debugreg.h>
#include <asm/fpu/xcr.h>
#include <asm/mce.h>
#include <asm/pkru.h>
#include <asm/svm.h>
#include <asm/traps.h>

#include "lkvm.h"
#include "trace.h"

/*
 * What must be done before the next VMRUN: signals end LKVM_RUN, and a
 * reschedule happens right here. Work queued for the return to user mode
 * (TIF_NOTIFY_RESUME: rseq, task work) waits until LKVM_RUN returns;
 * KVM's helper for it takes a struct kvm_vcpu.
 */
#define LKVM_TIF_WORK	(_TIF_SIGPENDING | _TIF_NOTIFY_SIGNAL | _TIF_NEED_RESCHED)

static inline void lkvm_clgi(void)
{
	asm volatile("clgi" ::: "memory");
}

static inline void lkvm_stgi(void)
{
	asm volatile("stgi" ::: "memory");
}

static bool lkvm_work_pending(void)
{
	return (read_thread_flags() & LKVM_TIF_WORK) || need_resched();
}

/* With IRQs on: -EINTR for a signal, else 0 once rescheduled. */
static int lkvm_handle_work(void)
{
	if (read_thread_flags() & (_TIF_SIGPENDING | _TIF_NOTIFY_SIGNAL))
		return -EINTR;
	schedule();
	return 0;
}

/* The host's XCR0: set once at boot, the same on every CPU. */
static u64 lkvm_host_xcr0 __ro_after_init;
/* What of it a guest may have (cpuid.c). */
static u64 lkvm_guest_xcr0 __ro_after_init;

void __init lkvm_run_init(void)
{
	if (cpu_feature_enabled(X86_FEATURE_OSXSAVE))
		lkvm_host_xcr0 = xgetbv(XCR_XFEATURE_ENABLED_MASK);
	lkvm_guest_xcr0 = lkvm_guest_xcr0_allowed();
}

static const int lkvm_intercepts[] = {
	INTERCEPT_INTR, INTERCEPT_NMI, INTERCEPT_SMI, INTERCEPT_INIT,
	INTERCEPT_RDPMC, INTERCEPT_CPUID, INTERCEPT_INVD, INTERCEPT_HLT,
	INTERCEPT_INVLPGA, INTERCEPT_IOIO_PROT, INTERCEPT_MSR_PROT, INTERCEPT_SHUTDOWN,
	/* VMRUN must be intercepted, or VMRUN refuses the VMCB. */
	INTERCEPT_VMRUN, INTERCEPT_VMMCALL, INTERCEPT_VMLOAD, INTERCEPT_VMSAVE,
	INTERCEPT_STGI, INTERCEPT_CLGI, INTERCEPT_SKINIT, INTERCEPT_RDTSCP,
	INTERCEPT_MONITOR, INTERCEPT_MWAIT, INTERCEPT_MWAIT_COND, INTERCEPT_XSETBV,
	INTERCEPT_RDPRU, INTERCEPT_WBINVD,
	/* Every debug register access: the guest's are virtual (exit.c). */
	INTERCEPT_DR0_READ, INTERCEPT_DR1_READ, INTERCEPT_DR2_READ, INTERCEPT_DR3_READ,
	INTERCEPT_DR4_READ, INTERCEPT_DR5_READ, INTERCEPT_DR6_READ, INTERCEPT_DR7_READ,
	INTERCEPT_DR0_WRITE, INTERCEPT_DR1_WRITE, INTERCEPT_DR2_WRITE, INTERCEPT_DR3_WRITE,
	INTERCEPT_DR4_WRITE, INTERCEPT_DR5_WRITE, INTERCEPT_DR6_WRITE, INTERCEPT_DR7_WRITE,
	/*
	 * #DB and #AC: delivering one can raise the same again, forever, with
	 * no instruction boundary for a host interrupt to exit at (the
	 * CVE-2015-5307 and CVE-2015-8104 pattern). Intercepted, each
	 * delivery is an exit. #MC: a host machine check belongs to the host.
	 */
	INTERCEPT_EXCEPTION_OFFSET + DB_VECTOR, INTERCEPT_EXCEPTION_OFFSET + AC_VECTOR,
	INTERCEPT_EXCEPTION_OFFSET + MC_VECTOR,
};

void lkvm_vcpu_init_vmcb(struct lkvm_vcpu *vcpu)
{
	struct vmcb_control_area *c = &vcpu->vmcb->control;
	int i;

	for (i = 0; i < ARRAY_SIZE(lkvm_intercepts); i++)
		c->intercepts[lkvm_intercepts[i] / 32] |= BIT(lkvm_intercepts[i] % 32);
	c->iopm_base_pa = lkvm_svm_iopm_pa();
	c->msrpm_base_pa = lkvm_svm_msrpm_pa();
	/*
	 * V_INTR_MASKING: the guest's IF masks only virtual interrupts; host
	 * interrupts always exit, whatever the guest does.
	 */
	c->int_ctl |= V_INTR_MASKING_MASK;
	c->nested_ctl = SVM_NESTED_CTL_NP_ENABLE;
	c->nested_cr3 = lkvm_page_pa(vcpu->vm->npt_root);
	vcpu->asid.cpu = -1;
	vcpu->cpu = -1;
}

void lkvm_inject_exception(struct lkvm_vcpu *vcpu, u8 vector, bool has_error, u32 error)
{
	struct vmcb_control_area *c = &vcpu->vmcb->control;

	/* Real mode pushes no error code. */
	if (!(vcpu->vmcb->save.cr0 & X86_CR0_PE))
		has_error = false;
	c->event_inj = vector | SVM_EVTINJ_TYPE_EXEPT | SVM_EVTINJ_VALID |
		       (has_error ? SVM_EVTINJ_VALID_ERR : 0);
	c->event_inj_err = error;
	lkvm_stat_inc(vcpu, LKVM_STAT_EXCEPTION_INJECTED);
}

/*
 * An event the CPU was delivering when the exit came (EXITINTINFO) was not
 * delivered: hand it to the next VMRUN again. Except an INT n, INT3 or
 * INTO: without NRIP save, RIP still points at the instruction, which
 * runs again and raises it again; injected, it would return to the same
 * instruction and run twice.
 */
static void lkvm_reinject_interrupted(struct lkvm_vcpu *vcpu)
{
	struct vmcb_control_area *c = &vcpu->vmcb->control;
	u32 info = c->exit_int_info, type = info & SVM_EXITINTINFO_TYPE_MASK;
	u8 vector = info & SVM_EXITINTINFO_VEC_MASK;

	if (!(info & SVM_EXITINTINFO_VALID) || type == SVM_EXITINTINFO_TYPE_SOFT ||
	    (type == SVM_EXITINTINFO_TYPE_EXEPT && (vector == BP_VECTOR || vector == OF_VECTOR)))
		return;
	/*
	 * An interrupt whose delivery an exit cut short: it was offered as
	 * V_IRQ (posted_irq.c), so it goes back to the IRR, offered again
	 * when the guest can take it. QEMU reports it as an exception of
	 * its vector, which as EVENTINJ would make the next VMRUN fail;
	 * no exception has a vector of 32 or more.
	 */
	if (type == SVM_EXITINTINFO_TYPE_INTR || vector >= FIRST_EXTERNAL_VECTOR) {
		lkvm_pi_requeue(vcpu, vector);
		return;
	}
	c->event_inj = info;
	c->event_inj_err = c->exit_int_info_err;
}

static bool lkvm_guest_osxsave(struct lkvm_vcpu *vcpu)
{
	return vcpu->vmcb->save.cr4 & X86_CR4_OSXSAVE;
}

static bool lkvm_guest_pke(struct lkvm_vcpu *vcpu)
{
	return vcpu->vmcb->save.cr4 & X86_CR4_PKE;
}

/*
 * From the last instrumentable instruction to the first one after: no
 * tracing or instrumentation while the CPU is, for RCU and context
 * tracking, in guest mode.
 */
static noinstr void lkvm_vcpu_enter_exit(struct lkvm_vcpu *vcpu, u64 host_save_pa)
{
	guest_state_enter_irqoff();
	/*
	 * With V_INTR_MASKING, the host's IF at VMRUN decides whether host
	 * interrupts exit; GIF, clear until VMRUN sets it, keeps them off here.
	 */
	raw_local_irq_enable();
	lkvm_svm_vmrun(vcpu->vmcb_pa, vcpu->gprs, host_save_pa);
	raw_local_irq_disable();
	guest_state_exit_irqoff();
}

/* One VMRUN. IRQs off, GIF clear, guest FPU registers loaded. */
static void lkvm_world_switch(struct lkvm_vcpu *vcpu, u64 host_save_pa)
{
	bool xsave = cpu_feature_enabled(X86_FEATURE_OSXSAVE);
	bool guest_osxsave = lkvm_guest_osxsave(vcpu);
	u64 host_xcr0 = lkvm_host_xcr0, xcr0;
	u32 host_pkru = vcpu->host_pkru, pkru;

	if (xsave && guest_osxsave && vcpu->xcr0 != host_xcr0)
		xsetbv(XCR_XFEATURE_ENABLED_MASK, vcpu->xcr0);
	/* The guest can set CR4.PKE itself; its PKRU must not reach the host. */
	if (cpu_feature_enabled(X86_FEATURE_OSPKE) && lkvm_guest_pke(vcpu) &&
	    vcpu->pkru != host_pkru)
		write_pkru(vcpu->pkru);
	/* A division's leftovers must not reach the guest (AMD's DIV0 erratum). */
	amd_clear_divider();

	lkvm_vcpu_enter_exit(vcpu, host_save_pa);

	/*
	 * #VMEXIT turned the host's breakpoints off (DR7 = 0x400): back on,
	 * if the host has any.
	 */
	if (hw_breakpoint_active())
		hw_breakpoint_restore();
	/* Like XCR0 below: the guest may have turned CR4.PKE off again. */
	if (cpu_feature_enabled(X86_FEATURE_OSPKE)) {
		pkru = read_pkru();
		if (lkvm_guest_pke(vcpu))
			vcpu->pkru = pkru;
		if (pkru != host_pkru)
			write_pkru(host_pkru);
	}
	/*
	 * Read the guest's XCR0 back rather than trust the XSETBV intercept:
	 * QEMU's SVM does not implement it, and a CPU without it lets the
	 * guest write XCR0 directly. A guest that has OSXSAVE on now ran with
	 * what the register holds, and that is what its CPUID's XSAVE sizes
	 * must match: a stock Linux guest turns OSXSAVE on and writes XCR0
	 * in one stretch without exits. If it turned OSXSAVE on without
	 * writing XCR0, it ran with the host's, of which it keeps only what
	 * it may have (CR4 writes do not exit, so the module cannot tell the
	 * two apart). Either way the host's comes back.
	 */
	if (xsave) {
		xcr0 = xgetbv(XCR_XFEATURE_ENABLED_MASK);
		if (lkvm_guest_osxsave(vcpu))
			vcpu->xcr0 = (xcr0 & lkvm_guest_xcr0) | XFEATURE_MASK_FP;
		if (xcr0 != host_xcr0)
			xsetbv(XCR_XFEATURE_ENABLED_MASK, host_xcr0);
	}
}

/*
 * A host machine check arrived in guest mode: hand it to the host's
 * handler, as if it had interrupted user mode, the way KVM does. IRQs off.
 */
static void lkvm_machine_check(void)
{
	struct pt_regs regs = { .cs = 3, .flags = X86_EFLAGS_IF };

	if (IS_ENABLED(CONFIG_X86_MCE))
		do_machine_check(&regs);
}

/*
 * Enter the guest once. 1: it ran and exited (handle the exit), 0: it did
 * not run because there is work first (signals, rescheduling), <0: error.
 */
static int lkvm_enter_guest(struct lkvm_vcpu *vcpu)
{
	struct vmcb_control_area *c = &vcpu->vmcb->control;
	u64 host_save_pa;
	bool flush_all;

	local_irq_disable();
	if (lkvm_work_pending()) {
		local_irq_enable();
		return 0;
	}
	/* The guest may have left long mode by itself: LME goes out of the VMCB. */
	lkvm_lme_sync(vcpu);
	/* The guest's registers were saved away by a context switch. */
	if (test_thread_flag(TIF_NEED_FPU_LOAD))
		switch_fpu_return();
	if (!lkvm_svm_prepare_run(vcpu->vmcb_pa, &vcpu->asid, &host_save_pa, &flush_all)) {
		local_irq_enable();
		return -EIO;
	}
	c->asid = vcpu->asid.asid;
	c->tlb_ctl = flush_all ? TLB_CONTROL_FLUSH_ALL_ASID : TLB_CONTROL_DO_NOTHING;
	if (vcpu->apic)
		lkvm_kvmclock_enter(vcpu, smp_processor_id());
	WRITE_ONCE(vcpu->cpu, smp_processor_id());
	/* Pairs with smp_mb__after_atomic() in lkvm_pi_post(). */
	smp_store_mb(vcpu->mode, LKVM_IN_GUEST);
	lkvm_pi_inject(vcpu);
	if (trace_lkvm_entry_enabled()) {
		trace_lkvm_entry(vcpu->vm->id, vcpu->id, vcpu->vmcb->save.rip,
				 vcpu->trace_exit_code,
				 vcpu->trace_exit_ns ? ktime_get_ns() - vcpu->trace_exit_ns : 0);
		vcpu->trace_exit_code = LKVM_TRACE_NO_EXIT;
	}

	guest_timing_enter_irqoff();
	lkvm_clgi();
	lkvm_world_switch(vcpu, host_save_pa);
	if (c->exit_code == SVM_EXIT_EXCP_BASE + MC_VECTOR)
		lkvm_machine_check();
	lkvm_stgi();
	/* A host NMI that exited the guest was taken at stgi(). */

	WRITE_ONCE(vcpu->mode, LKVM_OUTSIDE_GUEST);
	/* VMSCAPE: the guest's branch history must not steer the VMM's. */
	if (cpu_feature_enabled(X86_FEATURE_IBPB_EXIT_TO_USER))
		this_cpu_write(x86_ibpb_exit_to_user, true);
	c->tlb_ctl = TLB_CONTROL_DO_NOTHING;
	/*
	 * Host interrupts that exited the guest are taken here; then the time
	 * is accounted, after them, so that their ticks count as the guest's.
	 */
	local_irq_enable();
	local_irq_disable();
	guest_timing_exit_irqoff();
	local_irq_enable();
	trace_lkvm_exit(vcpu->vm->id, vcpu->id, c->exit_code, vcpu->vmcb->save.rip,
			c->exit_info_1, c->exit_info_2);
	vcpu->trace_exit_code = c->exit_code;
	vcpu->trace_exit_ns = trace_lkvm_entry_enabled() ? ktime_get_ns() : 0;

	/* Delivered by VMRUN, or back in EXITINTINFO. */
	c->event_inj = 0;
	lkvm_reinject_interrupted(vcpu);
	/* Before the PV EOI: an EOI there is for what the guest has taken. */
	lkvm_pi_exit(vcpu);
	if (vcpu->apic)
		lkvm_lapic_pv_eoi_exit(vcpu);
	lkvm_stat_inc(vcpu, LKVM_STAT_EXITS);
	return 1;
}

/*
 * With a local APIC, only an interrupt its priorities let through wakes
 * the vCPU: a vector the TPR or the ISR holds back would wake it into an
 * entry that injects nothing and halts again.
 */
static bool lkvm_halt_done(struct lkvm_vcpu *vcpu)
{
	if (!lkvm_vcpu_interruptible(vcpu))
		return false;
	if (vcpu->apic)
		return lkvm_lapic_next_irq(vcpu) >= 0;
	return lkvm_pi_pending(vcpu);
}

/* HLT: sleep until the guest can take an interrupt; a signal ends the wait. */
static int lkvm_vcpu_halt(struct lkvm_vcpu *vcpu)
{
	trace_lkvm_halt(vcpu->vm->id, vcpu->id, false);
	if (vcpu->apic)
		lkvm_lapic_trace_halt(vcpu);
	if (wait_event_interruptible(vcpu->wq, lkvm_halt_done(vcpu)))
		return -EINTR;
	trace_lkvm_halt(vcpu->vm->id, vcpu->id, true);
	vcpu->halted = false;
	lkvm_stat_inc(vcpu, LKVM_STAT_HALT_WAKEUPS);
	return 1;
}

long lkvm_vcpu_run(struct lkvm_vcpu *vcpu, struct lkvm_run __user *urun)
{
	struct lkvm_run run;
	int ret = 1;

	if (copy_from_user(&run, urun, sizeof(run)))
		return -EFAULT;
	if (run.flags)
		return -EINVAL;
	if (vcpu->read.pending)
		lkvm_complete_read(vcpu, &run);
	WRITE_ONCE(vcpu->vm->ran, true);

	/* Exits fill in only what they need: nothing stale may show. */
	memset(&vcpu->run, 0, sizeof(vcpu->run));
	vcpu->trace_exit_code = LKVM_TRACE_NO_EXIT;
	vcpu->trace_exit_ns = 0;
	/*
	 * The task's PKRU, which stays in the register while it is in the
	 * kernel (a context switch saves and reloads it), so it is read once.
	 */
	if (cpu_feature_enabled(X86_FEATURE_OSPKE))
		vcpu->host_pkru = read_pkru();
	fpu_swap_kvm_fpstate(&vcpu->fpu, true);
	while (ret > 0) {
		if (vcpu->halted) {
			ret = lkvm_vcpu_halt(vcpu);
			continue;
		}
		ret = lkvm_enter_guest(vcpu);
		if (ret > 0) {
			ret = lkvm_handle_exit(vcpu);
			trace_lkvm_handled(vcpu->vm->id, vcpu->id, vcpu->vmcb->control.exit_code,
					   ret);
		} else if (!ret) {
			ret = lkvm_handle_work();
			ret = ret ? ret : 1;
		}
	}
	fpu_swap_kvm_fpstate(&vcpu->fpu, false);

	trace_lkvm_userspace_exit(vcpu->vm->id, vcpu->id, ret ? 0 : vcpu->run.exit_reason, ret,
				  vcpu->trace_exit_code);
	if (ret == -EINTR) {
		lkvm_stat_inc(vcpu, LKVM_STAT_SIGNAL_EXITS);
		return ret;
	}
	if (ret < 0)
		return ret;
	lkvm_stat_inc(vcpu, LKVM_STAT_USERSPACE_EXITS);
	return copy_to_user(urun, &vcpu->run, sizeof(vcpu->run)) ? -EFAULT : 0;
}
