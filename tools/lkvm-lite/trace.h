/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lkvm-lite trace: the maps that trace.bpf.c fills and trace.c reads, so
 * both sides share one layout.
 */
#ifndef LKVM_LITE_TRACE_H
#define LKVM_LITE_TRACE_H

#include <linux/types.h>

/*
 * Latency buckets, log2 of nanoseconds: bucket i holds [2^i, 2^(i+1) - 1],
 * bucket 0 also 0. 64 of them cover every u64, so none is open-ended.
 */
#define LKVM_TRACE_BUCKETS	64

/* kernel/trace.h: an lkvm_entry or lkvm_userspace_exit with no exit to report. */
#define LKVM_TRACE_NO_EXIT	0xffffffffU

/*
 * The exit counters are an array, so that an exit costs the BPF program
 * two array lookups (inlined) rather than a hash lookup: a slot per VM,
 * VM id modulo the number of slots, each with a row per exit code. A VM
 * whose slot another VM holds is counted in "dropped".
 */
#define LKVM_TRACE_VM_SLOTS	16
/* Exit codes 0x00-0xff, 0x400-0x403 (NPF and the AVIC ones), and the rest. */
#define LKVM_TRACE_CODES	261
#define LKVM_TRACE_MAX_VMS	1024

static inline unsigned int lkvm_trace_code_index(__u32 exit_code)
{
	if (exit_code < 0x100)
		return exit_code;
	if (exit_code >= 0x400 && exit_code <= 0x403)
		return 0x100 + exit_code - 0x400;
	return LKVM_TRACE_CODES - 1;
}

/* The other way; the last row gathers every code not listed above. */
static inline __u32 lkvm_trace_index_code(unsigned int index)
{
	return index < 0x100 ? index : index < LKVM_TRACE_CODES - 1 ? 0x400 + index - 0x100 :
	       0xffffffff;
}

struct lkvm_trace_exit_key {
	__u32 vm_id;
	__u32 exit_code;		/* SVM_EXIT_* */
};

/*
 * Exits of one code in one VM. The latency of an exit is the time from it
 * to the same vCPU's next entry, for exits that go back into the guest.
 */
struct lkvm_trace_exit {
	__u64 count;
	__u64 lat_samples;
	__u64 lat_sum;			/* ns */
	__u64 hist[LKVM_TRACE_BUCKETS];
};

struct lkvm_trace_vm {
	__u32 pid;			/* the tgid first seen running it */
	__u32 pad;
	__u64 userspace_exits;		/* LKVM_RUN returned 0 */
	__u64 signal_exits;		/* LKVM_RUN returned -EINTR */
};

int cmd_trace(int argc, char **argv);

#endif /* LKVM_LITE_TRACE_H */
