// SPDX-License-Identifier: GPL-2.0-only
/*
 * PCI configuration space through configuration mechanism #1: the address
 * register at 0xcf8 (a 32-bit access) selects bus, device, function and
 * register; 0xcfc-0xcff reads and writes it. Bus 0 only.
 *
 * Each function has a 256-byte configuration header and a mask of the
 * bits the guest may write; everything else reads back as the device
 * made it. Bus 0 holds the host bridge at 00:00.0 and the functions
 * devices register (pci.h), one per slot. A function that is not there
 * reads as all ones, which is how a guest's scan knows the slot is empty.
 *
 * A BAR is only its write mask: the guest sizes it by writing all ones
 * and reading back the bits that stuck, and moves it by writing an
 * address. While the function's command register enables the space, an
 * access inside the BAR goes to the device's handlers.
 *
 * Byte 0xcf9, inside the address register's range, is the reset control
 * register (power.c decides what a write means).
 */
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/pci_regs.h>
#include <linux/pci_ids.h>
#include <linux/pci.h>

#include "lkvm.h"
#include "pci.h"

#define PCI_CONFIG_ENABLE	BIT(31)
#define PCI_CONFIG_BUS(a)	(((a) >> 16) & 0xff)
#define PCI_CONFIG_DEVFN(a)	(((a) >> 8) & 0xff)
#define PCI_CONFIG_REG(a)	((a) & 0xfc)
#define PCI_DATA_PORT		(LKVM_PLATFORM_PCI_CONFIG_PORT + 4)
#define PCI_NR_DEVFN		256

/*
 * The host bridge's identity: Red Hat's generic virtual host bridge, so
 * that no quirk for a real chipset applies.
 */
#define HOST_BRIDGE_VENDOR	0x1b36
#define HOST_BRIDGE_DEVICE	0x0008

/* Slots 1 .. PCI_NR_SLOTS - 1 take devices; 0 is the host bridge's. */
#define PCI_NR_SLOTS		32

struct lkvm_pci {
	/* Serializes the address register and every function's header. */
	spinlock_t lock;
	u32 address;		/* the address register as last written */
	struct lkvm_pci_fn *fn[PCI_NR_DEVFN];
	/* The registered functions with BARs, in slot order, under @lock. */
	struct lkvm_pci_fn *devs[PCI_NR_SLOTS];
	unsigned int nr_devs;
};

#define put16 lkvm_pci_put16

static struct lkvm_pci_fn *lkvm_pci_host_bridge(void)
{
	struct lkvm_pci_fn *f = kzalloc(sizeof(*f), GFP_KERNEL_ACCOUNT);

	if (!f)
		return NULL;
	put16(f->cfg + PCI_VENDOR_ID, HOST_BRIDGE_VENDOR);
	put16(f->cfg + PCI_DEVICE_ID, HOST_BRIDGE_DEVICE);
	put16(f->cfg + PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
	f->cfg[PCI_CLASS_DEVICE] = PCI_CLASS_BRIDGE_HOST & 0xff;
	f->cfg[PCI_CLASS_DEVICE + 1] = PCI_CLASS_BRIDGE_HOST >> 8;
	f->cfg[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_NORMAL;
	/* The guest may only turn the bridge's decoding bits on and off. */
	put16(f->wmask + PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	return f;
}

int lkvm_pci_create(struct lkvm_vm *vm)
{
	struct lkvm_pci *pci = kzalloc(sizeof(*pci), GFP_KERNEL_ACCOUNT);

	if (!pci)
		return -ENOMEM;
	spin_lock_init(&pci->lock);
	pci->fn[0] = lkvm_pci_host_bridge();
	if (!pci->fn[0]) {
		kfree(pci);
		return -ENOMEM;
	}
	vm->pci = pci;
	return 0;
}

void lkvm_pci_free(struct lkvm_vm *vm)
{
	struct lkvm_pci *pci = vm->pci;
	int i;

	if (!pci)
		return;
	for (i = 0; i < PCI_NR_DEVFN; i++)
		kfree(pci->fn[i]);
	kfree(pci);
	vm->pci = NULL;
}

void lkvm_pci_fn_set_bar(struct lkvm_pci_fn *f, int bar, bool io, u32 size, u32 addr)
{
	u8 *reg = f->cfg + PCI_BASE_ADDRESS_0 + 4 * bar;

	f->bar_size[bar] = size;
	lkvm_pci_put32(reg, (addr & ~(size - 1)) | (io ? PCI_BASE_ADDRESS_SPACE_IO : 0));
	/* Only the address bits above the size stick; a port BAR decodes 16 bits. */
	lkvm_pci_put32(f->wmask + PCI_BASE_ADDRESS_0 + 4 * bar,
		       ~(size - 1) & (io ? 0xffffU : ~0U));
}

int lkvm_pci_register(struct lkvm_vm *vm, struct lkvm_pci_fn *f)
{
	struct lkvm_pci *pci = vm->pci;
	int slot, ret = -ENOSPC;

	spin_lock(&pci->lock);
	for (slot = 1; slot < PCI_NR_SLOTS; slot++) {
		if (!pci->fn[PCI_DEVFN(slot, 0)]) {
			pci->fn[PCI_DEVFN(slot, 0)] = f;
			pci->devs[pci->nr_devs++] = f;
			ret = PCI_DEVFN(slot, 0);
			break;
		}
	}
	spin_unlock(&pci->lock);
	return ret;
}

void lkvm_pci_unregister(struct lkvm_vm *vm, int devfn)
{
	struct lkvm_pci *pci = vm->pci;
	struct lkvm_pci_fn *f;
	unsigned int i;

	spin_lock(&pci->lock);
	f = pci->fn[devfn];
	pci->fn[devfn] = NULL;
	for (i = 0; i < pci->nr_devs; i++) {
		if (pci->devs[i] == f) {
			pci->devs[i] = pci->devs[--pci->nr_devs];
			break;
		}
	}
	spin_unlock(&pci->lock);
	kfree(f);
}

/*
 * The function whose enabled BAR holds [@addr, @addr + @size), under
 * @pci->lock; its BAR number and the offset in it come back too.
 */
static struct lkvm_pci_fn *lkvm_pci_bar_find(struct lkvm_pci *pci, bool io, u64 addr, u8 size,
					     int *barp, u32 *offp)
{
	u16 enable = io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
	unsigned int i;
	int bar;

	for (i = 0; i < pci->nr_devs; i++) {
		struct lkvm_pci_fn *f = pci->devs[i];

		if (!(lkvm_pci_get16(f->cfg + PCI_COMMAND) & enable))
			continue;
		for (bar = 0; bar < LKVM_PCI_NR_BARS; bar++) {
			u32 reg = lkvm_pci_get32(f->cfg + PCI_BASE_ADDRESS_0 + 4 * bar);
			u32 bsize = f->bar_size[bar];
			u64 base;

			if (!bsize || !!(reg & PCI_BASE_ADDRESS_SPACE_IO) != io)
				continue;
			base = reg & (io ? PCI_BASE_ADDRESS_IO_MASK : PCI_BASE_ADDRESS_MEM_MASK);
			/* A BAR the guest left at 0 decodes nothing. */
			if (!base)
				continue;
			if (addr >= base && addr + size <= base + bsize) {
				*barp = bar;
				*offp = addr - base;
				return f;
			}
		}
	}
	return NULL;
}

bool lkvm_pci_bar_io(struct lkvm_vcpu *vcpu, u16 port, u8 size, bool in, u32 *val, int *ret)
{
	struct lkvm_pci *pci = vcpu->vm->pci;
	struct lkvm_pci_fn *f;
	u64 v = *val;
	u32 off;
	int bar;

	spin_lock(&pci->lock);
	f = lkvm_pci_bar_find(pci, true, port, size, &bar, &off);
	spin_unlock(&pci->lock);
	if (!f)
		return false;
	if (in) {
		*ret = f->ops->bar_read(f->opaque, vcpu, bar, off, size, &v);
		*val = v;
	} else {
		*ret = f->ops->bar_write(f->opaque, vcpu, bar, off, size, v);
	}
	return true;
}

bool lkvm_pci_bar_mmio(struct lkvm_vcpu *vcpu, u64 gpa, u8 size, bool write, u64 *val, int *ret)
{
	struct lkvm_pci *pci = vcpu->vm->pci;
	struct lkvm_pci_fn *f;
	u32 off;
	int bar;

	spin_lock(&pci->lock);
	f = lkvm_pci_bar_find(pci, false, gpa, size, &bar, &off);
	spin_unlock(&pci->lock);
	if (!f)
		return false;
	if (write)
		*ret = f->ops->bar_write(f->opaque, vcpu, bar, off, size, *val);
	else
		*ret = f->ops->bar_read(f->opaque, vcpu, bar, off, size, val);
	return true;
}

/* The function and register the address register selects, or NULL. */
static struct lkvm_pci_fn *lkvm_pci_selected(struct lkvm_pci *pci)
{
	u32 a = pci->address;

	if (!(a & PCI_CONFIG_ENABLE) || PCI_CONFIG_BUS(a))
		return NULL;
	return pci->fn[PCI_CONFIG_DEVFN(a)];
}

int lkvm_pci_in(struct lkvm_vcpu *vcpu, u16 port, u8 size, u32 *val)
{
	struct lkvm_pci *pci = vcpu->vm->pci;
	struct lkvm_pci_fn *f;
	unsigned int off, i;

	if (port == LKVM_PLATFORM_RESET_PORT && size == 1)
		return lkvm_power_in(vcpu, port, size, val);
	*val = ~0U;
	spin_lock(&pci->lock);
	if (port == LKVM_PLATFORM_PCI_CONFIG_PORT && size == 4) {
		*val = pci->address;
	} else if (port >= PCI_DATA_PORT) {
		f = lkvm_pci_selected(pci);
		off = PCI_CONFIG_REG(pci->address) + (port - PCI_DATA_PORT);
		if (f && off + size <= 256)
			for (*val = 0, i = 0; i < size; i++)
				*val |= (u32)f->cfg[off + i] << (i * 8);
	}
	spin_unlock(&pci->lock);
	return 0;
}

int lkvm_pci_out(struct lkvm_vcpu *vcpu, u16 port, u8 size, u32 val)
{
	struct lkvm_pci *pci = vcpu->vm->pci;
	struct lkvm_pci_fn *f;
	unsigned int off, i;
	u8 m;

	if (port == LKVM_PLATFORM_RESET_PORT && size == 1)
		return lkvm_power_out(vcpu, port, size, val);
	spin_lock(&pci->lock);
	if (port == LKVM_PLATFORM_PCI_CONFIG_PORT && size == 4) {
		/* Bits 30-24 are reserved, 1-0 select nothing: they read as zero. */
		pci->address = val & (PCI_CONFIG_ENABLE | GENMASK(23, 2));
	} else if (port >= PCI_DATA_PORT) {
		f = lkvm_pci_selected(pci);
		off = PCI_CONFIG_REG(pci->address) + (port - PCI_DATA_PORT);
		if (f && off + size <= 256) {
			for (i = 0; i < size; i++) {
				m = f->wmask[off + i];
				f->cfg[off + i] = (f->cfg[off + i] & ~m) | ((val >> (i * 8)) & m);
			}
			if (f->ops && f->ops->cfg_written)
				f->ops->cfg_written(f->opaque, f->cfg, off, size);
		}
	}
	spin_unlock(&pci->lock);
	return 0;
}
