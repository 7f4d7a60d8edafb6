// SPDX-License-Identifier: GPL-2.0-only
/*
 * MSI-X (PCI Local Bus 3.0, 6.8.2): a function's interrupts are memory
 * writes the guest programs in a table, one address and data pair per
 * vector. Here the "write" is decoded at once into an APIC message: the
 * address names the destination (bits 19-12) and its mode (bit 2), the
 * data the vector and delivery mode, as on a PC.
 *
 * A vector that is masked, by its own mask bit or the function mask,
 * sets its pending bit instead, and the message goes out when it is
 * unmasked. With MSI-X off nothing goes out and nothing is kept: this
 * device has no INTx line to fall back on.
 */
#include <linux/bitops.h>
#include <linux/pci_regs.h>

#include "lkvm.h"
#include "msix.h"
#include "pci.h"

#define MSI_ADDR_BASE		0xfee00000U
#define MSI_ADDR_BASE_MASK	0xfff00000U
#define MSI_ADDR_DEST(a)	(((a) >> 12) & 0xff)
#define MSI_ADDR_LOGICAL	BIT(2)
#define MSI_DATA_VECTOR(d)	((d) & 0xff)
#define MSI_DATA_MODE(d)	(((d) >> 8) & 7)
#define MSI_DATA_LEVEL		BIT(15)

void lkvm_msix_init(struct lkvm_msix *m, struct lkvm_vm *vm, unsigned int nr,
		    struct lkvm_pci_fn *f, u8 cap_off, u8 next, int bar)
{
	u8 *cap = f->cfg + cap_off;

	spin_lock_init(&m->lock);
	m->vm = vm;
	m->nr = nr;
	lkvm_msix_reset(m);
	cap[PCI_CAP_LIST_ID] = PCI_CAP_ID_MSIX;
	cap[PCI_CAP_LIST_NEXT] = next;
	lkvm_pci_put16(cap + PCI_MSIX_FLAGS, nr - 1);
	lkvm_pci_put32(cap + PCI_MSIX_TABLE, LKVM_MSIX_TABLE_OFF | bar);
	lkvm_pci_put32(cap + PCI_MSIX_PBA, LKVM_MSIX_PBA_OFF | bar);
	/* Of message control, the guest writes only enable and function mask. */
	lkvm_pci_put16(f->wmask + cap_off + PCI_MSIX_FLAGS,
		       PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
}

void lkvm_msix_reset(struct lkvm_msix *m)
{
	unsigned int i;

	spin_lock(&m->lock);
	m->enabled = false;
	m->func_masked = false;
	m->pending = 0;
	for (i = 0; i < m->nr; i++)
		m->entry[i] = (struct lkvm_msix_entry){ .ctrl = PCI_MSIX_ENTRY_CTRL_MASKBIT };
	spin_unlock(&m->lock);
}

/* Send vector @i's message; under @m->lock. */
static void lkvm_msix_send(struct lkvm_msix *m, unsigned int i)
{
	const struct lkvm_msix_entry *e = &m->entry[i];
	struct lkvm_apic_irq irq = {
		.dest = MSI_ADDR_DEST(e->addr_lo),
		.logical = e->addr_lo & MSI_ADDR_LOGICAL,
		.vector = MSI_DATA_VECTOR(e->data),
		.delivery_mode = MSI_DATA_MODE(e->data),
		.level = e->data & MSI_DATA_LEVEL,
	};

	m->sent++;
	/*
	 * A write outside the APICs' window would go to memory on a PC,
	 * where it is lost to the interrupt system; so it is here.
	 */
	if ((e->addr_lo & MSI_ADDR_BASE_MASK) != MSI_ADDR_BASE || e->addr_hi)
		return;
	lkvm_apic_deliver(m->vm, &irq);
}

static bool lkvm_msix_masked(const struct lkvm_msix *m, unsigned int i)
{
	return m->func_masked || (m->entry[i].ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

/* Messages held while masked go out once nothing masks them; under @m->lock. */
static void lkvm_msix_flush(struct lkvm_msix *m)
{
	unsigned int i;

	if (!m->enabled)
		return;
	for_each_set_bit(i, &m->pending, m->nr) {
		if (!lkvm_msix_masked(m, i)) {
			__clear_bit(i, &m->pending);
			lkvm_msix_send(m, i);
		}
	}
}

bool lkvm_msix_signal(struct lkvm_msix *m, u16 vector)
{
	unsigned long flags;
	bool sent = false;

	if (vector >= m->nr)
		return false;
	spin_lock_irqsave(&m->lock, flags);
	if (!m->enabled) {
		/* Nothing to do: no message, no pending bit. */
	} else if (lkvm_msix_masked(m, vector)) {
		__set_bit(vector, &m->pending);
		m->held++;
	} else {
		lkvm_msix_send(m, vector);
		sent = true;
	}
	spin_unlock_irqrestore(&m->lock, flags);
	return sent;
}

void lkvm_msix_cfg_written(struct lkvm_msix *m, const u8 *cfg, u8 cap_off,
			   unsigned int off, unsigned int size)
{
	unsigned int ctl = cap_off + PCI_MSIX_FLAGS;
	unsigned long flags;
	u16 v;

	if (off > ctl + 1 || off + size <= ctl)
		return;
	v = lkvm_pci_get16(cfg + ctl);
	spin_lock_irqsave(&m->lock, flags);
	m->enabled = v & PCI_MSIX_FLAGS_ENABLE;
	m->func_masked = v & PCI_MSIX_FLAGS_MASKALL;
	lkvm_msix_flush(m);
	spin_unlock_irqrestore(&m->lock, flags);
}

/*
 * The table takes 4- and 8-byte accesses, naturally aligned (the spec's
 * rule for software); anything else reads as zero and writes nothing.
 */
void lkvm_msix_bar_read(struct lkvm_msix *m, u32 off, u8 size, u64 *val)
{
	unsigned long flags;
	u32 *words;

	*val = 0;
	if ((size != 4 && size != 8) || (off & (size - 1)))
		return;
	spin_lock_irqsave(&m->lock, flags);
	if (off >= LKVM_MSIX_TABLE_OFF && off < LKVM_MSIX_TABLE_OFF + m->nr * 16) {
		words = (u32 *)&m->entry[(off - LKVM_MSIX_TABLE_OFF) / 16];
		*val = words[(off % 16) / 4];
		if (size == 8)
			*val |= (u64)words[(off % 16) / 4 + 1] << 32;
	} else if (off == LKVM_MSIX_PBA_OFF) {
		*val = m->pending;
	}
	spin_unlock_irqrestore(&m->lock, flags);
}

void lkvm_msix_bar_write(struct lkvm_msix *m, u32 off, u8 size, u64 val)
{
	unsigned long flags;
	unsigned int i, w;
	u32 *words;

	if ((size != 4 && size != 8) || (off & (size - 1)))
		return;
	if (off < LKVM_MSIX_TABLE_OFF || off >= LKVM_MSIX_TABLE_OFF + m->nr * 16)
		return;		/* the PBA is read-only */
	i = (off - LKVM_MSIX_TABLE_OFF) / 16;
	w = (off % 16) / 4;
	spin_lock_irqsave(&m->lock, flags);
	words = (u32 *)&m->entry[i];
	words[w] = val;
	if (size == 8)
		words[w + 1] = val >> 32;
	/* Only the mask bit of vector control is defined. */
	m->entry[i].ctrl &= PCI_MSIX_ENTRY_CTRL_MASKBIT;
	lkvm_msix_flush(m);
	spin_unlock_irqrestore(&m->lock, flags);
}
