// SPDX-License-Identifier: GPL-2.0-only
/*
 * The in-kernel PC platform of a VM: LKVM_CREATE_PLATFORM builds it once,
 * before the first vCPU, and it lives as long as the VM.
 *
 * It is the set of devices a stock Linux guest needs to boot and run, all
 * at fixed places a VMM describes in its firmware tables (the constants in
 * the uapi header): a local APIC per vCPU (lapic.c), the IOAPIC
 * (ioapic.c), a 16550A UART whose other end is the console file (uart.c),
 * PCI configuration space with a host bridge (pci.c), the reset and ACPI
 * power-off registers (power.c) and kvmclock (kvmclock.c). Nothing of it
 * exits to userspace, except the end of the guest.
 */
#include <linux/ktime.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>

#include "lkvm.h"

bool lkvm_platform_mmio_overlaps(u64 gpa, u64 size)
{
	return gpa < LKVM_PLATFORM_MMIO_END && LKVM_PLATFORM_MMIO_BASE < gpa + size;
}

void lkvm_platform_free(struct lkvm_vm *vm)
{
	if (!vm->has_platform)
		return;
	lkvm_net_free(vm);
	lkvm_pci_free(vm);
	lkvm_uart_free(vm);
	lkvm_ioapic_free(vm);
	vm->has_platform = false;
}

static int lkvm_platform_check(struct lkvm_vm *vm)
{
	int i;

	lockdep_assert_held(&vm->lock);
	if (vm->has_platform)
		return -EEXIST;
	/* A vCPU made before the platform would have no local APIC. */
	if (!bitmap_empty(vm->vcpu_ids, LKVM_MAX_VCPUS))
		return -EBUSY;
	for (i = 0; i < LKVM_NR_MEMORY_SLOTS; i++) {
		const struct lkvm_memslot *slot = &vm->slots[i];

		if (slot->npages &&
		    lkvm_platform_mmio_overlaps(slot->gpa, slot->npages << PAGE_SHIFT))
			return -EEXIST;
	}
	return 0;
}

long lkvm_create_platform(struct lkvm_vm *vm, const struct lkvm_platform __user *up)
{
	struct lkvm_platform p;
	int i, ret, fd;

	if (copy_from_user(&p, up, sizeof(p)))
		return -EFAULT;
	if (p.flags || p.pad)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(p.reserved); i++)
		if (p.reserved[i])
			return -EINVAL;

	mutex_lock(&vm->lock);
	ret = lkvm_platform_check(vm);
	if (ret)
		goto out_unlock;
	ret = lkvm_ioapic_create(vm);
	if (ret)
		goto out_unlock;
	ret = lkvm_uart_create(vm);
	if (ret)
		goto out_free_ioapic;
	ret = lkvm_pci_create(vm);
	if (ret)
		goto out_free_uart;
	fd = lkvm_uart_console_fd(vm);
	if (fd < 0) {
		ret = fd;
		goto out_free_pci;
	}
	vm->clock_base_ns = ktime_get_ns();
	ktime_get_real_ts64(&vm->clock_base_wall);
	/*
	 * Published before the lock drops: vCPUs created from now on see it
	 * (their creation takes @lock after this) and get a local APIC.
	 */
	vm->has_platform = true;
	mutex_unlock(&vm->lock);
	return fd;

out_free_pci:
	lkvm_pci_free(vm);
out_free_uart:
	lkvm_uart_free(vm);
out_free_ioapic:
	lkvm_ioapic_free(vm);
out_unlock:
	mutex_unlock(&vm->lock);
	return ret;
}
