/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Tracepoints on every exit path, trace system lkvm_lite:
 * /sys/kernel/tracing/events/lkvm_lite/. Each names the VM (a number the
 * module gives it, in creation order) and the vCPU.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM lkvm_lite

#if !defined(LKVM_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define LKVM_TRACE_H

#include <linux/tracepoint.h>
#include <asm/svm.h>

#include <linux/lkvm_lite.h>

#define LKVM_EXIT_REASONS_SYMBOLIC				\
	{ LKVM_EXIT_SHUTDOWN, "shutdown" },			\
	{ LKVM_EXIT_INTERNAL_ERROR, "internal_error" },		\
	{ LKVM_EXIT_TEST_IO, "test_io" },			\
	{ LKVM_EXIT_TEST_MMIO, "test_mmio" },			\
	{ LKVM_EXIT_SYSTEM_EVENT, "system_event" }

/*
 * The guest is about to run: VMRUN at @rip. @exit_code is the exit handled
 * in the kernel since the last entry, and @exit_ns the time from that
 * #VMEXIT to now; LKVM_TRACE_NO_EXIT and 0 on a call's first entry. So
 * one event per round trip carries its cause and its cost, which is what a
 * BPF tool needs, at one program run per exit.
 */
TRACE_EVENT(lkvm_entry,
	TP_PROTO(u32 vm_id, u32 vcpu_id, u64 rip, u32 exit_code, u64 exit_ns),
	TP_ARGS(vm_id, vcpu_id, rip, exit_code, exit_ns),
	TP_STRUCT__entry(
		__field(u32, vm_id)
		__field(u32, vcpu_id)
		__field(u64, rip)
		__field(u32, exit_code)
		__field(u64, exit_ns)
	),
	TP_fast_assign(
		__entry->vm_id = vm_id;
		__entry->vcpu_id = vcpu_id;
		__entry->rip = rip;
		__entry->exit_code = exit_code;
		__entry->exit_ns = exit_ns;
	),
	TP_printk("vm %u vcpu %u rip 0x%llx after %s %llu ns", __entry->vm_id, __entry->vcpu_id,
		  __entry->rip,
		  __entry->exit_code == LKVM_TRACE_NO_EXIT ? "entry" :
		  __print_symbolic(__entry->exit_code, SVM_EXIT_REASONS),
		  __entry->exit_ns)
);

/* A #VMEXIT, before its handler runs. */
TRACE_EVENT(lkvm_exit,
	TP_PROTO(u32 vm_id, u32 vcpu_id, u32 exit_code, u64 rip, u64 info1, u64 info2),
	TP_ARGS(vm_id, vcpu_id, exit_code, rip, info1, info2),
	TP_STRUCT__entry(
		__field(u32, vm_id)
		__field(u32, vcpu_id)
		__field(u32, exit_code)
		__field(u64, rip)
		__field(u64, info1)
		__field(u64, info2)
	),
	TP_fast_assign(
		__entry->vm_id = vm_id;
		__entry->vcpu_id = vcpu_id;
		__entry->exit_code = exit_code;
		__entry->rip = rip;
		__entry->info1 = info1;
		__entry->info2 = info2;
	),
	TP_printk("vm %u vcpu %u reason %s rip 0x%llx info 0x%llx 0x%llx",
		  __entry->vm_id, __entry->vcpu_id,
		  __print_symbolic(__entry->exit_code, SVM_EXIT_REASONS),
		  __entry->rip, __entry->info1, __entry->info2)
);

/* What the handler decided: 1 run the guest again, 0 go to userspace, <0 fail. */
TRACE_EVENT(lkvm_handled,
	TP_PROTO(u32 vm_id, u32 vcpu_id, u32 exit_code, int ret),
	TP_ARGS(vm_id, vcpu_id, exit_code, ret),
	TP_STRUCT__entry(
		__field(u32, vm_id)
		__field(u32, vcpu_id)
		__field(u32, exit_code)
		__field(int, ret)
	),
	TP_fast_assign(
		__entry->vm_id = vm_id;
		__entry->vcpu_id = vcpu_id;
		__entry->exit_code = exit_code;
		__entry->ret = ret;
	),
	TP_printk("vm %u vcpu %u reason %s -> %s (%d)", __entry->vm_id, __entry->vcpu_id,
		  __print_symbolic(__entry->exit_code, SVM_EXIT_REASONS),
		  __entry->ret > 0 ? "resume" : __entry->ret == 0 ? "userspace" : "error",
		  __entry->ret)
);

/*
 * LKVM_RUN returns: @ret 0 with @reason (LKVM_EXIT_*), or -errno (-EINTR
 * for a signal), and @reason 0. @exit_code is the last exit, if no entry
 * followed it (the one that returns, or one handled before a signal), else
 * LKVM_TRACE_NO_EXIT.
 */
TRACE_EVENT(lkvm_userspace_exit,
	TP_PROTO(u32 vm_id, u32 vcpu_id, u32 reason, int ret, u32 exit_code),
	TP_ARGS(vm_id, vcpu_id, reason, ret, exit_code),
	TP_STRUCT__entry(
		__field(u32, vm_id)
		__field(u32, vcpu_id)
		__field(u32, reason)
		__field(int, ret)
		__field(u32, exit_code)
	),
	TP_fast_assign(
		__entry->vm_id = vm_id;
		__entry->vcpu_id = vcpu_id;
		__entry->reason = reason;
		__entry->ret = ret;
		__entry->exit_code = exit_code;
	),
	TP_printk("vm %u vcpu %u %s (%d)", __entry->vm_id, __entry->vcpu_id,
		  __entry->ret ? "error" : __print_symbolic(__entry->reason,
							     LKVM_EXIT_REASONS_SYMBOLIC),
		  __entry->ret)
);

#define LKVM_KICK_NONE	0	/* the vCPU was not in guest mode */
#define LKVM_KICK_IPI	1	/* it was, on another CPU: an IPI exits it */
#define LKVM_KICK_SELF	2	/* it was, on this CPU (posted from its own exit) */

/* An interrupt posted to a vCPU, and how it was told. */
TRACE_EVENT(lkvm_irq_post,
	TP_PROTO(u32 vm_id, u32 vcpu_id, u8 vector, int kick, int cpu),
	TP_ARGS(vm_id, vcpu_id, vector, kick, cpu),
	TP_STRUCT__entry(
		__field(u32, vm_id)
		__field(u32, vcpu_id)
		__field(u8, vector)
		__field(int, kick)
		__field(int, cpu)
	),
	TP_fast_assign(
		__entry->vm_id = vm_id;
		__entry->vcpu_id = vcpu_id;
		__entry->vector = vector;
		__entry->kick = kick;
		__entry->cpu = cpu;
	),
	TP_printk("vm %u vcpu %u vector %u %s cpu %d", __entry->vm_id, __entry->vcpu_id,
		  __entry->vector,
		  __print_symbolic(__entry->kick, { LKVM_KICK_NONE, "no-kick" },
				   { LKVM_KICK_IPI, "ipi" }, { LKVM_KICK_SELF, "self" }),
		  __entry->cpu)
);

/* Before VMRUN: @vector injected, or (@window) an exit asked for when it can be. */
TRACE_EVENT(lkvm_irq_inject,
	TP_PROTO(u32 vm_id, u32 vcpu_id, u8 vector, bool window),
	TP_ARGS(vm_id, vcpu_id, vector, window),
	TP_STRUCT__entry(
		__field(u32, vm_id)
		__field(u32, vcpu_id)
		__field(u8, vector)
		__field(bool, window)
	),
	TP_fast_assign(
		__entry->vm_id = vm_id;
		__entry->vcpu_id = vcpu_id;
		__entry->vector = vector;
		__entry->window = window;
	),
	TP_printk("vm %u vcpu %u %s %u", __entry->vm_id, __entry->vcpu_id,
		  __entry->window ? "window for" : "vector", __entry->vector)
);

/* HLT: the vCPU goes to sleep (@wake false) or is woken (@wake true). */
TRACE_EVENT(lkvm_halt,
	TP_PROTO(u32 vm_id, u32 vcpu_id, bool wake),
	TP_ARGS(vm_id, vcpu_id, wake),
	TP_STRUCT__entry(
		__field(u32, vm_id)
		__field(u32, vcpu_id)
		__field(bool, wake)
	),
	TP_fast_assign(
		__entry->vm_id = vm_id;
		__entry->vcpu_id = vcpu_id;
		__entry->wake = wake;
	),
	TP_printk("vm %u vcpu %u %s", __entry->vm_id, __entry->vcpu_id,
		  __entry->wake ? "woken" : "sleeps")
);

/* The guest asked for a power-off or reset by writing @val to @port. */
TRACE_EVENT(lkvm_system_event,
	TP_PROTO(u32 vm_id, u32 vcpu_id, u32 type, u16 port, u8 val),
	TP_ARGS(vm_id, vcpu_id, type, port, val),
	TP_STRUCT__entry(
		__field(u32, vm_id)
		__field(u32, vcpu_id)
		__field(u32, type)
		__field(u16, port)
		__field(u8, val)
	),
	TP_fast_assign(
		__entry->vm_id = vm_id;
		__entry->vcpu_id = vcpu_id;
		__entry->type = type;
		__entry->port = port;
		__entry->val = val;
	),
	TP_printk("vm %u vcpu %u %s (port 0x%x value 0x%x)", __entry->vm_id, __entry->vcpu_id,
		  __print_symbolic(__entry->type, { LKVM_SYSTEM_EVENT_POWEROFF, "poweroff" },
				   { LKVM_SYSTEM_EVENT_RESET, "reset" }),
		  __entry->port, __entry->val)
);

/*
 * The UART's interrupt line changed to @level (what IER enables and what
 * is pending, gated by MCR.OUT2); @iir is the cause IIR reports now.
 */
TRACE_EVENT(lkvm_uart_irq,
	TP_PROTO(u32 vm_id, bool level, u8 ier, u8 iir),
	TP_ARGS(vm_id, level, ier, iir),
	TP_STRUCT__entry(
		__field(u32, vm_id)
		__field(bool, level)
		__field(u8, ier)
		__field(u8, iir)
	),
	TP_fast_assign(
		__entry->vm_id = vm_id;
		__entry->level = level;
		__entry->ier = ier;
		__entry->iir = iir;
	),
	TP_printk("vm %u level %d ier 0x%x iir 0x%x", __entry->vm_id, __entry->level,
		  __entry->ier, __entry->iir)
);

/* A local APIC timer expired and posted @vector (@masked: LVT masked, nothing posted). */
TRACE_EVENT(lkvm_apic_timer,
	TP_PROTO(u32 vm_id, u32 vcpu_id, u8 vector, bool masked),
	TP_ARGS(vm_id, vcpu_id, vector, masked),
	TP_STRUCT__entry(
		__field(u32, vm_id)
		__field(u32, vcpu_id)
		__field(u8, vector)
		__field(bool, masked)
	),
	TP_fast_assign(
		__entry->vm_id = vm_id;
		__entry->vcpu_id = vcpu_id;
		__entry->vector = vector;
		__entry->masked = masked;
	),
	TP_printk("vm %u vcpu %u vector %u%s", __entry->vm_id, __entry->vcpu_id,
		  __entry->vector, __entry->masked ? " masked" : "")
);

/*
 * A local APIC timer was armed in @mode (the LVT's timer mode bits: 0
 * one-shot, 1 periodic, 2 TSC-deadline) or disarmed (@value 0). @value is
 * the initial count or the TSC deadline; @tsc the guest's TSC when it was
 * armed (TSC-deadline only); @ns how far ahead the hrtimer was set.
 */
TRACE_EVENT(lkvm_apic_timer_arm,
	TP_PROTO(u32 vm_id, u32 vcpu_id, u32 mode, u64 value, u64 tsc, u64 ns),
	TP_ARGS(vm_id, vcpu_id, mode, value, tsc, ns),
	TP_STRUCT__entry(
		__field(u32, vm_id)
		__field(u32, vcpu_id)
		__field(u32, mode)
		__field(u64, value)
		__field(u64, tsc)
		__field(u64, ns)
	),
	TP_fast_assign(
		__entry->vm_id = vm_id;
		__entry->vcpu_id = vcpu_id;
		__entry->mode = mode;
		__entry->value = value;
		__entry->tsc = tsc;
		__entry->ns = ns;
	),
	TP_printk("vm %u vcpu %u %s %s 0x%llx guest tsc 0x%llx in %llu ns",
		  __entry->vm_id, __entry->vcpu_id,
		  __print_symbolic(__entry->mode, { 0, "one-shot" }, { 1, "periodic" },
				   { 2, "tsc-deadline" }),
		  __entry->value ? "armed" : "disarmed", __entry->value, __entry->tsc,
		  __entry->ns)
);

/*
 * A vCPU with a local APIC goes to sleep in HLT: the highest vector in its
 * IRR and ISR (-1: none), how many are in service, the PPR and TPR, and
 * when the timer fires (-1: not armed), so that a vCPU that never wakes
 * shows why.
 */
TRACE_EVENT(lkvm_apic_halt,
	TP_PROTO(u32 vm_id, u32 vcpu_id, int irr, int isr, u32 isr_count, u32 ppr, u32 tpr,
		 s64 timer_ns),
	TP_ARGS(vm_id, vcpu_id, irr, isr, isr_count, ppr, tpr, timer_ns),
	TP_STRUCT__entry(
		__field(u32, vm_id)
		__field(u32, vcpu_id)
		__field(int, irr)
		__field(int, isr)
		__field(u32, isr_count)
		__field(u32, ppr)
		__field(u32, tpr)
		__field(s64, timer_ns)
	),
	TP_fast_assign(
		__entry->vm_id = vm_id;
		__entry->vcpu_id = vcpu_id;
		__entry->irr = irr;
		__entry->isr = isr;
		__entry->isr_count = isr_count;
		__entry->ppr = ppr;
		__entry->tpr = tpr;
		__entry->timer_ns = timer_ns;
	),
	TP_printk("vm %u vcpu %u irr %d isr %d (%u in service) ppr 0x%x tpr 0x%x timer in %lld ns",
		  __entry->vm_id, __entry->vcpu_id, __entry->irr, __entry->isr,
		  __entry->isr_count, __entry->ppr, __entry->tpr, __entry->timer_ns)
);

/* An IOAPIC input changed to @level; @delivered: an interrupt went out for it. */
TRACE_EVENT(lkvm_ioapic_irq,
	TP_PROTO(u32 vm_id, u32 pin, bool level, bool delivered),
	TP_ARGS(vm_id, pin, level, delivered),
	TP_STRUCT__entry(
		__field(u32, vm_id)
		__field(u32, pin)
		__field(bool, level)
		__field(bool, delivered)
	),
	TP_fast_assign(
		__entry->vm_id = vm_id;
		__entry->pin = pin;
		__entry->level = level;
		__entry->delivered = delivered;
	),
	TP_printk("vm %u pin %u level %d%s", __entry->vm_id, __entry->pin, __entry->level,
		  __entry->delivered ? " delivered" : "")
);

#endif /* LKVM_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
