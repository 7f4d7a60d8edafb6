// SPDX-License-Identifier: GPL-2.0-only
/*
 * The port and MMIO buses: which in-kernel device answers an access.
 *
 * An access no device claims behaves as on a PC with nothing at that
 * address: reads return all ones, writes go nowhere. It is counted, so a
 * test can see it, and it never reaches host memory or host ports.
 */
#include <linux/bits.h>
#include <linux/kernel.h>

#include "lkvm.h"

struct lkvm_port_dev {
	u16 base;
	u16 len;
	/* 0 when handled; @val holds @size bytes. */
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

/* A port access (1, 2 or 4 bytes), handled in the kernel. */
int lkvm_io_access(struct lkvm_vcpu *vcpu, u16 port, u8 size, bool in, u32 *val)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(lkvm_port_devs); i++) {
		const struct lkvm_port_dev *dev = &lkvm_port_devs[i];

		if (port < dev->base || port >= dev->base + dev->len)
			continue;
		return in ? dev->in(vcpu, port, size, val) : dev->out(vcpu, port, size, *val);
	}
	lkvm_stat_inc(vcpu, LKVM_STAT_UNCLAIMED_IO);
	if (in)
		*val = ~0U;
	return 0;
}

/* An access outside guest RAM (1, 2, 4 or 8 bytes), handled in the kernel. */
int lkvm_mmio_access(struct lkvm_vcpu *vcpu, u64 gpa, u8 size, bool write, u64 *val)
{
	lkvm_stat_inc(vcpu, LKVM_STAT_UNCLAIMED_MMIO);
	if (!write)
		*val = ~0ULL;
	return 0;
}
