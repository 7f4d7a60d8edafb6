// SPDX-License-Identifier: GPL-2.0-only
/*
 * The port and MMIO buses: which in-kernel device answers an access.
 *
 * An access no device claims behaves as on a PC with nothing at that
 * address: reads return all ones, writes go nowhere. It is counted, so a
 * test can see it, and it never reaches host memory or host ports. The
 * platform's devices (platform.c) answer only in a VM that has one.
 */
#include <linux/bits.h>
#include <linux/kernel.h>

#include "lkvm.h"
#include "pci.h"

struct lkvm_port_dev {
	u16 base;
	u16 len;
	/* 0, or LKVM_IO_EXIT; @val holds @size bytes. */
	int (*in)(struct lkvm_vcpu *vcpu, u16 port, u8 size, u32 *val);
	int (*out)(struct lkvm_vcpu *vcpu, u16 port, u8 size, u32 val);
};

/* The POST-code port: Linux writes it as an I/O delay. */
static int lkvm_post_port_in(struct lkvm_vcpu *vcpu, u16 port, u8 size, u32 *val)
{
	*val = ~0U;
	return 0;
}

static int lkvm_post_port_out(struct lkvm_vcpu *vcpu, u16 port, u8 size, u32 val)
{
	return 0;
}

static const struct lkvm_port_dev lkvm_port_devs[] = {
	{ .base = 0x80, .len = 1, .in = lkvm_post_port_in, .out = lkvm_post_port_out },
};

/* 0xcf8-0xcff holds the reset control register at 0xcf9: pci.c passes it on. */
static const struct lkvm_port_dev lkvm_platform_port_devs[] = {
	{ .base = LKVM_PLATFORM_UART_PORT, .len = 8, .in = lkvm_uart_in, .out = lkvm_uart_out },
	{ .base = LKVM_PLATFORM_PCI_CONFIG_PORT, .len = 8, .in = lkvm_pci_in, .out = lkvm_pci_out },
	{ .base = LKVM_PLATFORM_SLEEP_CTL_PORT, .len = 2, .in = lkvm_power_in,
	  .out = lkvm_power_out },
	/* The keyboard controller, for its reset command (power.c). */
	{ .base = 0x64, .len = 1, .in = lkvm_power_in, .out = lkvm_power_out },
};

static const struct lkvm_port_dev *lkvm_find_port(const struct lkvm_port_dev *devs,
						  unsigned int n, u16 port)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (port >= devs[i].base && port < devs[i].base + devs[i].len)
			return &devs[i];
	return NULL;
}

/* A port access (1, 2 or 4 bytes), handled in the kernel. */
int lkvm_io_access(struct lkvm_vcpu *vcpu, u16 port, u8 size, bool in, u32 *val)
{
	const struct lkvm_port_dev *dev;
	int ret;

	dev = lkvm_find_port(lkvm_port_devs, ARRAY_SIZE(lkvm_port_devs), port);
	if (!dev && vcpu->vm->has_platform)
		dev = lkvm_find_port(lkvm_platform_port_devs,
				     ARRAY_SIZE(lkvm_platform_port_devs), port);
	if (dev)
		return in ? dev->in(vcpu, port, size, val) : dev->out(vcpu, port, size, *val);
	if (vcpu->vm->has_platform && lkvm_pci_bar_io(vcpu, port, size, in, val, &ret))
		return ret;
	lkvm_stat_inc(vcpu, LKVM_STAT_UNCLAIMED_IO);
	if (in)
		*val = ~0U;
	return 0;
}

/* An access outside guest RAM (1, 2, 4 or 8 bytes), handled in the kernel. */
int lkvm_mmio_access(struct lkvm_vcpu *vcpu, u64 gpa, u8 size, bool write, u64 *val)
{
	int ret;

	if (vcpu->apic && lkvm_lapic_mmio(vcpu, gpa, size, write, val))
		return 0;
	if (vcpu->vm->has_platform && lkvm_ioapic_mmio(vcpu, gpa, size, write, val))
		return 0;
	if (vcpu->vm->has_platform && lkvm_pci_bar_mmio(vcpu, gpa, size, write, val, &ret))
		return ret;
	lkvm_stat_inc(vcpu, LKVM_STAT_UNCLAIMED_MMIO);
	if (!write)
		*val = ~0ULL;
	return 0;
}
