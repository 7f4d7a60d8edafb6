// SPDX-License-Identifier: GPL-2.0-only
/* Local APIC: placeholder until lapic.c lands (scaffolding branch only). */
#include "lkvm.h"

int lkvm_lapic_create(struct lkvm_vcpu *vcpu)
{
	return -ENOMEM;
}

void lkvm_lapic_free(struct lkvm_vcpu *vcpu)
{
}

void lkvm_lapic_reset(struct lkvm_vcpu *vcpu)
{
}

int lkvm_lapic_msr_read(struct lkvm_vcpu *vcpu, u32 msr, u64 *val)
{
	return -ENOENT;
}

int lkvm_lapic_msr_write(struct lkvm_vcpu *vcpu, u32 msr, u64 val)
{
	return -ENOENT;
}

bool lkvm_lapic_mmio(struct lkvm_vcpu *vcpu, u64 gpa, u8 size, bool write, u64 *val)
{
	return false;
}

void lkvm_apic_deliver(struct lkvm_vm *vm, const struct lkvm_apic_irq *irq)
{
}
