// SPDX-License-Identifier: GPL-2.0-only
/*
 * The in-kernel virtio-net device (virtio 1.x, 5.1) and its host end, a
 * net_device of the host: what the guest transmits is received by the
 * host stack through it, what the host transmits through it lands in the
 * guest's receive buffers. No packet leaves the kernel.
 *
 * TX: the guest's notify is a port write; its exit handler drains the
 * transmit queue into the host stack, LKVM_NET_TX_BUDGET chains at most,
 * and leaves the rest to a worker. While draining, the guest is asked not
 * to notify; notifications go back on when the queue is empty, and the
 * queue is looked at once more, which closes the race with a driver
 * adding a chain just then.
 *
 * RX: ndo_start_xmit copies each frame into as many receive buffers as it
 * needs (mergeable buffers), with the virtio-net header in front. The
 * interrupt goes out once per batch of frames (when the stack says no
 * more follow) and only if the driver asked for it. Out of buffers, the
 * frame is dropped and counted.
 *
 * Offloads both ways: the header's checksum and GSO fields become the
 * skb's, and back; what the driver did not negotiate, the host stack does
 * in software before the frame reaches the device (ndo_features_check).
 *
 * A malformed chain breaks the device (DEVICE_NEEDS_RESET) until the
 * driver resets it; frames with bad headers are only dropped. Either way
 * it is counted. The host end lives as long as the VM; deleting it takes
 * the guest's link down and its frames are dropped.
 *
 * Locks: the transport's lock, then a queue's lock (BHs off); the RX
 * queue's lock is taken in ndo_start_xmit, so nothing under it may
 * transmit; TX frames go to the stack after the TX lock is dropped.
 */
#include <linux/etherdevice.h>
#include <linux/ethtool.h>
#include <linux/netdevice.h>
#include <linux/rtnetlink.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <linux/workqueue.h>
#include <net/rtnetlink.h>

#include "lkvm.h"
#include "trace.h"
#include "virtio_pci.h"

#define LKVM_NET_RXQ		0
#define LKVM_NET_TXQ		1
#define LKVM_NET_NR_QUEUES	2
#define LKVM_NET_QUEUE_SIZE	256
/* Chains the notify exit drains before a worker takes over. */
#define LKVM_NET_TX_BUDGET	64
/* With VERSION_1 the header always has num_buffers. */
#define LKVM_NET_HDR_LEN	sizeof(struct virtio_net_hdr_mrg_rxbuf)
/* The largest frame either way: a 64 KiB GSO frame and its Ethernet header. */
#define LKVM_NET_MAX_FRAME	(65535 + ETH_HLEN)
/* The most receive buffers one frame may take: 64 KiB in 1518-byte buffers fits. */
#define LKVM_NET_RX_MAX_CHAINS	64
/* Header bytes of a TX frame put in the skb's linear part. */
#define LKVM_NET_TX_LINEAR	256

/* The port and memory windows of NIC n's BARs: inside the DSDT's PCI windows. */
#define LKVM_NET_IO_BASE	0xc000
#define LKVM_NET_MEM_BASE	0xfe000000U

#define LKVM_NET_FEATURES	(BIT_ULL(VIRTIO_F_VERSION_1) |			\
				 BIT_ULL(VIRTIO_RING_F_EVENT_IDX) |		\
				 BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC) |		\
				 BIT_ULL(VIRTIO_NET_F_CSUM) |			\
				 BIT_ULL(VIRTIO_NET_F_GUEST_CSUM) |		\
				 BIT_ULL(VIRTIO_NET_F_HOST_TSO4) |		\
				 BIT_ULL(VIRTIO_NET_F_HOST_TSO6) |		\
				 BIT_ULL(VIRTIO_NET_F_HOST_ECN) |		\
				 BIT_ULL(VIRTIO_NET_F_GUEST_TSO4) |		\
				 BIT_ULL(VIRTIO_NET_F_GUEST_TSO6) |		\
				 BIT_ULL(VIRTIO_NET_F_GUEST_ECN) |		\
				 BIT_ULL(VIRTIO_NET_F_MRG_RXBUF) |		\
				 BIT_ULL(VIRTIO_NET_F_MAC) |			\
				 BIT_ULL(VIRTIO_NET_F_STATUS))

struct lkvm_net_stats {
	u64 tx_packets, tx_bytes, tx_dropped;	/* the guest's, to the host */
	u64 rx_packets, rx_bytes, rx_dropped;	/* the host's, to the guest */
	u64 notify, irqs, tx_deferred, bad_desc, needs_reset;
};

struct lkvm_nic {
	struct lkvm_virtio v;
	struct lkvm_vm *vm;
	unsigned int index;
	u8 mac[ETH_ALEN];
	/* The host end; NULL once deleted. Written under RTNL. */
	struct net_device __rcu *ndev;
	struct work_struct tx_work;
	/* Used under the RX and TX queue locks respectively. */
	struct lkvm_vq_chain rx_chain[LKVM_NET_RX_MAX_CHAINS];
	struct lkvm_vq_chain tx_chain;
	/* Updated under the queue locks (RX side and TX side), read anywhere. */
	struct lkvm_net_stats st;
};

/* The host net_device's private part: which NIC it is the end of. */
struct lkvm_net_priv {
	struct lkvm_nic __rcu *nic;
};

static struct lkvm_nic *lkvm_nic(struct lkvm_virtio *v)
{
	return container_of(v, struct lkvm_nic, v);
}

static void lkvm_net_bad_chain(struct lkvm_nic *nic, u16 q, enum lkvm_vq_error err)
{
	nic->st.bad_desc++;
	if (lkvm_virtio_broken(&nic->v, q, err))
		nic->st.needs_reset++;
}

static void lkvm_net_signal(struct lkvm_nic *nic, u16 q)
{
	nic->st.irqs++;
	lkvm_virtio_signal_queue(&nic->v, q);
}

/* ---- guest to host ---- */

struct lkvm_net_skb_fill {
	struct sk_buff *skb;
	int off;
};

static int lkvm_net_fill_skb(void *ctx, void *p, u32 n)
{
	struct lkvm_net_skb_fill *f = ctx;
	int ret = skb_store_bits(f->skb, f->off, p, n);

	f->off += n;
	return ret;
}

/* One TX chain to an skb for @ndev, or NULL to drop it, *@why (LKVM_NET_DROP_*) says why. */
static struct sk_buff *lkvm_net_tx_skb(struct lkvm_nic *nic, struct net_device *ndev,
				       const struct lkvm_vq_chain *c, int *why)
{
	struct virtio_net_hdr_mrg_rxbuf hdr;
	struct lkvm_net_skb_fill fill;
	u32 len = c->out_len - LKVM_NET_HDR_LEN, linear;
	struct sk_buff *skb;
	int err;

	*why = LKVM_NET_DROP_LEN;
	if (c->out_len < LKVM_NET_HDR_LEN + ETH_HLEN || len > LKVM_NET_MAX_FRAME)
		return NULL;
	*why = LKVM_NET_DROP_FAULT;
	if (lkvm_vq_copy_from(nic->vm, c, 0, &hdr, sizeof(hdr)))
		return NULL;
	/* The headers the offloads look at must be in the linear part. */
	linear = max_t(u32, LKVM_NET_TX_LINEAR, __virtio16_to_cpu(true, hdr.hdr.hdr_len));
	linear = min(linear, len);
	skb = alloc_skb_with_frags(linear + NET_IP_ALIGN, len - linear, PAGE_ALLOC_COSTLY_ORDER,
				   &err, GFP_ATOMIC | __GFP_NOWARN);
	if (!skb) {
		*why = LKVM_NET_DROP_NOMEM;
		return NULL;
	}
	skb_reserve(skb, NET_IP_ALIGN);
	skb_put(skb, linear);
	skb->data_len = len - linear;
	skb->len += len - linear;
	fill = (struct lkvm_net_skb_fill){ .skb = skb };
	if (lkvm_vq_iter(nic->vm, c, false, LKVM_NET_HDR_LEN, len, lkvm_net_fill_skb, &fill))
		goto drop;
	skb->dev = ndev;
	*why = LKVM_NET_DROP_BAD_HDR;
	if (virtio_net_hdr_to_skb(skb, &hdr.hdr, true))
		goto drop;
	skb->protocol = eth_type_trans(skb, ndev);
	return skb;
drop:
	kfree_skb(skb);
	return NULL;
}

/*
 * Drain up to @budget chains, in @context (LKVM_NET_TX_*). Returns true if
 * chains are left (the caller defers them), false when the queue is empty
 * with notifications back on.
 */
static bool lkvm_net_tx(struct lkvm_nic *nic, unsigned int budget, int context)
{
	struct lkvm_vq *vq = &nic->v.vq[LKVM_NET_TXQ];
	struct lkvm_vq_chain *c = &nic->tx_chain;
	unsigned int done = 0, sent = 0;
	struct net_device *ndev;
	enum lkvm_vq_error err;
	LIST_HEAD(frames);
	bool more = false, irq = false;
	struct sk_buff *skb;
	u64 bytes = 0;
	int ret, why;

	rcu_read_lock();
	ndev = rcu_dereference(nic->ndev);
	spin_lock_bh(&nic->v.qlock[LKVM_NET_TXQ]);
	if (!lkvm_virtio_queue_live(&nic->v, LKVM_NET_TXQ))
		goto unlock;
	lkvm_vq_notify(nic->vm, vq, false);
	for (;;) {
		if (done == budget) {
			more = true;
			break;
		}
		ret = lkvm_vq_pop(nic->vm, vq, c, &err);
		if (ret < 0 || (ret > 0 && c->nr_in)) {
			lkvm_net_bad_chain(nic, LKVM_NET_TXQ, ret < 0 ? err : LKVM_VQ_ERR_WRITABLE);
			break;
		}
		if (!ret) {
			/* Empty: ask for notifications, and look once more. */
			if (!lkvm_vq_notify(nic->vm, vq, true))
				break;
			continue;
		}
		done++;
		why = LKVM_NET_DROP_LINK_DOWN;
		skb = (ndev && (ndev->flags & IFF_UP)) ? lkvm_net_tx_skb(nic, ndev, c, &why) : NULL;
		if (skb) {
			sent++;
			bytes += skb->len + ETH_HLEN;
			list_add_tail(&skb->list, &frames);
		} else {
			nic->st.tx_dropped++;
			trace_lkvm_net_drop(nic->vm->id, nic->index, false, why, c->out_len);
		}
		lkvm_vq_push(nic->vm, vq, c->head, 0);
	}
	nic->st.tx_packets += sent;
	nic->st.tx_bytes += bytes;
	irq = lkvm_vq_publish(nic->vm, vq);
	if (irq)
		lkvm_net_signal(nic, LKVM_NET_TXQ);
	trace_lkvm_net_tx(nic->vm->id, nic->index, done, sent, bytes, more, context);
unlock:
	spin_unlock_bh(&nic->v.qlock[LKVM_NET_TXQ]);
	if (!list_empty(&frames)) {
		local_bh_disable();
		netif_receive_skb_list(&frames);
		local_bh_enable();
	}
	rcu_read_unlock();
	return more;
}

static void lkvm_net_tx_work(struct work_struct *work)
{
	struct lkvm_nic *nic = container_of(work, struct lkvm_nic, tx_work);

	if (lkvm_net_tx(nic, LKVM_NET_TX_BUDGET, LKVM_NET_TX_WORKER)) {
		nic->st.tx_deferred++;
		queue_work(system_highpri_wq, &nic->tx_work);
	}
}

/* ---- host to guest ---- */

struct lkvm_net_skb_copy {
	const struct sk_buff *skb;
	int off;
};

static int lkvm_net_copy_skb(void *ctx, void *p, u32 n)
{
	struct lkvm_net_skb_copy *s = ctx;
	int ret = skb_copy_bits(s->skb, s->off, p, n);

	s->off += n;
	return ret;
}

/*
 * The guest's buffers for a frame of @need bytes, header included: one
 * chain, or with MRG_RXBUF as many as it takes. Returns how many chains
 * were taken, 0 if there are not enough (none is kept), <0 if a chain
 * was malformed.
 */
static int lkvm_net_rx_buffers(struct lkvm_nic *nic, u32 need)
{
	struct lkvm_vq *vq = &nic->v.vq[LKVM_NET_RXQ];
	bool mrg = lkvm_virtio_has(&nic->v, VIRTIO_NET_F_MRG_RXBUF);
	unsigned int n = 0, max = mrg ? ARRAY_SIZE(nic->rx_chain) : 1;
	enum lkvm_vq_error err;
	u32 got = 0;
	int ret;

	while (got < need) {
		if (n == max) {
			/* Buffers too small for this frame: drop it, not the queue. */
			lkvm_vq_unpop(vq, n);
			return -EMSGSIZE;
		}
		ret = lkvm_vq_pop(nic->vm, vq, &nic->rx_chain[n], &err);
		if (ret > 0 && nic->rx_chain[n].nr_out) {
			ret = -EINVAL;
			err = LKVM_VQ_ERR_READABLE;
		}
		if (ret < 0) {
			lkvm_vq_unpop(vq, n);
			lkvm_net_bad_chain(nic, LKVM_NET_RXQ, err);
			return ret;
		}
		if (!ret) {
			lkvm_vq_unpop(vq, n);
			return 0;
		}
		got += nic->rx_chain[n++].in_len;
	}
	return n;
}

/*
 * Put @skb in the guest's buffers. Returns how many it took, or 0 if it
 * is dropped, *@why (LKVM_NET_DROP_*) saying why.
 */
static int lkvm_net_rx(struct lkvm_nic *nic, struct sk_buff *skb, int *why)
{
	struct lkvm_vq *vq = &nic->v.vq[LKVM_NET_RXQ];
	struct virtio_net_hdr_mrg_rxbuf hdr;
	struct lkvm_net_skb_copy copy = { .skb = skb };
	u32 left = skb->len, off, chunk;
	int n, i;

	*why = LKVM_NET_DROP_LEN;
	if (skb->len > LKVM_NET_MAX_FRAME)
		return 0;
	*why = LKVM_NET_DROP_BAD_HDR;
	if (virtio_net_hdr_from_skb(skb, &hdr.hdr, true,
				    lkvm_virtio_has(&nic->v, VIRTIO_NET_F_GUEST_CSUM), 0))
		return 0;
	n = lkvm_net_rx_buffers(nic, LKVM_NET_HDR_LEN + skb->len);
	if (n <= 0) {
		*why = !n ? LKVM_NET_DROP_NO_BUFFER : n == -EMSGSIZE ?
		       LKVM_NET_DROP_SMALL_BUFFERS : LKVM_NET_DROP_BAD_CHAIN;
		return 0;
	}
	hdr.num_buffers = cpu_to_le16(n);
	for (i = 0; i < n; i++) {
		const struct lkvm_vq_chain *c = &nic->rx_chain[i];

		off = 0;
		if (!i) {
			if (lkvm_vq_copy_to(nic->vm, c, 0, &hdr, sizeof(hdr)))
				goto fault;
			off = sizeof(hdr);
		}
		chunk = min(left, c->in_len - off);
		if (chunk && lkvm_vq_iter(nic->vm, c, true, off, chunk, lkvm_net_copy_skb, &copy))
			goto fault;
		left -= chunk;
		lkvm_vq_push(nic->vm, vq, c->head, off + chunk);
	}
	return n;
fault:
	/* A buffer checked at pop went away: only a bug could do that. */
	lkvm_vq_unpop(vq, n - i);
	*why = LKVM_NET_DROP_FAULT;
	return 0;
}

/* Returns whether the driver was interrupted. */
static bool lkvm_net_rx_publish(struct lkvm_nic *nic)
{
	if (!lkvm_vq_publish(nic->vm, &nic->v.vq[LKVM_NET_RXQ]))
		return false;
	lkvm_net_signal(nic, LKVM_NET_RXQ);
	return true;
}

static netdev_tx_t lkvm_net_xmit(struct sk_buff *skb, struct net_device *ndev)
{
	struct lkvm_net_priv *priv = netdev_priv(ndev);
	struct lkvm_nic *nic = rcu_dereference_bh(priv->nic);
	spinlock_t *lock;	/* the RX queue's */
	int n, why, irq;

	if (!nic) {
		DEV_STATS_INC(ndev, tx_dropped);
		goto drop;
	}
	lock = &nic->v.qlock[LKVM_NET_RXQ];
	spin_lock(lock);
	if (!lkvm_virtio_queue_live(&nic->v, LKVM_NET_RXQ)) {
		nic->st.rx_dropped++;
		spin_unlock(lock);
		trace_lkvm_net_drop(nic->vm->id, nic->index, true, LKVM_NET_DROP_QUEUE_DOWN,
				    skb->len);
		goto drop;
	}
	/*
	 * Out of buffers, the frame is dropped, as a NIC's full ring drops:
	 * stopping the queue instead would let a guest that never posts
	 * buffers hold the host's senders, whose frames the qdisc keeps.
	 */
	n = lkvm_net_rx(nic, skb, &why);
	if (!n) {
		nic->st.rx_dropped++;
		trace_lkvm_net_drop(nic->vm->id, nic->index, true, why, skb->len);
	} else {
		nic->st.rx_packets++;
		nic->st.rx_bytes += skb->len;
	}
	if (netdev_xmit_more())
		irq = LKVM_NET_IRQ_BATCHED;
	else
		irq = lkvm_net_rx_publish(nic) ? LKVM_NET_IRQ_SENT : LKVM_NET_IRQ_NONE;
	if (n)
		trace_lkvm_net_rx(nic->vm->id, nic->index, skb->len, n, irq);
	spin_unlock(lock);
	if (!n)
		goto drop;
	consume_skb(skb);
	return NETDEV_TX_OK;
drop:
	kfree_skb(skb);
	return NETDEV_TX_OK;
}

/* ---- the virtio device ---- */

static void lkvm_net_notify(struct lkvm_virtio *v, u16 q)
{
	struct lkvm_nic *nic = lkvm_nic(v);

	WRITE_ONCE(nic->st.notify, nic->st.notify + 1);
	if (q == LKVM_NET_TXQ) {
		if (lkvm_net_tx(nic, LKVM_NET_TX_BUDGET, LKVM_NET_TX_NOTIFY)) {
			nic->st.tx_deferred++;
			queue_work(system_highpri_wq, &nic->tx_work);
		}
		return;
	}
	/* Receive buffers need no action: the next frame finds them. */
}

static bool lkvm_net_link_up(struct lkvm_nic *nic)
{
	struct net_device *ndev;
	bool up;

	rcu_read_lock();
	ndev = rcu_dereference(nic->ndev);
	up = ndev && (ndev->flags & IFF_UP);
	rcu_read_unlock();
	return up;
}

static void lkvm_net_cfg_read(struct lkvm_virtio *v, u32 off, u8 size, u32 *val)
{
	struct lkvm_nic *nic = lkvm_nic(v);
	struct virtio_net_config cfg = {
		.status = cpu_to_le16(lkvm_net_link_up(nic) ? VIRTIO_NET_S_LINK_UP : 0),
	};
	u8 *p = (u8 *)&cfg;

	memcpy(cfg.mac, nic->mac, ETH_ALEN);
	*val = 0;
	if (off + size <= offsetofend(struct virtio_net_config, status))
		memcpy(val, p + off, size);
}

static void lkvm_net_carrier(struct lkvm_nic *nic, bool on)
{
	struct net_device *ndev;

	rcu_read_lock();
	ndev = rcu_dereference(nic->ndev);
	if (ndev && on)
		netif_carrier_on(ndev);
	else if (ndev)
		netif_carrier_off(ndev);
	rcu_read_unlock();
}

static void lkvm_net_driver_ok(struct lkvm_virtio *v)
{
	lkvm_net_carrier(lkvm_nic(v), true);
}

static void lkvm_net_reset(struct lkvm_virtio *v)
{
	struct lkvm_nic *nic = lkvm_nic(v);

	/* The status already says so; the worker may be between chains. */
	cancel_work_sync(&nic->tx_work);
	lkvm_net_carrier(nic, false);
}

static const struct lkvm_virtio_ops lkvm_net_virtio_ops = {
	.cfg_read = lkvm_net_cfg_read,
	.notify = lkvm_net_notify,
	.driver_ok = lkvm_net_driver_ok,
	.reset = lkvm_net_reset,
};

/* ---- the host net_device ---- */

static int lkvm_net_open(struct net_device *ndev)
{
	struct lkvm_net_priv *priv = netdev_priv(ndev);
	struct lkvm_nic *nic = rtnl_dereference(priv->nic);

	netif_start_queue(ndev);
	if (nic)
		lkvm_virtio_config_changed(&nic->v);
	return 0;
}

static int lkvm_net_stop(struct net_device *ndev)
{
	struct lkvm_net_priv *priv = netdev_priv(ndev);
	struct lkvm_nic *nic = rtnl_dereference(priv->nic);

	netif_stop_queue(ndev);
	if (nic)
		lkvm_virtio_config_changed(&nic->v);
	return 0;
}

/* Deleted (ip link del, or the VM going): the NIC forgets its host end. */
static void lkvm_net_uninit(struct net_device *ndev)
{
	struct lkvm_net_priv *priv = netdev_priv(ndev);
	struct lkvm_nic *nic = rtnl_dereference(priv->nic);

	if (!nic)
		return;
	RCU_INIT_POINTER(priv->nic, NULL);
	RCU_INIT_POINTER(nic->ndev, NULL);
	/* The guest sees its link go down. */
	lkvm_virtio_config_changed(&nic->v);
}

static void lkvm_net_get_stats64(struct net_device *ndev, struct rtnl_link_stats64 *s)
{
	struct lkvm_net_priv *priv = netdev_priv(ndev);
	struct lkvm_nic *nic;

	rcu_read_lock();
	nic = rcu_dereference(priv->nic);
	if (nic) {
		/* The host's view: what the guest sends is received here. */
		s->rx_packets = READ_ONCE(nic->st.tx_packets);
		s->rx_bytes = READ_ONCE(nic->st.tx_bytes);
		s->rx_dropped = READ_ONCE(nic->st.tx_dropped);
		s->tx_packets = READ_ONCE(nic->st.rx_packets);
		s->tx_bytes = READ_ONCE(nic->st.rx_bytes);
		s->tx_dropped = READ_ONCE(nic->st.rx_dropped);
	}
	rcu_read_unlock();
	s->tx_dropped += DEV_STATS_READ(ndev, tx_dropped);
}

/*
 * What the guest's driver did not take, the host stack does before xmit.
 * Called outside the transmit path's BH-off section too (a packet
 * socket's direct xmit), hence its own RCU read side.
 */
static netdev_features_t lkvm_net_features_check(struct sk_buff *skb, struct net_device *ndev,
						 netdev_features_t features)
{
	struct lkvm_net_priv *priv = netdev_priv(ndev);
	struct lkvm_nic *nic;

	rcu_read_lock();
	nic = rcu_dereference(priv->nic);
	if (nic) {
		if (!lkvm_virtio_has(&nic->v, VIRTIO_NET_F_GUEST_CSUM))
			features &= ~(NETIF_F_CSUM_MASK | NETIF_F_GSO_MASK);
		if (!lkvm_virtio_has(&nic->v, VIRTIO_NET_F_GUEST_TSO4))
			features &= ~NETIF_F_TSO;
		if (!lkvm_virtio_has(&nic->v, VIRTIO_NET_F_GUEST_TSO6))
			features &= ~NETIF_F_TSO6;
		if (!lkvm_virtio_has(&nic->v, VIRTIO_NET_F_GUEST_ECN))
			features &= ~NETIF_F_TSO_ECN;
	}
	rcu_read_unlock();
	return features;
}

static const struct net_device_ops lkvm_net_ops = {
	.ndo_open = lkvm_net_open,
	.ndo_stop = lkvm_net_stop,
	.ndo_uninit = lkvm_net_uninit,
	.ndo_start_xmit = lkvm_net_xmit,
	.ndo_get_stats64 = lkvm_net_get_stats64,
	.ndo_features_check = lkvm_net_features_check,
	.ndo_set_mac_address = eth_mac_addr,
	.ndo_validate_addr = eth_validate_addr,
};

static void lkvm_net_get_drvinfo(struct net_device *ndev, struct ethtool_drvinfo *info)
{
	strscpy(info->driver, KBUILD_MODNAME, sizeof(info->driver));
}

static const struct ethtool_ops lkvm_net_ethtool_ops = {
	.get_drvinfo = lkvm_net_get_drvinfo,
	.get_link = ethtool_op_get_link,
};

/* No newlink: only LKVM_CREATE_NET makes one; ip link del removes it. */
static struct rtnl_link_ops lkvm_net_link_ops = {
	.kind = "lkvm",
	.priv_size = sizeof(struct lkvm_net_priv),
	.dellink = unregister_netdevice_queue,
};

static void lkvm_net_setup(struct net_device *ndev)
{
	ether_setup(ndev);
	ndev->netdev_ops = &lkvm_net_ops;
	ndev->ethtool_ops = &lkvm_net_ethtool_ops;
	ndev->rtnl_link_ops = &lkvm_net_link_ops;
	ndev->needs_free_netdev = true;
	ndev->priv_flags |= IFF_LIVE_ADDR_CHANGE;
	ndev->features = NETIF_F_SG | NETIF_F_HW_CSUM | NETIF_F_HIGHDMA | NETIF_F_LLTX |
			 NETIF_F_TSO | NETIF_F_TSO6 | NETIF_F_TSO_ECN;
	ndev->hw_features = ndev->features & ~NETIF_F_LLTX;
	ndev->min_mtu = ETH_MIN_MTU;
	ndev->max_mtu = LKVM_NET_MAX_FRAME - ETH_HLEN;
}

/* ---- the VM's NICs ---- */

static int lkvm_net_check(const struct lkvm_net *n)
{
	int i;

	if (n->flags || n->pad || n->pad2)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(n->reserved); i++)
		if (n->reserved[i])
			return -EINVAL;
	if (strnlen(n->ifname, IFNAMSIZ) == IFNAMSIZ)
		return -EINVAL;
	if (n->ifname[0] && !dev_valid_name(n->ifname))
		return -EINVAL;
	if (!is_zero_ether_addr(n->mac) && !is_valid_ether_addr(n->mac))
		return -EINVAL;
	return 0;
}

static struct lkvm_nic *lkvm_nic_alloc(struct lkvm_vm *vm, const struct lkvm_net *n,
				       unsigned int index)
{
	struct lkvm_nic *nic = kvzalloc(sizeof(*nic), GFP_KERNEL_ACCOUNT);

	if (!nic)
		return NULL;
	nic->vm = vm;
	nic->index = index;
	nic->v.index = index;
	INIT_WORK(&nic->tx_work, lkvm_net_tx_work);
	if (is_zero_ether_addr(n->mac))
		eth_random_addr(nic->mac);
	else
		ether_addr_copy(nic->mac, n->mac);
	nic->v.vm = vm;
	nic->v.ops = &lkvm_net_virtio_ops;
	nic->v.device_id = VIRTIO_ID_NET;
	nic->v.features = LKVM_NET_FEATURES;
	nic->v.nr_queues = LKVM_NET_NR_QUEUES;
	nic->v.queue_max = LKVM_NET_QUEUE_SIZE;
	nic->v.cfg_len = sizeof(struct virtio_net_config);
	return nic;
}

long lkvm_create_net(struct lkvm_vm *vm, struct lkvm_net __user *un)
{
	struct lkvm_net_priv *priv;
	struct net_device *ndev;
	struct lkvm_nic *nic;
	struct lkvm_net n;
	unsigned int index;
	int ret;

	if (copy_from_user(&n, un, sizeof(n)))
		return -EFAULT;
	ret = lkvm_net_check(&n);
	if (ret)
		return ret;
	mutex_lock(&vm->lock);
	ret = -ENODEV;
	if (!vm->has_platform)
		goto out_unlock;
	/* A NIC appears only before the guest could have scanned the bus. */
	ret = -EBUSY;
	if (READ_ONCE(vm->ran))
		goto out_unlock;
	ret = -ENOSPC;
	if (vm->nr_nics == LKVM_MAX_NICS)
		goto out_unlock;
	index = vm->nr_nics;
	ret = -ENOMEM;
	nic = lkvm_nic_alloc(vm, &n, index);
	if (!nic)
		goto out_unlock;
	ndev = alloc_netdev(sizeof(*priv), n.ifname[0] ? n.ifname : "lkvm%d",
			    n.ifname[0] ? NET_NAME_USER : NET_NAME_ENUM, lkvm_net_setup);
	if (!ndev)
		goto out_free;
	eth_hw_addr_random(ndev);
	priv = netdev_priv(ndev);
	RCU_INIT_POINTER(priv->nic, nic);
	RCU_INIT_POINTER(nic->ndev, ndev);
	netif_carrier_off(ndev);
	ret = lkvm_virtio_pci_init(&nic->v, LKVM_NET_IO_BASE + 0x100 * index,
				   LKVM_NET_MEM_BASE + LKVM_MSIX_BAR_SIZE * index);
	if (ret)
		goto out_free_netdev;
	ret = register_netdev(ndev);
	if (ret)
		goto out_unregister_pci;
	n.pci_devfn = nic->v.devfn;
	memcpy(n.ifname, ndev->name, IFNAMSIZ);
	ether_addr_copy(n.mac, nic->mac);
	n.ifindex = ndev->ifindex;
	vm->nics[index] = nic;
	vm->nr_nics++;
	mutex_unlock(&vm->lock);
	/* The NIC is the VM's now; a failed copy-out leaves it, as a VMM would. */
	return copy_to_user(un, &n, sizeof(n)) ? -EFAULT : 0;

out_unregister_pci:
	lkvm_pci_unregister(vm, nic->v.devfn);
out_free_netdev:
	free_netdev(ndev);
out_free:
	kvfree(nic);
out_unlock:
	mutex_unlock(&vm->lock);
	return ret;
}

void lkvm_net_free(struct lkvm_vm *vm)
{
	struct net_device *ndev;
	unsigned int i;

	for (i = 0; i < vm->nr_nics; i++) {
		struct lkvm_nic *nic = vm->nics[i];

		rtnl_lock();
		ndev = rtnl_dereference(nic->ndev);
		/* Its ndo_uninit unlinks the NIC; xmit is over once this returns. */
		if (ndev)
			unregister_netdevice(ndev);
		rtnl_unlock();
		lkvm_virtio_shutdown(&nic->v);
		cancel_work_sync(&nic->tx_work);
		kvfree(nic);
	}
	vm->nr_nics = 0;
}

void lkvm_net_stats(struct lkvm_vm *vm, u64 *stat)
{
	unsigned int i;

	for (i = 0; i < READ_ONCE(vm->nr_nics); i++) {
		const struct lkvm_net_stats *s = &vm->nics[i]->st;

		stat[LKVM_VM_STAT_NET_TX_PACKETS] += READ_ONCE(s->tx_packets);
		stat[LKVM_VM_STAT_NET_TX_BYTES] += READ_ONCE(s->tx_bytes);
		stat[LKVM_VM_STAT_NET_RX_PACKETS] += READ_ONCE(s->rx_packets);
		stat[LKVM_VM_STAT_NET_RX_BYTES] += READ_ONCE(s->rx_bytes);
		stat[LKVM_VM_STAT_NET_TX_DROPPED] += READ_ONCE(s->tx_dropped);
		stat[LKVM_VM_STAT_NET_RX_DROPPED] += READ_ONCE(s->rx_dropped);
		stat[LKVM_VM_STAT_NET_NOTIFY] += READ_ONCE(s->notify);
		stat[LKVM_VM_STAT_NET_IRQS] += READ_ONCE(s->irqs);
		stat[LKVM_VM_STAT_NET_TX_DEFERRED] += READ_ONCE(s->tx_deferred);
		stat[LKVM_VM_STAT_NET_BAD_DESC] += READ_ONCE(s->bad_desc);
		stat[LKVM_VM_STAT_NET_NEEDS_RESET] += READ_ONCE(s->needs_reset);
	}
}

int lkvm_net_init(void)
{
	return rtnl_link_register(&lkvm_net_link_ops);
}

void lkvm_net_exit(void)
{
	rtnl_link_unregister(&lkvm_net_link_ops);
}
