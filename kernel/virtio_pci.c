// SPDX-License-Identifier: GPL-2.0-only
/*
 * The virtio 1.x PCI transport (virtio 1.x, 4.1), modern only: vendor
 * 0x1af4, device 0x1040 + type, revision 1, found by its vendor
 * capabilities.
 *
 * BAR0 is 256 I/O ports:
 *	0x00	common configuration (4.1.4.3)
 *	0x40	ISR status, cleared by reading
 *	0x44	notify: every queue's, the driver writes the queue's index
 *		(a notify_off_multiplier of 0)
 *	0x80	device configuration
 * BAR1 is 4 KiB of memory with the MSI-X table and pending bits.
 *
 * Accesses of the natural size of a field are served; others read as zero
 * and write nothing, which no driver needs more than.
 */
#include <linux/kernel.h>
#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include <linux/pci_ids.h>

#include "lkvm.h"
#include "trace.h"
#include "virtio_pci.h"

#define VIRTIO_PCI_VENDOR	0x1af4
#define VIRTIO_PCI_DEVICE_BASE	0x1040
#define VIRTIO_PCI_SUBSYS_ID	0x0041

#define BAR_IO			0
#define BAR_MSIX		1
#define IO_BAR_SIZE		0x100
#define COMMON_OFF		0x00
#define COMMON_LEN		0x38	/* up to queue_device; no 1.2 fields */
#define ISR_OFF			0x40
#define NOTIFY_OFF		0x44
#define NOTIFY_LEN		4
#define DEVICE_OFF		0x80
#define DEVICE_MAX_LEN		(IO_BAR_SIZE - DEVICE_OFF)

/* Where the capabilities sit in configuration space. */
#define CAP_MSIX		0x40
#define CAP_COMMON		0x50
#define CAP_NOTIFY		0x60
#define CAP_ISR			0x74
#define CAP_DEVICE		0x84

#define VIRTIO_ISR_QUEUE	0
#define VIRTIO_ISR_CONFIG	1

static void lkvm_virtio_put_cap(struct lkvm_pci_fn *f, u8 at, u8 next, u8 len, u8 type,
				u32 off, u32 length)
{
	u8 *cap = f->cfg + at;

	cap[0] = PCI_CAP_ID_VNDR;
	cap[1] = next;
	cap[2] = len;
	cap[3] = type;
	cap[4] = BAR_IO;
	lkvm_pci_put32(cap + 8, off);
	lkvm_pci_put32(cap + 12, length);
}

/*
 * The driver may change a queue's setup only while it is not enabled;
 * under @v->lock.
 */
static struct lkvm_vq *lkvm_virtio_sel_vq(struct lkvm_virtio *v)
{
	return v->queue_sel < v->nr_queues ? &v->vq[v->queue_sel] : NULL;
}

bool lkvm_virtio_queue_live(struct lkvm_virtio *v, u16 q)
{
	u8 status = READ_ONCE(v->status);

	return (status & VIRTIO_CONFIG_S_DRIVER_OK) && !(status & VIRTIO_CONFIG_S_NEEDS_RESET) &&
	       READ_ONCE(v->bus_master) && v->vq[q].enabled;
}

static bool lkvm_virtio_signal(struct lkvm_virtio *v, int isr_bit, u16 vector)
{
	set_bit(isr_bit, &v->isr);
	return lkvm_msix_signal(&v->msix, vector);
}

bool lkvm_virtio_signal_queue(struct lkvm_virtio *v, u16 q)
{
	return lkvm_virtio_signal(v, VIRTIO_ISR_QUEUE, READ_ONCE(v->vq[q].msix_vector));
}

void lkvm_virtio_config_changed(struct lkvm_virtio *v)
{
	WRITE_ONCE(v->config_gen, v->config_gen + 1);
	lkvm_virtio_signal(v, VIRTIO_ISR_CONFIG, READ_ONCE(v->config_vector));
}

/*
 * Lockless, as it is called with a queue lock held, which nests inside
 * @v->lock: the status only changes by cmpxchg.
 */
bool lkvm_virtio_broken(struct lkvm_virtio *v, u16 q, enum lkvm_vq_error err)
{
	u8 old;

	do {
		old = READ_ONCE(v->status);
		if (!old || (old & VIRTIO_CONFIG_S_NEEDS_RESET))
			return false;
	} while (cmpxchg(&v->status, old, old | VIRTIO_CONFIG_S_NEEDS_RESET) != old);
	trace_lkvm_net_broken(v->vm->id, v->index, q, err);
	lkvm_virtio_signal(v, VIRTIO_ISR_CONFIG, READ_ONCE(v->config_vector));
	return true;
}

/*
 * Back to the state at power-on; the device has stopped using the queues.
 * Returns the status before.
 */
static u8 lkvm_virtio_reset(struct lkvm_virtio *v)
{
	unsigned int q;
	u8 old;

	spin_lock_bh(&v->lock);
	old = xchg(&v->status, 0);
	spin_unlock_bh(&v->lock);
	v->ops->reset(v);
	spin_lock_bh(&v->lock);
	for (q = 0; q < v->nr_queues; q++) {
		spin_lock(&v->qlock[q]);
		lkvm_vq_reset(&v->vq[q]);
		v->vq[q].size = v->queue_max;
		spin_unlock(&v->qlock[q]);
	}
	v->dev_feature_sel = 0;
	v->drv_feature_sel = 0;
	WRITE_ONCE(v->driver_features, 0);
	v->queue_sel = 0;
	WRITE_ONCE(v->config_vector, VIRTIO_MSI_NO_VECTOR);
	v->isr = 0;
	spin_unlock_bh(&v->lock);
	return old;
}

void lkvm_virtio_shutdown(struct lkvm_virtio *v)
{
	lkvm_virtio_reset(v);
}

/*
 * Enabling a queue: its rings must lie in RAM at the alignment the spec
 * gives them (2.7), else the device refuses to go on.
 */
static bool lkvm_virtio_rings_ok(struct lkvm_virtio *v, const struct lkvm_vq *vq)
{
	u64 n = vq->size;

	return !(vq->desc_gpa % 16) && !(vq->avail_gpa % 2) && !(vq->used_gpa % 4) &&
	       lkvm_gpa_range_in_ram(v->vm, vq->desc_gpa, 16 * n) &&
	       lkvm_gpa_range_in_ram(v->vm, vq->avail_gpa, 6 + 2 * n) &&
	       lkvm_gpa_range_in_ram(v->vm, vq->used_gpa, 6 + 8 * n);
}

static void lkvm_virtio_enable_queue(struct lkvm_virtio *v, struct lkvm_vq *vq, u16 q)
{
	spin_lock(&v->qlock[q]);
	vq->event_idx = v->driver_features & BIT_ULL(VIRTIO_RING_F_EVENT_IDX);
	vq->indirect = v->driver_features & BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC);
	vq->last_avail = 0;
	vq->used_idx = 0;
	vq->published_used = 0;
	vq->signalled_valid = false;
	vq->enabled = true;
	spin_unlock(&v->qlock[q]);
}

static void lkvm_virtio_set_status(struct lkvm_virtio *v, u8 set, bool *driver_ok)
{
	u8 old, val;

	do {
		old = READ_ONCE(v->status);
		/* Bits only go on; NEEDS_RESET is the device's to set. */
		val = old | (set & ~VIRTIO_CONFIG_S_NEEDS_RESET);
		if ((val & VIRTIO_CONFIG_S_FEATURES_OK) && !(old & VIRTIO_CONFIG_S_FEATURES_OK) &&
		    ((v->driver_features & ~v->features) ||
		     !(v->driver_features & BIT_ULL(VIRTIO_F_VERSION_1))))
			/* Only features offered, and never the legacy interface. */
			val &= ~VIRTIO_CONFIG_S_FEATURES_OK;
		/* DRIVER_OK without FEATURES_OK is refused: the driver reads it back. */
		if (!(val & VIRTIO_CONFIG_S_FEATURES_OK))
			val &= ~VIRTIO_CONFIG_S_DRIVER_OK;
		*driver_ok = (val & ~old) & VIRTIO_CONFIG_S_DRIVER_OK;
	} while (cmpxchg(&v->status, old, val) != old);
}

static u16 lkvm_virtio_vector(struct lkvm_virtio *v, u16 vec)
{
	/* A vector the table does not have reads back as none, which drivers check. */
	return vec < v->msix.nr ? vec : VIRTIO_MSI_NO_VECTOR;
}

static void lkvm_virtio_common_write(struct lkvm_virtio *v, u32 off, u8 size, u32 val)
{
	bool driver_ok = false, bad = false, reset = false;
	u16 bad_q = 0;
	struct lkvm_vq *vq;
	u8 old_status;
	bool frozen;

	spin_lock_bh(&v->lock);
	vq = lkvm_virtio_sel_vq(v);
	frozen = !vq || vq->enabled;
	switch (off | (size << 8)) {
	case VIRTIO_PCI_COMMON_DFSELECT | 4 << 8:
		v->dev_feature_sel = val;
		break;
	case VIRTIO_PCI_COMMON_GFSELECT | 4 << 8:
		v->drv_feature_sel = val;
		break;
	case VIRTIO_PCI_COMMON_GF | 4 << 8:
		if (v->drv_feature_sel > 1 || (v->status & VIRTIO_CONFIG_S_FEATURES_OK))
			break;
		if (v->drv_feature_sel)
			WRITE_ONCE(v->driver_features,
				   (v->driver_features & 0xffffffffULL) | ((u64)val << 32));
		else
			WRITE_ONCE(v->driver_features,
				   (v->driver_features & ~0xffffffffULL) | val);
		break;
	case VIRTIO_PCI_COMMON_MSIX | 2 << 8:
		WRITE_ONCE(v->config_vector, lkvm_virtio_vector(v, val));
		break;
	case VIRTIO_PCI_COMMON_STATUS | 1 << 8:
		if (!val)
			reset = true;
		else
			lkvm_virtio_set_status(v, val, &driver_ok);
		break;
	case VIRTIO_PCI_COMMON_Q_SELECT | 2 << 8:
		v->queue_sel = val;
		break;
	case VIRTIO_PCI_COMMON_Q_SIZE | 2 << 8:
		if (!frozen && val && val <= v->queue_max && is_power_of_2(val))
			vq->size = val;
		break;
	case VIRTIO_PCI_COMMON_Q_MSIX | 2 << 8:
		if (vq)
			WRITE_ONCE(vq->msix_vector, lkvm_virtio_vector(v, val));
		break;
	case VIRTIO_PCI_COMMON_Q_ENABLE | 2 << 8:
		if (frozen || val != 1)
			break;
		if (lkvm_virtio_rings_ok(v, vq)) {
			lkvm_virtio_enable_queue(v, vq, v->queue_sel);
		} else {
			bad = true;
			bad_q = v->queue_sel;
		}
		break;
	case VIRTIO_PCI_COMMON_Q_DESCLO | 4 << 8:
		if (!frozen)
			vq->desc_gpa = (vq->desc_gpa & ~0xffffffffULL) | val;
		break;
	case VIRTIO_PCI_COMMON_Q_DESCHI | 4 << 8:
		if (!frozen)
			vq->desc_gpa = (vq->desc_gpa & 0xffffffffULL) | ((u64)val << 32);
		break;
	case VIRTIO_PCI_COMMON_Q_AVAILLO | 4 << 8:
		if (!frozen)
			vq->avail_gpa = (vq->avail_gpa & ~0xffffffffULL) | val;
		break;
	case VIRTIO_PCI_COMMON_Q_AVAILHI | 4 << 8:
		if (!frozen)
			vq->avail_gpa = (vq->avail_gpa & 0xffffffffULL) | ((u64)val << 32);
		break;
	case VIRTIO_PCI_COMMON_Q_USEDLO | 4 << 8:
		if (!frozen)
			vq->used_gpa = (vq->used_gpa & ~0xffffffffULL) | val;
		break;
	case VIRTIO_PCI_COMMON_Q_USEDHI | 4 << 8:
		if (!frozen)
			vq->used_gpa = (vq->used_gpa & 0xffffffffULL) | ((u64)val << 32);
		break;
	}
	spin_unlock_bh(&v->lock);
	if (reset) {
		old_status = lkvm_virtio_reset(v);
		trace_lkvm_net_reset(v->vm->id, v->index, old_status);
	}
	if (bad)
		lkvm_virtio_broken(v, bad_q, LKVM_VQ_ERR_SETUP);
	if (driver_ok)
		v->ops->driver_ok(v);
}

static u32 lkvm_virtio_common_read(struct lkvm_virtio *v, u32 off, u8 size)
{
	struct lkvm_vq *vq;
	u32 val = 0;

	spin_lock_bh(&v->lock);
	vq = lkvm_virtio_sel_vq(v);
	switch (off | (size << 8)) {
	case VIRTIO_PCI_COMMON_DFSELECT | 4 << 8:
		val = v->dev_feature_sel;
		break;
	case VIRTIO_PCI_COMMON_DF | 4 << 8:
		if (v->dev_feature_sel < 2)
			val = v->features >> (32 * v->dev_feature_sel);
		break;
	case VIRTIO_PCI_COMMON_GFSELECT | 4 << 8:
		val = v->drv_feature_sel;
		break;
	case VIRTIO_PCI_COMMON_GF | 4 << 8:
		if (v->drv_feature_sel < 2)
			val = v->driver_features >> (32 * v->drv_feature_sel);
		break;
	case VIRTIO_PCI_COMMON_MSIX | 2 << 8:
		val = v->config_vector;
		break;
	case VIRTIO_PCI_COMMON_NUMQ | 2 << 8:
		val = v->nr_queues;
		break;
	case VIRTIO_PCI_COMMON_STATUS | 1 << 8:
		val = v->status;
		break;
	case VIRTIO_PCI_COMMON_CFGGENERATION | 1 << 8:
		val = v->config_gen;
		break;
	case VIRTIO_PCI_COMMON_Q_SELECT | 2 << 8:
		val = v->queue_sel;
		break;
	case VIRTIO_PCI_COMMON_Q_SIZE | 2 << 8:
		val = vq ? vq->size : 0;
		break;
	case VIRTIO_PCI_COMMON_Q_MSIX | 2 << 8:
		val = vq ? vq->msix_vector : VIRTIO_MSI_NO_VECTOR;
		break;
	case VIRTIO_PCI_COMMON_Q_ENABLE | 2 << 8:
		val = vq ? vq->enabled : 0;
		break;
	case VIRTIO_PCI_COMMON_Q_NOFF | 2 << 8:
		val = 0;
		break;
	case VIRTIO_PCI_COMMON_Q_DESCLO | 4 << 8:
		val = vq ? vq->desc_gpa : 0;
		break;
	case VIRTIO_PCI_COMMON_Q_DESCHI | 4 << 8:
		val = vq ? vq->desc_gpa >> 32 : 0;
		break;
	case VIRTIO_PCI_COMMON_Q_AVAILLO | 4 << 8:
		val = vq ? vq->avail_gpa : 0;
		break;
	case VIRTIO_PCI_COMMON_Q_AVAILHI | 4 << 8:
		val = vq ? vq->avail_gpa >> 32 : 0;
		break;
	case VIRTIO_PCI_COMMON_Q_USEDLO | 4 << 8:
		val = vq ? vq->used_gpa : 0;
		break;
	case VIRTIO_PCI_COMMON_Q_USEDHI | 4 << 8:
		val = vq ? vq->used_gpa >> 32 : 0;
		break;
	}
	spin_unlock_bh(&v->lock);
	return val;
}

static int lkvm_virtio_bar_read(void *opaque, struct lkvm_vcpu *vcpu, int bar, u32 off,
				u8 size, u64 *val)
{
	struct lkvm_virtio *v = opaque;
	u32 r = 0;

	if (bar == BAR_MSIX) {
		lkvm_msix_bar_read(&v->msix, off, size, val);
		return 0;
	}
	if (off < COMMON_OFF + COMMON_LEN)
		r = lkvm_virtio_common_read(v, off - COMMON_OFF, size);
	else if (off == ISR_OFF && size == 1)
		r = xchg(&v->isr, 0);
	else if (off >= DEVICE_OFF && off + size <= DEVICE_OFF + v->cfg_len)
		v->ops->cfg_read(v, off - DEVICE_OFF, size, &r);
	*val = r;
	return 0;
}

static int lkvm_virtio_bar_write(void *opaque, struct lkvm_vcpu *vcpu, int bar, u32 off,
				 u8 size, u64 val)
{
	struct lkvm_virtio *v = opaque;

	if (bar == BAR_MSIX) {
		lkvm_msix_bar_write(&v->msix, off, size, val);
	} else if (off < COMMON_OFF + COMMON_LEN) {
		lkvm_virtio_common_write(v, off - COMMON_OFF, size, val);
	} else if (off == NOTIFY_OFF && (size == 2 || size == 4)) {
		/* The queue's index; without NOTIFICATION_DATA nothing else. */
		if ((u16)val < v->nr_queues)
			v->ops->notify(v, val);
	}
	/* The device configuration of a network device is read-only. */
	return 0;
}

static void lkvm_virtio_cfg_written(void *opaque, const u8 *cfg, unsigned int off,
				    unsigned int size)
{
	struct lkvm_virtio *v = opaque;

	WRITE_ONCE(v->bus_master, lkvm_pci_get16(cfg + PCI_COMMAND) & PCI_COMMAND_MASTER);
	lkvm_msix_cfg_written(&v->msix, cfg, CAP_MSIX, off, size);
}

static const struct lkvm_pci_fn_ops lkvm_virtio_pci_ops = {
	.bar_read = lkvm_virtio_bar_read,
	.bar_write = lkvm_virtio_bar_write,
	.cfg_written = lkvm_virtio_cfg_written,
};

int lkvm_virtio_pci_init(struct lkvm_virtio *v, u16 io_base, u32 mem_base)
{
	struct lkvm_pci_fn *f;
	unsigned int q;
	u8 *cfg;
	int devfn;

	if (v->cfg_len > DEVICE_MAX_LEN || v->nr_queues > LKVM_VIRTIO_MAX_QUEUES ||
	    v->nr_queues + 1 > LKVM_MSIX_MAX_VECTORS)
		return -EINVAL;
	f = kzalloc(sizeof(*f), GFP_KERNEL_ACCOUNT);
	if (!f)
		return -ENOMEM;
	spin_lock_init(&v->lock);
	for (q = 0; q < v->nr_queues; q++) {
		spin_lock_init(&v->qlock[q]);
		lkvm_vq_reset(&v->vq[q]);
		v->vq[q].size = v->queue_max;
	}
	v->config_vector = VIRTIO_MSI_NO_VECTOR;
	cfg = f->cfg;
	lkvm_pci_put16(cfg + PCI_VENDOR_ID, VIRTIO_PCI_VENDOR);
	lkvm_pci_put16(cfg + PCI_DEVICE_ID, VIRTIO_PCI_DEVICE_BASE + v->device_id);
	lkvm_pci_put16(cfg + PCI_STATUS, PCI_STATUS_CAP_LIST);
	cfg[PCI_REVISION_ID] = 1;
	/* The class the device type names: 02 00 00 is an Ethernet controller. */
	cfg[PCI_CLASS_DEVICE + 1] = PCI_BASE_CLASS_NETWORK;
	cfg[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_NORMAL;
	lkvm_pci_put16(cfg + PCI_SUBSYSTEM_VENDOR_ID, VIRTIO_PCI_VENDOR);
	lkvm_pci_put16(cfg + PCI_SUBSYSTEM_ID, VIRTIO_PCI_SUBSYS_ID);
	cfg[PCI_CAPABILITY_LIST] = CAP_MSIX;
	lkvm_pci_put16(f->wmask + PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY |
		       PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	lkvm_pci_fn_set_bar(f, BAR_IO, true, IO_BAR_SIZE, io_base);
	lkvm_pci_fn_set_bar(f, BAR_MSIX, false, LKVM_MSIX_BAR_SIZE, mem_base);
	/* One vector for configuration changes, one per queue. */
	lkvm_msix_init(&v->msix, v->vm, v->nr_queues + 1, f, CAP_MSIX, CAP_COMMON, BAR_MSIX);
	lkvm_virtio_put_cap(f, CAP_COMMON, CAP_NOTIFY, 16, VIRTIO_PCI_CAP_COMMON_CFG,
			    COMMON_OFF, COMMON_LEN);
	lkvm_virtio_put_cap(f, CAP_NOTIFY, CAP_ISR, 20, VIRTIO_PCI_CAP_NOTIFY_CFG,
			    NOTIFY_OFF, NOTIFY_LEN);
	lkvm_pci_put32(cfg + CAP_NOTIFY + 16, 0);	/* notify_off_multiplier */
	lkvm_virtio_put_cap(f, CAP_ISR, CAP_DEVICE, 16, VIRTIO_PCI_CAP_ISR_CFG, ISR_OFF, 1);
	lkvm_virtio_put_cap(f, CAP_DEVICE, 0, 16, VIRTIO_PCI_CAP_DEVICE_CFG, DEVICE_OFF,
			    v->cfg_len);
	f->ops = &lkvm_virtio_pci_ops;
	f->opaque = v;
	devfn = lkvm_pci_register(v->vm, f);
	if (devfn < 0) {
		kfree(f);
		return devfn;
	}
	v->fn = f;
	v->devfn = devfn;
	return 0;
}
