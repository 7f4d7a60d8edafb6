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
#include "lib/guest_virtio.h"
#include "lib/lkvm_util.h"

/* ---- The guest's buffers ---- */

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

/* ---- Guest: the device, through lib/guest_virtio.c ---- */

static uint8_t tx_hdr[NET_HDR_LEN] __attribute__((aligned(16)));
static uint8_t tx_frame[FRAME_LEN] __attribute__((aligned(16)));
static uint8_t big_buf[(64 << 10) + 4096] __attribute__((aligned(4096)));
static uint8_t rx_bufs[NR_RX_BUFS][RX_BUF_LEN] __attribute__((aligned(4096)));
static struct vio_desc itable[4] __attribute__((aligned(16)));
static struct vio_desc itable2[2] __attribute__((aligned(16)));

static void dev_init(uint64_t *r)
{
	uint64_t offered;
	int i;

	vio_find(VIRTIO_NET_MODERN);
	r[0] = vio_init(F_VERSION_1 | F_INDIRECT | F_MAC, &offered);
	GUEST_ASSERT(offered & F_VERSION_1);
	GUEST_ASSERT(offered & F_INDIRECT);
	r[1] = vio.features;
	for (i = 0; i < 6; i++)
		r[2] |= (uint64_t)vio.mac[i] << (8 * i);
	r[3] = vio.devfn;
}

/* A header descriptor and a frame descriptor, at slots @head, @head + 1. */
static uint16_t post_tx(uint32_t seq)
{
	struct vio_vq *q = &vio.q[TXQ];
	uint16_t head = (q->avail_idx * 2) % q->size;

	build_frame(tx_frame, bcast_mac, vio.mac, ETH_G2H, seq);
	vio_set_desc(&q->ring->desc[head], (uintptr_t)tx_hdr, NET_HDR_LEN, D_NEXT, head + 1);
	vio_set_desc(&q->ring->desc[head + 1], (uintptr_t)tx_frame, FRAME_LEN, 0, 0);
	vio_publish(q, head, 1);
	vio_notify(TXQ);
	return q->avail_idx;
}

static void send_good(uint64_t seq, uint64_t *r)
{
	uint16_t want = post_tx(seq);

	r[0] = vio_wait_used(TXQ, want);
	r[1] = vio_status();
	vio.q[TXQ].used_seen = vio_used_idx(TXQ);
}

static void post_rx(uint64_t n)
{
	struct vio_vq *q = &vio.q[RXQ];
	uint16_t i;

	for (i = 0; i < n && i < NR_RX_BUFS; i++) {
		memset(rx_bufs[i], RX_PATTERN, RX_BUF_LEN);
		vio_set_desc(&q->ring->desc[i], (uintptr_t)rx_bufs[i], RX_BUF_LEN, D_WRITE, 0);
		vio_publish(q, i, 1);
	}
	vio_notify(RXQ);
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
	struct vio_vq *q = &vio.q[RXQ];
	uint16_t idx = vio_used_idx(RXQ);

	build_frame(want, vio.mac, host_mac, ETH_H2G, seq);
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
		vio_publish(q, id, 1);
	}
	if (r[2])
		vio_notify(RXQ);
}

/* Send and receive until the host kills us. */
static void __attribute__((noreturn)) traffic(void)
{
	struct vio_vq *rq = &vio.q[RXQ];
	uint32_t seq = 0;

	for (;;) {
		uint16_t want = post_tx(seq++);
		uint16_t idx;

		vio_wait_used(TXQ, want);
		for (idx = vio_used_idx(RXQ); rq->used_seen != idx; rq->used_seen++) {
			uint32_t id = VOLATILE(rq->ring->used.ring[rq->used_seen % rq->size].id);

			GUEST_ASSERT(id < NR_RX_BUFS);
			vio_publish(rq, id, 1);
			vio_notify(RXQ);
		}
	}
}

static void post_bad(uint64_t which)
{
	struct vio_vq *q = &vio.q[which >= BAD_RX_READONLY ? RXQ : TXQ];
	struct vio_desc *d = q->ring->desc;
	uint64_t hdr = (uintptr_t)tx_hdr, frame = (uintptr_t)tx_frame;
	uint64_t rxb = (uintptr_t)rx_bufs[0];
	uint16_t head = 0;

	build_frame(tx_frame, bcast_mac, vio.mac, ETH_G2H, 0xbad);
	memset(rx_bufs, RX_PATTERN, sizeof(rx_bufs));
	vio_set_desc(&d[0], hdr, NET_HDR_LEN, D_NEXT, 1);
	switch (which) {
	case BAD_LOOP:
		vio_set_desc(&d[1], frame, FRAME_LEN, D_NEXT, 0);
		break;
	case BAD_NEXT_OOB:
		d[0].next = q->size;
		break;
	case BAD_HEAD_OOB:
		vio_set_desc(&d[1], frame, FRAME_LEN, 0, 0);
		head = q->size;
		break;
	case BAD_ADDR_UNBACKED:
		vio_set_desc(&d[1], UNBACKED_GPA, FRAME_LEN, 0, 0);
		break;
	case BAD_ADDR_MMIO:
		vio_set_desc(&d[1], IOAPIC_GPA, FRAME_LEN, 0, 0);
		break;
	case BAD_ADDR_WRAP:
		vio_set_desc(&d[1], ~0ULL - 0xfff, 0x2000, 0, 0);
		break;
	case BAD_TX_WRITABLE:
		vio_set_desc(&d[1], frame, FRAME_LEN, D_WRITE, 0);
		break;
	case BAD_HDR_SHORT:
		vio_set_desc(&d[0], hdr, 4, 0, 0);
		break;
	case BAD_LEN_ZERO:
		vio_set_desc(&d[1], frame, 0, 0, 0);
		break;
	case BAD_LEN_HUGE:
		build_frame(big_buf, bcast_mac, vio.mac, ETH_G2H, 0xbad);
		vio_set_desc(&d[1], (uintptr_t)big_buf, (64 << 10) + 64, 0, 0);
		break;
	case BAD_LEN_4G:
		vio_set_desc(&d[1], frame, 0xffffffff, 0, 0);
		break;
	case BAD_LEN_SUM_WRAP:
		vio_set_desc(&d[1], frame, 0xfffffff8, D_NEXT, 2);
		vio_set_desc(&d[2], frame, 0x20, 0, 0);
		break;
	case BAD_INDIRECT_ODD:
	case BAD_INDIRECT_ZERO:
	case BAD_INDIRECT_NESTED:
	case BAD_INDIRECT_NEXT_OOB:
	case BAD_INDIRECT_LOOP:
	case BAD_INDIRECT_UNBACKED:
		vio_set_desc(&itable[0], hdr, NET_HDR_LEN, D_NEXT, 1);
		vio_set_desc(&itable[1], frame, FRAME_LEN, 0, 0);
		vio_set_desc(&d[0], (uintptr_t)itable, 2 * sizeof(struct vio_desc), D_INDIRECT, 0);
		if (which == BAD_INDIRECT_ODD)
			d[0].len = 24;
		else if (which == BAD_INDIRECT_ZERO)
			d[0].len = 0;
		else if (which == BAD_INDIRECT_NESTED)
			vio_set_desc(&itable[1], (uintptr_t)itable2, sizeof(itable2), D_INDIRECT, 0);
		else if (which == BAD_INDIRECT_NEXT_OOB)
			itable[0].next = 2;
		else if (which == BAD_INDIRECT_LOOP)
			vio_set_desc(&itable[1], frame, FRAME_LEN, D_NEXT, 0);
		else
			d[0].addr = UNBACKED_GPA;
		vio_set_desc(&itable2[0], hdr, NET_HDR_LEN, D_NEXT, 1);
		vio_set_desc(&itable2[1], frame, FRAME_LEN, 0, 0);
		break;
	case BAD_AVAIL_JUMP:
		vio_set_desc(&d[1], frame, FRAME_LEN, 0, 0);
		/* Every ring entry names the good chain: only the index is wrong. */
		vio_publish(q, 0, q->size);
		q->avail_idx++;
		VOLATILE(q->ring->avail.idx) = q->avail_idx;
		vio_notify(TXQ);
		return;
	case BAD_RX_READONLY:
		vio_set_desc(&d[0], rxb, RX_BUF_LEN, 0, 0);
		break;
	case BAD_RX_UNBACKED:
		vio_set_desc(&d[0], UNBACKED_GPA, RX_BUF_LEN, D_WRITE, 0);
		break;
	case BAD_RX_LOOP:
		vio_set_desc(&d[0], rxb, NET_HDR_LEN, D_WRITE | D_NEXT, 1);
		vio_set_desc(&d[1], rxb + NET_HDR_LEN, RX_BUF_LEN - NET_HDR_LEN, D_WRITE | D_NEXT, 0);
		break;
	default:
		GUEST_ASSERT(0);
	}
	vio_publish(q, head, 1);
	vio_notify(q == &vio.q[RXQ] ? RXQ : TXQ);
	/* TX runs in the notify's exit; give a deferred drain a moment too. */
	if (q == &vio.q[TXQ])
		vio_wait_used(TXQ, q->avail_idx);
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
			r[0] = vio_status();
			r[1] = vio_used_idx(TXQ);
			r[2] = vio_used_idx(RXQ);
			break;
		case OP_STATUS:
			r[0] = vio_status();
			r[1] = vio_used_idx(TXQ);
			r[2] = vio_used_idx(RXQ);
			r[3] = rx_untouched();
			break;
		case OP_RESET:
			r[1] = vio_reset();
			r[0] = vio_status();
			break;
		case OP_POST_RX:
			post_rx(VOLATILE(cmd.arg));
			r[0] = vio_status();
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
	ASSERT_EQ(0, lkvm_ifup(n->net.ifname)) TH_LOG("%s", n->net.ifname);
	n->cap_fd = lkvm_packet_socket(n->net.ifindex, ETH_G2H);
	ASSERT_LE(0, n->cap_fd) TH_LOG("AF_PACKET on %s: %s", n->net.ifname, strerror(errno));
	n->tx_fd = lkvm_packet_socket(n->net.ifindex, ETH_H2G);
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
	if (!g || ioctl(guest_vm_fd(g), LKVM_CREATE_NET, &net) || lkvm_ifup(net.ifname) ||
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

	cap.cap_fd = lkvm_packet_socket(net.ifindex, ETH_G2H);
	ASSERT_LE(0, cap.cap_fd);
	f.fd = lkvm_packet_socket(net.ifindex, ETH_H2G);
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
