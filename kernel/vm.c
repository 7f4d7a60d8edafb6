// SPDX-License-Identifier: GPL-2.0-only
/*
 * VMs and their guest memory.
 *
 * A VM is an anonymous-inode file created from /dev/lkvm_lite. Its guest
 * memory is the creating process's anonymous memory, registered in slots:
 * each region is pinned for the VM's life (FOLL_LONGTERM) and counted in
 * that process's pinned_vm against RLIMIT_MEMLOCK, as vhost-vdpa does.
 * Nested paging and the in-kernel devices then reach guest memory through
 * the kernel's own mapping of those pages, never through the process's
 * page tables or copy_from_user().
 */
#include <linux/anon_inodes.h>
#include <linux/bitmap.h>
#include <linux/capability.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kref.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <linux/lkvm_lite.h>
#include "lkvm.h"

/*
 * Pin and unpin big regions in chunks, rescheduling between them: a region
 * may be as large as the host's RAM.
 */
#define LKVM_PIN_CHUNK		BIT_ULL(18)

static int lkvm_account_pinned(struct mm_struct *mm, u64 npages)
{
	u64 limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;

	if (atomic64_add_return(npages, &mm->pinned_vm) > limit && !capable(CAP_IPC_LOCK)) {
		atomic64_sub(npages, &mm->pinned_vm);
		return -ENOMEM;
	}
	return 0;
}

static void lkvm_unpin(struct page **pages, u64 npages, bool dirty)
{
	u64 done, n;

	for (done = 0; done < npages; done += n) {
		n = min_t(u64, npages - done, LKVM_PIN_CHUNK);
		unpin_user_pages_dirty_lock(pages + done, n, dirty);
		cond_resched();
	}
}

static void lkvm_memslot_free(struct lkvm_vm *vm, struct lkvm_memslot *slot)
{
	/* The guest may have written any page through the kernel mapping. */
	lkvm_unpin(slot->pages, slot->npages, true);
	kvfree(slot->pages);
	atomic64_sub(slot->npages, &vm->mm->pinned_vm);
	memset(slot, 0, sizeof(*slot));
}

/*
 * Only private anonymous memory may back a guest: a long-term writable pin
 * of a file mapping lets the guest dirty pages behind the file system's
 * back (Linux 6.5 refuses such pins outright). The check and the pin run
 * under one hold of the mmap lock, so the mapping cannot change between.
 */
static int lkvm_pin_chunk(struct mm_struct *mm, u64 uaddr, u64 npages, struct page **pages)
{
	u64 end = uaddr + (npages << PAGE_SHIFT), addr = uaddr;
	struct vm_area_struct *vma;
	long n;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	while (addr < end) {
		vma = find_vma(mm, addr);
		if (!vma || vma->vm_start > addr) {
			n = -EFAULT;
			goto out_unlock;
		}
		if (!vma_is_anonymous(vma)) {
			n = -EINVAL;
			goto out_unlock;
		}
		addr = vma->vm_end;
	}
	n = pin_user_pages(uaddr, npages, FOLL_WRITE | FOLL_LONGTERM, pages, NULL);
out_unlock:
	mmap_read_unlock(mm);
	if (n >= 0 && n < npages) {
		unpin_user_pages(pages, n);
		n = -EFAULT;
	}
	return n < 0 ? n : 0;
}

static int lkvm_pin(struct mm_struct *mm, u64 uaddr, u64 npages, struct page **pages)
{
	u64 done, n;
	int ret;

	for (done = 0; done < npages; done += n) {
		n = min_t(u64, npages - done, LKVM_PIN_CHUNK);
		ret = lkvm_pin_chunk(mm, uaddr + (done << PAGE_SHIFT), n, pages + done);
		if (!ret && fatal_signal_pending(current)) {
			lkvm_unpin(pages + done, n, false);
			ret = -EINTR;
		}
		if (ret) {
			lkvm_unpin(pages, done, false);
			return ret;
		}
		cond_resched();
	}
	return 0;
}

static bool lkvm_overlaps(const struct lkvm_memslot *slot, u64 gpa, u64 size)
{
	u64 end = slot->gpa + (slot->npages << PAGE_SHIFT);

	return slot->npages && gpa < end && slot->gpa < gpa + size;
}

static long lkvm_vm_set_memory_region(struct lkvm_vm *vm,
				      const struct lkvm_memory_region __user *ureg)
{
	struct lkvm_memory_region r;
	struct lkvm_memslot *slot;
	struct page **pages;
	u64 npages;
	int i, ret;

	if (copy_from_user(&r, ureg, sizeof(r)))
		return -EFAULT;
	if (r.flags || r.slot >= LKVM_NR_MEMORY_SLOTS)
		return -EINVAL;
	if (!r.memory_size || !PAGE_ALIGNED(r.memory_size) ||
	    !PAGE_ALIGNED(r.guest_phys_addr) || !PAGE_ALIGNED(r.userspace_addr))
		return -EINVAL;
	if (r.guest_phys_addr >= BIT_ULL(LKVM_GUEST_PHYS_BITS) ||
	    r.memory_size > BIT_ULL(LKVM_GUEST_PHYS_BITS) - r.guest_phys_addr)
		return -EINVAL;
	/* More than the host has can never be pinned: refuse before trying. */
	if (r.memory_size > (u64)totalram_pages() << PAGE_SHIFT)
		return -EINVAL;
	if (r.userspace_addr + r.memory_size < r.userspace_addr ||
	    !access_ok((void __user *)(unsigned long)r.userspace_addr, r.memory_size))
		return -EFAULT;
	if (current->mm != vm->mm)
		return -EPERM;
	npages = r.memory_size >> PAGE_SHIFT;

	/* Pinning may wait on page faults: let a killed caller go. */
	if (mutex_lock_killable(&vm->lock))
		return -EINTR;
	slot = &vm->slots[r.slot];
	ret = -EEXIST;
	if (slot->npages)
		goto out_unlock;
	for (i = 0; i < LKVM_NR_MEMORY_SLOTS; i++)
		if (lkvm_overlaps(&vm->slots[i], r.guest_phys_addr, r.memory_size))
			goto out_unlock;
	/* RAM over the platform's devices would take their accesses away. */
	if (vm->has_platform && lkvm_platform_mmio_overlaps(r.guest_phys_addr, r.memory_size))
		goto out_unlock;
	/* RAM over the test MMIO range would silently take its exits away. */
	if ((vm->test_exits.flags & LKVM_TEST_EXIT_MMIO) &&
	    r.guest_phys_addr < vm->test_exits.mmio_gpa + vm->test_exits.mmio_size &&
	    vm->test_exits.mmio_gpa < r.guest_phys_addr + r.memory_size)
		goto out_unlock;

	ret = lkvm_account_pinned(vm->mm, npages);
	if (ret)
		goto out_unlock;
	/* Quietly: a region can be large enough for kvmalloc to refuse. */
	pages = kvmalloc_array(npages, sizeof(*pages), GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!pages) {
		ret = -ENOMEM;
		goto out_unaccount;
	}
	ret = lkvm_pin(vm->mm, r.userspace_addr, npages, pages);
	if (ret)
		goto out_free;

	slot->gpa = r.guest_phys_addr;
	slot->uaddr = r.userspace_addr;
	slot->pages = pages;
	ret = lkvm_npt_map(vm, slot->gpa, pages, npages);
	if (ret)
		goto out_unpin;
	/*
	 * Publish last: pairs with the acquire in lkvm_gpa_to_page(), which
	 * vCPUs run without @lock.
	 */
	smp_store_release(&slot->npages, npages);
	mutex_unlock(&vm->lock);
	return 0;

out_unpin:
	lkvm_unpin(pages, npages, false);
	memset(slot, 0, sizeof(*slot));
out_free:
	kvfree(pages);
out_unaccount:
	atomic64_sub(npages, &vm->mm->pinned_vm);
out_unlock:
	mutex_unlock(&vm->lock);
	return ret;
}

/*
 * The id is reserved before the vCPU's file exists and freed by its
 * release, so a file closed as soon as it is installed frees its own id.
 */
static long lkvm_vm_create_vcpu(struct lkvm_vm *vm, unsigned long id)
{
	bool taken;
	int fd;

	if (id >= LKVM_MAX_VCPUS)
		return -EINVAL;
	/* Under @lock: LKVM_CREATE_PLATFORM sees either this id or none. */
	if (mutex_lock_killable(&vm->lock))
		return -EINTR;
	taken = test_and_set_bit(id, vm->vcpu_ids);
	mutex_unlock(&vm->lock);
	if (taken)
		return -EEXIST;

	fd = lkvm_vcpu_create(vm, id);
	if (fd < 0)
		lkvm_vm_vcpu_gone(vm, id);
	return fd;
}

static long lkvm_vm_set_test_exits(struct lkvm_vm *vm, const struct lkvm_test_exits __user *ut)
{
	struct lkvm_test_exits t;
	long ret = 0;
	int i;

	if (copy_from_user(&t, ut, sizeof(t)))
		return -EFAULT;
	if ((t.flags & ~(LKVM_TEST_EXIT_IO | LKVM_TEST_EXIT_MMIO)) || t.pad)
		return -EINVAL;
	if (!(t.flags & LKVM_TEST_EXIT_IO) && t.io_port)
		return -EINVAL;
	if (!(t.flags & LKVM_TEST_EXIT_MMIO) && (t.mmio_gpa || t.mmio_size))
		return -EINVAL;
	if ((t.flags & LKVM_TEST_EXIT_MMIO) &&
	    (!t.mmio_size || t.mmio_gpa >= BIT_ULL(LKVM_GUEST_PHYS_BITS) ||
	     t.mmio_size > BIT_ULL(LKVM_GUEST_PHYS_BITS) - t.mmio_gpa))
		return -EINVAL;

	mutex_lock(&vm->lock);
	/* Guest RAM never faults, so a test range over it would never exit. */
	for (i = 0; i < LKVM_NR_MEMORY_SLOTS; i++)
		if ((t.flags & LKVM_TEST_EXIT_MMIO) &&
		    lkvm_overlaps(&vm->slots[i], t.mmio_gpa, t.mmio_size))
			ret = -EEXIST;
	if (!ret) {
		WRITE_ONCE(vm->test_exits.io_port, t.io_port);
		WRITE_ONCE(vm->test_exits.mmio_gpa, t.mmio_gpa);
		WRITE_ONCE(vm->test_exits.mmio_size, t.mmio_size);
		WRITE_ONCE(vm->test_exits.flags, t.flags);
	}
	mutex_unlock(&vm->lock);
	return ret;
}

/*
 * The vCPUs' counters (each read as its own thread last wrote it, so a
 * running one's may be a little behind), the devices' and delivery's.
 */
static long lkvm_vm_get_stats(struct lkvm_vm *vm, struct lkvm_vm_stats __user *us)
{
	struct lkvm_vm_stats *s;
	struct lkvm_vcpu *vcpu;
	long ret = 0;
	int i, j;

	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	mutex_lock(&vm->lock);
	memcpy(s->vcpu, vm->gone_vcpu_stats, sizeof(s->vcpu));
	rcu_read_lock();
	for (i = 0; i < LKVM_MAX_VCPUS; i++) {
		vcpu = rcu_dereference(vm->vcpus[i]);
		if (!vcpu)
			continue;
		for (j = 0; j < LKVM_VCPU_NR_STATS; j++)
			s->vcpu[j] += READ_ONCE(vcpu->stats[j]);
	}
	rcu_read_unlock();
	lkvm_net_stats(vm, s->stat);
	mutex_unlock(&vm->lock);
	s->stat[LKVM_VM_STAT_IRQ_POSTED] = atomic64_read(&vm->irq_posted);
	s->stat[LKVM_VM_STAT_IRQ_KICKS] = atomic64_read(&vm->irq_kicks);
	s->stat[LKVM_VM_STAT_IRQ_NO_EXIT] = atomic64_read(&vm->irq_no_exit);
	if (copy_to_user(us, s, sizeof(*s)))
		ret = -EFAULT;
	kfree(s);
	return ret;
}

void lkvm_vm_vcpu_gone(struct lkvm_vm *vm, u32 id)
{
	clear_bit(id, vm->vcpu_ids);
}

static long lkvm_vm_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct lkvm_vm *vm = filp->private_data;

	switch (cmd) {
	case LKVM_SET_MEMORY_REGION:
		return lkvm_vm_set_memory_region(vm, (void __user *)arg);
	case LKVM_CREATE_VCPU:
		return lkvm_vm_create_vcpu(vm, arg);
	case LKVM_SET_TEST_EXITS:
		return lkvm_vm_set_test_exits(vm, (void __user *)arg);
	case LKVM_CREATE_PLATFORM:
		return lkvm_create_platform(vm, (void __user *)arg);
	case LKVM_CREATE_NET:
		return lkvm_create_net(vm, (void __user *)arg);
	case LKVM_GET_VM_STATS:
		return lkvm_vm_get_stats(vm, (void __user *)arg);
	default:
		return -ENOTTY;
	}
}

static void lkvm_vm_free(struct kref *ref)
{
	struct lkvm_vm *vm = container_of(ref, struct lkvm_vm, ref);
	int i;

	lkvm_platform_free(vm);
	for (i = 0; i < LKVM_NR_MEMORY_SLOTS; i++)
		if (vm->slots[i].npages)
			lkvm_memslot_free(vm, &vm->slots[i]);
	lkvm_npt_free(vm);
	mmdrop(vm->mm);
	mutex_destroy(&vm->lock);
	kfree(vm);
}

void lkvm_vm_get(struct lkvm_vm *vm)
{
	kref_get(&vm->ref);
}

void lkvm_vm_put(struct lkvm_vm *vm)
{
	kref_put(&vm->ref, lkvm_vm_free);
}

static int lkvm_vm_release(struct inode *inode, struct file *filp)
{
	lkvm_vm_put(filp->private_data);
	return 0;
}

static const struct file_operations lkvm_vm_fops = {
	.owner = THIS_MODULE,
	.release = lkvm_vm_release,
	.unlocked_ioctl = lkvm_vm_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static atomic_t lkvm_vm_ids;

long lkvm_create_vm(unsigned long arg)
{
	struct lkvm_vm *vm;
	int fd;

	if (arg)
		return -EINVAL;
	vm = kzalloc(sizeof(*vm), GFP_KERNEL_ACCOUNT);
	if (!vm)
		return -ENOMEM;
	kref_init(&vm->ref);
	mutex_init(&vm->lock);
	vm->id = atomic_inc_return(&lkvm_vm_ids);
	if (lkvm_npt_init(vm)) {
		kfree(vm);
		return -ENOMEM;
	}
	vm->mm = current->mm;
	mmgrab(vm->mm);

	fd = anon_inode_getfd("lkvm-vm", &lkvm_vm_fops, vm, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		lkvm_npt_free(vm);
		mmdrop(vm->mm);
		mutex_destroy(&vm->lock);
		kfree(vm);
	}
	return fd;
}

u64 lkvm_vm_cap(u32 cap)
{
	switch (cap) {
	case LKVM_CAP_VM:
		return 1;
	case LKVM_CAP_NR_MEMORY_SLOTS:
		return LKVM_NR_MEMORY_SLOTS;
	case LKVM_CAP_GUEST_PHYS_BITS:
		return LKVM_GUEST_PHYS_BITS;
	case LKVM_CAP_MAX_VCPUS:
		return LKVM_MAX_VCPUS;
	case LKVM_CAP_RUN:
		return 1;
	case LKVM_CAP_TEST_EXITS:
		return LKVM_TEST_EXIT_IO | LKVM_TEST_EXIT_MMIO;
	case LKVM_CAP_VCPU_STATS:
		return LKVM_VCPU_NR_STATS;
	case LKVM_CAP_PLATFORM:
		return 1;
	case LKVM_CAP_NET:
		return LKVM_MAX_NICS;
	case LKVM_CAP_VM_STATS:
		return LKVM_VM_NR_STATS;
	default:
		return 0;
	}
}
