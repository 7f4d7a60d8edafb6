// SPDX-License-Identifier: GPL-2.0-only
/*
 * Nested page tables: guest physical to host physical, built from the
 * memory slots.
 *
 * Guest memory is pinned for the VM's life and slots are never removed,
 * so every page is mapped once, when its slot is added, and no nested
 * page fault is ever taken on RAM: a nested page fault means the guest
 * touched an address outside its memory, which is MMIO. The tables have
 * as many levels as the host's own paging (four, or five with LA57),
 * because that is the format the CPU walks them in.
 */
#include <linux/gfp.h>
#include <linux/io.h>
#include <linux/mm.h>
#include <linux/pgtable.h>
#include <asm/page.h>

#include "lkvm.h"

#define NPT_ENTRIES		512
#define NPT_LEVEL_SHIFT(l)	(PAGE_SHIFT + 9 * ((l) - 1))
/*
 * Guest accesses are user accesses to the nested walk, so U is set; A and
 * D are set up front so that the walk never has to write them.
 */
#define NPT_TABLE_FLAGS		(_PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED)
#define NPT_LEAF_FLAGS		(NPT_TABLE_FLAGS | _PAGE_DIRTY)

static u64 *npt_table(u64 entry)
{
	return phys_to_virt(__sme_clr(entry & PTE_PFN_MASK));
}

/* The last-level table that maps @gpa, allocating the way there if asked. */
static u64 *npt_walk(struct lkvm_vm *vm, u64 gpa, bool alloc)
{
	u64 *table = page_address(vm->npt_root);
	int level;

	for (level = vm->npt_levels; level > 1; level--) {
		u64 *entry = &table[(gpa >> NPT_LEVEL_SHIFT(level)) % NPT_ENTRIES];

		if (!(*entry & _PAGE_PRESENT)) {
			struct page *page;

			if (!alloc)
				return NULL;
			page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
			if (!page)
				return NULL;
			/* The CPU may walk here as soon as it is linked in. */
			WRITE_ONCE(*entry, lkvm_page_pa(page) | NPT_TABLE_FLAGS);
		}
		table = npt_table(*entry);
	}
	return table;
}

/*
 * Map @npages pinned pages at @gpa, in two passes: the first allocates
 * every table (and may fail, leaving only empty tables behind), the second
 * fills in the leaves and cannot fail. So a failure never leaves a guest
 * mapping to a page the caller is about to unpin. Called with vm->lock.
 */
int lkvm_npt_map(struct lkvm_vm *vm, u64 gpa, struct page **pages, u64 npages)
{
	u64 end = gpa + (npages << PAGE_SHIFT), addr;
	u64 i;

	lockdep_assert_held(&vm->lock);
	for (addr = gpa; addr < end; addr = ALIGN(addr + 1, BIT_ULL(NPT_LEVEL_SHIFT(2)))) {
		if (!npt_walk(vm, addr, true))
			return -ENOMEM;
		cond_resched();
	}
	for (i = 0; i < npages; i++) {
		u64 *table = npt_walk(vm, gpa + (i << PAGE_SHIFT), false);

		WRITE_ONCE(table[((gpa >> PAGE_SHIFT) + i) % NPT_ENTRIES],
			   lkvm_page_pa(pages[i]) | NPT_LEAF_FLAGS);
		if (i % NPT_ENTRIES == NPT_ENTRIES - 1)
			cond_resched();
	}
	return 0;
}

static void npt_free_table(u64 *table, int level)
{
	int i;

	if (level > 1) {
		for (i = 0; i < NPT_ENTRIES; i++)
			if (table[i] & _PAGE_PRESENT)
				npt_free_table(npt_table(table[i]), level - 1);
	}
	free_page((unsigned long)table);
}

int lkvm_npt_init(struct lkvm_vm *vm)
{
	vm->npt_levels = pgtable_l5_enabled() ? 5 : 4;
	vm->npt_root = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	return vm->npt_root ? 0 : -ENOMEM;
}

void lkvm_npt_free(struct lkvm_vm *vm)
{
	if (vm->npt_root)
		npt_free_table(page_address(vm->npt_root), vm->npt_levels);
	vm->npt_root = NULL;
}
