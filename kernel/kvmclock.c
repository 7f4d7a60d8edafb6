// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvmclock: KVM's paravirtual clock (Documentation/virt/kvm/x86/msr.rst
 * in Linux), which a stock Linux guest uses for its time and to learn the
 * TSC's rate instead of calibrating it against timers it does not have.
 *
 * The guest gives, per vCPU, the address of a pvclock_vcpu_time_info;
 * the module writes there the guest TSC at one moment, the VM's system
 * time (nanoseconds since the platform was made) at that moment, and the
 * scale from TSC ticks to nanoseconds; the guest extrapolates with its
 * TSC from there. The structure is written when the guest enables it and
 * again whenever the vCPU enters the guest on another host CPU, whose TSC
 * may not match the last one's exactly. It is marked stable (the guest
 * may then trust it to be monotonic across vCPUs) only while the host
 * kernel itself trusts its TSC; otherwise the guest keeps its own
 * monotonic guard. The wall clock structure gets the time of day at
 * system time zero.
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

	/* num << 32 below must not overflow: num ends below den, den below 2^32. */
	while (den >= BIT_ULL(32)) {
		den >>= 1;
		s--;
	}
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

/*
 * Write a pvclock structure (@data, @len bytes, whose first u32 is its
 * version) at @gpa the way pvclock-abi.h asks: the version odd while the
 * fields change, then even and higher than before, so a guest reading
 * concurrently sees either the old or the new values, never a mix.
 */
static int lkvm_pvclock_write(struct lkvm_vm *vm, u64 gpa, void *data, unsigned int len)
{
	u8 old[sizeof(struct pvclock_vcpu_time_info)];
	u32 version;
	int ret;

	/*
	 * All of it must be RAM before any of it changes: a refused address
	 * leaves the guest's memory as it was.
	 */
	if (WARN_ON_ONCE(len > sizeof(old)))
		return -EINVAL;
	ret = lkvm_read_guest(vm, gpa, old, len);
	if (ret)
		return ret;
	memcpy(&version, old, sizeof(version));
	version = (version | 1) + 1;
	*(u32 *)data = version - 1;
	ret = lkvm_write_guest(vm, gpa, data, sizeof(version));
	/* The odd version is visible before any field: the guest's first read pairs. */
	smp_wmb();
	ret = ret ?: lkvm_write_guest(vm, gpa + sizeof(version), data + sizeof(version),
				      len - sizeof(version));
	/* Every field is visible before the even version: the guest's second read pairs. */
	smp_wmb();
	return ret ?: lkvm_write_guest(vm, gpa, &version, sizeof(version));
}

/* The vCPU's thread, IRQs off or on; guest memory through the kernel's mapping. */
static int lkvm_kvmclock_update(struct lkvm_vcpu *vcpu, u64 gpa)
{
	struct pvclock_vcpu_time_info ti = {};
	unsigned long flags;

	/* Both samples close together: no interrupt in between. */
	local_irq_save(flags);
	ti.tsc_timestamp = rdtsc() + vcpu->vmcb->control.tsc_offset;
	ti.system_time = ktime_get_ns() - vcpu->vm->clock_base_ns;
	local_irq_restore(flags);
	lkvm_kvmclock_scale((u64)tsc_khz * 1000, &ti.tsc_to_system_mul, &ti.tsc_shift);
	ti.flags = check_tsc_unstable() ? 0 : PVCLOCK_TSC_STABLE_BIT;
	return lkvm_pvclock_write(vcpu->vm, gpa, &ti, sizeof(ti));
}

static int lkvm_kvmclock_wall(struct lkvm_vcpu *vcpu, u64 gpa)
{
	struct pvclock_wall_clock wc = {
		.sec = vcpu->vm->clock_base_wall.tv_sec,
		.nsec = vcpu->vm->clock_base_wall.tv_nsec,
	};

	return lkvm_pvclock_write(vcpu->vm, gpa, &wc, sizeof(wc));
}

/* Before VMRUN, IRQs off: the vCPU runs on @cpu, maybe not where it last ran. */
void lkvm_kvmclock_enter(struct lkvm_vcpu *vcpu, int cpu)
{
	if (cpu != vcpu->kvmclock_cpu && (vcpu->kvmclock_msr & KVMCLOCK_ENABLE))
		lkvm_kvmclock_update(vcpu, vcpu->kvmclock_msr & ~KVMCLOCK_ENABLE);
	vcpu->kvmclock_cpu = cpu;
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
