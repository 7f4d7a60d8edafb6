// SPDX-License-Identifier: GPL-2.0
/*
 * lkvm-lite trace, the BPF half: counts exits per VM and exit code, and
 * times each exit until its vCPU enters the guest again. The programs
 * attach to the module's tracepoints through its BTF (tp_btf), so their
 * arguments arrive typed, as the module passes them (kernel/trace.h).
 *
 * The module's lkvm_entry event carries the exit handled since the last
 * entry and its time in the kernel, and lkvm_userspace_exit the exit that
 * no entry followed: so each exit costs one program run and one hash
 * lookup of its counters (an array indexed by VM slot was a little cheaper
 * but bounded the VMs a session can count), and the totals are complete
 * once the processes running the VMs have ended.
 *
 * The counters are shared by all CPUs: they are added to atomically.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/errno.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "trace.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LKVM_TRACE_MAX_EXITS);
	__type(key, struct lkvm_trace_exit_key);
	__type(value, struct lkvm_trace_exit);
} exits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LKVM_TRACE_MAX_VMS);
	__type(key, __u32);
	__type(value, struct lkvm_trace_vm);
} vms SEC(".maps");

/* Events not counted because a map was full. */
__u64 dropped;

/* The first value of a new exits entry: too big for the BPF stack. */
static struct lkvm_trace_exit empty_exit;

static __always_inline struct lkvm_trace_vm *vm_get(__u32 vm_id)
{
	struct lkvm_trace_vm *vm = bpf_map_lookup_elem(&vms, &vm_id);
	struct lkvm_trace_vm new = { .pid = bpf_get_current_pid_tgid() >> 32 };

	if (vm)
		return vm;
	/* Another CPU may create it first: then this insert fails, harmlessly. */
	bpf_map_update_elem(&vms, &vm_id, &new, BPF_NOEXIST);
	vm = bpf_map_lookup_elem(&vms, &vm_id);
	if (!vm)
		__sync_fetch_and_add(&dropped, 1);
	return vm;
}

static __always_inline struct lkvm_trace_exit *exit_get(__u32 vm_id, __u32 exit_code)
{
	struct lkvm_trace_exit_key key = { .vm_id = vm_id, .exit_code = exit_code };
	struct lkvm_trace_exit *e = bpf_map_lookup_elem(&exits, &key);

	if (e)
		return e;
	/* The VM's record comes with its first exit, so that it has its pid. */
	vm_get(vm_id);
	bpf_map_update_elem(&exits, &key, &empty_exit, BPF_NOEXIST);
	e = bpf_map_lookup_elem(&exits, &key);
	if (!e)
		__sync_fetch_and_add(&dropped, 1);
	return e;
}

static __always_inline __u32 log2_ns(__u64 v)
{
	__u32 r = 0;

	if (v >> 32) {
		v >>= 32;
		r += 32;
	}
	if (v >> 16) {
		v >>= 16;
		r += 16;
	}
	if (v >> 8) {
		v >>= 8;
		r += 8;
	}
	if (v >> 4) {
		v >>= 4;
		r += 4;
	}
	if (v >> 2) {
		v >>= 2;
		r += 2;
	}
	if (v >> 1)
		r += 1;
	return r;
}

SEC("tp_btf/lkvm_entry")
int BPF_PROG(lkvm_entry, __u32 vm_id, __u32 vcpu_id, __u64 rip, __u32 exit_code, __u64 ns)
{
	struct lkvm_trace_exit *e;
	__u32 b;

	/* A call's first entry follows no exit. */
	if (exit_code == LKVM_TRACE_NO_EXIT)
		return 0;
	e = exit_get(vm_id, exit_code);
	if (!e)
		return 0;
	__sync_fetch_and_add(&e->count, 1);
	/* 0: the exit came before the tracepoint was on, so it was not timed. */
	if (!ns)
		return 0;
	b = log2_ns(ns);
	if (b >= LKVM_TRACE_BUCKETS)
		b = LKVM_TRACE_BUCKETS - 1;
	__sync_fetch_and_add(&e->hist[b], 1);
	__sync_fetch_and_add(&e->lat_sum, ns);
	__sync_fetch_and_add(&e->lat_samples, 1);
	return 0;
}

SEC("tp_btf/lkvm_userspace_exit")
int BPF_PROG(lkvm_userspace_exit, __u32 vm_id, __u32 vcpu_id, __u32 reason, int ret,
	     __u32 exit_code)
{
	struct lkvm_trace_exit *e;
	struct lkvm_trace_vm *vm;

	/* The exit no entry followed goes to userspace: it has no latency. */
	if (exit_code != LKVM_TRACE_NO_EXIT) {
		e = exit_get(vm_id, exit_code);
		if (e)
			__sync_fetch_and_add(&e->count, 1);
	}
	vm = vm_get(vm_id);
	if (!vm)
		return 0;
	if (!ret)
		__sync_fetch_and_add(&vm->userspace_exits, 1);
	else if (ret == -EINTR)
		__sync_fetch_and_add(&vm->signal_exits, 1);
	return 0;
}
