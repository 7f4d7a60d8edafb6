// SPDX-License-Identifier: GPL-2.0-only
/*
 * Split virtqueues from the device's side (virtio 1.x, 2.7).
 *
 * The three rings live in guest RAM and the driver may rewrite any of it
 * at any time, so each field is read once, into host memory, and checked
 * there: descriptor indexes against the queue size, chains against a
 * length and count limit (a loop is a chain longer than its table),
 * buffers against the memory slots, directions against the order the
 * spec requires, indirect tables against their own size and against
 * nesting. A chain that fails any check is refused and the caller breaks
 * the queue: the spec's answer is DEVICE_NEEDS_RESET, and it keeps a
 * hostile driver from making the device spin.
 *
 * Ordering: the driver writes ring entries, then avail->idx; so idx is
 * read first, then a read barrier, then the entries. The device writes
 * used entries, then a write barrier, then used->idx; and a full barrier
 * separates that store from reading used_event, which pairs with the
 * driver's barrier between updating used_event and reading used->idx.
 */
#include <linux/highmem.h>
#include <linux/kernel.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "lkvm.h"
#include "virtqueue.h"

/* Offsets in the rings (2.7.6, 2.7.8). */
#define AVAIL_FLAGS		0
#define AVAIL_IDX		2
#define AVAIL_RING(i)		(4 + 2 * (i))
#define USED_FLAGS		0
#define USED_IDX		2
#define USED_RING(i)		(4 + 8 * (i))

void lkvm_vq_reset(struct lkvm_vq *vq)
{
	*vq = (struct lkvm_vq){ .msix_vector = VIRTIO_MSI_NO_VECTOR };
}

static int lkvm_vq_read16(struct lkvm_vm *vm, u64 gpa, u16 *v)
{
	__le16 le;

	if (lkvm_read_guest(vm, gpa, &le, sizeof(le)))
		return -EFAULT;
	*v = le16_to_cpu(le);
	return 0;
}

static int lkvm_vq_write16(struct lkvm_vm *vm, u64 gpa, u16 v)
{
	__le16 le = cpu_to_le16(v);

	return lkvm_write_guest(vm, gpa, &le, sizeof(le));
}

/* [@gpa, @gpa + @len) is in one memory slot. */
static bool lkvm_vq_buf_ok(struct lkvm_vm *vm, u64 gpa, u32 len)
{
	return len && gpa + len > gpa && lkvm_gpa_range_in_ram(vm, gpa, len);
}

struct lkvm_vq_walk {
	struct lkvm_vq_chain *c;
	bool seen_in;
	u32 total;
};

static enum lkvm_vq_error lkvm_vq_add_buf(struct lkvm_vm *vm, struct lkvm_vq_walk *w,
					  const struct vring_desc *d)
{
	struct lkvm_vq_chain *c = w->c;
	u64 addr = le64_to_cpu(d->addr);
	u32 len = le32_to_cpu(d->len);
	bool in = le16_to_cpu(d->flags) & VRING_DESC_F_WRITE;

	/* A zero-length buffer carries nothing: skip it, as drivers may send one. */
	if (!len)
		return LKVM_VQ_OK;
	if (c->nr_out + c->nr_in >= LKVM_VQ_MAX_BUFS || len > LKVM_VQ_MAX_CHAIN_LEN - w->total)
		return LKVM_VQ_ERR_LEN;
	if (!lkvm_vq_buf_ok(vm, addr, len))
		return LKVM_VQ_ERR_ADDR;
	if (!in && w->seen_in)
		return LKVM_VQ_ERR_ORDER;
	w->seen_in |= in;
	w->total += len;
	c->buf[c->nr_out + c->nr_in] = (struct lkvm_vq_buf){ .gpa = addr, .len = len };
	if (in) {
		c->nr_in++;
		c->in_len += len;
	} else {
		c->nr_out++;
		c->out_len += len;
	}
	return LKVM_VQ_OK;
}

/* The descriptors of an indirect table at @d (2.7.5.3). */
static enum lkvm_vq_error lkvm_vq_walk_indirect(struct lkvm_vm *vm, struct lkvm_vq_walk *w,
						const struct vring_desc *d)
{
	u64 table = le64_to_cpu(d->addr);
	u32 len = le32_to_cpu(d->len);
	unsigned int n = len / sizeof(struct vring_desc), i = 0, count;
	enum lkvm_vq_error err;
	struct vring_desc e;

	if (!len || len % sizeof(struct vring_desc) || n > LKVM_VQ_MAX_SIZE)
		return LKVM_VQ_ERR_INDIRECT;
	if (!lkvm_vq_buf_ok(vm, table, len))
		return LKVM_VQ_ERR_ADDR;
	for (count = 0;; count++) {
		if (count >= n)
			return LKVM_VQ_ERR_LOOP;
		if (lkvm_read_guest(vm, table + i * sizeof(e), &e, sizeof(e)))
			return LKVM_VQ_ERR_ADDR;
		if (le16_to_cpu(e.flags) & VRING_DESC_F_INDIRECT)
			return LKVM_VQ_ERR_INDIRECT;
		err = lkvm_vq_add_buf(vm, w, &e);
		if (err)
			return err;
		if (!(le16_to_cpu(e.flags) & VRING_DESC_F_NEXT))
			return LKVM_VQ_OK;
		i = le16_to_cpu(e.next);
		if (i >= n)
			return LKVM_VQ_ERR_HEAD;
	}
}

static enum lkvm_vq_error lkvm_vq_walk(struct lkvm_vm *vm, struct lkvm_vq *vq, u16 head,
				       struct lkvm_vq_chain *c)
{
	struct lkvm_vq_walk w = { .c = c };
	unsigned int i = head, count;
	enum lkvm_vq_error err;
	struct vring_desc d;
	u16 flags;

	c->head = head;
	c->nr_out = 0;
	c->nr_in = 0;
	c->out_len = 0;
	c->in_len = 0;
	for (count = 0;; count++) {
		if (i >= vq->size)
			return LKVM_VQ_ERR_HEAD;
		if (count >= vq->size)
			return LKVM_VQ_ERR_LOOP;
		if (lkvm_read_guest(vm, vq->desc_gpa + i * sizeof(d), &d, sizeof(d)))
			return LKVM_VQ_ERR_RING;
		flags = le16_to_cpu(d.flags);
		if (flags & VRING_DESC_F_INDIRECT) {
			/* An indirect descriptor is the only one of its chain (2.7.5.3.1). */
			if (!vq->indirect || (flags & VRING_DESC_F_NEXT) || count)
				return LKVM_VQ_ERR_INDIRECT;
			return lkvm_vq_walk_indirect(vm, &w, &d);
		}
		err = lkvm_vq_add_buf(vm, &w, &d);
		if (err)
			return err;
		if (!(flags & VRING_DESC_F_NEXT))
			return LKVM_VQ_OK;
		i = le16_to_cpu(d.next);
	}
}

/* The driver's avail->idx, checked: it may run at most a queue ahead. */
static enum lkvm_vq_error lkvm_vq_avail_idx(struct lkvm_vm *vm, struct lkvm_vq *vq, u16 *idx)
{
	if (lkvm_vq_read16(vm, vq->avail_gpa + AVAIL_IDX, idx))
		return LKVM_VQ_ERR_RING;
	if ((u16)(*idx - vq->last_avail) > vq->size)
		return LKVM_VQ_ERR_AVAIL;
	return LKVM_VQ_OK;
}

bool lkvm_vq_has_avail(struct lkvm_vm *vm, struct lkvm_vq *vq)
{
	u16 idx;

	return !lkvm_vq_avail_idx(vm, vq, &idx) && idx != vq->last_avail;
}

int lkvm_vq_pop(struct lkvm_vm *vm, struct lkvm_vq *vq, struct lkvm_vq_chain *c,
		enum lkvm_vq_error *err)
{
	u16 idx, head;

	*err = lkvm_vq_avail_idx(vm, vq, &idx);
	if (*err)
		return -EINVAL;
	if (idx == vq->last_avail)
		return 0;
	*err = LKVM_VQ_ERR_RING;
	/* The entries are read only after the index that published them. */
	smp_rmb();
	if (lkvm_vq_read16(vm, vq->avail_gpa + AVAIL_RING(vq->last_avail % vq->size), &head))
		return -EINVAL;
	*err = lkvm_vq_walk(vm, vq, head, c);
	if (*err)
		return -EINVAL;
	vq->last_avail++;
	return 1;
}

void lkvm_vq_unpop(struct lkvm_vq *vq, u16 n)
{
	vq->last_avail -= n;
}

int lkvm_vq_push(struct lkvm_vm *vm, struct lkvm_vq *vq, u16 head, u32 len)
{
	struct vring_used_elem e = {
		.id = cpu_to_le32(head),
		.len = cpu_to_le32(len),
	};

	if (lkvm_write_guest(vm, vq->used_gpa + USED_RING(vq->used_idx % vq->size), &e, sizeof(e)))
		return -EFAULT;
	vq->used_idx++;
	return 0;
}

bool lkvm_vq_publish(struct lkvm_vm *vm, struct lkvm_vq *vq)
{
	u16 old = vq->published_used, now = vq->used_idx, flags, event;
	bool need;

	if (old == now)
		return false;
	/* The entries before the index that publishes them. */
	smp_wmb();
	if (lkvm_vq_write16(vm, vq->used_gpa + USED_IDX, now))
		return false;
	vq->published_used = now;
	/* The index before reading what the driver wants, which it wrote before reading it. */
	smp_mb();
	if (!vq->event_idx) {
		if (lkvm_vq_read16(vm, vq->avail_gpa + AVAIL_FLAGS, &flags))
			return false;
		return !(flags & VRING_AVAIL_F_NO_INTERRUPT);
	}
	/* used_event sits after the avail ring's entries (2.7.7.2). */
	if (lkvm_vq_read16(vm, vq->avail_gpa + AVAIL_RING(vq->size), &event))
		return false;
	need = !vq->signalled_valid || vring_need_event(event, now, vq->signalled_used);
	if (need) {
		vq->signalled_used = now;
		vq->signalled_valid = true;
	}
	return need;
}

bool lkvm_vq_notify(struct lkvm_vm *vm, struct lkvm_vq *vq, bool on)
{
	if (vq->event_idx) {
		/*
		 * avail_event after the used ring's entries: the driver
		 * notifies once it makes entry last_avail available. Off,
		 * it is simply left behind, which the driver checks against.
		 */
		if (!on)
			return false;
		if (lkvm_vq_write16(vm, vq->used_gpa + USED_RING(vq->size), vq->last_avail))
			return false;
	} else {
		if (lkvm_vq_write16(vm, vq->used_gpa + USED_FLAGS, on ? 0 : VRING_USED_F_NO_NOTIFY))
			return false;
		if (!on)
			return false;
	}
	/* Publishing the request before looking again, as the driver does the reverse. */
	smp_mb();
	return lkvm_vq_has_avail(vm, vq);
}

int lkvm_vq_iter(struct lkvm_vm *vm, const struct lkvm_vq_chain *c, bool in, u32 off, u32 len,
		 int (*fn)(void *ctx, void *p, u32 n), void *ctx)
{
	unsigned int first = in ? c->nr_out : 0, n = in ? c->nr_in : c->nr_out, i;
	int ret;

	for (i = first; i < first + n && len; i++) {
		const struct lkvm_vq_buf *b = &c->buf[i];
		u32 chunk;

		if (off >= b->len) {
			off -= b->len;
			continue;
		}
		chunk = min(len, b->len - off);
		ret = lkvm_guest_iter(vm, b->gpa + off, chunk, fn, ctx);
		if (ret)
			return ret;
		len -= chunk;
		off = 0;
	}
	return len ? -EFAULT : 0;
}

struct lkvm_vq_copy_ctx {
	void *host;
	bool to_guest;
};

static int lkvm_vq_copy_piece(void *ctx, void *p, u32 n)
{
	struct lkvm_vq_copy_ctx *c = ctx;

	if (c->to_guest)
		memcpy(p, c->host, n);
	else
		memcpy(c->host, p, n);
	c->host += n;
	return 0;
}

int lkvm_vq_copy_from(struct lkvm_vm *vm, const struct lkvm_vq_chain *c, u32 off,
		      void *dst, u32 len)
{
	struct lkvm_vq_copy_ctx ctx = { .host = dst };

	return lkvm_vq_iter(vm, c, false, off, len, lkvm_vq_copy_piece, &ctx);
}

int lkvm_vq_copy_to(struct lkvm_vm *vm, const struct lkvm_vq_chain *c, u32 off,
		    const void *src, u32 len)
{
	struct lkvm_vq_copy_ctx ctx = { .host = (void *)src, .to_guest = true };

	return lkvm_vq_iter(vm, c, true, off, len, lkvm_vq_copy_piece, &ctx);
}
