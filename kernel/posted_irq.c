// SPDX-License-Identifier: GPL-2.0-only
/*
 * Posted interrupts: any context sets a vector in a vCPU's descriptor, and
 * the vCPU moves it into the guest before its next VMRUN.
 *
 * The descriptor is a 256-bit pending bitmap plus an outstanding-
 * notification bit, the shape hardware posting (AVIC, Intel's posted
 * interrupts) uses, so it can take over the kick later. Without it, the
 * poster kicks a vCPU in guest mode with a reschedule IPI (a host
 * interrupt in guest mode is a #VMEXIT) and wakes a halted one.
 *
 * The ordering that makes this race-free: the poster sets the bit, then
 * (full barrier) reads vcpu->mode; the vCPU sets mode to IN_GUEST, then
 * (full barrier) looks at the bitmap with IRQs off. Either the vCPU sees
 * the bit before VMRUN, or the poster sees IN_GUEST and its IPI, held
 * pending while IRQs are off, forces an exit right after VMRUN.
 */
#include <linux/bitops.h>
#include <linux/sched.h>
#include <linux/smp.h>
#include <linux/wait.h>
#include <asm/svm.h>

#include "lkvm.h"
#include "trace.h"

void lkvm_pi_post(struct lkvm_vcpu *vcpu, u8 vector)
{
	struct lkvm_vm *vm = vcpu->vm;
	int kick = LKVM_KICK_NONE, cpu = -1, me;

	set_bit(vector, vcpu->pi.pir);
	set_bit(0, &vcpu->pi.on);
	/* Pairs with the barrier after vcpu->mode is set in run.c. */
	smp_mb__after_atomic();
	if (READ_ONCE(vcpu->mode) == LKVM_IN_GUEST) {
		cpu = READ_ONCE(vcpu->cpu);
		me = get_cpu();
		/* In guest mode on a CPU that went offline since: it is not. */
		if (cpu == me) {
			kick = LKVM_KICK_SELF;
		} else if (cpu_online(cpu)) {
			smp_send_reschedule(cpu);
			kick = LKVM_KICK_IPI;
		}
		put_cpu();
	}
	atomic64_inc(&vm->irq_posted);
	if (kick == LKVM_KICK_IPI)
		atomic64_inc(&vm->irq_kicks);
	else
		atomic64_inc(&vm->irq_no_exit);
	trace_lkvm_irq_post(vm->id, vcpu->id, vector, kick, cpu);
	wake_up_interruptible(&vcpu->wq);
}

bool lkvm_pi_pending(struct lkvm_vcpu *vcpu)
{
	return test_bit(0, &vcpu->pi.on);
}

/* The guest would take an interrupt now: IF set, no STI/MOV SS shadow. */
bool lkvm_vcpu_interruptible(struct lkvm_vcpu *vcpu)
{
	const struct vmcb *vmcb = vcpu->vmcb;

	return (vmcb->save.rflags & X86_EFLAGS_IF) &&
	       !(vmcb->control.int_state & SVM_INTERRUPT_SHADOW_MASK);
}

static void lkvm_request_irq_window(struct vmcb *vmcb, bool on)
{
	u32 *word = &vmcb->control.intercepts[INTERCEPT_VINTR / 32];

	if (on) {
		/* A virtual interrupt that never gets delivered: VINTR exits first. */
		vmcb->control.int_ctl |= V_IRQ_MASK | V_IGN_TPR_MASK |
					 (0xf << V_INTR_PRIO_SHIFT);
		*word |= BIT(INTERCEPT_VINTR % 32);
	} else {
		vmcb->control.int_ctl &= ~(V_IRQ_MASK | V_IGN_TPR_MASK | V_INTR_PRIO_MASK);
		*word &= ~BIT(INTERCEPT_VINTR % 32);
	}
}

/*
 * With a local APIC: the pending bitmap is its IRR. The highest vector
 * the PPR lets through goes into the ISR as it is injected; vectors held
 * back wait in the IRR until an EOI or a TPR write lets them through
 * (lapic.c). ON is only a hint here: the IRR is looked at on every entry.
 */
static void lkvm_pi_inject_apic(struct lkvm_vcpu *vcpu)
{
	struct vmcb *vmcb = vcpu->vmcb;
	int vector;

	clear_bit(0, &vcpu->pi.on);
	/* Pairs with smp_mb__after_atomic() in lkvm_pi_post(). */
	smp_mb__after_atomic();
	vector = lkvm_lapic_next_irq(vcpu);
	if (vector < 0)
		goto out;
	if ((vmcb->control.event_inj & SVM_EVTINJ_VALID) || !lkvm_vcpu_interruptible(vcpu)) {
		lkvm_request_irq_window(vmcb, true);
		trace_lkvm_irq_inject(vcpu->vm->id, vcpu->id, vector, true);
		goto out;
	}
	lkvm_lapic_accept(vcpu, vector);
	vmcb->control.event_inj = vector | SVM_EVTINJ_TYPE_INTR | SVM_EVTINJ_VALID;
	lkvm_stat_inc(vcpu, LKVM_STAT_IRQ_INJECTED);
	trace_lkvm_irq_inject(vcpu->vm->id, vcpu->id, vector, false);
out:
	lkvm_lapic_pv_eoi_enter(vcpu);
}

/*
 * Before VMRUN, with IRQs off: inject the highest pending vector through
 * EVENTINJ if the guest can take it now; otherwise ask for an exit at the
 * moment it can (the VINTR window) and inject then.
 */
void lkvm_pi_inject(struct lkvm_vcpu *vcpu)
{
	struct vmcb *vmcb = vcpu->vmcb;
	int vector;

	lkvm_request_irq_window(vmcb, false);
	if (vcpu->apic) {
		lkvm_pi_inject_apic(vcpu);
		return;
	}
	if (!test_bit(0, &vcpu->pi.on))
		return;
	if ((vmcb->control.event_inj & SVM_EVTINJ_VALID) || !lkvm_vcpu_interruptible(vcpu)) {
		lkvm_request_irq_window(vmcb, true);
		trace_lkvm_irq_inject(vcpu->vm->id, vcpu->id, find_last_bit(vcpu->pi.pir, 256),
				      true);
		return;
	}
	clear_bit(0, &vcpu->pi.on);
	/* Pairs with smp_mb__after_atomic() in lkvm_pi_post(). */
	smp_mb__after_atomic();
	vector = find_last_bit(vcpu->pi.pir, 256);
	if (vector >= 256)
		return;
	clear_bit(vector, vcpu->pi.pir);
	if (find_first_bit(vcpu->pi.pir, 256) < 256)
		set_bit(0, &vcpu->pi.on);
	vmcb->control.event_inj = vector | SVM_EVTINJ_TYPE_INTR | SVM_EVTINJ_VALID;
	lkvm_stat_inc(vcpu, LKVM_STAT_IRQ_INJECTED);
	trace_lkvm_irq_inject(vcpu->vm->id, vcpu->id, vector, false);
}
