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
#include <uapi/linux/virtio_config.h>

#include "virtqueue.h"

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

/*
 * The virtio-net device (virtio_net.c, and its transport virtio_pci.c,
 * the only virtio device there is): each event names the VM and the
 * NIC, by its index among the VM's NICs (0 for the first LKVM_CREATE_NET).
 */

#define LKVM_NET_TX_NOTIFY	0	/* drained in the guest's notify exit */
#define LKVM_NET_TX_WORKER	1	/* by the worker the budget left the rest to */

/*
 * One TX drain pass: @chains taken off the queue, @packets of them (with
 * @bytes, Ethernet headers included) handed to the host stack, the rest
 * dropped (lkvm_net_drop says why); @deferred: the budget ran out and a
 * worker goes on.
 */
TRACE_EVENT(lkvm_net_tx,
	TP_PROTO(u32 vm_id, u32 nic, u32 chains, u32 packets, u64 bytes, bool deferred,
		 int context),
	TP_ARGS(vm_id, nic, chains, packets, bytes, deferred, context),
	TP_STRUCT__entry(
		__field(u32, vm_id)
		__field(u32, nic)
		__field(u32, chains)
		__field(u32, packets)
		__field(u64, bytes)
		__field(bool, deferred)
		__field(int, context)
	),
	TP_fast_assign(
		__entry->vm_id = vm_id;
		__entry->nic = nic;
		__entry->chains = chains;
		__entry->packets = packets;
		__entry->bytes = bytes;
		__entry->deferred = deferred;
		__entry->context = context;
	),
	TP_printk("vm %u nic %u %s chains %u packets %u bytes %llu%s", __entry->vm_id,
		  __entry->nic,
		  __print_symbolic(__entry->context, { LKVM_NET_TX_NOTIFY, "notify" },
				   { LKVM_NET_TX_WORKER, "worker" }),
		  __entry->chains, __entry->packets, __entry->bytes,
		  __entry->deferred ? " deferred" : "")
);

#define LKVM_NET_IRQ_NONE	0	/* the driver asked for no interrupt */
#define LKVM_NET_IRQ_SENT	1	/* one was raised for this frame and those before it */
#define LKVM_NET_IRQ_BATCHED	2	/* more frames follow (xmit_more): the last one's */

/*
 * A frame of the host's, @len bytes, copied into @buffers of the guest's
 * receive buffers (more than one with MRG_RXBUF), and what became of the
 * interrupt for it.
 */
TRACE_EVENT(lkvm_net_rx,
	TP_PROTO(u32 vm_id, u32 nic, u32 len, u32 buffers, int irq),
	TP_ARGS(vm_id, nic, len, buffers, irq),
	TP_STRUCT__entry(
		__field(u32, vm_id)
		__field(u32, nic)
		__field(u32, len)
		__field(u32, buffers)
		__field(int, irq)
	),
	TP_fast_assign(
		__entry->vm_id = vm_id;
		__entry->nic = nic;
		__entry->len = len;
		__entry->buffers = buffers;
		__entry->irq = irq;
	),
	TP_printk("vm %u nic %u len %u buffers %u irq %s", __entry->vm_id, __entry->nic,
		  __entry->len, __entry->buffers,
		  __print_symbolic(__entry->irq, { LKVM_NET_IRQ_NONE, "none" },
				   { LKVM_NET_IRQ_SENT, "sent" },
				   { LKVM_NET_IRQ_BATCHED, "batched" }))
);

/* Why a frame was dropped; each counts in a *_DROPPED statistic. */
#define LKVM_NET_DROP_LINK_DOWN		0	/* TX: the host end down or gone */
#define LKVM_NET_DROP_LEN		1	/* under the headers, over 64 KiB */
#define LKVM_NET_DROP_FAULT		2	/* a buffer not readable/writable */
#define LKVM_NET_DROP_NOMEM		3	/* TX: no skb */
#define LKVM_NET_DROP_BAD_HDR		4	/* offloads a header cannot carry */
#define LKVM_NET_DROP_QUEUE_DOWN	5	/* RX: no DRIVER_OK, broken, reset */
#define LKVM_NET_DROP_NO_BUFFER		6	/* RX: no receive buffer posted */
#define LKVM_NET_DROP_SMALL_BUFFERS	7	/* RX: does not fit the buffers */
#define LKVM_NET_DROP_BAD_CHAIN		8	/* RX: malformed (lkvm_net_broken) */

/*
 * A frame dropped: the guest's (@rx false; @len is its chain's bytes,
 * header included) or the host's (@rx true; @len is the frame's).
 */
TRACE_EVENT(lkvm_net_drop,
	TP_PROTO(u32 vm_id, u32 nic, bool rx, int reason, u32 len),
	TP_ARGS(vm_id, nic, rx, reason, len),
	TP_STRUCT__entry(
		__field(u32, vm_id)
		__field(u32, nic)
		__field(bool, rx)
		__field(int, reason)
		__field(u32, len)
	),
	TP_fast_assign(
		__entry->vm_id = vm_id;
		__entry->nic = nic;
		__entry->rx = rx;
		__entry->reason = reason;
		__entry->len = len;
	),
	TP_printk("vm %u nic %u %s len %u %s", __entry->vm_id, __entry->nic,
		  __entry->rx ? "rx" : "tx", __entry->len,
		  __print_symbolic(__entry->reason, { LKVM_NET_DROP_LINK_DOWN, "link_down" },
				   { LKVM_NET_DROP_LEN, "bad_len" },
				   { LKVM_NET_DROP_FAULT, "fault" },
				   { LKVM_NET_DROP_NOMEM, "nomem" },
				   { LKVM_NET_DROP_BAD_HDR, "bad_header" },
				   { LKVM_NET_DROP_QUEUE_DOWN, "queue_down" },
				   { LKVM_NET_DROP_NO_BUFFER, "no_buffer" },
				   { LKVM_NET_DROP_SMALL_BUFFERS, "small_buffers" },
				   { LKVM_NET_DROP_BAD_CHAIN, "bad_chain" }))
);

/* Enum values in the format files, so that tools can decode @reason. */
TRACE_DEFINE_ENUM(LKVM_VQ_ERR_RING);
TRACE_DEFINE_ENUM(LKVM_VQ_ERR_AVAIL);
TRACE_DEFINE_ENUM(LKVM_VQ_ERR_HEAD);
TRACE_DEFINE_ENUM(LKVM_VQ_ERR_LOOP);
TRACE_DEFINE_ENUM(LKVM_VQ_ERR_ADDR);
TRACE_DEFINE_ENUM(LKVM_VQ_ERR_ORDER);
TRACE_DEFINE_ENUM(LKVM_VQ_ERR_INDIRECT);
TRACE_DEFINE_ENUM(LKVM_VQ_ERR_LEN);
TRACE_DEFINE_ENUM(LKVM_VQ_ERR_WRITABLE);
TRACE_DEFINE_ENUM(LKVM_VQ_ERR_READABLE);
TRACE_DEFINE_ENUM(LKVM_VQ_ERR_SETUP);

/*
 * The device set DEVICE_NEEDS_RESET because of queue @queue (0 RX, 1 TX):
 * @reason is the check the driver failed (enum lkvm_vq_error). Once per
 * breakage: nothing is processed until the reset.
 */
TRACE_EVENT(lkvm_net_broken,
	TP_PROTO(u32 vm_id, u32 nic, u16 queue, int reason),
	TP_ARGS(vm_id, nic, queue, reason),
	TP_STRUCT__entry(
		__field(u32, vm_id)
		__field(u32, nic)
		__field(u16, queue)
		__field(int, reason)
	),
	TP_fast_assign(
		__entry->vm_id = vm_id;
		__entry->nic = nic;
		__entry->queue = queue;
		__entry->reason = reason;
	),
	TP_printk("vm %u nic %u queue %u %s", __entry->vm_id, __entry->nic, __entry->queue,
		  __print_symbolic(__entry->reason, { LKVM_VQ_ERR_RING, "ring" },
				   { LKVM_VQ_ERR_AVAIL, "avail_idx" },
				   { LKVM_VQ_ERR_HEAD, "head" },
				   { LKVM_VQ_ERR_LOOP, "loop" },
				   { LKVM_VQ_ERR_ADDR, "addr" },
				   { LKVM_VQ_ERR_ORDER, "order" },
				   { LKVM_VQ_ERR_INDIRECT, "indirect" },
				   { LKVM_VQ_ERR_LEN, "len" },
				   { LKVM_VQ_ERR_WRITABLE, "writable" },
				   { LKVM_VQ_ERR_READABLE, "readable" },
				   { LKVM_VQ_ERR_SETUP, "setup" }))
);

/* The guest reset the device (wrote status 0); @status is what it was before. */
TRACE_EVENT(lkvm_net_reset,
	TP_PROTO(u32 vm_id, u32 nic, u8 status),
	TP_ARGS(vm_id, nic, status),
	TP_STRUCT__entry(
		__field(u32, vm_id)
		__field(u32, nic)
		__field(u8, status)
	),
	TP_fast_assign(
		__entry->vm_id = vm_id;
		__entry->nic = nic;
		__entry->status = status;
	),
	TP_printk("vm %u nic %u status was 0x%x%s", __entry->vm_id, __entry->nic,
		  __entry->status,
		  __entry->status & VIRTIO_CONFIG_S_NEEDS_RESET ? " (needs reset)" : "")
);

#endif /* LKVM_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
