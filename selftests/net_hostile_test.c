// SPDX-License-Identifier: GPL-2.0
/*
 * A hostile guest against the in-kernel virtio-net device (LKVM_CREATE_NET).
 *
 * The guest is ours, not Linux: it finds the NIC through PCI configuration
 * mechanism #1, walks the virtio vendor capabilities to its common, notify,
 * ISR and device structures, brings it up as a virtio 1.x driver would,
 * and then writes what no driver should: descriptor chains that loop or
 * run past the queue, buffers outside its memory or pointing the wrong
 * way, absurd lengths, broken indirect tables, an avail index that jumps.
 * After each one the device must have marked itself broken
 * (DEVICE_NEEDS_RESET) or dropped the chain, and counted it
 * (LKVM_GET_VM_STATS); after a reset it must carry a good frame again,
 * which the test reads byte for byte off the host net_device.
 *
 * Also: a guest that never posts RX buffers while the host floods its
 * net_device, a second VM whose NIC keeps working next to a hostile one,
 * and a VM killed mid-traffic, whose net_device and pinned pages must go.
 *
 * The guest drives the device one command at a time: the host puts the
 * command in the global "cmd", the guest runs it and answers with a sync
 * whose arguments are the command's results.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib/guest.h"
#include "lib/lkvm_util.h"

/* ---- PCI and virtio 1.x, as the guest sees them ---- */

#define PCI_ADDR_PORT		0xcf8
#define PCI_DATA_PORT		0xcfc
#define PCI_ADDR(dev, fn, reg)	(0x80000000u | (dev) << 11 | (fn) << 8 | (reg))
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

#define RXQ			0
#define TXQ			1
#define QMAX			256
/* struct virtio_net_hdr_v1: num_buffers is always there with VERSION_1. */
#define NET_HDR_LEN		12
#define NR_RX_BUFS		16
#define RX_BUF_LEN		2048
#define RX_PATTERN		0xa5

/* Guest RAM is the default 32 MiB: these are not RAM. */
#define UNBACKED_GPA		0x40000000ULL
#define IOAPIC_GPA		0xfec00000ULL

/* ---- The frames, built the same way by guest and host ---- */

#define ETH_G2H			0x88b5	/* guest to host: local experimental */
#define ETH_H2G			0x88b6	/* host to guest */
#define FRAME_PAYLOAD		100
#define FRAME_LEN		(14 + FRAME_PAYLOAD)

static const uint8_t guest_mac[6] = { 0x02, 0x4c, 0x4b, 0x56, 0x4d, 0x01 };
static const uint8_t other_mac[6] = { 0x02, 0x4c, 0x4b, 0x56, 0x4d, 0x02 };
static const uint8_t host_mac[6] = { 0x02, 0x4c, 0x4b, 0x56, 0x4d, 0xfe };
static const uint8_t bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static size_t build_frame(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type,
			  uint32_t seq)
{
	int i;

	for (i = 0; i < 6; i++) {
		f[i] = dst[i];
		f[6 + i] = src[i];
	}
	f[12] = type >> 8;
	f[13] = type & 0xff;
	f[14] = seq >> 24;
	f[15] = seq >> 16;
	f[16] = seq >> 8;
	f[17] = seq;
	for (i = 4; i < FRAME_PAYLOAD; i++)
		f[14 + i] = (uint8_t)(seq * 131 + i * 7);
	return FRAME_LEN;
}

/* ---- What the host asks of the guest ---- */

enum {
	OP_INIT = 1,	/* arg: MAC as u64; out: status, features, MAC, devfn */
	OP_SEND,	/* arg: seq; out: completed, status */
	OP_BAD,		/* arg: BAD_*; out: status, TX used idx, RX used idx */
	OP_STATUS,	/* out: status, TX used idx, RX used idx, RX buffers untouched */
	OP_RESET,	/* out: status after the reset, reads until it was 0 */
	OP_POST_RX,	/* arg: buffers; out: status */
	OP_RX_CHECK,	/* arg: seq; out: found, length, buffers used */
	OP_TRAFFIC,	/* send forever, reposting RX buffers; never answers */
};

/* The malformed things the guest writes; each one a variant below. */
enum {
	BAD_LOOP,		/* TX: 0 -> 1 -> 0 */
	BAD_NEXT_OOB,		/* TX: next == queue size */
	BAD_HEAD_OOB,		/* TX: avail ring names head == queue size */
	BAD_ADDR_UNBACKED,	/* TX: buffer above guest RAM */
	BAD_ADDR_MMIO,		/* TX: buffer on the IOAPIC's page */
	BAD_ADDR_WRAP,		/* TX: addr + len wraps 64 bits */
	BAD_TX_WRITABLE,	/* TX: a device-writable descriptor */
	BAD_HDR_SHORT,		/* TX: 4 bytes, less than the header */
	BAD_LEN_ZERO,		/* TX: header, then a zero-length buffer */
	BAD_LEN_HUGE,		/* TX: a frame of 64 KiB + 64 after the header */
	BAD_LEN_4G,		/* TX: a 0xffffffff-byte buffer */
	BAD_LEN_SUM_WRAP,	/* TX: lengths that sum past 4 GiB */
	BAD_INDIRECT_ODD,	/* TX: indirect table of 24 bytes */
	BAD_INDIRECT_ZERO,	/* TX: indirect table of 0 bytes */
	BAD_INDIRECT_NESTED,	/* TX: an indirect descriptor in an indirect table */
	BAD_INDIRECT_NEXT_OOB,	/* TX: next past the end of the indirect table */
	BAD_INDIRECT_LOOP,	/* TX: a loop inside the indirect table */
	BAD_INDIRECT_UNBACKED,	/* TX: indirect table above guest RAM */
	BAD_AVAIL_JUMP,		/* TX: avail idx moves by queue size + 1 */
	BAD_RX_READONLY,	/* RX: a buffer the device may not write */
	BAD_RX_UNBACKED,	/* RX: a buffer above guest RAM */
	BAD_RX_LOOP,		/* RX: 0 -> 1 -> 0 */
};

struct host_cmd {
	uint64_t op;
	uint64_t arg;
};

static struct host_cmd cmd;

/* ---- Guest: port I/O, configuration space, the device's structures ---- */

#define VOLATILE(x)	(*(volatile __typeof__(x) *)&(x))

/* x86 keeps stores in order: the device sees ring writes in program order. */
static inline void barrier(void)
{
	asm volatile("" : : : "memory");
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;

	asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outw(uint16_t port, uint16_t v)
{
	asm volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	asm volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static uint32_t pci_read32(uint32_t devfn, uint32_t reg)
{
	outl(PCI_ADDR_PORT, PCI_ADDR(devfn >> 3, devfn & 7, reg & 0xfc));
	return inl(PCI_DATA_PORT);
}

static uint8_t pci_read8(uint32_t devfn, uint32_t reg)
{
	return pci_read32(devfn, reg) >> ((reg & 3) * 8);
}

static void pci_write16(uint32_t devfn, uint32_t reg, uint16_t v)
{
	outl(PCI_ADDR_PORT, PCI_ADDR(devfn >> 3, devfn & 7, reg & 0xfc));
	outw(PCI_DATA_PORT + (reg & 2), v);
}

/* A virtio structure: in an I/O BAR or, below 4 GiB, in a memory BAR. */
struct region {
	uint64_t base;
	uint32_t len;
	bool io;
};

static uint8_t rd8(const struct region *r, uint32_t off)
{
	return r->io ? inb(r->base + off) : *(volatile uint8_t *)(r->base + off);
}

static uint16_t rd16(const struct region *r, uint32_t off)
{
	return r->io ? inw(r->base + off) : *(volatile uint16_t *)(r->base + off);
}

static uint32_t rd32(const struct region *r, uint32_t off)
{
	return r->io ? inl(r->base + off) : *(volatile uint32_t *)(r->base + off);
}

static void wr8(const struct region *r, uint32_t off, uint8_t v)
{
	if (r->io)
		guest_outb(r->base + off, v);
	else
		*(volatile uint8_t *)(r->base + off) = v;
}

static void wr16(const struct region *r, uint32_t off, uint16_t v)
{
	if (r->io)
		outw(r->base + off, v);
	else
		*(volatile uint16_t *)(r->base + off) = v;
}

static void wr32(const struct region *r, uint32_t off, uint32_t v)
{
	if (r->io)
		outl(r->base + off, v);
	else
		*(volatile uint32_t *)(r->base + off) = v;
}

/* 64-bit fields as two 32-bit writes, low first: virtio allows it. */
static void wr64(const struct region *r, uint32_t off, uint64_t v)
{
	wr32(r, off, v);
	wr32(r, off + 4, v >> 32);
}

struct vdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* A split virtqueue: descriptor table, driver (avail) and device (used) areas. */
struct vring {
	struct vdesc desc[QMAX];
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

struct vq {
	struct vring *ring;
	uint16_t size;
	uint16_t notify_off;
	uint16_t avail_idx;	/* the next index the driver publishes */
	uint16_t used_seen;	/* how far the driver read the used ring */
};

static struct {
	uint32_t devfn;
	struct region common, notify, isr, device;
	uint32_t notify_mul;
	uint64_t features;
	uint8_t mac[6];
	struct vq q[2];
} dev;

static struct vring rings[2] __attribute__((aligned(4096)));
static uint8_t tx_hdr[NET_HDR_LEN] __attribute__((aligned(16)));
static uint8_t tx_frame[FRAME_LEN] __attribute__((aligned(16)));
static uint8_t big_buf[(64 << 10) + 4096] __attribute__((aligned(4096)));
static uint8_t rx_bufs[NR_RX_BUFS][RX_BUF_LEN] __attribute__((aligned(4096)));
static struct vdesc itable[4] __attribute__((aligned(16)));
static struct vdesc itable2[2] __attribute__((aligned(16)));

static uint32_t find_nic(void)
{
	uint32_t devfn;

	for (devfn = 0; devfn < 256; devfn += 8)
		if (pci_read32(devfn, 0) == (VIRTIO_NET_MODERN << 16 | VIRTIO_VENDOR))
			return devfn;
	GUEST_ASSERT(0);
	return 0;
}

static void bar_region(struct region *r, uint8_t bar, uint32_t off, uint32_t len)
{
	uint32_t lo, hi = 0;

	GUEST_ASSERT(bar < 6);
	lo = pci_read32(dev.devfn, PCI_BAR0 + 4 * bar);
	r->io = lo & 1;
	if (r->io) {
		r->base = lo & ~3u;
	} else {
		if (((lo >> 1) & 3) == 2)
			hi = pci_read32(dev.devfn, PCI_BAR0 + 4 * (bar + 1));
		r->base = (uint64_t)hi << 32 | (lo & ~0xfu);
		/* Only the first 4 GiB are mapped. */
		GUEST_ASSERT(r->base + off + len <= (1ULL << 32));
	}
	GUEST_ASSERT(r->base);
	r->base += off;
	r->len = len;
}

/* The first capability of each type wins, as the spec asks of drivers. */
static void find_structures(void)
{
	bool seen[5] = { false };
	uint8_t ptr, type;
	int hops;

	GUEST_ASSERT((pci_read32(dev.devfn, PCI_COMMAND) >> 16) & PCI_STATUS_CAP_LIST);
	ptr = pci_read8(dev.devfn, PCI_CAP_PTR) & 0xfc;
	for (hops = 0; ptr && hops < 48; hops++) {
		type = pci_read8(dev.devfn, ptr + 3);
		if (pci_read8(dev.devfn, ptr) == PCI_CAP_ID_VNDR && type >= VIRTIO_CAP_COMMON &&
		    type <= VIRTIO_CAP_DEVICE && !seen[type]) {
			uint8_t bar = pci_read8(dev.devfn, ptr + 4);
			uint32_t off = pci_read32(dev.devfn, ptr + 8);
			uint32_t len = pci_read32(dev.devfn, ptr + 12);
			struct region *r = type == VIRTIO_CAP_COMMON ? &dev.common :
					   type == VIRTIO_CAP_NOTIFY ? &dev.notify :
					   type == VIRTIO_CAP_ISR ? &dev.isr : &dev.device;

			bar_region(r, bar, off, len);
			if (type == VIRTIO_CAP_NOTIFY)
				dev.notify_mul = pci_read32(dev.devfn, ptr + 16);
			seen[type] = true;
		}
		ptr = pci_read8(dev.devfn, ptr + 1) & 0xfc;
	}
	GUEST_ASSERT(seen[VIRTIO_CAP_COMMON] && seen[VIRTIO_CAP_NOTIFY]);
	GUEST_ASSERT(seen[VIRTIO_CAP_ISR] && seen[VIRTIO_CAP_DEVICE]);
	GUEST_ASSERT(dev.common.len >= 0x38);
}

static uint8_t dev_status(void)
{
	return rd8(&dev.common, CC_STATUS);
}

/* Write 0, then wait until the device says the reset is done. */
static uint64_t dev_reset(void)
{
	uint64_t spins = 0;

	wr8(&dev.common, CC_STATUS, 0);
	while (dev_status() != 0 && ++spins < 1000000)
		asm volatile("pause");
	return spins;
}

static void queue_setup(int qi)
{
	struct vq *q = &dev.q[qi];
	uint16_t max;

	memset(&rings[qi], 0, sizeof(rings[qi]));
	wr16(&dev.common, CC_Q_SELECT, qi);
	max = rd16(&dev.common, CC_Q_SIZE);
	GUEST_ASSERT(max && !(max & (max - 1)));
	q->ring = &rings[qi];
	q->size = max < QMAX ? max : QMAX;
	q->avail_idx = 0;
	q->used_seen = 0;
	wr16(&dev.common, CC_Q_SIZE, q->size);
	/* No interrupts: this driver polls. */
	wr16(&dev.common, CC_Q_MSIX, VIRTIO_NO_VECTOR);
	wr64(&dev.common, CC_Q_DESC, (uintptr_t)q->ring->desc);
	wr64(&dev.common, CC_Q_AVAIL, (uintptr_t)&q->ring->avail);
	wr64(&dev.common, CC_Q_USED, (uintptr_t)&q->ring->used);
	q->notify_off = rd16(&dev.common, CC_Q_NOTIFY_OFF);
	GUEST_ASSERT(q->notify_off * dev.notify_mul + 2 <= dev.notify.len);
	wr16(&dev.common, CC_Q_ENABLE, 1);
	GUEST_ASSERT_EQ(rd16(&dev.common, CC_Q_ENABLE), 1);
}

static void dev_init(uint64_t *r)
{
	uint64_t offered;
	int i;

	if (!dev.common.base) {
		dev.devfn = find_nic();
		find_structures();
	}
	pci_write16(dev.devfn, PCI_COMMAND,
		    PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	dev_reset();
	GUEST_ASSERT_EQ(dev_status(), 0);
	wr8(&dev.common, CC_STATUS, S_ACKNOWLEDGE);
	wr8(&dev.common, CC_STATUS, S_ACKNOWLEDGE | S_DRIVER);

	wr32(&dev.common, CC_DFSELECT, 0);
	offered = rd32(&dev.common, CC_DF);
	wr32(&dev.common, CC_DFSELECT, 1);
	offered |= (uint64_t)rd32(&dev.common, CC_DF) << 32;
	GUEST_ASSERT(offered & F_VERSION_1);
	GUEST_ASSERT(offered & F_INDIRECT);
	dev.features = offered & (F_VERSION_1 | F_INDIRECT | F_MAC);
	wr32(&dev.common, CC_GFSELECT, 0);
	wr32(&dev.common, CC_GF, dev.features);
	wr32(&dev.common, CC_GFSELECT, 1);
	wr32(&dev.common, CC_GF, dev.features >> 32);
	wr8(&dev.common, CC_STATUS, S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK);
	GUEST_ASSERT(dev_status() & S_FEATURES_OK);

	GUEST_ASSERT(rd16(&dev.common, CC_NUM_QUEUES) >= 2);
	queue_setup(RXQ);
	queue_setup(TXQ);
	for (i = 0; i < 6; i++)
		dev.mac[i] = dev.features & F_MAC ? rd8(&dev.device, i) : 0;
	wr8(&dev.common, CC_STATUS, S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);

	r[0] = dev_status();
	r[1] = dev.features;
	for (i = 0; i < 6; i++)
		r[2] |= (uint64_t)dev.mac[i] << (8 * i);
	r[3] = dev.devfn;
}

static void set_desc(struct vdesc *d, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

/* Publish @n heads at once: the device reads the ring only after idx moved. */
static void publish(struct vq *q, uint16_t head, uint16_t n)
{
	uint16_t i;

	for (i = 0; i < n; i++)
		VOLATILE(q->ring->avail.ring[(uint16_t)(q->avail_idx + i) % q->size]) = head;
	barrier();
	q->avail_idx += n;
	VOLATILE(q->ring->avail.idx) = q->avail_idx;
	barrier();
}

static void notify(int qi)
{
	wr16(&dev.notify, dev.q[qi].notify_off * dev.notify_mul, qi);
}

static uint16_t used_idx(int qi)
{
	return VOLATILE(dev.q[qi].ring->used.idx);
}

/* Bounded by the TSC: about a second, on a TSC of a few GHz. */
static bool wait_used(int qi, uint16_t want)
{
	uint64_t start = rdtsc();

	while (used_idx(qi) != want) {
		if (rdtsc() - start > (3ULL << 30))
			return false;
		asm volatile("pause");
	}
	return true;
}

/* A header descriptor and a frame descriptor, at slots @head, @head + 1. */
static uint16_t post_tx(uint32_t seq)
{
	struct vq *q = &dev.q[TXQ];
	uint16_t head = (q->avail_idx * 2) % q->size;

	build_frame(tx_frame, bcast_mac, dev.mac, ETH_G2H, seq);
	set_desc(&q->ring->desc[head], (uintptr_t)tx_hdr, NET_HDR_LEN, D_NEXT, head + 1);
	set_desc(&q->ring->desc[head + 1], (uintptr_t)tx_frame, FRAME_LEN, 0, 0);
	publish(q, head, 1);
	notify(TXQ);
	return q->avail_idx;
}

static void send_good(uint64_t seq, uint64_t *r)
{
	uint16_t want = post_tx(seq);

	r[0] = wait_used(TXQ, want);
	r[1] = dev_status();
	dev.q[TXQ].used_seen = used_idx(TXQ);
}

static void post_rx(uint64_t n)
{
	struct vq *q = &dev.q[RXQ];
	uint16_t i;

	for (i = 0; i < n && i < NR_RX_BUFS; i++) {
		memset(rx_bufs[i], RX_PATTERN, RX_BUF_LEN);
		set_desc(&q->ring->desc[i], (uintptr_t)rx_bufs[i], RX_BUF_LEN, D_WRITE, 0);
		publish(q, i, 1);
	}
	notify(RXQ);
}

static bool rx_untouched(void)
{
	int i, j;

	for (i = 0; i < NR_RX_BUFS; i++)
		for (j = 0; j < RX_BUF_LEN; j++)
			if (VOLATILE(rx_bufs[i][j]) != RX_PATTERN)
				return false;
	return true;
}

/*
 * Look through what the device returned for the host's frame @seq, and
 * give every buffer back, so that frames queued before it can drain.
 */
static void rx_check(uint64_t seq, uint64_t *r)
{
	static uint8_t want[FRAME_LEN];
	struct vq *q = &dev.q[RXQ];
	uint16_t idx = used_idx(RXQ);

	build_frame(want, dev.mac, host_mac, ETH_H2G, seq);
	for (; q->used_seen != idx; q->used_seen++) {
		uint32_t id = VOLATILE(q->ring->used.ring[q->used_seen % q->size].id);
		uint32_t len = VOLATILE(q->ring->used.ring[q->used_seen % q->size].len);

		r[2]++;
		GUEST_ASSERT(id < NR_RX_BUFS);
		GUEST_ASSERT(len <= RX_BUF_LEN);
		if (len == NET_HDR_LEN + FRAME_LEN &&
		    !memcmp(rx_bufs[id] + NET_HDR_LEN, want, FRAME_LEN)) {
			r[0] = 1;
			r[1] = len;
		}
		publish(q, id, 1);
	}
	if (r[2])
		notify(RXQ);
}

/* Send and receive until the host kills us. */
static void __attribute__((noreturn)) traffic(void)
{
	struct vq *rq = &dev.q[RXQ];
	uint32_t seq = 0;

	for (;;) {
		uint16_t want = post_tx(seq++);
		uint16_t idx;

		wait_used(TXQ, want);
		for (idx = used_idx(RXQ); rq->used_seen != idx; rq->used_seen++) {
			uint32_t id = VOLATILE(rq->ring->used.ring[rq->used_seen % rq->size].id);

			GUEST_ASSERT(id < NR_RX_BUFS);
			publish(rq, id, 1);
			notify(RXQ);
		}
	}
}

static void post_bad(uint64_t which)
{
	struct vq *q = &dev.q[which >= BAD_RX_READONLY ? RXQ : TXQ];
	struct vdesc *d = q->ring->desc;
	uint64_t hdr = (uintptr_t)tx_hdr, frame = (uintptr_t)tx_frame;
	uint64_t rxb = (uintptr_t)rx_bufs[0];
	uint16_t head = 0;

	build_frame(tx_frame, bcast_mac, dev.mac, ETH_G2H, 0xbad);
	memset(rx_bufs, RX_PATTERN, sizeof(rx_bufs));
	set_desc(&d[0], hdr, NET_HDR_LEN, D_NEXT, 1);
	switch (which) {
	case BAD_LOOP:
		set_desc(&d[1], frame, FRAME_LEN, D_NEXT, 0);
		break;
	case BAD_NEXT_OOB:
		d[0].next = q->size;
		break;
	case BAD_HEAD_OOB:
		set_desc(&d[1], frame, FRAME_LEN, 0, 0);
		head = q->size;
		break;
	case BAD_ADDR_UNBACKED:
		set_desc(&d[1], UNBACKED_GPA, FRAME_LEN, 0, 0);
		break;
	case BAD_ADDR_MMIO:
		set_desc(&d[1], IOAPIC_GPA, FRAME_LEN, 0, 0);
		break;
	case BAD_ADDR_WRAP:
		set_desc(&d[1], ~0ULL - 0xfff, 0x2000, 0, 0);
		break;
	case BAD_TX_WRITABLE:
		set_desc(&d[1], frame, FRAME_LEN, D_WRITE, 0);
		break;
	case BAD_HDR_SHORT:
		set_desc(&d[0], hdr, 4, 0, 0);
		break;
	case BAD_LEN_ZERO:
		set_desc(&d[1], frame, 0, 0, 0);
		break;
	case BAD_LEN_HUGE:
		build_frame(big_buf, bcast_mac, dev.mac, ETH_G2H, 0xbad);
		set_desc(&d[1], (uintptr_t)big_buf, (64 << 10) + 64, 0, 0);
		break;
	case BAD_LEN_4G:
		set_desc(&d[1], frame, 0xffffffff, 0, 0);
		break;
	case BAD_LEN_SUM_WRAP:
		set_desc(&d[1], frame, 0xfffffff8, D_NEXT, 2);
		set_desc(&d[2], frame, 0x20, 0, 0);
		break;
	case BAD_INDIRECT_ODD:
	case BAD_INDIRECT_ZERO:
	case BAD_INDIRECT_NESTED:
	case BAD_INDIRECT_NEXT_OOB:
	case BAD_INDIRECT_LOOP:
	case BAD_INDIRECT_UNBACKED:
		set_desc(&itable[0], hdr, NET_HDR_LEN, D_NEXT, 1);
		set_desc(&itable[1], frame, FRAME_LEN, 0, 0);
		set_desc(&d[0], (uintptr_t)itable, 2 * sizeof(struct vdesc), D_INDIRECT, 0);
		if (which == BAD_INDIRECT_ODD)
			d[0].len = 24;
		else if (which == BAD_INDIRECT_ZERO)
			d[0].len = 0;
		else if (which == BAD_INDIRECT_NESTED)
			set_desc(&itable[1], (uintptr_t)itable2, sizeof(itable2), D_INDIRECT, 0);
		else if (which == BAD_INDIRECT_NEXT_OOB)
			itable[0].next = 2;
		else if (which == BAD_INDIRECT_LOOP)
			set_desc(&itable[1], frame, FRAME_LEN, D_NEXT, 0);
		else
			d[0].addr = UNBACKED_GPA;
		set_desc(&itable2[0], hdr, NET_HDR_LEN, D_NEXT, 1);
		set_desc(&itable2[1], frame, FRAME_LEN, 0, 0);
		break;
	case BAD_AVAIL_JUMP:
		set_desc(&d[1], frame, FRAME_LEN, 0, 0);
		/* Every ring entry names the good chain: only the index is wrong. */
		publish(q, 0, q->size);
		q->avail_idx++;
		VOLATILE(q->ring->avail.idx) = q->avail_idx;
		notify(TXQ);
		return;
	case BAD_RX_READONLY:
		set_desc(&d[0], rxb, RX_BUF_LEN, 0, 0);
		break;
	case BAD_RX_UNBACKED:
		set_desc(&d[0], UNBACKED_GPA, RX_BUF_LEN, D_WRITE, 0);
		break;
	case BAD_RX_LOOP:
		set_desc(&d[0], rxb, NET_HDR_LEN, D_WRITE | D_NEXT, 1);
		set_desc(&d[1], rxb + NET_HDR_LEN, RX_BUF_LEN - NET_HDR_LEN, D_WRITE | D_NEXT, 0);
		break;
	default:
		GUEST_ASSERT(0);
	}
	publish(q, head, 1);
	notify(q == &dev.q[RXQ] ? RXQ : TXQ);
	/* TX runs in the notify's exit; give a deferred drain a moment too. */
	if (q == &dev.q[TXQ])
		wait_used(TXQ, q->avail_idx);
}

static void guest_code(uint64_t a0, uint64_t a1)
{
	uint64_t r[4] = { 0 };

	for (;;) {
		GUEST_SYNC_ARGS(r[0], r[1], r[2], r[3]);
		memset(r, 0, sizeof(r));
		switch (VOLATILE(cmd.op)) {
		case OP_INIT:
			dev_init(r);
			break;
		case OP_SEND:
			send_good(VOLATILE(cmd.arg), r);
			break;
		case OP_BAD:
			post_bad(VOLATILE(cmd.arg));
			r[0] = dev_status();
			r[1] = used_idx(TXQ);
			r[2] = used_idx(RXQ);
			break;
		case OP_STATUS:
			r[0] = dev_status();
			r[1] = used_idx(TXQ);
			r[2] = used_idx(RXQ);
			r[3] = rx_untouched();
			break;
		case OP_RESET:
			r[1] = dev_reset();
			r[0] = dev_status();
			break;
		case OP_POST_RX:
			post_rx(VOLATILE(cmd.arg));
			r[0] = dev_status();
			break;
		case OP_RX_CHECK:
			rx_check(VOLATILE(cmd.arg), r);
			break;
		case OP_TRAFFIC:
			traffic();
		default:
			GUEST_ASSERT(0);
		}
	}
}

/* ---- Host ---- */

struct nic {
	struct lkvm_net net;
	int cap_fd;	/* AF_PACKET, what the guest sends (ETH_G2H) */
	int tx_fd;	/* AF_PACKET, what we send the guest */
};

static uint64_t sys_cap(uint32_t which)
{
	struct lkvm_cap c = { .cap = which };
	int fd = open(LKVM_DEV_PATH, O_RDWR | O_CLOEXEC);
	uint64_t v = 0;

	if (fd < 0)
		return 0;
	if (!ioctl(fd, LKVM_CHECK_CAP, &c))
		v = c.value;
	close(fd);
	return v;
}

#define NET_OR_SKIP() do {							\
	if (access(LKVM_DEV_PATH, F_OK))					\
		SKIP(return, "no %s: lkvm_lite is not loaded", LKVM_DEV_PATH);	\
	if (!sys_cap(LKVM_CAP_NET))						\
		SKIP(return, "this lkvm_lite has no virtio-net (LKVM_CAP_NET)");	\
	ASSERT_LT(LKVM_VM_STAT_NET_NEEDS_RESET, sys_cap(LKVM_CAP_VM_STATS));	\
} while (0)

static void vm_stats(struct __test_metadata *_metadata, struct guest *g,
		     struct lkvm_vm_stats *s)
{
	ASSERT_EQ(0, ioctl(guest_vm_fd(g), LKVM_GET_VM_STATS, s)) TH_LOG("%s", strerror(errno));
}

static uint64_t stat_delta(const struct lkvm_vm_stats *a, const struct lkvm_vm_stats *b, int i)
{
	return b->stat[i] - a->stat[i];
}

/* 0 or -errno. */
static int ifup(const char *ifname)
{
	struct ifreq ifr = { 0 };
	char path[128];
	int fd, ret = 0;

	/* No router solicitations or DAD: nothing but our frames on the link. */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "1", 1) != 1)
			ret = -errno;
		close(fd);
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	if (!ret && ioctl(fd, SIOCGIFFLAGS, &ifr))
		ret = -errno;
	ifr.ifr_flags |= IFF_UP;
	if (!ret && ioctl(fd, SIOCSIFFLAGS, &ifr))
		ret = -errno;
	close(fd);
	return ret;
}

static int packet_socket(int ifindex, uint16_t proto)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(proto),
		.sll_ifindex = ifindex,
	};
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(proto));

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* LKVM_CREATE_NET on a guest whose vCPU has not run yet, link up, sockets on it. */
static void nic_create(struct __test_metadata *_metadata, struct guest *g, struct nic *n,
		       const uint8_t *mac)
{
	int one = 1;

	memset(n, 0, sizeof(*n));
	strcpy(n->net.ifname, "lkvmh%d");
	memcpy(n->net.mac, mac, 6);
	ASSERT_EQ(0, ioctl(guest_vm_fd(g), LKVM_CREATE_NET, &n->net))
		TH_LOG("LKVM_CREATE_NET: %s", strerror(errno));
	ASSERT_EQ(0, memcmp(n->net.mac, mac, 6));
	ASSERT_NE(0, n->net.ifindex);
	ASSERT_EQ(0, ifup(n->net.ifname)) TH_LOG("%s", n->net.ifname);
	n->cap_fd = packet_socket(n->net.ifindex, ETH_G2H);
	ASSERT_LE(0, n->cap_fd) TH_LOG("AF_PACKET on %s: %s", n->net.ifname, strerror(errno));
	n->tx_fd = packet_socket(n->net.ifindex, ETH_H2G);
	ASSERT_LE(0, n->tx_fd);
	/*
	 * Straight to the device, in the sender's context: the qdisc is
	 * activated only when linkwatch sees the carrier DRIVER_OK raised,
	 * up to a second later, and drops what comes before.
	 */
	ASSERT_EQ(0, setsockopt(n->tx_fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)));
}

static void nic_close(struct nic *n)
{
	close(n->cap_fd);
	close(n->tx_fd);
}

static int host_send(struct nic *n, uint32_t seq)
{
	uint8_t f[FRAME_LEN];
	size_t len = build_frame(f, n->net.mac, host_mac, ETH_H2G, seq);

	return send(n->tx_fd, f, len, 0) == (ssize_t)len ? 0 : -errno;
}

/* The next frame the guest sent within @ms, or -1. */
static ssize_t host_recv(struct nic *n, uint8_t *buf, size_t len, int ms)
{
	struct pollfd p = { .fd = n->cap_fd, .events = POLLIN };

	if (poll(&p, 1, ms) != 1)
		return -1;
	return recv(n->cap_fd, buf, len, MSG_DONTWAIT);
}

static void drain(struct nic *n)
{
	uint8_t buf[2048];

	while (recv(n->cap_fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		;
}

/* Have the guest run a command; 0 and its results in @r, or -1 and why in @msg. */
static int guest_cmd_raw(struct guest *g, uint64_t op, uint64_t arg, uint64_t *r, char *msg,
			 size_t len)
{
	struct ucall uc;

	cmd.op = op;
	cmd.arg = arg;
	guest_sync_global(g, &cmd, sizeof(cmd));
	if (guest_run_expect(g, UCALL_SYNC, &uc, msg, len))
		return -1;
	memcpy(r, uc.args, 4 * sizeof(*r));
	return 0;
}

static void guest_cmd(struct __test_metadata *_metadata, struct guest *g, uint64_t op,
		      uint64_t arg, uint64_t *r)
{
	char msg[GUEST_MSG_LEN];

	ASSERT_EQ(0, guest_cmd_raw(g, op, arg, r, msg, sizeof(msg))) TH_LOG("%s", msg);
}

static struct guest *nic_guest(struct __test_metadata *_metadata, struct nic *n,
			       const uint8_t *mac)
{
	struct guest_opts opts = { .backend = GUEST_LKVM, .platform = true };
	struct guest *g = guest_create(&opts, guest_code);
	uint64_t r[4];

	if (!g)
		return NULL;
	nic_create(_metadata, g, n, mac);
	/* The first sync only says the guest is ready. */
	guest_cmd(_metadata, g, 0, 0, r);
	return g;
}

#define NIC_GUEST(g, n, mac) do {						\
	(g) = nic_guest(_metadata, (n), (mac));					\
	ASSERT_NE(NULL, (g)) TH_LOG("%s", guest_error());			\
} while (0)

static void expect_init(struct __test_metadata *_metadata, struct guest *g, struct nic *n)
{
	uint64_t r[4], mac = 0;
	int i;

	guest_cmd(_metadata, g, OP_INIT, 0, r);
	for (i = 0; i < 6; i++)
		mac |= (uint64_t)n->net.mac[i] << (8 * i);
	ASSERT_EQ(S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK, r[0]);
	ASSERT_EQ(F_VERSION_1 | F_INDIRECT | F_MAC, r[1]);
	ASSERT_EQ(mac, r[2]);
	ASSERT_EQ(n->net.pci_devfn, r[3]);
}

/* A good frame from the guest arrives on the host net_device as it was sent. */
static void expect_good_tx(struct __test_metadata *_metadata, struct guest *g, struct nic *n,
			   uint32_t seq)
{
	uint8_t want[FRAME_LEN], got[2048];
	struct lkvm_vm_stats a, b;
	uint64_t r[4];
	ssize_t len;

	drain(n);
	vm_stats(_metadata, g, &a);
	guest_cmd(_metadata, g, OP_SEND, seq, r);
	ASSERT_EQ(1, r[0]) TH_LOG("the device never returned the good chain (status %#llx)",
				  (unsigned long long)r[1]);
	build_frame(want, bcast_mac, n->net.mac, ETH_G2H, seq);
	len = host_recv(n, got, sizeof(got), 2000);
	ASSERT_EQ(FRAME_LEN, len) TH_LOG("no frame %u on %s", seq, n->net.ifname);
	ASSERT_EQ(0, memcmp(want, got, FRAME_LEN));
	vm_stats(_metadata, g, &b);
	EXPECT_EQ(1, stat_delta(&a, &b, LKVM_VM_STAT_NET_TX_PACKETS));
	EXPECT_EQ(FRAME_LEN, stat_delta(&a, &b, LKVM_VM_STAT_NET_TX_BYTES));
}

static void expect_reset(struct __test_metadata *_metadata, struct guest *g, struct nic *n)
{
	uint64_t r[4];

	guest_cmd(_metadata, g, OP_RESET, 0, r);
	ASSERT_EQ(0, r[0]) TH_LOG("status %#llx after a reset", (unsigned long long)r[0]);
	expect_init(_metadata, g, n);
}

static bool is_rx_case(int which)
{
	return which >= BAD_RX_READONLY;
}

/*
 * Write the bad thing, and check what the device made of it: broken
 * (NEEDS_RESET, counted, and nothing processed until a reset) or the chain
 * dropped and counted. Either way no frame of it reaches the host, and a
 * read-only or unbacked RX buffer is never written. Returns NEEDS_RESET.
 */
static bool expect_bad(struct __test_metadata *_metadata, struct guest *g, struct nic *n,
		       int which)
{
	struct lkvm_vm_stats a, b;
	uint8_t buf[2048];
	uint64_t r[4], dropped;
	bool broken;
	int i;

	drain(n);
	vm_stats(_metadata, g, &a);
	guest_cmd(_metadata, g, OP_BAD, which, r);
	if (is_rx_case(which)) {
		/* The device looks at an RX chain when a frame arrives for it. */
		EXPECT_EQ(0, host_send(n, 0xbad));
	}
	/* A deferred TX drain or the RX path may still be at work. */
	for (i = 0; i < 100; i++) {
		vm_stats(_metadata, g, &b);
		if (stat_delta(&a, &b, LKVM_VM_STAT_NET_BAD_DESC) ||
		    stat_delta(&a, &b, LKVM_VM_STAT_NET_TX_DROPPED) ||
		    stat_delta(&a, &b, LKVM_VM_STAT_NET_RX_DROPPED))
			break;
		usleep(10000);
	}
	guest_cmd(_metadata, g, OP_STATUS, 0, r);
	vm_stats(_metadata, g, &b);
	broken = r[0] & S_NEEDS_RESET;
	dropped = stat_delta(&a, &b, LKVM_VM_STAT_NET_BAD_DESC) +
		  stat_delta(&a, &b, LKVM_VM_STAT_NET_TX_DROPPED);
	if (is_rx_case(which)) {
		dropped += stat_delta(&a, &b, LKVM_VM_STAT_NET_RX_DROPPED);
		EXPECT_EQ(1, r[3]) TH_LOG("the device wrote a buffer it must not have");
		EXPECT_EQ(0, stat_delta(&a, &b, LKVM_VM_STAT_NET_RX_PACKETS));
	}
	if (broken) {
		EXPECT_LE(1, stat_delta(&a, &b, LKVM_VM_STAT_NET_BAD_DESC));
		EXPECT_EQ(1, stat_delta(&a, &b, LKVM_VM_STAT_NET_NEEDS_RESET));
	} else {
		EXPECT_LE(1, dropped) TH_LOG("status %#llx, nothing counted",
					     (unsigned long long)r[0]);
		EXPECT_EQ(0, stat_delta(&a, &b, LKVM_VM_STAT_NET_NEEDS_RESET));
	}
	EXPECT_EQ(0, stat_delta(&a, &b, LKVM_VM_STAT_NET_TX_PACKETS));
	EXPECT_GT(0, host_recv(n, buf, sizeof(buf), 100))
		TH_LOG("a frame of the bad chain reached %s", n->net.ifname);
	fprintf(stderr, "#   bad case %d: status %#llx, %s (bad_desc +%llu, tx_dropped +%llu, "
		"rx_dropped +%llu)\n", which, (unsigned long long)r[0],
		broken ? "NEEDS_RESET" : "dropped",
		(unsigned long long)stat_delta(&a, &b, LKVM_VM_STAT_NET_BAD_DESC),
		(unsigned long long)stat_delta(&a, &b, LKVM_VM_STAT_NET_TX_DROPPED),
		(unsigned long long)stat_delta(&a, &b, LKVM_VM_STAT_NET_RX_DROPPED));
	return broken;
}

/* A broken device processes nothing until it is reset. */
static void expect_stopped(struct __test_metadata *_metadata, struct guest *g, struct nic *n)
{
	uint8_t buf[2048];
	uint64_t r[4];

	drain(n);
	guest_cmd(_metadata, g, OP_SEND, 1, r);
	EXPECT_EQ(0, r[0]) TH_LOG("a device in NEEDS_RESET processed a chain");
	EXPECT_TRUE(r[1] & S_NEEDS_RESET);
	EXPECT_GT(0, host_recv(n, buf, sizeof(buf), 100))
		TH_LOG("a device in NEEDS_RESET sent a frame");
}

FIXTURE(net) {
};

FIXTURE_SETUP(net)
{
}

FIXTURE_TEARDOWN(net)
{
}

static void bad_chain_test(struct __test_metadata *_metadata, int which)
{
	struct guest *g;
	struct nic n;

	NET_OR_SKIP();
	NIC_GUEST(g, &n, guest_mac);
	expect_init(_metadata, g, &n);
	expect_good_tx(_metadata, g, &n, 100);

	if (expect_bad(_metadata, g, &n, which))
		expect_stopped(_metadata, g, &n);

	expect_reset(_metadata, g, &n);
	expect_good_tx(_metadata, g, &n, 101);
	nic_close(&n);
	guest_destroy(g);
}

/* One test per bad thing, not fixture variants: count-tests.sh counts tests. */
#define BAD_CHAIN_TEST(name, which)							TEST_F_TIMEOUT(net, bad_##name, 60)						{											bad_chain_test(_metadata, which);					}

BAD_CHAIN_TEST(loop, BAD_LOOP)
BAD_CHAIN_TEST(next_past_queue, BAD_NEXT_OOB)
BAD_CHAIN_TEST(head_past_queue, BAD_HEAD_OOB)
BAD_CHAIN_TEST(addr_unbacked, BAD_ADDR_UNBACKED)
BAD_CHAIN_TEST(addr_mmio, BAD_ADDR_MMIO)
BAD_CHAIN_TEST(addr_wraps, BAD_ADDR_WRAP)
BAD_CHAIN_TEST(tx_device_writable, BAD_TX_WRITABLE)
BAD_CHAIN_TEST(header_short, BAD_HDR_SHORT)
BAD_CHAIN_TEST(len_zero, BAD_LEN_ZERO)
BAD_CHAIN_TEST(len_over_64k, BAD_LEN_HUGE)
BAD_CHAIN_TEST(len_4g, BAD_LEN_4G)
BAD_CHAIN_TEST(len_sum_wraps_4g, BAD_LEN_SUM_WRAP)
BAD_CHAIN_TEST(indirect_len_odd, BAD_INDIRECT_ODD)
BAD_CHAIN_TEST(indirect_len_zero, BAD_INDIRECT_ZERO)
BAD_CHAIN_TEST(indirect_nested, BAD_INDIRECT_NESTED)
BAD_CHAIN_TEST(indirect_next_past_table, BAD_INDIRECT_NEXT_OOB)
BAD_CHAIN_TEST(indirect_loop, BAD_INDIRECT_LOOP)
BAD_CHAIN_TEST(indirect_unbacked, BAD_INDIRECT_UNBACKED)
BAD_CHAIN_TEST(avail_idx_jump, BAD_AVAIL_JUMP)
BAD_CHAIN_TEST(rx_read_only, BAD_RX_READONLY)
BAD_CHAIN_TEST(rx_unbacked, BAD_RX_UNBACKED)
BAD_CHAIN_TEST(rx_loop, BAD_RX_LOOP)

static long read_tx_dropped(const char *ifname)
{
	char path[128], buf[32];
	long v = -1;
	int fd;

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/tx_dropped", ifname);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	memset(buf, 0, sizeof(buf));
	if (read(fd, buf, sizeof(buf) - 1) > 0)
		v = strtol(buf, NULL, 10);
	close(fd);
	return v;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * No RX buffers, and a second of frames from the host, past the qdisc
 * (through it, frames the device will not take wait there and block the
 * sender once they fill its socket buffer): none reaches the guest, and
 * every one refused is counted, by the device (rx_dropped) or by the
 * net_device (tx_dropped). Then buffers, one frame, and it arrives intact.
 */
TEST_F_TIMEOUT(net, no_rx_buffers_host_flood, 120)
{
	struct lkvm_vm_stats a, b, c;
	long ok = 0, refused = 0, txd0, txd1;
	uint64_t r[4], used;
	int i;
	struct guest *g;
	struct nic n;
	double end;

	NET_OR_SKIP();
	NIC_GUEST(g, &n, guest_mac);
	expect_init(_metadata, g, &n);

	txd0 = read_tx_dropped(n.net.ifname);
	ASSERT_LE(0, txd0);
	vm_stats(_metadata, g, &a);
	for (end = now() + 1; now() < end;) {
		if (host_send(&n, 0x10000 + ok + refused))
			refused++;
		else
			ok++;
	}
	vm_stats(_metadata, g, &b);
	txd1 = read_tx_dropped(n.net.ifname);
	fprintf(stderr, "#   flood: %ld taken, %ld refused; rx_dropped +%llu, tx_dropped +%ld\n",
		ok, refused,
		(unsigned long long)stat_delta(&a, &b, LKVM_VM_STAT_NET_RX_DROPPED), txd1 - txd0);
	EXPECT_LT(100, ok + refused);
	EXPECT_EQ(0, stat_delta(&a, &b, LKVM_VM_STAT_NET_RX_PACKETS));
	EXPECT_LE(refused, stat_delta(&a, &b, LKVM_VM_STAT_NET_RX_DROPPED) + txd1 - txd0);
	EXPECT_LT(0, stat_delta(&a, &b, LKVM_VM_STAT_NET_RX_DROPPED) + txd1 - txd0)
		TH_LOG("a flood with no buffers, and no drop counted");
	EXPECT_EQ(0, stat_delta(&a, &b, LKVM_VM_STAT_NET_BAD_DESC));

	guest_cmd(_metadata, g, OP_STATUS, 0, r);
	EXPECT_EQ(0, r[0] & S_NEEDS_RESET);
	EXPECT_EQ(0, r[2]) TH_LOG("RX used idx moved with no buffers posted");

	/* Frames the device held back for buffers may come first. */
	guest_cmd(_metadata, g, OP_POST_RX, NR_RX_BUFS, r);
	ASSERT_EQ(0, host_send(&n, 7));
	for (i = 0, used = 0; i < 100; i++) {
		guest_cmd(_metadata, g, OP_RX_CHECK, 7, r);
		used += r[2];
		if (r[0])
			break;
	}
	EXPECT_EQ(1, r[0]) TH_LOG("frame 7 not in the guest's buffers (%llu used)",
				  (unsigned long long)used);
	EXPECT_EQ(NET_HDR_LEN + FRAME_LEN, r[1]);
	/* Each frame the device took was dropped and counted, or came in late. */
	vm_stats(_metadata, g, &c);
	EXPECT_EQ(used, stat_delta(&a, &c, LKVM_VM_STAT_NET_RX_PACKETS));
	EXPECT_LE(ok + 1, stat_delta(&a, &c, LKVM_VM_STAT_NET_RX_DROPPED) +
			  stat_delta(&a, &c, LKVM_VM_STAT_NET_RX_PACKETS));
	expect_good_tx(_metadata, g, &n, 8);

	nic_close(&n);
	guest_destroy(g);
}

/* One VM breaks its NIC over and over; the other's NIC never notices. */
TEST_F_TIMEOUT(net, second_vm_keeps_working, 120)
{
	static const int hostile[] = { BAD_LOOP, BAD_ADDR_UNBACKED, BAD_INDIRECT_NESTED,
				       BAD_AVAIL_JUMP, BAD_RX_READONLY };
	struct lkvm_vm_stats s;
	struct guest *g1, *g2;
	struct nic n1, n2;
	uint64_t r[4];
	unsigned int i;

	NET_OR_SKIP();
	NIC_GUEST(g1, &n1, guest_mac);
	NIC_GUEST(g2, &n2, other_mac);
	ASSERT_NE(n1.net.ifindex, n2.net.ifindex);
	expect_init(_metadata, g1, &n1);
	expect_init(_metadata, g2, &n2);
	guest_cmd(_metadata, g2, OP_POST_RX, NR_RX_BUFS, r);

	for (i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		expect_bad(_metadata, g1, &n1, hostile[i]);
		expect_good_tx(_metadata, g2, &n2, 200 + i);
		ASSERT_EQ(0, host_send(&n2, 300 + i));
		guest_cmd(_metadata, g2, OP_RX_CHECK, 300 + i, r);
		EXPECT_EQ(1, r[0]) TH_LOG("frame %u lost on the good VM", 300 + i);
		expect_reset(_metadata, g1, &n1);
	}
	vm_stats(_metadata, g2, &s);
	EXPECT_EQ(0, s.stat[LKVM_VM_STAT_NET_BAD_DESC]);
	EXPECT_EQ(0, s.stat[LKVM_VM_STAT_NET_NEEDS_RESET]);
	vm_stats(_metadata, g1, &s);
	EXPECT_LE(1, s.stat[LKVM_VM_STAT_NET_BAD_DESC]);

	nic_close(&n1);
	nic_close(&n2);
	guest_destroy(g1);
	guest_destroy(g2);
}

struct flood {
	int fd;
	int ifindex;
	atomic_bool stop;
	long sent;
};

static void *flood_thread(void *arg)
{
	struct flood *f = arg;
	uint8_t frame[FRAME_LEN];
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_H2G),
		.sll_ifindex = f->ifindex,
		.sll_halen = 6,
	};

	memcpy(sll.sll_addr, guest_mac, 6);
	build_frame(frame, guest_mac, host_mac, ETH_H2G, 0);
	while (!atomic_load(&f->stop)) {
		if (sendto(f->fd, frame, sizeof(frame), 0, (struct sockaddr *)&sll,
			   sizeof(sll)) == sizeof(frame))
			f->sent++;
		else if (errno == ENXIO || errno == ENODEV || errno == ENETDOWN)
			usleep(1000);
	}
	return NULL;
}

/*
 * The VM's process: make the NIC, say what it is, run traffic until
 * killed. Not a harness test: any failure ends it before it writes.
 */
static void __attribute__((noreturn)) traffic_child(int wfd)
{
	struct guest_opts opts = { .backend = GUEST_LKVM, .platform = true };
	struct lkvm_net net = { .ifname = "lkvmh%d" };
	char msg[GUEST_MSG_LEN];
	struct guest *g;
	uint64_t r[4];

	memcpy(net.mac, guest_mac, 6);
	g = guest_create(&opts, guest_code);
	if (!g || ioctl(guest_vm_fd(g), LKVM_CREATE_NET, &net) || ifup(net.ifname) ||
	    guest_cmd_raw(g, 0, 0, r, msg, sizeof(msg)) ||
	    guest_cmd_raw(g, OP_INIT, 0, r, msg, sizeof(msg)) || !(r[0] & S_DRIVER_OK) ||
	    guest_cmd_raw(g, OP_POST_RX, NR_RX_BUFS, r, msg, sizeof(msg)) ||
	    write(wfd, &net, sizeof(net)) != sizeof(net))
		_exit(1);
	cmd.op = OP_TRAFFIC;
	guest_sync_global(g, &cmd, sizeof(cmd));
	for (;;)
		guest_run(g);
}

static bool iface_exists(const char *ifname)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/class/net/%s", ifname);
	return !access(path, F_OK);
}

TEST_F_TIMEOUT(net, killed_mid_traffic_frees_everything, 120)
{
	struct lkvm_mem_snapshot *before, *after;
	struct flood f = { .fd = -1 };
	long pins_before, got = 0;
	struct lkvm_net net;
	uint8_t buf[2048];
	struct nic cap;
	char msg[512];
	pthread_t ft;
	int p[2], i, status;
	pid_t pid;

	NET_OR_SKIP();
	before = calloc(1, sizeof(*before));
	after = calloc(1, sizeof(*after));
	ASSERT_TRUE(before && after);
	pins_before = lkvm_foll_pins_held();
	ASSERT_LE(0, pins_before);
	ASSERT_EQ(0, lkvm_mem_snapshot(before));

	ASSERT_EQ(0, pipe(p));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(p[0]);
		traffic_child(p[1]);
	}
	close(p[1]);
	ASSERT_EQ(sizeof(net), read(p[0], &net, sizeof(net)))
		TH_LOG("the VM's process never made its NIC");
	close(p[0]);

	cap.cap_fd = packet_socket(net.ifindex, ETH_G2H);
	ASSERT_LE(0, cap.cap_fd);
	f.fd = packet_socket(net.ifindex, ETH_H2G);
	ASSERT_LE(0, f.fd);
	f.ifindex = net.ifindex;
	ASSERT_EQ(0, pthread_create(&ft, NULL, flood_thread, &f));
	/* Traffic both ways, then the kill lands in the middle of it. */
	for (i = 0; i < 200 && got < 50; i++)
		if (host_recv(&cap, buf, sizeof(buf), 50) > 0)
			got++;
	EXPECT_LE(50, got) TH_LOG("the guest sent only %ld frames", got);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		TH_LOG("the VM's process ended with status %#x", status);
	atomic_store(&f.stop, true);
	pthread_join(ft, NULL);
	fprintf(stderr, "#   %ld frames from the guest seen, %ld sent to it\n", got, f.sent);
	EXPECT_LT(0, f.sent);
	close(f.fd);
	close(cap.cap_fd);

	for (i = 0; i < 500 && iface_exists(net.ifname); i++)
		usleep(10000);
	EXPECT_FALSE(iface_exists(net.ifname)) TH_LOG("%s outlived its VM", net.ifname);
	for (i = 0; i < 200 && lkvm_foll_pins_held() > pins_before; i++)
		usleep(10000);
	/* (A count over all the kernel: another process's pins may go meanwhile.) */
	EXPECT_GE(pins_before, lkvm_foll_pins_held());
	ASSERT_EQ(0, lkvm_mem_snapshot(after));
	/* Coarse, as in chaos_test: one VM's objects are a few hundred at most. */
	lkvm_mem_grown(before, after, 0, msg, sizeof(msg));
	fprintf(stderr, "#   %s\n", msg);
	EXPECT_GT(256, after->kernel_pages - before->kernel_pages) TH_LOG("%s", msg);
	EXPECT_EQ(0, lkvm_mem_grown(before, after, 1024, msg, sizeof(msg))) TH_LOG("%s", msg);
	free(before);
	free(after);
}

TEST_HARNESS_MAIN
