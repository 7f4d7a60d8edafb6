// SPDX-License-Identifier: GPL-2.0-only
/*
 * The IOAPIC: 24 input pins, each routed by its redirection table entry
 * to the local APICs as an interrupt message (lapic.c delivers it). An
 * 82093AA-like version 0x11, so no EOI register: a level-triggered pin
 * learns of its EOI from the local APIC's, through the TMR.
 *
 * The guest reaches it at LKVM_PLATFORM_IOAPIC_BASE: IOREGSEL at +0x00
 * selects a register, IOWIN at +0x10 reads or writes it, 32 bits at a
 * time. Register 0 is the ID, 1 the version, 2 the arbitration ID, and
 * 0x10 + 2 * pin (low) and 0x11 + 2 * pin (high) the redirection entry.
 *
 * Devices raise and lower the pins from any context; vCPUs program the
 * table and send EOIs. @lock (IRQs off) serializes all of it, deliveries
 * included, so an entry never changes under a delivery.
 */
#include <linux/bitops.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "lkvm.h"
#include "trace.h"

#define IOAPIC_REG_SELECT	0x00
#define IOAPIC_REG_WINDOW	0x10
#define IOAPIC_MMIO_SIZE	0x1000

#define IOAPIC_ID		0x00
#define IOAPIC_VERSION		0x01
#define IOAPIC_ARB		0x02
#define IOAPIC_REDIR_TABLE	0x10

#define IOAPIC_VERSION_ID	0x11
#define IOAPIC_ID_MASK		(0xfU << 24)

/* Redirection table entry bits */
#define RTE_VECTOR		GENMASK_ULL(7, 0)
#define RTE_DELIVERY_MODE	GENMASK_ULL(10, 8)
#define RTE_DEST_LOGICAL	BIT_ULL(11)
#define RTE_DELIVERY_STATUS	BIT_ULL(12)
#define RTE_ACTIVE_LOW		BIT_ULL(13)
#define RTE_REMOTE_IRR		BIT_ULL(14)
#define RTE_LEVEL		BIT_ULL(15)
#define RTE_MASKED		BIT_ULL(16)
#define RTE_DEST_SHIFT		56
/* What software may write; delivery status and remote IRR are the IOAPIC's. */
#define RTE_WRITABLE		(RTE_VECTOR | RTE_DELIVERY_MODE | RTE_DEST_LOGICAL | \
				 RTE_ACTIVE_LOW | RTE_LEVEL | RTE_MASKED | \
				 GENMASK_ULL(63, RTE_DEST_SHIFT))

struct lkvm_ioapic {
	struct lkvm_vm *vm;
	spinlock_t lock;	/* guards everything below */
	u32 select;
	u32 id;
	u64 rte[LKVM_PLATFORM_IOAPIC_PINS];
	/* The input lines as the devices drive them, before polarity. */
	unsigned long lines;
};

/* The pin's input after the entry's polarity: asserted or not. */
static bool lkvm_ioapic_asserted(const struct lkvm_ioapic *ioapic, unsigned int pin)
{
	return !!(ioapic->lines & BIT(pin)) != !!(ioapic->rte[pin] & RTE_ACTIVE_LOW);
}

/* Send @pin's message, if unmasked; a level-triggered one then waits for its EOI. */
static bool lkvm_ioapic_deliver(struct lkvm_ioapic *ioapic, unsigned int pin)
{
	u64 rte = ioapic->rte[pin];
	struct lkvm_apic_irq irq = {
		.dest = rte >> RTE_DEST_SHIFT,
		.vector = rte & RTE_VECTOR,
		.delivery_mode = (rte & RTE_DELIVERY_MODE) >> 8,
		.logical = rte & RTE_DEST_LOGICAL,
		.level = rte & RTE_LEVEL,
	};

	lockdep_assert_held(&ioapic->lock);
	if (rte & RTE_MASKED)
		return false;
	if (irq.level)
		ioapic->rte[pin] |= RTE_REMOTE_IRR;
	lkvm_apic_deliver(ioapic->vm, &irq);
	return true;
}

/* A level-triggered pin that is asserted and not waiting for an EOI. */
static bool lkvm_ioapic_level_due(const struct lkvm_ioapic *ioapic, unsigned int pin)
{
	u64 rte = ioapic->rte[pin];

	return (rte & RTE_LEVEL) && !(rte & RTE_REMOTE_IRR) && lkvm_ioapic_asserted(ioapic, pin);
}

void lkvm_ioapic_set_irq(struct lkvm_vm *vm, unsigned int pin, bool level)
{
	struct lkvm_ioapic *ioapic = vm->ioapic;
	bool was, delivered = false;
	unsigned long flags;

	if (!ioapic || pin >= LKVM_PLATFORM_IOAPIC_PINS)
		return;
	spin_lock_irqsave(&ioapic->lock, flags);
	was = lkvm_ioapic_asserted(ioapic, pin);
	if (level)
		ioapic->lines |= BIT(pin);
	else
		ioapic->lines &= ~BIT(pin);
	if (ioapic->rte[pin] & RTE_LEVEL) {
		if (lkvm_ioapic_level_due(ioapic, pin))
			delivered = lkvm_ioapic_deliver(ioapic, pin);
	} else if (!was && lkvm_ioapic_asserted(ioapic, pin)) {
		delivered = lkvm_ioapic_deliver(ioapic, pin);
	}
	spin_unlock_irqrestore(&ioapic->lock, flags);
	trace_lkvm_ioapic_irq(vm->id, pin, level, delivered);
}

void lkvm_ioapic_eoi(struct lkvm_vm *vm, u8 vector)
{
	struct lkvm_ioapic *ioapic = vm->ioapic;
	unsigned long flags;
	unsigned int pin;

	if (!ioapic)
		return;
	spin_lock_irqsave(&ioapic->lock, flags);
	for (pin = 0; pin < LKVM_PLATFORM_IOAPIC_PINS; pin++) {
		u64 rte = ioapic->rte[pin];

		if (!(rte & RTE_LEVEL) || (rte & RTE_VECTOR) != vector)
			continue;
		ioapic->rte[pin] &= ~RTE_REMOTE_IRR;
		/* Still asserted: the device wants another interrupt. */
		if (lkvm_ioapic_asserted(ioapic, pin))
			lkvm_ioapic_deliver(ioapic, pin);
	}
	spin_unlock_irqrestore(&ioapic->lock, flags);
}

static u32 lkvm_ioapic_read(struct lkvm_ioapic *ioapic)
{
	u32 reg = ioapic->select, pin;

	switch (reg) {
	case IOAPIC_ID:
	case IOAPIC_ARB:
		return ioapic->id;
	case IOAPIC_VERSION:
		return IOAPIC_VERSION_ID | ((LKVM_PLATFORM_IOAPIC_PINS - 1) << 16);
	}
	pin = (reg - IOAPIC_REDIR_TABLE) / 2;
	if (reg < IOAPIC_REDIR_TABLE || pin >= LKVM_PLATFORM_IOAPIC_PINS)
		return ~0U;
	return reg & 1 ? upper_32_bits(ioapic->rte[pin]) : lower_32_bits(ioapic->rte[pin]);
}

static void lkvm_ioapic_write(struct lkvm_ioapic *ioapic, u32 val)
{
	u32 reg = ioapic->select, pin;
	u64 rte, old;

	if (reg == IOAPIC_ID) {
		ioapic->id = val & IOAPIC_ID_MASK;
		return;
	}
	pin = (reg - IOAPIC_REDIR_TABLE) / 2;
	if (reg < IOAPIC_REDIR_TABLE || pin >= LKVM_PLATFORM_IOAPIC_PINS)
		return;
	old = ioapic->rte[pin];
	if (reg & 1)
		rte = (old & GENMASK_ULL(31, 0)) | ((u64)val << 32);
	else
		rte = (old & GENMASK_ULL(63, 32)) | val;
	rte = (rte & RTE_WRITABLE) | (old & (RTE_DELIVERY_STATUS | RTE_REMOTE_IRR));
	/* An edge-triggered pin waits for no EOI. */
	if (!(rte & RTE_LEVEL))
		rte &= ~RTE_REMOTE_IRR;
	ioapic->rte[pin] = rte;
	/* Unmasked while asserted: the level is seen now. */
	if (lkvm_ioapic_level_due(ioapic, pin))
		lkvm_ioapic_deliver(ioapic, pin);
}

/* 32-bit accesses to IOREGSEL and IOWIN; the rest of the page reads 0. */
bool lkvm_ioapic_mmio(struct lkvm_vcpu *vcpu, u64 gpa, u8 size, bool write, u64 *val)
{
	struct lkvm_ioapic *ioapic = vcpu->vm->ioapic;
	u64 off = gpa - LKVM_PLATFORM_IOAPIC_BASE;
	unsigned long flags;

	if (!ioapic || gpa < LKVM_PLATFORM_IOAPIC_BASE || off >= IOAPIC_MMIO_SIZE)
		return false;
	if (!write)
		*val = 0;
	if (size != 4 || (off != IOAPIC_REG_SELECT && off != IOAPIC_REG_WINDOW))
		return true;
	spin_lock_irqsave(&ioapic->lock, flags);
	if (off == IOAPIC_REG_SELECT) {
		if (write)
			ioapic->select = *val & 0xff;
		else
			*val = ioapic->select;
	} else if (write) {
		lkvm_ioapic_write(ioapic, *val);
	} else {
		*val = lkvm_ioapic_read(ioapic);
	}
	spin_unlock_irqrestore(&ioapic->lock, flags);
	return true;
}

int lkvm_ioapic_create(struct lkvm_vm *vm)
{
	struct lkvm_ioapic *ioapic;
	unsigned int pin;

	ioapic = kzalloc(sizeof(*ioapic), GFP_KERNEL_ACCOUNT);
	if (!ioapic)
		return -ENOMEM;
	ioapic->vm = vm;
	spin_lock_init(&ioapic->lock);
	ioapic->id = LKVM_PLATFORM_IOAPIC_ID << 24;
	for (pin = 0; pin < LKVM_PLATFORM_IOAPIC_PINS; pin++)
		ioapic->rte[pin] = RTE_MASKED;
	vm->ioapic = ioapic;
	return 0;
}

void lkvm_ioapic_free(struct lkvm_vm *vm)
{
	kfree(vm->ioapic);
	vm->ioapic = NULL;
}
