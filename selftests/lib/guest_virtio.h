/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest: a bare virtio 1.x PCI driver (modern only, polling, no
 * interrupts) for guests that drive a virtio device themselves, as a
 * hostile or a tracing test needs: find the function on bus 0, walk its
 * vendor capabilities to the common, notify, ISR and device structures,
 * negotiate, set up split queues in the guest's own memory, and put
 * descriptor chains on them. One device per guest (the global "vio").
 *
 * Nothing here checks what the caller puts on a queue: writing what no
 * driver should is the point of the tests that use it.
 */
#ifndef LKVM_SELFTEST_GUEST_VIRTIO_H
#define LKVM_SELFTEST_GUEST_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#include "guest_pci.h"

#define PCI_COMMAND		0x04
#define PCI_COMMAND_IO		0x1
#define PCI_COMMAND_MEMORY	0x2
#define PCI_COMMAND_MASTER	0x4
#define PCI_STATUS_CAP_LIST	0x10
#define PCI_BAR0		0x10
#define PCI_CAP_PTR		0x34
#define PCI_CAP_ID_VNDR		0x09

#define VIRTIO_VENDOR		0x1af4
#define VIRTIO_NET_MODERN	0x1041

/* cfg_type of struct virtio_pci_cap */
#define VIRTIO_CAP_COMMON	1
#define VIRTIO_CAP_NOTIFY	2
#define VIRTIO_CAP_ISR		3
#define VIRTIO_CAP_DEVICE	4

/* struct virtio_pci_common_cfg */
#define CC_DFSELECT		0x00
#define CC_DF			0x04
#define CC_GFSELECT		0x08
#define CC_GF			0x0c
#define CC_NUM_QUEUES		0x12
#define CC_STATUS		0x14
#define CC_Q_SELECT		0x16
#define CC_Q_SIZE		0x18
#define CC_Q_MSIX		0x1a
#define CC_Q_ENABLE		0x1c
#define CC_Q_NOTIFY_OFF		0x1e
#define CC_Q_DESC		0x20
#define CC_Q_AVAIL		0x28
#define CC_Q_USED		0x30
#define VIRTIO_NO_VECTOR	0xffff

#define S_ACKNOWLEDGE		0x01
#define S_DRIVER		0x02
#define S_DRIVER_OK		0x04
#define S_FEATURES_OK		0x08
#define S_NEEDS_RESET		0x40

#define F_MAC			(1ULL << 5)
#define F_INDIRECT		(1ULL << 28)
#define F_VERSION_1		(1ULL << 32)

#define D_NEXT			1
#define D_WRITE			2
#define D_INDIRECT		4

/* A network device's queues. */
#define RXQ			0
#define TXQ			1
#define VIO_NR_QUEUES		2
#define QMAX			256
/* struct virtio_net_hdr_v1: num_buffers is always there with VERSION_1. */
#define NET_HDR_LEN		12

#define VOLATILE(x)	(*(volatile __typeof__(x) *)&(x))

/* x86 keeps stores in order: the device sees ring writes in program order. */
static inline void barrier(void)
{
	asm volatile("" : : : "memory");
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

/* A virtio structure: in an I/O BAR or, below 4 GiB, in a memory BAR. */
struct vio_region {
	uint64_t base;
	uint32_t len;
	bool io;
};

uint8_t vio_rd8(const struct vio_region *r, uint32_t off);
uint16_t vio_rd16(const struct vio_region *r, uint32_t off);
uint32_t vio_rd32(const struct vio_region *r, uint32_t off);
void vio_wr8(const struct vio_region *r, uint32_t off, uint8_t v);
void vio_wr16(const struct vio_region *r, uint32_t off, uint16_t v);
void vio_wr32(const struct vio_region *r, uint32_t off, uint32_t v);
/* 64-bit fields as two 32-bit writes, low first: virtio allows it. */
void vio_wr64(const struct vio_region *r, uint32_t off, uint64_t v);

struct vio_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* A split virtqueue: descriptor table, driver (avail) and device (used) areas. */
struct vio_ring {
	struct vio_desc desc[QMAX];
	struct {
		uint16_t flags;
		uint16_t idx;
		uint16_t ring[QMAX];
		uint16_t used_event;
	} avail __attribute__((aligned(4096)));
	struct {
		uint16_t flags;
		uint16_t idx;
		struct {
			uint32_t id;
			uint32_t len;
		} ring[QMAX];
		uint16_t avail_event;
	} used __attribute__((aligned(4096)));
};

struct vio_vq {
	struct vio_ring *ring;
	uint16_t size;
	uint16_t notify_off;
	uint16_t avail_idx;	/* the next index the driver publishes */
	uint16_t used_seen;	/* how far the driver read the used ring */
};

struct vio_dev {
	uint32_t devfn;
	struct vio_region common, notify, isr, device;
	uint32_t notify_mul;
	uint64_t features;	/* negotiated */
	uint8_t mac[6];		/* a network device's, with F_MAC */
	struct vio_vq q[VIO_NR_QUEUES];
};

extern struct vio_dev vio;

/* Find the function with PCI @device_id and its structures (once). */
void vio_find(uint16_t device_id);
uint8_t vio_status(void);
/* Write 0, then wait until the device says the reset is done: how long it took. */
uint64_t vio_reset(void);
/*
 * Bring the device up as a driver does: bus master, reset, ACKNOWLEDGE,
 * DRIVER, @want of what it offers (*@offered: all of it), FEATURES_OK,
 * both queues at their largest size up to QMAX without MSI-X vectors,
 * the MAC, DRIVER_OK. Returns the status then.
 */
uint8_t vio_init(uint64_t want, uint64_t *offered);

void vio_set_desc(struct vio_desc *d, uint64_t addr, uint32_t len, uint16_t flags,
		  uint16_t next);
/* Publish @n heads at once: the device reads the ring only after idx moved. */
void vio_publish(struct vio_vq *q, uint16_t head, uint16_t n);
void vio_notify(int qi);
uint16_t vio_used_idx(int qi);
/* Wait for the used index to reach @want, about a second at most. */
bool vio_wait_used(int qi, uint16_t want);

#endif /* LKVM_SELFTEST_GUEST_VIRTIO_H */
