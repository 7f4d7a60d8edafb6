// SPDX-License-Identifier: GPL-2.0-only
/* IOAPIC: placeholder until ioapic.c lands (scaffolding branch only). */
#include "lkvm.h"

int lkvm_ioapic_create(struct lkvm_vm *vm)
{
	return 0;
}

void lkvm_ioapic_free(struct lkvm_vm *vm)
{
}

void lkvm_ioapic_set_irq(struct lkvm_vm *vm, unsigned int pin, bool level)
{
}

void lkvm_ioapic_eoi(struct lkvm_vm *vm, u8 vector)
{
}

bool lkvm_ioapic_mmio(struct lkvm_vcpu *vcpu, u64 gpa, u8 size, bool write, u64 *val)
{
	return false;
}
