// SPDX-License-Identifier: GPL-2.0-only
/*
 * Guest memory as the module sees it: through the kernel's own mapping of
 * the pinned pages, found from a guest physical address by the memory
 * slots, and guest virtual addresses translated by walking the guest's
 * page tables the way its CPU would.
 *
 * Nothing here trusts the guest: every address is looked up in the slots
 * and an address outside them is an error, never a host access.
 */
#include <linux/highmem.h>
#include <linux/mm.h>
#include <asm/processor-flags.h>

#include "lkvm.h"

/* The pinned page backing @gpa, or NULL if no slot holds it. */
struct page *lkvm_gpa_to_page(struct lkvm_vm *vm, u64 gpa)
{
	int i;

	for (i = 0; i < LKVM_NR_MEMORY_SLOTS; i++) {
		const struct lkvm_memslot *slot = &vm->slots[i];
		/*
		 * Pairs with the release that publishes a slot in vm.c: the
		 * other fields are read only once the slot is published.
		 */
		u64 npages = smp_load_acquire(&slot->npages);

		if (npages && gpa >= slot->gpa && ((gpa - slot->gpa) >> PAGE_SHIFT) < npages)
			return slot->pages[(gpa - slot->gpa) >> PAGE_SHIFT];
	}
	return NULL;
}

bool lkvm_gpa_range_in_ram(struct lkvm_vm *vm, u64 gpa, u64 len)
{
	int i;

	for (i = 0; i < LKVM_NR_MEMORY_SLOTS; i++) {
		const struct lkvm_memslot *slot = &vm->slots[i];
		/* Pairs with the release that publishes a slot, as above. */
		u64 npages = smp_load_acquire(&slot->npages);

		if (npages && gpa >= slot->gpa && len <= (npages << PAGE_SHIFT) &&
		    gpa - slot->gpa <= (npages << PAGE_SHIFT) - len)
			return true;
	}
	return false;
}

int lkvm_guest_iter(struct lkvm_vm *vm, u64 gpa, u32 len,
		    int (*fn)(void *ctx, void *p, u32 n), void *ctx)
{
	while (len) {
		unsigned int off = offset_in_page(gpa);
		unsigned int n = min_t(unsigned int, len, PAGE_SIZE - off);
		struct page *page = lkvm_gpa_to_page(vm, gpa);
		void *p;
		int ret;

		if (!page)
			return -EFAULT;
		p = kmap_local_page(page);
		ret = fn(ctx, p + off, n);
		kunmap_local(p);
		if (ret)
			return ret;
		gpa += n;
		len -= n;
	}
	return 0;
}

struct lkvm_copy_ctx {
	void *buf;
	bool write;
};

static int lkvm_copy_piece(void *ctx, void *p, u32 n)
{
	struct lkvm_copy_ctx *c = ctx;

	if (c->write)
		memcpy(p, c->buf, n);
	else
		memcpy(c->buf, p, n);
	c->buf += n;
	return 0;
}

static int lkvm_guest_copy(struct lkvm_vm *vm, u64 gpa, void *buf, unsigned int len, bool write)
{
	struct lkvm_copy_ctx c = { .buf = buf, .write = write };

	return lkvm_guest_iter(vm, gpa, len, lkvm_copy_piece, &c);
}

int lkvm_read_guest(struct lkvm_vm *vm, u64 gpa, void *buf, unsigned int len)
{
	return lkvm_guest_copy(vm, gpa, buf, len, false);
}

/* Devices write guest RAM (kvmclock's page, virtqueues) through here. */
int lkvm_write_guest(struct lkvm_vm *vm, u64 gpa, const void *buf, unsigned int len)
{
	return lkvm_guest_copy(vm, gpa, (void *)buf, len, true);
}

#define PTE_P		BIT_ULL(0)
#define PTE_PS		BIT_ULL(7)
#define PTE_ADDR_64	GENMASK_ULL(51, 12)

/*
 * One walk: @levels of 512 8-byte entries (long mode, PAE below the PDPT)
 * or of 1024 4-byte ones (legacy 32-bit paging). Large pages end it early.
 */
static int lkvm_walk(struct lkvm_vcpu *vcpu, u64 table, u64 gva, int levels, bool wide, u64 *gpa)
{
	int index_bits = wide ? 9 : 10, entry_size = wide ? 8 : 4;
	int level;

	for (level = levels; level >= 1; level--) {
		int shift = PAGE_SHIFT + index_bits * (level - 1);
		u64 index = (gva >> shift) & (BIT_ULL(index_bits) - 1);
		u64 entry = 0;

		if (lkvm_read_guest(vcpu->vm, table + index * entry_size, &entry, entry_size))
			return -EFAULT;
		if (!(entry & PTE_P))
			return -EFAULT;
		if (level == 1 || (level <= 3 && (entry & PTE_PS))) {
			u64 base;

			if (!wide && level == 2) {
				/* A 4 MiB page: PSE-36 puts address bits 39:32 at 20:13. */
				base = (entry & GENMASK_ULL(31, 22)) |
				       ((entry & GENMASK_ULL(20, 13)) << 19);
			} else {
				base = entry & (wide ? PTE_ADDR_64 : GENMASK_ULL(31, 12));
				base &= ~(BIT_ULL(shift) - 1);
			}
			*gpa = base | (gva & (BIT_ULL(shift) - 1));
			return 0;
		}
		table = entry & (wide ? PTE_ADDR_64 : GENMASK_ULL(31, 12));
	}
	return -EFAULT;
}

int lkvm_gva_to_gpa(struct lkvm_vcpu *vcpu, u64 gva, u64 *gpa)
{
	const struct vmcb_save_area *save = &vcpu->vmcb->save;
	u64 pdpte;

	if (!(save->cr0 & X86_CR0_PG)) {
		*gpa = gva & 0xffffffffULL;
		return 0;
	}
	if (save->efer & EFER_LMA)
		return lkvm_walk(vcpu, save->cr3 & PTE_ADDR_64, gva, 4, true, gpa);
	gva &= 0xffffffffULL;
	if (!(save->cr4 & X86_CR4_PAE))
		return lkvm_walk(vcpu, save->cr3 & GENMASK_ULL(31, 12), gva, 2, false, gpa);
	/* PAE: four PDPTEs at CR3, 32-byte aligned. */
	if (lkvm_read_guest(vcpu->vm, (save->cr3 & GENMASK_ULL(31, 5)) + (gva >> 30) * 8,
			    &pdpte, sizeof(pdpte)) || !(pdpte & PTE_P))
		return -EFAULT;
	return lkvm_walk(vcpu, pdpte & PTE_ADDR_64, gva, 2, true, gpa);
}
