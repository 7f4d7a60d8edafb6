/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest: port I/O and PCI configuration mechanism #1 (ports 0xcf8/0xcfc),
 * for guests that look at the platform's PCI bus themselves.
 */
#ifndef LKVM_SELFTEST_GUEST_PCI_H
#define LKVM_SELFTEST_GUEST_PCI_H

#include <stdint.h>

#include "guest.h"

#define PCI_ADDR_PORT		0xcf8
#define PCI_DATA_PORT		0xcfc
#define PCI_ENABLE		0x80000000u
/* The CONFIG_ADDRESS of bus 0's device @dev, function @fn, register @reg. */
#define PCI_ADDR(dev, fn, reg)	(PCI_ENABLE | ((dev) << 11) | ((fn) << 8) | (reg))

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;

	asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outw(uint16_t port, uint16_t v)
{
	asm volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	asm volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

/* The dword at CONFIG_ADDRESS @addr, as written (any bits the test likes). */
static inline uint32_t pci_read32(uint32_t addr)
{
	outl(PCI_ADDR_PORT, addr);
	return inl(PCI_DATA_PORT);
}

/* Function @devfn of bus 0, register @reg: the aligned dword, or a byte of it. */
static inline uint32_t pci_cfg_read32(uint32_t devfn, uint32_t reg)
{
	return pci_read32(PCI_ADDR(devfn >> 3, devfn & 7, reg & 0xfc));
}

static inline uint8_t pci_cfg_read8(uint32_t devfn, uint32_t reg)
{
	return pci_cfg_read32(devfn, reg) >> ((reg & 3) * 8);
}

static inline void pci_cfg_write16(uint32_t devfn, uint32_t reg, uint16_t v)
{
	outl(PCI_ADDR_PORT, PCI_ADDR(devfn >> 3, devfn & 7, reg & 0xfc));
	outw(PCI_DATA_PORT + (reg & 2), v);
}

#endif /* LKVM_SELFTEST_GUEST_PCI_H */
