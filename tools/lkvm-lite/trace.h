/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lkvm-lite trace: the maps that trace.bpf.c fills and trace.c reads, so
 * both sides share one layout.
 */
#ifndef LKVM_LITE_TRACE_H
#define LKVM_LITE_TRACE_H

#include <linux/types.h>
#include <linux/lkvm_lite.h>	/* LKVM_TRACE_NO_EXIT */

/*
 * Latency buckets, log2 of nanoseconds: bucket i holds [2^i, 2^(i+1) - 1],
 * bucket 0 also 0. 64 of them cover every u64, so none is open-ended.
 */
#define LKVM_TRACE_BUCKETS	64


/*
 * Room for the (VM, exit code) pairs seen while tracing: a VM uses about
 * ten codes, so this is hundreds of VMs. A full map is counted in "dropped".
 */
#define LKVM_TRACE_MAX_EXITS	8192
#define LKVM_TRACE_MAX_VMS	1024

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
