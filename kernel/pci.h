/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * PCI functions on the platform's bus 0 (pci.c): a device fills in a
 * function's configuration header, the mask of what the guest may write
 * and its BARs, and registers it; pci.c then answers configuration
 * cycles and routes port and MMIO accesses that fall in an enabled BAR
 * to the device.
 */
#ifndef LKVM_PCI_H
#define LKVM_PCI_H

#include <linux/types.h>

struct lkvm_vcpu;
struct lkvm_vm;

#define LKVM_PCI_NR_BARS	6

struct lkvm_pci_fn_ops {
	/*
	 * An access of @size bytes at @off in BAR @bar, from a vCPU. Returns
	 * 0, or LKVM_IO_EXIT to end LKVM_RUN. Reads fill @val.
	 */
	int (*bar_read)(void *opaque, struct lkvm_vcpu *vcpu, int bar, u32 off, u8 size, u64 *val);
	int (*bar_write)(void *opaque, struct lkvm_vcpu *vcpu, int bar, u32 off, u8 size, u64 val);
	/*
	 * The guest wrote configuration bytes [@off, @off + @size) of
	 * @cfg; called under the bus lock, so it may only look and copy.
	 */
	void (*cfg_written)(void *opaque, const u8 *cfg, unsigned int off, unsigned int size);
};

struct lkvm_pci_fn {
	u8 cfg[256];
	u8 wmask[256];
	/* Bytes of each BAR, a power of two; 0: no BAR. */
	u32 bar_size[LKVM_PCI_NR_BARS];
	const struct lkvm_pci_fn_ops *ops;
	void *opaque;
};

/*
 * Set up BAR @bar of @f: @size bytes (a power of two, at least 16 for
 * memory, 4 for ports) at @addr, port space if @io. The guest may move it.
 */
void lkvm_pci_fn_set_bar(struct lkvm_pci_fn *f, int bar, bool io, u32 size, u32 addr);
/*
 * Put @f on bus 0 in the first free slot: bus 0 owns it from now on and
 * frees it with the platform. Returns the devfn, or -ENOSPC.
 */
int lkvm_pci_register(struct lkvm_vm *vm, struct lkvm_pci_fn *f);
/* Take a function off the bus again and free it; before any vCPU ran. */
void lkvm_pci_unregister(struct lkvm_vm *vm, int devfn);
/* Port and MMIO accesses to the BARs: true if a function claimed it. */
bool lkvm_pci_bar_io(struct lkvm_vcpu *vcpu, u16 port, u8 size, bool in, u32 *val, int *ret);
bool lkvm_pci_bar_mmio(struct lkvm_vcpu *vcpu, u64 gpa, u8 size, bool write, u64 *val, int *ret);

/* Little-endian stores into a configuration header. */
static inline void lkvm_pci_put16(u8 *p, u16 v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static inline void lkvm_pci_put32(u8 *p, u32 v)
{
	lkvm_pci_put16(p, v);
	lkvm_pci_put16(p + 2, v >> 16);
}

static inline u16 lkvm_pci_get16(const u8 *p)
{
	return p[0] | (p[1] << 8);
}

static inline u32 lkvm_pci_get32(const u8 *p)
{
	return lkvm_pci_get16(p) | ((u32)lkvm_pci_get16(p + 2) << 16);
}

#endif /* LKVM_PCI_H */
