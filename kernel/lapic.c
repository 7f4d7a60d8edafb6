// SPDX-License-Identifier: GPL-2.0-only
/*
 * The local APIC of each vCPU in a VM with a platform: xAPIC registers in
 * the 4 KiB page at the APIC base (MMIO exits), x2APIC registers as MSRs
 * 0x800-0x8ff, IA32_APIC_BASE, and the timer (one-shot, periodic,
 * TSC-deadline) on an hrtimer.
 *
 * It models a version 0x14 APIC with six LVTs (timer, thermal, perf,
 * LINT0, LINT1, error; no CMCI) and a 1 GHz APIC bus clock, so that a
 * timer count of 1 at divide-by-1 is 1 ns. The IRR is the vCPU's posted-
 * interrupt bitmap (vcpu->pi.pir): anything sets a bit there atomically;
 * before VMRUN the vCPU moves the highest vector the priorities let
 * through into the ISR and injects it (posted_irq.c). The TPR's class is
 * also the VMCB's V_TPR, which the guest changes itself with MOV CR8: it
 * is read back from there whenever it matters. MOV CR8 does not exit, so
 * a vector it lets through is injected at the next exit, a host interrupt
 * at the latest. (A V_IRQ at the vector's priority would make the CPU
 * exit at once, but QEMU 7.2, the test VM's CPU, aborts when a MOV CR8
 * makes a virtual interrupt deliverable.)
 *
 * Who writes what. Everything is the vCPU thread's (its ioctls and
 * LKVM_RUN, serialized by vcpu->mutex) except:
 * - the IRR: set by any context (lkvm_pi_post()), cleared by the vCPU;
 * - @tmr: set or cleared atomically by whoever delivers an interrupt,
 *   read by the vCPU at EOI;
 * - @id, @ldr, @dfr, @svr, @base: written by the vCPU with WRITE_ONCE,
 *   read by delivery from any context with READ_ONCE (a delivery racing
 *   a change sees the old or the new value, as it would on hardware);
 * - the timer: the hrtimer callback (hard IRQ context) reads @lvt[timer],
 *   @armed_mode and @period_ns, clears @tsc_deadline when it fires, and
 *   is the only writer of the LKVM_STAT_APIC_TIMER counter. The vCPU
 *   changes @armed_mode, @period_ns and @tsc_deadline only with the timer
 *   cancelled (hrtimer_cancel() waits for a running callback).
 */
#include <linux/bitmap.h>
#include <linux/bits.h>
#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/minmax.h>
#include <linux/slab.h>
#include <asm/apicdef.h>
#include <asm/kvm_para.h>
#include <asm/msr-index.h>
#include <asm/processor.h>
#include <asm/tsc.h>

#include "lkvm.h"
#include "trace.h"

#define LKVM_APIC_VERSION	0x14
#define LKVM_APIC_MAX_LVT	5
#define LKVM_APIC_PAGE_SIZE	0x1000
#define LKVM_APIC_BASE_MASK	GENMASK_ULL(LKVM_GUEST_PHYS_BITS - 1, 12)
#define LKVM_APIC_SVR_MASK	(APIC_VECTOR_MASK | APIC_SPIV_APIC_ENABLED | \
				 APIC_SPIV_FOCUS_DISABLED)
#define LKVM_APIC_TIMER_MODE	(3 << 17)
/* The divide configuration's bits 0, 1 and 3. */
#define LKVM_APIC_TDCR_MASK	0xb
#define LKVM_APIC_DEST_SHORT	0xc0000
/*
 * A periodic timer fires at most every 50 us: a guest must not make the
 * host take an interrupt per microsecond. One-shot and TSC-deadline
 * timers need an exit to re-arm, which is limit enough.
 */
#define LKVM_APIC_MIN_PERIOD_NS	(50 * NSEC_PER_USEC)

enum {
	LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR,
	NR_LVTS
};

/* The bits of each LVT software may write (delivery status, remote IRR are the APIC's). */
static const u32 lkvm_lvt_mask[NR_LVTS] = {
	[LVT_TIMER]	= APIC_VECTOR_MASK | APIC_LVT_MASKED | LKVM_APIC_TIMER_MODE,
	[LVT_THERMAL]	= APIC_VECTOR_MASK | APIC_MODE_MASK | APIC_LVT_MASKED,
	[LVT_PERF]	= APIC_VECTOR_MASK | APIC_MODE_MASK | APIC_LVT_MASKED,
	[LVT_LINT0]	= APIC_VECTOR_MASK | APIC_MODE_MASK | APIC_INPUT_POLARITY |
			  APIC_LVT_LEVEL_TRIGGER | APIC_LVT_MASKED,
	[LVT_LINT1]	= APIC_VECTOR_MASK | APIC_MODE_MASK | APIC_INPUT_POLARITY |
			  APIC_LVT_LEVEL_TRIGGER | APIC_LVT_MASKED,
	[LVT_ERROR]	= APIC_VECTOR_MASK | APIC_LVT_MASKED,
};

struct lkvm_lapic {
	struct lkvm_vcpu *vcpu;
	/* IA32_APIC_BASE: base, EN, EXTD, BSP. */
	u64 base;
	/* The APIC id: 8 bits in xAPIC mode (the ID register's 31:24), 32 in x2APIC. */
	u32 id;
	/* Bits 7:4 follow V_TPR (lkvm_lapic_tpr()). */
	u32 tpr;
	u32 ldr;
	u32 dfr;
	u32 svr;
	u32 esr;
	u64 icr;
	u32 lvt[NR_LVTS];
	u32 tmict;
	u32 tdcr;
	DECLARE_BITMAP(isr, 256);
	DECLARE_BITMAP(tmr, 256);

	struct hrtimer timer;
	/* What the timer was armed for: the LVT's mode bits then. */
	u32 armed_mode;
	/* One-shot and periodic: when counting started, the period, the divider's shift. */
	ktime_t start;
	u64 period_ns;
	u32 tick_shift;
	/* In guest TSC; 0 when disarmed or fired. */
	u64 tsc_deadline;

	/* MSR_KVM_PV_EOI_EN as the guest wrote it (below). */
	u64 pv_eoi_msr;
	/* Bit 0 of the guest's flag was set at the last entry. */
	bool pv_eoi_pending;
};

static bool lkvm_lapic_enabled(const struct lkvm_lapic *apic)
{
	return READ_ONCE(apic->base) & MSR_IA32_APICBASE_ENABLE;
}

static bool lkvm_lapic_x2apic(const struct lkvm_lapic *apic)
{
	return READ_ONCE(apic->base) & X2APIC_ENABLE;
}

static bool lkvm_lapic_sw_enabled(const struct lkvm_lapic *apic)
{
	return READ_ONCE(apic->svr) & APIC_SPIV_APIC_ENABLED;
}

/* A 32-bit register of the ISR, TMR or IRR: bits 32 * @i .. 32 * @i + 31. */
static u32 lkvm_bitmap_reg(const unsigned long *map, unsigned int i)
{
	BUILD_BUG_ON(BITS_PER_LONG != 64);
	return READ_ONCE(map[i / 2]) >> (i % 2 * 32);
}

/* The guest's MOV CR8 goes to V_TPR without an exit: take its class from there. */
static u32 lkvm_lapic_tpr(struct lkvm_lapic *apic)
{
	u32 cr8 = apic->vcpu->vmcb->control.int_ctl & V_TPR_MASK;

	if (cr8 != apic->tpr >> 4)
		apic->tpr = cr8 << 4;
	return apic->tpr;
}

static void lkvm_lapic_set_tpr(struct lkvm_lapic *apic, u32 tpr)
{
	u32 *int_ctl = &apic->vcpu->vmcb->control.int_ctl;

	apic->tpr = tpr & 0xff;
	*int_ctl = (*int_ctl & ~V_TPR_MASK) | (apic->tpr >> 4);
}

static int lkvm_lapic_highest_isr(const struct lkvm_lapic *apic)
{
	unsigned long v = find_last_bit(apic->isr, 256);

	return v < 256 ? v : -1;
}

static u32 lkvm_lapic_ppr(struct lkvm_lapic *apic)
{
	u32 tpr = lkvm_lapic_tpr(apic);
	int isrv = lkvm_lapic_highest_isr(apic);
	u32 isr_class = isrv < 0 ? 0 : isrv & 0xf0;

	return (tpr & 0xf0) >= isr_class ? tpr : isr_class;
}

/*
 * The vector the APIC hands the CPU now: the highest in the IRR, if its
 * priority class is above the PPR's; else -1.
 */
int lkvm_lapic_next_irq(struct lkvm_vcpu *vcpu)
{
	struct lkvm_lapic *apic = vcpu->apic;
	unsigned long irrv;

	if (!lkvm_lapic_enabled(apic))
		return -1;
	irrv = find_last_bit(vcpu->pi.pir, 256);
	if (irrv >= 256 || (irrv & 0xf0) <= (lkvm_lapic_ppr(apic) & 0xf0))
		return -1;
	return irrv;
}

void lkvm_lapic_trace_halt(struct lkvm_vcpu *vcpu)
{
	struct lkvm_lapic *apic = vcpu->apic;
	unsigned long irr = find_last_bit(vcpu->pi.pir, 256);
	s64 timer_ns = -1;

	if (!trace_lkvm_apic_halt_enabled())
		return;
	if (hrtimer_active(&apic->timer))
		timer_ns = ktime_to_ns(hrtimer_get_remaining(&apic->timer));
	trace_lkvm_apic_halt(vcpu->vm->id, vcpu->id, irr < 256 ? (int)irr : -1,
			     lkvm_lapic_highest_isr(apic), bitmap_weight(apic->isr, 256),
			     lkvm_lapic_ppr(apic), lkvm_lapic_tpr(apic), timer_ns);
}

/* The CPU takes @vector: from the IRR into the ISR. */
void lkvm_lapic_accept(struct lkvm_vcpu *vcpu, u8 vector)
{
	clear_bit(vector, vcpu->pi.pir);
	__set_bit(vector, vcpu->apic->isr);
}

/* The CPU did not take @vector after all: back out of the ISR (the caller sets the IRR). */
void lkvm_lapic_unaccept(struct lkvm_vcpu *vcpu, u8 vector)
{
	__clear_bit(vector, vcpu->apic->isr);
}

static void lkvm_lapic_do_eoi(struct lkvm_lapic *apic)
{
	struct lkvm_vcpu *vcpu = apic->vcpu;
	int vector = lkvm_lapic_highest_isr(apic);

	if (vector < 0)
		return;
	__clear_bit(vector, apic->isr);
	if (test_bit(vector, apic->tmr))
		lkvm_ioapic_eoi(vcpu->vm, vector);
}

static void lkvm_lapic_eoi(struct lkvm_lapic *apic)
{
	lkvm_stat_inc(apic->vcpu, LKVM_STAT_APIC_EOI);
	lkvm_lapic_do_eoi(apic);
}

/*
 * Paravirtual EOI: KVM's MSR_KVM_PV_EOI_EN, which a stock Linux guest
 * uses once CPUID offers KVM_FEATURE_PV_EOI. The guest names a u32 in its
 * RAM. Before an entry where the ISR's highest vector needs no IOAPIC EOI
 * (edge-triggered) and nothing waits in the IRR (which an EOI exit would
 * let in), bit 0 of it is set; the guest's EOI then only clears the bit,
 * without an exit. At the next exit, a cleared bit is that EOI, done here;
 * a bit still set is taken back, so that a guest which has not got to its
 * EOI yet writes the register after all. Both run on the vCPU's thread
 * while the guest is out of guest mode, so the bit is never raced.
 */
#define PV_EOI_ENABLE		BIT_ULL(0)
#define PV_EOI_RESERVED		BIT_ULL(1)
#define PV_EOI_FLAG		BIT(0)

static int lkvm_lapic_set_pv_eoi(struct lkvm_lapic *apic, u64 val)
{
	u32 flag;

	/* The address must hold the whole flag, naturally aligned, in RAM. */
	if ((val & PV_EOI_ENABLE) &&
	    ((val & PV_EOI_RESERVED) ||
	     lkvm_read_guest(apic->vcpu->vm, val & ~PV_EOI_ENABLE, &flag, sizeof(flag))))
		return -EINVAL;
	apic->pv_eoi_msr = val;
	apic->pv_eoi_pending = false;
	return 0;
}

/* Before VMRUN, IRQs off, after the injection: offer the guest an EOI without exit. */
void lkvm_lapic_pv_eoi_enter(struct lkvm_vcpu *vcpu)
{
	struct lkvm_lapic *apic = vcpu->apic;
	u32 flag = PV_EOI_FLAG;
	int vector;

	if (!(apic->pv_eoi_msr & PV_EOI_ENABLE) || apic->pv_eoi_pending)
		return;
	vector = lkvm_lapic_highest_isr(apic);
	if (vector < 0 || test_bit(vector, apic->tmr) || find_last_bit(vcpu->pi.pir, 256) < 256)
		return;
	if (!lkvm_write_guest(vcpu->vm, apic->pv_eoi_msr & ~PV_EOI_ENABLE, &flag, sizeof(flag)))
		apic->pv_eoi_pending = true;
}

/* After #VMEXIT: did the guest EOI through the flag? */
void lkvm_lapic_pv_eoi_exit(struct lkvm_vcpu *vcpu)
{
	struct lkvm_lapic *apic = vcpu->apic;
	u64 gpa = apic->pv_eoi_msr & ~PV_EOI_ENABLE;
	u32 flag;

	if (!apic->pv_eoi_pending)
		return;
	apic->pv_eoi_pending = false;
	if (lkvm_read_guest(vcpu->vm, gpa, &flag, sizeof(flag)))
		return;
	if (flag & PV_EOI_FLAG) {
		flag &= ~PV_EOI_FLAG;
		lkvm_write_guest(vcpu->vm, gpa, &flag, sizeof(flag));
		return;
	}
	lkvm_stat_inc(vcpu, LKVM_STAT_APIC_PV_EOI);
	lkvm_lapic_do_eoi(apic);
}

/* ---- delivery ---- */

static bool lkvm_apic_match(const struct lkvm_lapic *apic, const struct lkvm_apic_irq *irq)
{
	bool x2apic = lkvm_lapic_x2apic(apic);
	u32 ldr = READ_ONCE(apic->ldr), dest = irq->dest;

	if (dest == (x2apic ? 0xffffffff : 0xff))
		return true;
	if (!irq->logical)
		return dest == READ_ONCE(apic->id);
	if (x2apic)
		return (dest >> 16) == (ldr >> 16) && (dest & ldr & 0xffff);
	ldr >>= 24;
	dest &= 0xff;
	/* DFR model: flat (0xf), else cluster. */
	if ((READ_ONCE(apic->dfr) >> 28) == 0xf)
		return dest & ldr;
	return (dest >> 4) == (ldr >> 4) && (dest & ldr & 0xf);
}

/*
 * A fixed or lowest-priority interrupt arrives at @vcpu's APIC: dropped
 * while the APIC is disabled, and for the illegal vectors 0-15.
 */
static bool lkvm_apic_accept_irq(struct lkvm_vcpu *vcpu, const struct lkvm_apic_irq *irq)
{
	struct lkvm_lapic *apic = vcpu->apic;

	if (!lkvm_lapic_enabled(apic) || !lkvm_lapic_sw_enabled(apic) || irq->vector < 16)
		return false;
	if (irq->level)
		set_bit(irq->vector, apic->tmr);
	else
		clear_bit(irq->vector, apic->tmr);
	/* The TMR bit is in place before the IRR bit can be seen and taken. */
	smp_mb__before_atomic();
	lkvm_pi_post(vcpu, irq->vector);
	return true;
}

static bool lkvm_apic_irq_supported(const struct lkvm_apic_irq *irq)
{
	return irq->delivery_mode == APIC_DM_FIXED >> 8 ||
	       irq->delivery_mode == APIC_DM_LOWEST >> 8;
}

/*
 * Deliver to the APICs @shorthand names (0: @irq's destination), @self
 * being the sender for the shorthands. Lowest priority goes to the first
 * APIC that takes it: with no arbitration, any one is right.
 */
static void lkvm_apic_send(struct lkvm_vm *vm, const struct lkvm_apic_irq *irq,
			   struct lkvm_vcpu *self, u32 shorthand)
{
	bool lowest = irq->delivery_mode == APIC_DM_LOWEST >> 8 && !shorthand;
	struct lkvm_vcpu *vcpu;
	int i;

	rcu_read_lock();
	for (i = 0; i < LKVM_MAX_VCPUS; i++) {
		vcpu = rcu_dereference(vm->vcpus[i]);
		if (!vcpu || !vcpu->apic)
			continue;
		if (shorthand == APIC_DEST_ALLBUT && vcpu == self)
			continue;
		if (!shorthand && !lkvm_apic_match(vcpu->apic, irq))
			continue;
		if (lkvm_apic_accept_irq(vcpu, irq) && lowest)
			break;
	}
	rcu_read_unlock();
}

/* NMI, SMI, INIT, SIPI and ExtINT are not modelled: one vCPU, no 8259. */
void lkvm_apic_deliver(struct lkvm_vm *vm, const struct lkvm_apic_irq *irq)
{
	if (lkvm_apic_irq_supported(irq))
		lkvm_apic_send(vm, irq, NULL, 0);
}

/* An ICR write; IPIs are edge-triggered (the level bit only matters to INIT). */
static void lkvm_lapic_send_ipi(struct lkvm_lapic *apic, u64 icr)
{
	struct lkvm_vcpu *vcpu = apic->vcpu;
	struct lkvm_apic_irq irq = {
		.vector = icr & APIC_VECTOR_MASK,
		.delivery_mode = (icr & APIC_MODE_MASK) >> 8,
		.logical = icr & APIC_DEST_LOGICAL,
		.dest = lkvm_lapic_x2apic(apic) ? icr >> 32 : icr >> 56,
	};
	u32 shorthand = icr & LKVM_APIC_DEST_SHORT;

	if (!lkvm_apic_irq_supported(&irq)) {
		lkvm_stat_inc(vcpu, LKVM_STAT_APIC_IPI_IGNORED);
		return;
	}
	if (shorthand == APIC_DEST_SELF)
		lkvm_apic_accept_irq(vcpu, &irq);
	else
		lkvm_apic_send(vcpu->vm, &irq, vcpu, shorthand);
}

/* ---- timer ---- */

static enum hrtimer_restart lkvm_lapic_timer_fire(struct hrtimer *timer)
{
	struct lkvm_lapic *apic = container_of(timer, struct lkvm_lapic, timer);
	struct lkvm_vcpu *vcpu = apic->vcpu;
	u32 lvt = READ_ONCE(apic->lvt[LVT_TIMER]);
	u8 vector = lvt & APIC_VECTOR_MASK;
	bool masked = (lvt & APIC_LVT_MASKED) || vector < 16;

	if (!masked)
		lkvm_pi_post(vcpu, vector);
	/* This callback is the counter's only writer. */
	vcpu->stats[LKVM_STAT_APIC_TIMER]++;
	trace_lkvm_apic_timer(vcpu->vm->id, vcpu->id, vector, masked);
	if (apic->armed_mode == APIC_LVT_TIMER_PERIODIC) {
		hrtimer_forward_now(timer, ns_to_ktime(apic->period_ns));
		return HRTIMER_RESTART;
	}
	if (apic->armed_mode == APIC_LVT_TIMER_TSCDEADLINE)
		WRITE_ONCE(apic->tsc_deadline, 0);
	return HRTIMER_NORESTART;
}

static u32 lkvm_lapic_timer_mode(const struct lkvm_lapic *apic)
{
	return apic->lvt[LVT_TIMER] & LKVM_APIC_TIMER_MODE;
}

/* The divide configuration's divider, as a shift: 2, 4 ... 128, or 1 for 0b1011. */
static u32 lkvm_lapic_divide_shift(u32 tdcr)
{
	return (((tdcr & 3) | ((tdcr & 8) >> 1)) + 1) & 7;
}

/* Start counting down @apic->tmict (one-shot or periodic). */
static void lkvm_lapic_timer_start(struct lkvm_lapic *apic)
{
	u32 mode = lkvm_lapic_timer_mode(apic);

	apic->tick_shift = lkvm_lapic_divide_shift(apic->tdcr);
	apic->period_ns = (u64)apic->tmict << apic->tick_shift;
	if (mode == APIC_LVT_TIMER_PERIODIC)
		apic->period_ns = max_t(u64, apic->period_ns, LKVM_APIC_MIN_PERIOD_NS);
	apic->armed_mode = mode;
	apic->start = ktime_get();
	hrtimer_start(&apic->timer, ktime_add_ns(apic->start, apic->period_ns),
		      HRTIMER_MODE_ABS_HARD);
	trace_lkvm_apic_timer_arm(apic->vcpu->vm->id, apic->vcpu->id, mode >> 17, apic->tmict, 0,
				  apic->period_ns);
}

static void lkvm_lapic_deadline_start(struct lkvm_lapic *apic)
{
	struct lkvm_vcpu *vcpu = apic->vcpu;
	u64 now = rdtsc() + vcpu->vmcb->control.tsc_offset, ns = 0;

	if (apic->tsc_deadline > now)
		ns = mul_u64_u32_div(apic->tsc_deadline - now, NSEC_PER_MSEC, tsc_khz);
	/* Centuries away is never: keep ktime from overflowing. */
	ns = min_t(u64, ns, KTIME_MAX / 2);
	apic->armed_mode = APIC_LVT_TIMER_TSCDEADLINE;
	hrtimer_start(&apic->timer, ktime_add_ns(ktime_get(), ns), HRTIMER_MODE_ABS_HARD);
	trace_lkvm_apic_timer_arm(vcpu->vm->id, vcpu->id, APIC_LVT_TIMER_TSCDEADLINE >> 17,
				  apic->tsc_deadline, now, ns);
}

/* How many ticks are left: 0 once a one-shot count ran out. */
static u32 lkvm_lapic_current_count(const struct lkvm_lapic *apic)
{
	u64 elapsed, rem;

	if (!apic->tmict || apic->armed_mode == APIC_LVT_TIMER_TSCDEADLINE)
		return 0;
	elapsed = ktime_to_ns(ktime_sub(ktime_get(), apic->start));
	if (apic->armed_mode == APIC_LVT_TIMER_PERIODIC) {
		div64_u64_rem(elapsed, apic->period_ns, &rem);
		rem = apic->period_ns - rem;
	} else {
		rem = elapsed < apic->period_ns ? apic->period_ns - elapsed : 0;
	}
	return min_t(u64, rem >> apic->tick_shift, apic->tmict);
}

static void lkvm_lapic_set_tmict(struct lkvm_lapic *apic, u32 val)
{
	/* The deadline MSR is the only way to arm a TSC-deadline timer. */
	if (lkvm_lapic_timer_mode(apic) == APIC_LVT_TIMER_TSCDEADLINE)
		return;
	hrtimer_cancel(&apic->timer);
	apic->tmict = val;
	if (val)
		lkvm_lapic_timer_start(apic);
	else
		trace_lkvm_apic_timer_arm(apic->vcpu->vm->id, apic->vcpu->id,
					  lkvm_lapic_timer_mode(apic) >> 17, 0, 0, 0);
}

static void lkvm_lapic_set_deadline(struct lkvm_lapic *apic, u64 val)
{
	/* Ignored in the other timer modes, as on hardware. */
	if (lkvm_lapic_timer_mode(apic) != APIC_LVT_TIMER_TSCDEADLINE)
		return;
	hrtimer_cancel(&apic->timer);
	WRITE_ONCE(apic->tsc_deadline, val);
	if (val)
		lkvm_lapic_deadline_start(apic);
	else
		trace_lkvm_apic_timer_arm(apic->vcpu->vm->id, apic->vcpu->id,
					  APIC_LVT_TIMER_TSCDEADLINE >> 17, 0, 0, 0);
}

/* ---- registers ---- */

static void lkvm_lapic_set_lvt(struct lkvm_lapic *apic, unsigned int i, u32 val)
{
	val &= lkvm_lvt_mask[i];
	if (!lkvm_lapic_sw_enabled(apic))
		val |= APIC_LVT_MASKED;
	/* A new timer mode starts disarmed. */
	if (i == LVT_TIMER && ((val ^ apic->lvt[i]) & LKVM_APIC_TIMER_MODE)) {
		hrtimer_cancel(&apic->timer);
		apic->tmict = 0;
		WRITE_ONCE(apic->tsc_deadline, 0);
	}
	WRITE_ONCE(apic->lvt[i], val);
}

/* Software disable masks every LVT, and they stay masked until enabled. */
static void lkvm_lapic_set_svr(struct lkvm_lapic *apic, u32 val)
{
	int i;

	WRITE_ONCE(apic->svr, val & LKVM_APIC_SVR_MASK);
	if (!(val & APIC_SPIV_APIC_ENABLED))
		for (i = 0; i < NR_LVTS; i++)
			WRITE_ONCE(apic->lvt[i], apic->lvt[i] | APIC_LVT_MASKED);
}

static u32 lkvm_lapic_x2apic_ldr(u32 id)
{
	return ((id >> 4) << 16) | (1U << (id & 0xf));
}

/*
 * A register read, at its xAPIC offset. -EINVAL (#GP) only in x2APIC
 * mode, for registers it does not have or that are write-only; in xAPIC
 * mode those read 0.
 */
static int lkvm_lapic_reg_read(struct lkvm_lapic *apic, u32 reg, u64 *val)
{
	bool x2apic = lkvm_lapic_x2apic(apic);

	*val = 0;
	switch (reg) {
	case APIC_ID:
		*val = x2apic ? apic->id : apic->id << 24;
		break;
	case APIC_LVR:
		*val = LKVM_APIC_VERSION | (LKVM_APIC_MAX_LVT << 16);
		break;
	case APIC_TASKPRI:
		*val = lkvm_lapic_tpr(apic);
		break;
	case APIC_PROCPRI:
		*val = lkvm_lapic_ppr(apic);
		break;
	case APIC_LDR:
		*val = apic->ldr;
		break;
	case APIC_DFR:
		if (x2apic)
			return -EINVAL;
		*val = apic->dfr;
		break;
	case APIC_SPIV:
		*val = apic->svr;
		break;
	case APIC_ISR ... APIC_ISR + 0x70:
		*val = lkvm_bitmap_reg(apic->isr, (reg - APIC_ISR) >> 4);
		break;
	case APIC_TMR ... APIC_TMR + 0x70:
		*val = lkvm_bitmap_reg(apic->tmr, (reg - APIC_TMR) >> 4);
		break;
	case APIC_IRR ... APIC_IRR + 0x70:
		*val = lkvm_bitmap_reg(apic->vcpu->pi.pir, (reg - APIC_IRR) >> 4);
		break;
	case APIC_ESR:
		*val = apic->esr;
		break;
	case APIC_ICR:
		*val = x2apic ? apic->icr : lower_32_bits(apic->icr);
		break;
	case APIC_ICR2:
		if (x2apic)
			return -EINVAL;
		*val = upper_32_bits(apic->icr);
		break;
	case APIC_LVTT ... APIC_LVTERR:
		*val = apic->lvt[(reg - APIC_LVTT) >> 4];
		break;
	case APIC_TMICT:
		*val = apic->tmict;
		break;
	case APIC_TMCCT:
		*val = lkvm_lapic_current_count(apic);
		break;
	case APIC_TDCR:
		*val = apic->tdcr;
		break;
	default:
		/* EOI and SELF_IPI are write-only; the rest is not there. */
		if (x2apic)
			return -EINVAL;
		break;
	}
	return 0;
}

/* A register write, at its xAPIC offset; -EINVAL (#GP) only in x2APIC mode. */
static int lkvm_lapic_reg_write(struct lkvm_lapic *apic, u32 reg, u64 val)
{
	bool x2apic = lkvm_lapic_x2apic(apic);

	/* Bits 63:32 of every x2APIC MSR but the ICR are reserved. */
	if (x2apic && reg != APIC_ICR && upper_32_bits(val))
		return -EINVAL;
	switch (reg) {
	case APIC_ID:
		if (x2apic)
			return -EINVAL;
		WRITE_ONCE(apic->id, (u32)val >> 24);
		break;
	case APIC_TASKPRI:
		lkvm_lapic_set_tpr(apic, val);
		break;
	case APIC_EOI:
		if (x2apic && val)
			return -EINVAL;
		lkvm_lapic_eoi(apic);
		break;
	case APIC_LDR:
		if (x2apic)
			return -EINVAL;
		WRITE_ONCE(apic->ldr, val & APIC_LDR_MASK);
		break;
	case APIC_DFR:
		if (x2apic)
			return -EINVAL;
		WRITE_ONCE(apic->dfr, val | 0x0fffffff);
		break;
	case APIC_SPIV:
		lkvm_lapic_set_svr(apic, val);
		break;
	case APIC_ESR:
		/* No errors are ever latched. x2APIC: only 0 may be written. */
		if (x2apic && val)
			return -EINVAL;
		break;
	case APIC_ICR:
		if (x2apic)
			apic->icr = val;
		else
			apic->icr = (apic->icr & GENMASK_ULL(63, 32)) | lower_32_bits(val);
		lkvm_lapic_send_ipi(apic, apic->icr);
		break;
	case APIC_ICR2:
		if (x2apic)
			return -EINVAL;
		apic->icr = lower_32_bits(apic->icr) | ((val & 0xff000000ULL) << 32);
		break;
	case APIC_LVTT ... APIC_LVTERR:
		lkvm_lapic_set_lvt(apic, (reg - APIC_LVTT) >> 4, val);
		break;
	case APIC_TMICT:
		lkvm_lapic_set_tmict(apic, val);
		break;
	case APIC_TDCR:
		apic->tdcr = val & LKVM_APIC_TDCR_MASK;
		break;
	case APIC_SELF_IPI:
		if (x2apic)
			lkvm_lapic_send_ipi(apic, APIC_DEST_SELF | (val & APIC_VECTOR_MASK));
		break;
	default:
		/* Read-only or not there: #GP in x2APIC mode, ignored in xAPIC mode. */
		if (x2apic)
			return -EINVAL;
		break;
	}
	return 0;
}

/* ---- reset, IA32_APIC_BASE ---- */

/* Every register as at power-up; IA32_APIC_BASE is the caller's. */
static void lkvm_lapic_power_up(struct lkvm_lapic *apic)
{
	struct lkvm_vcpu *vcpu = apic->vcpu;
	int i;

	hrtimer_cancel(&apic->timer);
	WRITE_ONCE(apic->id, vcpu->id);
	lkvm_lapic_set_tpr(apic, 0);
	WRITE_ONCE(apic->ldr, 0);
	WRITE_ONCE(apic->dfr, 0xffffffff);
	WRITE_ONCE(apic->svr, 0xff);
	apic->esr = 0;
	apic->icr = 0;
	for (i = 0; i < NR_LVTS; i++)
		WRITE_ONCE(apic->lvt[i], APIC_LVT_MASKED);
	apic->tmict = 0;
	apic->tdcr = 0;
	apic->armed_mode = 0;
	WRITE_ONCE(apic->tsc_deadline, 0);
	bitmap_zero(apic->isr, 256);
	bitmap_zero(apic->tmr, 256);
	bitmap_zero(vcpu->pi.pir, 256);
	clear_bit(0, &vcpu->pi.on);
}

void lkvm_lapic_reset(struct lkvm_vcpu *vcpu)
{
	struct lkvm_lapic *apic = vcpu->apic;

	WRITE_ONCE(apic->base, LKVM_PLATFORM_LAPIC_BASE | MSR_IA32_APICBASE_ENABLE |
		   (vcpu->id ? 0 : MSR_IA32_APICBASE_BSP));
	lkvm_lapic_power_up(apic);
	apic->pv_eoi_msr = 0;
	apic->pv_eoi_pending = false;
}

/*
 * Disabled (EN=0), xAPIC (EN) and x2APIC (EN|EXTD) modes. EXTD without
 * EN is invalid; x2APIC is entered only from xAPIC and left only to
 * disabled. The BSP bit is the platform's, not the guest's.
 */
static int lkvm_lapic_set_base(struct lkvm_lapic *apic, u64 val)
{
	u64 old = apic->base, modes = MSR_IA32_APICBASE_ENABLE | X2APIC_ENABLE;
	u64 valid = LKVM_APIC_BASE_MASK | modes | MSR_IA32_APICBASE_BSP;
	u64 old_mode = old & modes, new_mode = val & modes;

	if (boot_cpu_data.x86_phys_bits < LKVM_GUEST_PHYS_BITS)
		valid &= GENMASK_ULL(boot_cpu_data.x86_phys_bits - 1, 0);
	if ((val & ~valid) || new_mode == X2APIC_ENABLE)
		return -EINVAL;
	if (old_mode == modes && new_mode == MSR_IA32_APICBASE_ENABLE)
		return -EINVAL;
	if (!old_mode && new_mode == modes)
		return -EINVAL;
	val = (val & ~MSR_IA32_APICBASE_BSP) | (old & MSR_IA32_APICBASE_BSP);
	if (old_mode && !new_mode)
		lkvm_lapic_power_up(apic);
	if (old_mode != modes && new_mode == modes) {
		WRITE_ONCE(apic->id, apic->vcpu->id);
		WRITE_ONCE(apic->ldr, lkvm_lapic_x2apic_ldr(apic->vcpu->id));
	}
	WRITE_ONCE(apic->base, val);
	return 0;
}

/* ---- the interfaces ---- */

static bool lkvm_lapic_is_x2apic_msr(u32 msr)
{
	return msr >= APIC_BASE_MSR && msr <= APIC_BASE_MSR + 0xff;
}

int lkvm_lapic_msr_read(struct lkvm_vcpu *vcpu, u32 msr, u64 *val)
{
	struct lkvm_lapic *apic = vcpu->apic;

	if (msr == MSR_IA32_APICBASE) {
		*val = apic->base;
		return 0;
	}
	if (msr == MSR_IA32_TSC_DEADLINE) {
		*val = lkvm_lapic_timer_mode(apic) == APIC_LVT_TIMER_TSCDEADLINE ?
		       READ_ONCE(apic->tsc_deadline) : 0;
		return 0;
	}
	if (msr == MSR_KVM_PV_EOI_EN) {
		*val = apic->pv_eoi_msr;
		return 0;
	}
	if (!lkvm_lapic_is_x2apic_msr(msr))
		return -ENOENT;
	if (!lkvm_lapic_x2apic(apic))
		return -EINVAL;
	lkvm_stat_inc(vcpu, LKVM_STAT_APIC_ACCESS);
	return lkvm_lapic_reg_read(apic, (msr - APIC_BASE_MSR) << 4, val);
}

int lkvm_lapic_msr_write(struct lkvm_vcpu *vcpu, u32 msr, u64 val)
{
	struct lkvm_lapic *apic = vcpu->apic;

	if (msr == MSR_IA32_APICBASE)
		return lkvm_lapic_set_base(apic, val);
	if (msr == MSR_IA32_TSC_DEADLINE) {
		lkvm_lapic_set_deadline(apic, val);
		return 0;
	}
	if (msr == MSR_KVM_PV_EOI_EN)
		return lkvm_lapic_set_pv_eoi(apic, val);
	if (!lkvm_lapic_is_x2apic_msr(msr))
		return -ENOENT;
	if (!lkvm_lapic_x2apic(apic))
		return -EINVAL;
	lkvm_stat_inc(vcpu, LKVM_STAT_APIC_ACCESS);
	return lkvm_lapic_reg_write(apic, (msr - APIC_BASE_MSR) << 4, val);
}

/* 32-bit accesses to the 16-byte aligned registers; anything else reads 0. */
bool lkvm_lapic_mmio(struct lkvm_vcpu *vcpu, u64 gpa, u8 size, bool write, u64 *val)
{
	struct lkvm_lapic *apic = vcpu->apic;
	u64 base = apic->base, reg;

	if ((base & (MSR_IA32_APICBASE_ENABLE | X2APIC_ENABLE)) != MSR_IA32_APICBASE_ENABLE)
		return false;
	base &= LKVM_APIC_BASE_MASK;
	if (gpa < base || gpa - base >= LKVM_APIC_PAGE_SIZE)
		return false;
	lkvm_stat_inc(vcpu, LKVM_STAT_APIC_ACCESS);
	if (size != 4 || (gpa & 0xf)) {
		if (!write)
			*val = 0;
		return true;
	}
	if (write) {
		lkvm_lapic_reg_write(apic, gpa - base, lower_32_bits(*val));
	} else {
		lkvm_lapic_reg_read(apic, gpa - base, &reg);
		*val = reg;
	}
	return true;
}

int lkvm_lapic_create(struct lkvm_vcpu *vcpu)
{
	struct lkvm_lapic *apic;

	apic = kzalloc(sizeof(*apic), GFP_KERNEL_ACCOUNT);
	if (!apic)
		return -ENOMEM;
	apic->vcpu = vcpu;
	hrtimer_init(&apic->timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS_HARD);
	apic->timer.function = lkvm_lapic_timer_fire;
	vcpu->apic = apic;
	return 0;
}

void lkvm_lapic_free(struct lkvm_vcpu *vcpu)
{
	struct lkvm_lapic *apic = vcpu->apic;

	if (!apic)
		return;
	hrtimer_cancel(&apic->timer);
	kfree(apic);
	vcpu->apic = NULL;
}
