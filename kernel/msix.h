/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * MSI-X for the platform's PCI functions (msix.c): the capability in
 * configuration space, the vector table and pending bits in a memory
 * BAR, and sending a vector's message to the local APICs.
 */
#ifndef LKVM_MSIX_H
#define LKVM_MSIX_H

#include <linux/spinlock.h>
#include <linux/types.h>

struct lkvm_pci_fn;
struct lkvm_vm;

#define LKVM_MSIX_MAX_VECTORS	8
#define LKVM_MSIX_CAP_LEN	12
/* Where the table and the pending bits sit in the BAR. */
#define LKVM_MSIX_TABLE_OFF	0
#define LKVM_MSIX_PBA_OFF	0x800
#define LKVM_MSIX_BAR_SIZE	0x1000

struct lkvm_msix_entry {
	u32 addr_lo;
	u32 addr_hi;
	u32 data;
	u32 ctrl;		/* bit 0: masked */
};

struct lkvm_msix {
	/* Serializes the table, the pending bits and the two control bits. */
	spinlock_t lock;
	struct lkvm_vm *vm;
	unsigned int nr;
	bool enabled;		/* message control: MSI-X enable */
	bool func_masked;	/* message control: function mask */
	unsigned long pending;	/* one bit per vector */
	struct lkvm_msix_entry entry[LKVM_MSIX_MAX_VECTORS];
	/* Messages sent, and signals held pending by a mask. */
	u64 sent;
	u64 held;
};

/*
 * Set up @m with @nr vectors, and write the capability at @cap_off of
 * @f's header, pointing at @next, its table and PBA in BAR @bar.
 */
void lkvm_msix_init(struct lkvm_msix *m, struct lkvm_vm *vm, unsigned int nr,
		    struct lkvm_pci_fn *f, u8 cap_off, u8 next, int bar);
/* Function reset: every vector masked, MSI-X off, nothing pending. */
void lkvm_msix_reset(struct lkvm_msix *m);
/* The guest wrote config bytes [@off, @off + @size); @cap_off is the capability's. */
void lkvm_msix_cfg_written(struct lkvm_msix *m, const u8 *cfg, u8 cap_off,
			   unsigned int off, unsigned int size);
/* An access to the table or PBA at @off in the BAR. */
void lkvm_msix_bar_read(struct lkvm_msix *m, u32 off, u8 size, u64 *val);
void lkvm_msix_bar_write(struct lkvm_msix *m, u32 off, u8 size, u64 val);
/*
 * Signal @vector, from any context: its message goes out now, or waits
 * in the pending bits while masked. Returns true if a message went out.
 */
bool lkvm_msix_signal(struct lkvm_msix *m, u16 vector);

#endif /* LKVM_MSIX_H */
