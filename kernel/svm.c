// SPDX-License-Identifier: GPL-2.0-only
/*
 * Ownership of AMD SVM: EFER.SVME and the host save area on every online CPU.
 *
 * SVM has one owner per CPU. Whoever sets EFER.SVME owns VMRUN on that CPU,
 * and kvm_amd refuses (-EBUSY) to start a VM on a CPU whose EFER.SVME is
 * already set. We keep the same rule the other way round, so both modules
 * can be loaded side by side and only the one that got there first runs
 * guests. We take SVM on every online CPU at load, follow CPU hotplug,
 * suspend and reboot, and give it back at unload. A crash or emergency
 * reboot needs nothing from us: the kernel's own emergency path clears
 * EFER.SVME on every CPU (cpu_emergency_disable_virtualization()).
 */
#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/gfp.h>
#include <linux/io.h>
#include <linux/mem_encrypt.h>
#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/reboot.h>
#include <linux/smp.h>
#include <linux/syscore_ops.h>
#include <asm/cpufeature.h>
#include <asm/msr.h>
#include <asm/nospec-branch.h>
#include <asm/processor.h>
#include <asm/svm.h>

#include <linux/lkvm_lite.h>
#include "lkvm.h"

#define SVM_CPUID_LEAF	0x8000000a

struct lkvm_svm_cpu {
	/* Host save area: VMRUN stores host state here, #VMEXIT reloads it. */
	struct page *hsave;
	/* What VMSAVE keeps of the host while a guest runs (FS, GS, TR...). */
	struct page *host_save;
	/*
	 * The VMCB that last ran here: another one's guest must not steer
	 * this one's branch predictions. Only touched on this CPU, IRQs off.
	 */
	u64 last_vmcb_pa;
	/* We set EFER.SVME on this CPU. Only read and written on this CPU. */
	bool enabled;
	/*
	 * ASIDs handed out on this CPU in the current generation; when they
	 * run out, a new generation starts with a flush of every ASID. Only
	 * touched on this CPU with IRQs off.
	 */
	u32 next_asid;
	u64 asid_generation;
};

static DEFINE_PER_CPU(struct lkvm_svm_cpu, lkvm_svm_cpu);

static enum cpuhp_state lkvm_svm_hp_state;
/* Host CPUID 0x8000000A, read once at load for the capability queries. */
static u32 lkvm_svm_nr_asids, lkvm_svm_features;

/*
 * Intercept every port and every MSR: one all-ones I/O and MSR permission
 * map serves all vCPUs, since the hardware only reads them.
 */
#define LKVM_IOPM_SIZE		(3 * PAGE_SIZE)	/* 12 KiB, AMD APM vol. 2, 15.10.1 */
#define LKVM_MSRPM_SIZE		(2 * PAGE_SIZE)	/* 8 KiB, AMD APM vol. 2, 15.11 */
#define LKVM_IOPM_ORDER		get_order(LKVM_IOPM_SIZE)
#define LKVM_MSRPM_ORDER	get_order(LKVM_MSRPM_SIZE)
static struct page *lkvm_svm_iopm, *lkvm_svm_msrpm;

/* Set by the reboot notifier: no CPU may take SVM again after that. */
static bool lkvm_svm_rebooting;

/*
 * True while lkvm_svm_init() installs the hotplug state: a refusal is then
 * reported once by lkvm_svm_init() rather than by each CPU's callback.
 * Written before and after cpuhp_setup_state(), which waits for every
 * callback it runs.
 */
static bool lkvm_svm_loading;
static int lkvm_svm_refused_cpu = -1;

static const char *lkvm_svm_refusal(int err)
{
	return err == -ENODEV ? "SVM is disabled by firmware (VM_CR.SVMDIS)" :
	       "another hypervisor already has SVM enabled (EFER.SVME set)";
}

/* Take SVM on this CPU. Runs on @cpu, in its hotplug thread or with IRQs off. */
static int lkvm_svm_cpu_enable(unsigned int cpu)
{
	struct lkvm_svm_cpu *sc;
	unsigned long flags;
	u64 efer, vm_cr;
	int ret = 0;

	/*
	 * kvm_amd sets EFER.SVME from an IPI, and so does our reboot notifier
	 * clear it: with IRQs off here, neither can interleave with this
	 * check-and-set on this CPU.
	 */
	local_irq_save(flags);
	sc = this_cpu_ptr(&lkvm_svm_cpu);
	rdmsrl(MSR_VM_CR, vm_cr);
	rdmsrl(MSR_EFER, efer);
	if (READ_ONCE(lkvm_svm_rebooting)) {
		ret = -EBUSY;
	} else if (vm_cr & SVM_VM_CR_SVM_DIS_MASK) {
		ret = -ENODEV;
	} else if (efer & EFER_SVME) {
		ret = -EBUSY;
	} else {
		wrmsrl(MSR_EFER, efer | EFER_SVME);
		wrmsrl(MSR_VM_HSAVE_PA, lkvm_page_pa(sc->hsave));
		sc->enabled = true;
		sc->last_vmcb_pa = 0;
		/*
		 * Another hypervisor may have left TLB entries under any ASID:
		 * the first ASID handed out here starts a generation, which
		 * flushes them all. The generation moves on now too, so that no
		 * vCPU that ran here before SVM was given back keeps its ASID.
		 */
		sc->next_asid = lkvm_svm_nr_asids;
		sc->asid_generation++;
	}
	local_irq_restore(flags);

	if (ret && !READ_ONCE(lkvm_svm_rebooting)) {
		if (READ_ONCE(lkvm_svm_loading))
			lkvm_svm_refused_cpu = cpu;
		else
			pr_err("CPU %u cannot take SVM: %s\n", cpu, lkvm_svm_refusal(ret));
	}
	return ret;
}

/* Give SVM back on this CPU, if we hold it. Any context, on the CPU itself. */
static void lkvm_svm_cpu_disable(void)
{
	struct lkvm_svm_cpu *sc;
	unsigned long flags;
	u64 efer;

	local_irq_save(flags);
	sc = this_cpu_ptr(&lkvm_svm_cpu);
	if (sc->enabled) {
		wrmsrl(MSR_VM_HSAVE_PA, 0);
		rdmsrl(MSR_EFER, efer);
		wrmsrl(MSR_EFER, efer & ~EFER_SVME);
		sc->enabled = false;
	}
	local_irq_restore(flags);
}

static int lkvm_svm_cpu_offline(unsigned int cpu)
{
	lkvm_svm_cpu_disable();
	return 0;
}

static void lkvm_svm_disable_ipi(void *unused)
{
	lkvm_svm_cpu_disable();
}

/*
 * An orderly reboot does not clear EFER.SVME, and a CPU with SVM enabled
 * may not take INIT cleanly afterwards: give SVM back everywhere.
 */
static int lkvm_svm_reboot(struct notifier_block *nb, unsigned long code, void *unused)
{
	WRITE_ONCE(lkvm_svm_rebooting, true);
	on_each_cpu(lkvm_svm_disable_ipi, NULL, 1);
	return NOTIFY_OK;
}

static struct notifier_block lkvm_svm_reboot_nb = {
	.notifier_call = lkvm_svm_reboot,
};

/* Suspend runs on the last online CPU; the others went through hotplug. */
static int lkvm_svm_suspend(void)
{
	lkvm_svm_cpu_disable();
	return 0;
}

/* A refusal is logged by lkvm_svm_cpu_enable(); the CPU runs on without SVM. */
static void lkvm_svm_resume(void)
{
	lkvm_svm_cpu_enable(smp_processor_id());
}

static struct syscore_ops lkvm_svm_syscore_ops = {
	.suspend = lkvm_svm_suspend,
	.resume = lkvm_svm_resume,
};

static void lkvm_svm_check_cpu(void *busy_cpu)
{
	u64 efer;

	rdmsrl(MSR_EFER, efer);
	if (efer & EFER_SVME)
		*(int *)busy_cpu = smp_processor_id();
}

static void lkvm_svm_free_hsave(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct lkvm_svm_cpu *sc = per_cpu_ptr(&lkvm_svm_cpu, cpu);

		if (sc->hsave)
			__free_page(sc->hsave);
		if (sc->host_save)
			__free_page(sc->host_save);
		sc->hsave = NULL;
		sc->host_save = NULL;
	}
	if (lkvm_svm_iopm)
		__free_pages(lkvm_svm_iopm, LKVM_IOPM_ORDER);
	if (lkvm_svm_msrpm)
		__free_pages(lkvm_svm_msrpm, LKVM_MSRPM_ORDER);
	lkvm_svm_iopm = NULL;
	lkvm_svm_msrpm = NULL;
}

static int lkvm_svm_alloc_hsave(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct lkvm_svm_cpu *sc = per_cpu_ptr(&lkvm_svm_cpu, cpu);

		sc->hsave = alloc_pages_node(cpu_to_node(cpu), GFP_KERNEL | __GFP_ZERO, 0);
		sc->host_save = alloc_pages_node(cpu_to_node(cpu), GFP_KERNEL | __GFP_ZERO, 0);
		if (!sc->hsave || !sc->host_save)
			goto out_free;
	}
	lkvm_svm_iopm = alloc_pages(GFP_KERNEL, LKVM_IOPM_ORDER);
	lkvm_svm_msrpm = alloc_pages(GFP_KERNEL, LKVM_MSRPM_ORDER);
	if (!lkvm_svm_iopm || !lkvm_svm_msrpm)
		goto out_free;
	memset(page_address(lkvm_svm_iopm), 0xff, PAGE_SIZE << LKVM_IOPM_ORDER);
	memset(page_address(lkvm_svm_msrpm), 0xff, PAGE_SIZE << LKVM_MSRPM_ORDER);
	return 0;

out_free:
	lkvm_svm_free_hsave();
	return -ENOMEM;
}

int lkvm_svm_init(void)
{
	int busy_cpu = -1;
	u64 vm_cr;
	int ret;

	if (!boot_cpu_has(X86_FEATURE_SVM)) {
		pr_err("not loaded: this CPU has no AMD SVM\n");
		return -ENODEV;
	}
	rdmsrl(MSR_VM_CR, vm_cr);
	if (vm_cr & SVM_VM_CR_SVM_DIS_MASK) {
		pr_err("not loaded: %s\n", lkvm_svm_refusal(-ENODEV));
		return -ENODEV;
	}
	lkvm_svm_features = cpuid_edx(SVM_CPUID_LEAF);
	lkvm_svm_nr_asids = cpuid_ebx(SVM_CPUID_LEAF);

	ret = lkvm_svm_alloc_hsave();
	if (ret) {
		pr_err("not loaded: no memory for the host save areas\n");
		return ret;
	}

	cpus_read_lock();
	/*
	 * Look before taking anything, so that a refusal leaves no CPU with
	 * SVM enabled even for a moment.
	 */
	on_each_cpu(lkvm_svm_check_cpu, &busy_cpu, 1);
	if (busy_cpu >= 0) {
		ret = -EBUSY;
		goto out_refused;
	}
	WRITE_ONCE(lkvm_svm_loading, true);
	ret = cpuhp_setup_state_cpuslocked(CPUHP_AP_ONLINE_DYN, "lkvm_lite:online",
					   lkvm_svm_cpu_enable, lkvm_svm_cpu_offline);
	WRITE_ONCE(lkvm_svm_loading, false);
	busy_cpu = lkvm_svm_refused_cpu;
	if (ret < 0)
		goto out_refused;
	lkvm_svm_hp_state = ret;
	cpus_read_unlock();

	register_syscore_ops(&lkvm_svm_syscore_ops);
	register_reboot_notifier(&lkvm_svm_reboot_nb);
	return 0;

out_refused:
	cpus_read_unlock();
	if (ret == -EBUSY || ret == -ENODEV)
		pr_err("not loaded: %s on CPU %d\n", lkvm_svm_refusal(ret), busy_cpu);
	else
		pr_err("not loaded: cannot install the CPU hotplug state: %d\n", ret);
	lkvm_svm_free_hsave();
	return ret;
}

void lkvm_svm_exit(void)
{
	unregister_reboot_notifier(&lkvm_svm_reboot_nb);
	unregister_syscore_ops(&lkvm_svm_syscore_ops);
	cpuhp_remove_state(lkvm_svm_hp_state);
	lkvm_svm_free_hsave();
}

u64 lkvm_svm_iopm_pa(void)
{
	return lkvm_page_pa(lkvm_svm_iopm);
}

u64 lkvm_svm_msrpm_pa(void)
{
	return lkvm_page_pa(lkvm_svm_msrpm);
}

/*
 * Called with IRQs off right before VMRUN: false if this CPU does not
 * have SVM from us (it was taken away for reboot or suspend). Gives the
 * vCPU an ASID valid on this CPU, asking for a flush of all ASIDs when a
 * new generation starts, and puts a branch prediction barrier between
 * two different VMCBs' guests.
 */
bool lkvm_svm_prepare_run(u64 vmcb_pa, struct lkvm_asid *a, u64 *host_save_pa, bool *flush_all)
{
	struct lkvm_svm_cpu *sc = this_cpu_ptr(&lkvm_svm_cpu);
	int cpu = smp_processor_id();

	lockdep_assert_irqs_disabled();
	if (!sc->enabled)
		return false;
	*host_save_pa = lkvm_page_pa(sc->host_save);
	if (sc->last_vmcb_pa != vmcb_pa) {
		indirect_branch_prediction_barrier();
		sc->last_vmcb_pa = vmcb_pa;
	}
	*flush_all = false;
	if (a->cpu == cpu && a->generation == sc->asid_generation)
		return true;
	/* ASID 0 is the host's. */
	if (sc->next_asid >= lkvm_svm_nr_asids) {
		sc->asid_generation++;
		sc->next_asid = 1;
		*flush_all = true;
	}
	a->asid = sc->next_asid++;
	a->cpu = cpu;
	a->generation = sc->asid_generation;
	return true;
}

u64 lkvm_svm_cap(u32 cap)
{
	switch (cap) {
	case LKVM_CAP_SVM:
		return 1;
	case LKVM_CAP_SVM_FEATURES:
		return lkvm_svm_features;
	case LKVM_CAP_NR_ASIDS:
		return lkvm_svm_nr_asids;
	default:
		return 0;
	}
}
