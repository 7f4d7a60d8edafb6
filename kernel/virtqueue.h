/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Split virtqueues (virtio 1.x, 2.7) in guest memory, from the device's
 * side (virtqueue.c): taking the descriptor chains the driver made
 * available, returning them as used, and the two notification
 * suppressions (flags, or EVENT_IDX).
 */
#ifndef LKVM_VIRTQUEUE_H
#define LKVM_VIRTQUEUE_H

#include <linux/types.h>

struct lkvm_vm;
struct lkvm_memslot;

#define LKVM_VQ_MAX_SIZE	256
/* The most buffers one chain may have, an indirect table's included. */
#define LKVM_VQ_MAX_BUFS	64
/* The most bytes one chain may carry: a 64 KiB frame and a header, with room. */
#define LKVM_VQ_MAX_CHAIN_LEN	(128U << 10)

struct lkvm_vq {
	/* What the driver set through the common configuration. */
	u16 size;
	u16 msix_vector;
	bool enabled;
	u64 desc_gpa;
	u64 avail_gpa;
	u64 used_gpa;
	/* Negotiated features. */
	bool event_idx;
	bool indirect;
	/* The device's own state. */
	u16 last_avail;		/* the next available entry to take */
	u16 used_idx;		/* the next used entry to write */
	u16 published_used;	/* used->idx as the driver last saw it */
	u16 signalled_used;	/* used->idx when the driver was last interrupted */
	bool signalled_valid;
};

/* One guest buffer of a chain: bytes [@gpa, @gpa + @len), all in RAM. */
struct lkvm_vq_buf {
	u64 gpa;
	u32 len;
};

/*
 * A descriptor chain: the device-readable buffers first (@nr_out of
 * them), then the device-writable ones (@nr_in).
 */
struct lkvm_vq_chain {
	u16 head;
	u16 nr_out;
	u16 nr_in;
	u32 out_len;
	u32 in_len;
	struct lkvm_vq_buf buf[LKVM_VQ_MAX_BUFS];
};

/*
 * Why a chain (or a queue) was refused: every one is the driver's fault.
 * Each is its own reason in the lkvm_net_broken event.
 */
enum lkvm_vq_error {
	LKVM_VQ_OK,
	LKVM_VQ_ERR_RING,	/* the rings are not in RAM */
	LKVM_VQ_ERR_AVAIL,	/* avail->idx ran more than a queue ahead */
	LKVM_VQ_ERR_HEAD,	/* a descriptor index past the queue size */
	LKVM_VQ_ERR_LOOP,	/* more descriptors than the queue (or table) has */
	LKVM_VQ_ERR_ADDR,	/* a buffer outside guest RAM, or wrapping */
	LKVM_VQ_ERR_ORDER,	/* a readable buffer after a writable one */
	LKVM_VQ_ERR_INDIRECT,	/* a bad indirect table, or one inside another */
	LKVM_VQ_ERR_LEN,	/* too many buffers or bytes for one chain */
	/* The device's own rules about a chain the queue took. */
	LKVM_VQ_ERR_WRITABLE,	/* a writable buffer where the device only reads */
	LKVM_VQ_ERR_READABLE,	/* a readable buffer where the device only writes */
	/* The queue, when the driver enabled it. */
	LKVM_VQ_ERR_SETUP,	/* rings misaligned or not in RAM */
};

/* Device reset: forget everything the driver set. */
void lkvm_vq_reset(struct lkvm_vq *vq);
/*
 * Take the next available chain into @c. Returns 1 with a chain, 0 if
 * none is available, or -EINVAL with *@err saying what was wrong. A
 * refused chain is not taken: the queue is broken until reset.
 */
int lkvm_vq_pop(struct lkvm_vm *vm, struct lkvm_vq *vq, struct lkvm_vq_chain *c,
		enum lkvm_vq_error *err);
/* Give back the last @n chains taken and not yet pushed. */
void lkvm_vq_unpop(struct lkvm_vq *vq, u16 n);
/* Return chain @head as used, @len bytes written; the driver sees it on publish. */
int lkvm_vq_push(struct lkvm_vm *vm, struct lkvm_vq *vq, u16 head, u32 len);
/*
 * Make the pushed entries visible to the driver. Returns true if it asked
 * to be interrupted for them (no VRING_AVAIL_F_NO_INTERRUPT, or its
 * used_event crossed).
 */
bool lkvm_vq_publish(struct lkvm_vm *vm, struct lkvm_vq *vq);
/*
 * Ask the driver to notify (@on) or not to (while the device is busy
 * with the queue anyway). After turning them on, returns true if chains
 * arrived meanwhile, which the device must then take itself.
 */
bool lkvm_vq_notify(struct lkvm_vm *vm, struct lkvm_vq *vq, bool on);
/* Chains are available. */
bool lkvm_vq_has_avail(struct lkvm_vm *vm, struct lkvm_vq *vq);

/*
 * Call @fn on each piece of @len bytes at byte @off of the readable
 * (!@in) or writable (@in) buffers, through the kernel's mapping.
 * -EFAULT if they are shorter; else @fn's first nonzero return, or 0.
 */
int lkvm_vq_iter(struct lkvm_vm *vm, const struct lkvm_vq_chain *c, bool in, u32 off, u32 len,
		 int (*fn)(void *ctx, void *p, u32 n), void *ctx);
/*
 * Copy between a chain and host memory: @len bytes at byte @off of the
 * readable (from) or writable (to) buffers. -EFAULT if they are shorter.
 */
int lkvm_vq_copy_from(struct lkvm_vm *vm, const struct lkvm_vq_chain *c, u32 off,
		      void *dst, u32 len);
int lkvm_vq_copy_to(struct lkvm_vm *vm, const struct lkvm_vq_chain *c, u32 off,
		    const void *src, u32 len);

#endif /* LKVM_VIRTQUEUE_H */
