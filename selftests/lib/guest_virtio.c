// SPDX-License-Identifier: GPL-2.0
/* Guest: a bare virtio 1.x PCI driver (guest_virtio.h). */
#include <string.h>

#include "guest_virtio.h"

struct vio_dev vio;
static struct vio_ring vio_rings[VIO_NR_QUEUES] __attribute__((aligned(4096)));

uint8_t vio_rd8(const struct vio_region *r, uint32_t off)
{
	return r->io ? inb(r->base + off) : *(volatile uint8_t *)(r->base + off);
}

uint16_t vio_rd16(const struct vio_region *r, uint32_t off)
{
	return r->io ? inw(r->base + off) : *(volatile uint16_t *)(r->base + off);
}

uint32_t vio_rd32(const struct vio_region *r, uint32_t off)
{
	return r->io ? inl(r->base + off) : *(volatile uint32_t *)(r->base + off);
}

void vio_wr8(const struct vio_region *r, uint32_t off, uint8_t v)
{
	if (r->io)
		guest_outb(r->base + off, v);
	else
		*(volatile uint8_t *)(r->base + off) = v;
}

void vio_wr16(const struct vio_region *r, uint32_t off, uint16_t v)
{
	if (r->io)
		outw(r->base + off, v);
	else
		*(volatile uint16_t *)(r->base + off) = v;
}

void vio_wr32(const struct vio_region *r, uint32_t off, uint32_t v)
{
	if (r->io)
		outl(r->base + off, v);
	else
		*(volatile uint32_t *)(r->base + off) = v;
}

void vio_wr64(const struct vio_region *r, uint32_t off, uint64_t v)
{
	vio_wr32(r, off, v);
	vio_wr32(r, off + 4, v >> 32);
}

static uint32_t vio_find_fn(uint16_t device_id)
{
	uint32_t devfn;

	for (devfn = 0; devfn < 256; devfn += 8)
		if (pci_cfg_read32(devfn, 0) == ((uint32_t)device_id << 16 | VIRTIO_VENDOR))
			return devfn;
	GUEST_ASSERT(0);
	return 0;
}

static void vio_bar_region(struct vio_region *r, uint8_t bar, uint32_t off, uint32_t len)
{
	uint32_t lo, hi = 0;

	GUEST_ASSERT(bar < 6);
	lo = pci_cfg_read32(vio.devfn, PCI_BAR0 + 4 * bar);
	r->io = lo & 1;
	if (r->io) {
		r->base = lo & ~3u;
	} else {
		if (((lo >> 1) & 3) == 2)
			hi = pci_cfg_read32(vio.devfn, PCI_BAR0 + 4 * (bar + 1));
		r->base = (uint64_t)hi << 32 | (lo & ~0xfu);
		/* Only the first 4 GiB are mapped. */
		GUEST_ASSERT(r->base + off + len <= (1ULL << 32));
	}
	GUEST_ASSERT(r->base);
	r->base += off;
	r->len = len;
}

/* The first capability of each type wins, as the spec asks of drivers. */
static void vio_find_structures(void)
{
	bool seen[5] = { false };
	uint8_t ptr, type;
	int hops;

	GUEST_ASSERT((pci_cfg_read32(vio.devfn, PCI_COMMAND) >> 16) & PCI_STATUS_CAP_LIST);
	ptr = pci_cfg_read8(vio.devfn, PCI_CAP_PTR) & 0xfc;
	for (hops = 0; ptr && hops < 48; hops++) {
		type = pci_cfg_read8(vio.devfn, ptr + 3);
		if (pci_cfg_read8(vio.devfn, ptr) == PCI_CAP_ID_VNDR && type >= VIRTIO_CAP_COMMON &&
		    type <= VIRTIO_CAP_DEVICE && !seen[type]) {
			uint8_t bar = pci_cfg_read8(vio.devfn, ptr + 4);
			uint32_t off = pci_cfg_read32(vio.devfn, ptr + 8);
			uint32_t len = pci_cfg_read32(vio.devfn, ptr + 12);
			struct vio_region *r = type == VIRTIO_CAP_COMMON ? &vio.common :
					       type == VIRTIO_CAP_NOTIFY ? &vio.notify :
					       type == VIRTIO_CAP_ISR ? &vio.isr : &vio.device;

			vio_bar_region(r, bar, off, len);
			if (type == VIRTIO_CAP_NOTIFY)
				vio.notify_mul = pci_cfg_read32(vio.devfn, ptr + 16);
			seen[type] = true;
		}
		ptr = pci_cfg_read8(vio.devfn, ptr + 1) & 0xfc;
	}
	GUEST_ASSERT(seen[VIRTIO_CAP_COMMON] && seen[VIRTIO_CAP_NOTIFY]);
	GUEST_ASSERT(seen[VIRTIO_CAP_ISR] && seen[VIRTIO_CAP_DEVICE]);
	GUEST_ASSERT(vio.common.len >= 0x38);
}

void vio_find(uint16_t device_id)
{
	if (vio.common.base)
		return;
	vio.devfn = vio_find_fn(device_id);
	vio_find_structures();
}

uint8_t vio_status(void)
{
	return vio_rd8(&vio.common, CC_STATUS);
}

uint64_t vio_reset(void)
{
	uint64_t spins = 0;

	vio_wr8(&vio.common, CC_STATUS, 0);
	while (vio_status() != 0 && ++spins < 1000000)
		asm volatile("pause");
	return spins;
}

static void vio_queue_setup(int qi)
{
	struct vio_vq *q = &vio.q[qi];
	uint16_t max;

	memset(&vio_rings[qi], 0, sizeof(vio_rings[qi]));
	vio_wr16(&vio.common, CC_Q_SELECT, qi);
	max = vio_rd16(&vio.common, CC_Q_SIZE);
	GUEST_ASSERT(max && !(max & (max - 1)));
	q->ring = &vio_rings[qi];
	q->size = max < QMAX ? max : QMAX;
	q->avail_idx = 0;
	q->used_seen = 0;
	vio_wr16(&vio.common, CC_Q_SIZE, q->size);
	/* No interrupts: this driver polls. */
	vio_wr16(&vio.common, CC_Q_MSIX, VIRTIO_NO_VECTOR);
	vio_wr64(&vio.common, CC_Q_DESC, (uintptr_t)q->ring->desc);
	vio_wr64(&vio.common, CC_Q_AVAIL, (uintptr_t)&q->ring->avail);
	vio_wr64(&vio.common, CC_Q_USED, (uintptr_t)&q->ring->used);
	q->notify_off = vio_rd16(&vio.common, CC_Q_NOTIFY_OFF);
	GUEST_ASSERT(q->notify_off * vio.notify_mul + 2 <= vio.notify.len);
	vio_wr16(&vio.common, CC_Q_ENABLE, 1);
	GUEST_ASSERT_EQ(vio_rd16(&vio.common, CC_Q_ENABLE), 1);
}

uint8_t vio_init(uint64_t want, uint64_t *offered)
{
	uint64_t df;
	int i;

	pci_cfg_write16(vio.devfn, PCI_COMMAND,
			PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	vio_reset();
	GUEST_ASSERT_EQ(vio_status(), 0);
	vio_wr8(&vio.common, CC_STATUS, S_ACKNOWLEDGE);
	vio_wr8(&vio.common, CC_STATUS, S_ACKNOWLEDGE | S_DRIVER);

	vio_wr32(&vio.common, CC_DFSELECT, 0);
	df = vio_rd32(&vio.common, CC_DF);
	vio_wr32(&vio.common, CC_DFSELECT, 1);
	df |= (uint64_t)vio_rd32(&vio.common, CC_DF) << 32;
	*offered = df;
	vio.features = df & want;
	vio_wr32(&vio.common, CC_GFSELECT, 0);
	vio_wr32(&vio.common, CC_GF, vio.features);
	vio_wr32(&vio.common, CC_GFSELECT, 1);
	vio_wr32(&vio.common, CC_GF, vio.features >> 32);
	vio_wr8(&vio.common, CC_STATUS, S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK);
	GUEST_ASSERT(vio_status() & S_FEATURES_OK);

	GUEST_ASSERT(vio_rd16(&vio.common, CC_NUM_QUEUES) >= VIO_NR_QUEUES);
	for (i = 0; i < VIO_NR_QUEUES; i++)
		vio_queue_setup(i);
	for (i = 0; i < 6; i++)
		vio.mac[i] = vio.features & F_MAC ? vio_rd8(&vio.device, i) : 0;
	vio_wr8(&vio.common, CC_STATUS, S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	return vio_status();
}

void vio_set_desc(struct vio_desc *d, uint64_t addr, uint32_t len, uint16_t flags,
		  uint16_t next)
{
	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

void vio_publish(struct vio_vq *q, uint16_t head, uint16_t n)
{
	uint16_t i;

	for (i = 0; i < n; i++)
		VOLATILE(q->ring->avail.ring[(uint16_t)(q->avail_idx + i) % q->size]) = head;
	barrier();
	q->avail_idx += n;
	VOLATILE(q->ring->avail.idx) = q->avail_idx;
	barrier();
}

void vio_notify(int qi)
{
	vio_wr16(&vio.notify, vio.q[qi].notify_off * vio.notify_mul, qi);
}

uint16_t vio_used_idx(int qi)
{
	return VOLATILE(vio.q[qi].ring->used.idx);
}

/* Bounded by the TSC: about a second, on a TSC of a few GHz. */
bool vio_wait_used(int qi, uint16_t want)
{
	uint64_t start = rdtsc();

	while (vio_used_idx(qi) != want) {
		if (rdtsc() - start > (3ULL << 30))
			return false;
		asm volatile("pause");
	}
	return true;
}
