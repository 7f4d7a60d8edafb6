/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The virtio 1.x PCI transport (virtio_pci.c): a modern-only virtio-pci
 * function whose common configuration, ISR, notify and device
 * configuration structures sit in an I/O-port BAR (so every access is an
 * IOIO exit, which needs no decoding), and whose MSI-X table sits in a
 * memory BAR. A device type (virtio_net.c) supplies the rest.
 */
#ifndef LKVM_VIRTIO_PCI_H
#define LKVM_VIRTIO_PCI_H

#include <linux/spinlock.h>
#include <linux/types.h>

#include "msix.h"
#include "pci.h"
#include "virtqueue.h"

#define LKVM_VIRTIO_MAX_QUEUES	4

struct lkvm_virtio;

struct lkvm_virtio_ops {
	/* Device configuration space (its structure is the device type's). */
	void (*cfg_read)(struct lkvm_virtio *v, u32 off, u8 size, u32 *val);
	/* The driver wrote queue @q's notify register. */
	void (*notify)(struct lkvm_virtio *v, u16 q);
	/* DRIVER_OK was set: the queues are live. */
	void (*driver_ok)(struct lkvm_virtio *v);
	/*
	 * The driver reset the device (or the VM is going): the device stops
	 * touching the queues; the transport resets them after this returns.
	 */
	void (*reset)(struct lkvm_virtio *v);
};

struct lkvm_virtio {
	struct lkvm_vm *vm;
	const struct lkvm_virtio_ops *ops;
	void *priv;
	u16 device_id;		/* virtio device type: 1 for network */
	u32 index;		/* which of the VM's devices of its type, in events */
	u64 features;		/* what the device offers */
	u16 nr_queues;
	u16 queue_max;		/* each queue's largest (and default) size */
	u32 cfg_len;		/* bytes of device configuration */
	/*
	 * Serializes the common configuration: status, features, the
	 * queues' setup. Taken with BHs off, before any queue lock.
	 */
	spinlock_t lock;
	u8 status;
	u8 config_gen;
	u32 dev_feature_sel;
	u32 drv_feature_sel;
	u64 driver_features;
	u16 queue_sel;
	u16 config_vector;
	bool bus_master;	/* the function may reach memory */
	unsigned long isr;	/* bit 0: a queue, bit 1: the configuration */
	/*
	 * Each queue's lock: whoever processes a queue holds it (with BHs
	 * off), and its setup changes only under both it and @lock.
	 */
	spinlock_t qlock[LKVM_VIRTIO_MAX_QUEUES];
	struct lkvm_vq vq[LKVM_VIRTIO_MAX_QUEUES];
	struct lkvm_msix msix;
	struct lkvm_pci_fn *fn;
	int devfn;
};

/*
 * Build the PCI function of @v (fields above ops..cfg_len filled in) with
 * its BARs at @io_base (256 ports) and @mem_base (4 KiB), and put it on
 * bus 0. Returns 0 or -errno; @v->devfn says where it went.
 */
int lkvm_virtio_pci_init(struct lkvm_virtio *v, u16 io_base, u32 mem_base);
/*
 * The queue is usable by the device: DRIVER_OK, not broken, bus master,
 * the queue enabled. Under its qlock.
 */
bool lkvm_virtio_queue_live(struct lkvm_virtio *v, u16 q);
/* The driver negotiated @bit (VIRTIO_NET_F_*, VIRTIO_F_*). */
static inline bool lkvm_virtio_has(struct lkvm_virtio *v, unsigned int bit)
{
	return READ_ONCE(v->driver_features) & BIT_ULL(bit);
}

/* Interrupt the driver for queue @q, or for a configuration change; any context. */
bool lkvm_virtio_signal_queue(struct lkvm_virtio *v, u16 q);
void lkvm_virtio_config_changed(struct lkvm_virtio *v);
/*
 * The driver broke the rules of queue @q (@err says which):
 * DEVICE_NEEDS_RESET, a configuration interrupt, and no queue is processed
 * until it resets the device. Returns true if this call set NEEDS_RESET
 * (false: it was set already, or the device is reset).
 */
bool lkvm_virtio_broken(struct lkvm_virtio *v, u16 q, enum lkvm_vq_error err);
/* Stop the device for good (the VM is going): like a reset, from the host. */
void lkvm_virtio_shutdown(struct lkvm_virtio *v);

#endif /* LKVM_VIRTIO_PCI_H */
