// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvmclock: KVM's paravirtual clock (Documentation/virt/kvm/x86/msr.rst
 * in Linux), which a stock Linux guest uses for its time and to learn the
 * TSC's rate instead of calibrating it against timers it does not have.
 *
 * The guest gives, per vCPU, the address of a pvclock_vcpu_time_info;
 * the module writes there the guest TSC at one moment, the VM's system
 * time (nanoseconds since the platform was made) at that moment, and the
 * scale from TSC ticks to nanoseconds. The host TSC is constant and
 * invariant (the host kernel runs on it), so the structure is written once
 * when the guest enables it, marked stable. The wall clock structure gets
 * the time of day at system time zero.
 */
#include <linux/math64.h>
#include <linux/ktime.h>
#include <linux/timekeeping.h>
#include <asm/kvm_para.h>
#include <asm/pvclock-abi.h>
#include <asm/tsc.h>

#include "lkvm.h"

#define KVMCLOCK_ENABLE		BIT_ULL(0)

/*
 * Nanoseconds from a TSC delta as pvclock computes them: shifted by
 * @shift (right if negative), times @mul, divided by 2^32. @mul is kept
 * in [2^31, 2^32) for the most precision.
 */
static void lkvm_kvmclock_scale(u64 tsc_hz, u32 *mul, s8 *shift)
{
	u64 num = NSEC_PER_SEC, den = tsc_hz;
	int s = 0;

	while (num >= den) {
		den <<= 1;
		s++;
	}
	while (num < den / 2) {
		num <<= 1;
		s--;
	}
	*mul = div64_u64(num << 32, den);
	*shift = s;
}

static int lkvm_kvmclock_update(struct lkvm_vcpu *vcpu, u64 gpa)
{
	struct lkvm_vm *vm = vcpu->vm;
	struct pvclock_vcpu_time_info ti = {}, old;
	unsigned long flags;
	u32 version;
	int ret;

	/* Both samples close together: no interrupt in between. */
	local_irq_save(flags);
	ti.tsc_timestamp = rdtsc() + vcpu->vmcb->control.tsc_offset;
	ti.system_time = ktime_get_ns() - vm->clock_base_ns;
	local_irq_restore(flags);
	lkvm_kvmclock_scale((u64)tsc_khz * 1000, &ti.tsc_to_system_mul, &ti.tsc_shift);
	ti.flags = PVCLOCK_TSC_STABLE_BIT;

	/*
	 * All of it must be RAM before any of it changes: a refused address
	 * leaves the guest's memory as it was. The version is odd while the
	 * fields change, then even (pvclock-abi.h's protocol).
	 */
	ret = lkvm_read_guest(vm, gpa, &old, sizeof(old));
	if (ret)
		return ret;
	version = (old.version | 1) + 1;
	ti.version = version - 1;
	ret = lkvm_write_guest(vm, gpa, &ti.version, sizeof(ti.version));
	/* The odd version before the fields: pairs with the guest's rmb after reading it. */
	smp_wmb();
	ret = ret ?: lkvm_write_guest(vm, gpa + sizeof(ti.version), (u8 *)&ti + sizeof(ti.version),
				      sizeof(ti) - sizeof(ti.version));
	/* The fields before the even version: pairs with the guest's rmb before rereading it. */
	smp_wmb();
	return ret ?: lkvm_write_guest(vm, gpa, &version, sizeof(version));
}

static int lkvm_kvmclock_wall(struct lkvm_vcpu *vcpu, u64 gpa)
{
	struct pvclock_wall_clock wc = {
		.sec = vcpu->vm->clock_base_wall.tv_sec,
		.nsec = vcpu->vm->clock_base_wall.tv_nsec,
	};
	struct pvclock_wall_clock old;
	u32 version;
	int ret;

	/* As for the vCPU structure: all of it in RAM, or nothing written. */
	ret = lkvm_read_guest(vcpu->vm, gpa, &old, sizeof(old));
	if (ret)
		return ret;
	version = (old.version | 1) + 1;
	wc.version = version - 1;
	ret = lkvm_write_guest(vcpu->vm, gpa, &wc.version, sizeof(wc.version));
	/* Odd version, fields, even version: the same pairing as the vCPU structure's. */
	smp_wmb();
	ret = ret ?: lkvm_write_guest(vcpu->vm, gpa + 4, &wc.sec, sizeof(wc) - 4);
	/* See above. */
	smp_wmb();
	return ret ?: lkvm_write_guest(vcpu->vm, gpa, &version, sizeof(version));
}

int lkvm_kvmclock_msr_read(struct lkvm_vcpu *vcpu, u32 msr, u64 *val)
{
	switch (msr) {
	case MSR_KVM_SYSTEM_TIME:
	case MSR_KVM_SYSTEM_TIME_NEW:
		*val = vcpu->kvmclock_msr;
		return 0;
	case MSR_KVM_WALL_CLOCK:
	case MSR_KVM_WALL_CLOCK_NEW:
		*val = vcpu->kvmclock_wall_msr;
		return 0;
	}
	return -ENOENT;
}

/*
 * An address whose structure is not wholly in guest RAM is a #GP: the
 * guest asked for something it cannot get, and it must not look as if it
 * had a clock.
 */
int lkvm_kvmclock_msr_write(struct lkvm_vcpu *vcpu, u32 msr, u64 val)
{
	switch (msr) {
	case MSR_KVM_SYSTEM_TIME:
	case MSR_KVM_SYSTEM_TIME_NEW:
		if ((val & KVMCLOCK_ENABLE) &&
		    lkvm_kvmclock_update(vcpu, val & ~KVMCLOCK_ENABLE))
			return -EINVAL;
		vcpu->kvmclock_msr = val;
		return 0;
	case MSR_KVM_WALL_CLOCK:
	case MSR_KVM_WALL_CLOCK_NEW:
		if (lkvm_kvmclock_wall(vcpu, val))
			return -EINVAL;
		vcpu->kvmclock_wall_msr = val;
		return 0;
	}
	return -ENOENT;
}
