// SPDX-License-Identifier: GPL-2.0-only
/*
 * The console: a 16550A UART at LKVM_PLATFORM_UART_PORT whose interrupt is
 * IOAPIC pin LKVM_PLATFORM_UART_IRQ, and whose other end is a file (the
 * console file LKVM_CREATE_PLATFORM returns) instead of a serial line.
 *
 * The guest sees the registers of a 16550A closely enough that Linux's
 * 8250 driver detects one (autoconfig: the IER test, the loopback test,
 * the FIFO bits of IIR, and EFR, 16750 and XScale probes that all fail as
 * on a plain 16550A) and trusts its THRE interrupt. The line itself has no
 * speed: a byte written to THR is in the output ring at once and THR is
 * empty again, so a guest never waits for its console and never exits to
 * userspace for it. If nobody reads the console file for 64 KiB of
 * output, further output is dropped, counted, and reported once per
 * episode in the kernel log.
 *
 * What the console file writes waits in a 4 KiB receive queue which the
 * guest reads through RBR; that queue is the receiver as the guest sees
 * it (LSR.DR, the received-data interrupt, FCR's receiver clear). In
 * loopback mode THR feeds a separate 16-byte receive FIFO instead (1 byte
 * with FIFOs off), as the real loopback disconnects the serial input; its
 * bytes are read first.
 *
 * Locking: @lock covers the registers and the ring indices. It is taken
 * by vCPU threads (port accesses, from exit handlers in process context)
 * and by threads using the console file, never from interrupt context,
 * so it need not disable interrupts. lkvm_ioapic_set_irq() is called
 * under it, so that the pin sees every change of the line in order.
 * Each ring has one producer and one consumer: bytes are copied to or
 * from user memory outside @lock (the file side holds @read_mutex or
 * @write_mutex), into or out of the part of the ring the other side does
 * not touch until the indices, under @lock, say so.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/serial_reg.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>

#include "lkvm.h"
#include "trace.h"

#define UART_NR_PORTS		8
#define UART_TX_SIZE		SZ_64K
#define UART_RX_SIZE		SZ_4K
#define UART_LOOP_FIFO_SIZE	16

/* The writable bits: IER's four enables, MCR's five controls. */
#define UART_IER_MASK		0x0f
#define UART_MCR_MASK		(UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT1 | UART_MCR_OUT2 | \
				 UART_MCR_LOOP)
#define UART_MSR_STATUS		(UART_MSR_CTS | UART_MSR_DSR | UART_MSR_RI | UART_MSR_DCD)
/* The receiver errors: they stay in LSR until it is read. */
#define UART_LSR_ERRORS		(UART_LSR_OE | UART_LSR_PE | UART_LSR_FE | UART_LSR_BI)
/* FCR bits a 16550A keeps: FIFO enable, DMA mode, receiver trigger. */
/* IIR bits 7:6 on a 16550A with its FIFOs on. */
#define UART_IIR_FIFOS_ON	0xc0
#define UART_FCR_KEPT		(UART_FCR_ENABLE_FIFO | UART_FCR_DMA_SELECT | UART_FCR_R_TRIG_11)

/* What a register access leaves to do once @lock is dropped. */
#define UART_WAKE_READERS	BIT(0)
#define UART_WAKE_WRITERS	BIT(1)

/* A ring of @size (a power of two) bytes; @head and @tail run freely. */
struct lkvm_uart_ring {
	u32 head;		/* the producer's; under @lock */
	u32 tail;		/* the consumer's; under @lock */
};

struct lkvm_uart {
	struct lkvm_vm *vm;
	/* The registers and ring indices (see the top of the file). */
	spinlock_t lock;
	/* The registers, under @lock. */
	u8 ier;
	u8 lcr;
	u8 mcr;
	u8 fcr;
	u8 scr;
	u8 dll;
	u8 dlm;
	u8 lsr_errors;		/* UART_LSR_ERRORS bits not read yet */
	u8 msr_delta;		/* MSR's delta bits not read yet */
	u8 msr_status;		/* MSR's status bits as last computed */
	bool thre_pending;	/* the THR-empty interrupt, until IIR reports it */
	bool irq_level;		/* the interrupt line as the IOAPIC last saw it */
	u8 wake;		/* UART_WAKE_*, for the caller of the register access */
	/* Loopback's receive FIFO, under @lock. */
	u8 loop_fifo[UART_LOOP_FIFO_SIZE];
	u8 loop_head, loop_count;
	/* Output bytes dropped since the output ring filled; 0 when it has room. */
	u64 tx_dropped;
	/* Guest output (the guest produces, readers consume) and input (the reverse). */
	struct lkvm_uart_ring tx, rx;
	/* Serializes the console file's readers: each owns the output ring's tail. */
	struct mutex read_mutex;
	/* Serializes its writers: each owns the receive queue's head. */
	struct mutex write_mutex;
	/* Readers wait here for output, writers for room in the receive queue. */
	wait_queue_head_t read_wq;
	wait_queue_head_t write_wq;
	u8 tx_buf[UART_TX_SIZE];
	u8 rx_buf[UART_RX_SIZE];
};

static u32 ring_count(const struct lkvm_uart_ring *r)
{
	return r->head - r->tail;
}

/* The modem status inputs: wired to the outputs in loopback, else a live line. */
static u8 lkvm_uart_msr_status(const struct lkvm_uart *uart)
{
	u8 mcr = uart->mcr, s = 0;

	if (!(mcr & UART_MCR_LOOP))
		return UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD;
	if (mcr & UART_MCR_RTS)
		s |= UART_MSR_CTS;
	if (mcr & UART_MCR_DTR)
		s |= UART_MSR_DSR;
	if (mcr & UART_MCR_OUT1)
		s |= UART_MSR_RI;
	if (mcr & UART_MCR_OUT2)
		s |= UART_MSR_DCD;
	return s;
}

static bool lkvm_uart_data_ready(const struct lkvm_uart *uart)
{
	return uart->loop_count ||
	       (!(uart->mcr & UART_MCR_LOOP) && ring_count(&uart->rx));
}

/* The highest-priority interrupt pending and enabled, as IIR's low bits. */
static u8 lkvm_uart_iir_id(const struct lkvm_uart *uart)
{
	u8 ier = uart->ier;

	if ((ier & UART_IER_RLSI) && uart->lsr_errors)
		return UART_IIR_RLSI;
	if ((ier & UART_IER_RDI) && lkvm_uart_data_ready(uart))
		return UART_IIR_RDI;
	if ((ier & UART_IER_THRI) && uart->thre_pending)
		return UART_IIR_THRI;
	if ((ier & UART_IER_MSI) && uart->msr_delta)
		return UART_IIR_MSI;
	return UART_IIR_NO_INT;
}

/*
 * The interrupt output reaches the IOAPIC through OUT2, as on a PC (Linux
 * sets it to enable the interrupt); loopback does not cut it off.
 */
static void lkvm_uart_update_irq(struct lkvm_uart *uart)
{
	bool level = (uart->mcr & UART_MCR_OUT2) && lkvm_uart_iir_id(uart) != UART_IIR_NO_INT;

	lockdep_assert_held(&uart->lock);
	if (level == uart->irq_level)
		return;
	uart->irq_level = level;
	trace_lkvm_uart_irq(uart->vm->id, level, uart->ier, lkvm_uart_iir_id(uart));
	lkvm_ioapic_set_irq(uart->vm, LKVM_PLATFORM_UART_IRQ, level);
}

static void lkvm_uart_update_msr(struct lkvm_uart *uart)
{
	u8 old = uart->msr_status, new = lkvm_uart_msr_status(uart), changed = old ^ new;

	if (changed & UART_MSR_CTS)
		uart->msr_delta |= UART_MSR_DCTS;
	if (changed & UART_MSR_DSR)
		uart->msr_delta |= UART_MSR_DDSR;
	if (old & ~new & UART_MSR_RI)
		uart->msr_delta |= UART_MSR_TERI;
	if (changed & UART_MSR_DCD)
		uart->msr_delta |= UART_MSR_DDCD;
	uart->msr_status = new;
}

static void lkvm_uart_clear_rx(struct lkvm_uart *uart)
{
	if (ring_count(&uart->rx) == UART_RX_SIZE)
		uart->wake |= UART_WAKE_WRITERS;
	uart->rx.tail = uart->rx.head;
	uart->loop_count = 0;
}

static void lkvm_uart_tx_byte(struct lkvm_uart *uart, u8 b)
{
	struct lkvm_uart_ring *tx = &uart->tx;
	u32 n = ring_count(tx);

	if (n == UART_TX_SIZE) {
		uart->tx_dropped++;
		return;
	}
	if (uart->tx_dropped) {
		pr_warn_ratelimited("vm %u: %llu bytes of console output dropped: nobody read them\n",
				    uart->vm->id, uart->tx_dropped);
		uart->tx_dropped = 0;
	}
	uart->tx_buf[tx->head % UART_TX_SIZE] = b;
	tx->head++;
	if (!n)
		uart->wake |= UART_WAKE_READERS;
}

static void lkvm_uart_loop_byte(struct lkvm_uart *uart, u8 b)
{
	unsigned int size = uart->fcr & UART_FCR_ENABLE_FIFO ? UART_LOOP_FIFO_SIZE : 1;

	/* An overrun loses the new byte and says so in LSR. */
	if (uart->loop_count == size) {
		uart->lsr_errors |= UART_LSR_OE;
		return;
	}
	uart->loop_fifo[(uart->loop_head + uart->loop_count) % UART_LOOP_FIFO_SIZE] = b;
	uart->loop_count++;
}

static u8 lkvm_uart_rbr(struct lkvm_uart *uart)
{
	struct lkvm_uart_ring *rx = &uart->rx;
	u8 b;

	if (uart->loop_count) {
		b = uart->loop_fifo[uart->loop_head];
		uart->loop_head = (uart->loop_head + 1) % UART_LOOP_FIFO_SIZE;
		uart->loop_count--;
		return b;
	}
	if ((uart->mcr & UART_MCR_LOOP) || !ring_count(rx))
		return 0;
	if (ring_count(rx) == UART_RX_SIZE)
		uart->wake |= UART_WAKE_WRITERS;
	b = uart->rx_buf[rx->tail % UART_RX_SIZE];
	rx->tail++;
	return b;
}

static u8 lkvm_uart_read(struct lkvm_uart *uart, unsigned int off)
{
	bool dlab = uart->lcr & UART_LCR_DLAB;
	u8 v;

	switch (off) {
	case UART_RX:
		return dlab ? uart->dll : lkvm_uart_rbr(uart);
	case UART_IER:
		return dlab ? uart->dlm : uart->ier;
	case UART_IIR:
		v = lkvm_uart_iir_id(uart);
		/* Reading IIR is what acknowledges the THR-empty interrupt. */
		if (v == UART_IIR_THRI)
			uart->thre_pending = false;
		if (uart->fcr & UART_FCR_ENABLE_FIFO)
			v |= UART_IIR_FIFOS_ON;
		return v;
	case UART_LCR:
		return uart->lcr;
	case UART_MCR:
		return uart->mcr;
	case UART_LSR:
		v = UART_LSR_THRE | UART_LSR_TEMT | uart->lsr_errors;
		if (lkvm_uart_data_ready(uart))
			v |= UART_LSR_DR;
		if ((uart->fcr & UART_FCR_ENABLE_FIFO) && uart->lsr_errors)
			v |= UART_LSR_FIFOE;
		uart->lsr_errors = 0;
		return v;
	case UART_MSR:
		v = uart->msr_status | uart->msr_delta;
		uart->msr_delta = 0;
		return v;
	default:
		return uart->scr;
	}
}

static void lkvm_uart_write(struct lkvm_uart *uart, unsigned int off, u8 v)
{
	bool dlab = uart->lcr & UART_LCR_DLAB;
	u8 old;

	switch (off) {
	case UART_TX:
		if (dlab) {
			uart->dll = v;
			break;
		}
		if (uart->mcr & UART_MCR_LOOP)
			lkvm_uart_loop_byte(uart, v);
		else
			lkvm_uart_tx_byte(uart, v);
		/* Sent at once: THR is empty again. */
		uart->thre_pending = true;
		break;
	case UART_IER:
		if (dlab) {
			uart->dlm = v;
			break;
		}
		old = uart->ier;
		uart->ier = v & UART_IER_MASK;
		/* Enabling it while THR is empty (always, here) raises it anew. */
		if (!(old & UART_IER_THRI) && (uart->ier & UART_IER_THRI))
			uart->thre_pending = true;
		break;
	case UART_FCR:
		/* Turning the FIFOs on or off empties them, as does the receiver clear. */
		if (((uart->fcr ^ v) & UART_FCR_ENABLE_FIFO) || (v & UART_FCR_CLEAR_RCVR))
			lkvm_uart_clear_rx(uart);
		/* The transmitter holds nothing to clear. */
		uart->fcr = v & UART_FCR_ENABLE_FIFO ? v & UART_FCR_KEPT : 0;
		break;
	case UART_LCR:
		uart->lcr = v;
		break;
	case UART_MCR:
		uart->mcr = v & UART_MCR_MASK;
		lkvm_uart_update_msr(uart);
		break;
	case UART_LSR:
	case UART_MSR:
		/* Read-only here; the factory test modes of writing them are not offered. */
		break;
	default:
		uart->scr = v;
		break;
	}
}

static void lkvm_uart_wake(struct lkvm_uart *uart, u8 wake)
{
	if (wake & UART_WAKE_READERS)
		wake_up_interruptible_poll(&uart->read_wq, EPOLLIN | EPOLLRDNORM);
	if (wake & UART_WAKE_WRITERS)
		wake_up_interruptible_poll(&uart->write_wq, EPOLLOUT | EPOLLWRNORM);
}

/*
 * A wider access covers the next ports, byte by byte, as an 8-bit device
 * on a PC's bus sees it; ports past the UART's eight read as nothing.
 */
int lkvm_uart_in(struct lkvm_vcpu *vcpu, u16 port, u8 size, u32 *val)
{
	struct lkvm_uart *uart = vcpu->vm->uart;
	unsigned int i, off;
	u8 wake;

	*val = 0;
	spin_lock(&uart->lock);
	for (i = 0; i < size; i++) {
		off = port + i - LKVM_PLATFORM_UART_PORT;
		*val |= (u32)(off < UART_NR_PORTS ? lkvm_uart_read(uart, off) : 0xff) << (i * 8);
	}
	lkvm_uart_update_irq(uart);
	wake = uart->wake;
	uart->wake = 0;
	spin_unlock(&uart->lock);
	lkvm_uart_wake(uart, wake);
	return 0;
}

int lkvm_uart_out(struct lkvm_vcpu *vcpu, u16 port, u8 size, u32 val)
{
	struct lkvm_uart *uart = vcpu->vm->uart;
	unsigned int i, off;
	u8 wake;

	spin_lock(&uart->lock);
	for (i = 0; i < size; i++) {
		off = port + i - LKVM_PLATFORM_UART_PORT;
		if (off < UART_NR_PORTS)
			lkvm_uart_write(uart, off, val >> (i * 8));
	}
	lkvm_uart_update_irq(uart);
	wake = uart->wake;
	uart->wake = 0;
	spin_unlock(&uart->lock);
	lkvm_uart_wake(uart, wake);
	return 0;
}

static u32 lkvm_uart_tx_avail(struct lkvm_uart *uart, u32 *tail)
{
	u32 n;

	spin_lock(&uart->lock);
	n = ring_count(&uart->tx);
	*tail = uart->tx.tail;
	spin_unlock(&uart->lock);
	return n;
}

static u32 lkvm_uart_rx_room(struct lkvm_uart *uart, u32 *head)
{
	u32 n;

	spin_lock(&uart->lock);
	n = UART_RX_SIZE - ring_count(&uart->rx);
	*head = uart->rx.head;
	spin_unlock(&uart->lock);
	return n;
}

static bool lkvm_uart_has_output(struct lkvm_uart *uart)
{
	u32 tail;

	return lkvm_uart_tx_avail(uart, &tail);
}

static bool lkvm_uart_has_room(struct lkvm_uart *uart)
{
	u32 head;

	return lkvm_uart_rx_room(uart, &head);
}

/* What the guest wrote: at least one byte, unless O_NONBLOCK. */
static ssize_t lkvm_console_read(struct file *filp, char __user *buf, size_t count,
				 loff_t *ppos)
{
	struct lkvm_uart *uart = filp->private_data;
	u32 avail, tail, off, chunk, done = 0;
	ssize_t ret;

	if (!count)
		return 0;
	if (mutex_lock_interruptible(&uart->read_mutex))
		return -ERESTARTSYS;
	avail = lkvm_uart_tx_avail(uart, &tail);
	if (!avail) {
		ret = -EAGAIN;
		if (filp->f_flags & O_NONBLOCK)
			goto out_unlock;
		ret = wait_event_interruptible(uart->read_wq, lkvm_uart_has_output(uart));
		if (ret)
			goto out_unlock;
		avail = lkvm_uart_tx_avail(uart, &tail);
	}
	avail = min_t(size_t, avail, count);
	/* [tail, tail + avail) is ours: the guest writes only past the head. */
	while (done < avail) {
		off = (tail + done) % UART_TX_SIZE;
		chunk = min(avail - done, UART_TX_SIZE - off);
		chunk -= copy_to_user(buf + done, uart->tx_buf + off, chunk);
		if (!chunk)
			break;
		done += chunk;
	}
	ret = done ? (ssize_t)done : -EFAULT;
	spin_lock(&uart->lock);
	uart->tx.tail += done;
	spin_unlock(&uart->lock);
out_unlock:
	mutex_unlock(&uart->read_mutex);
	return ret;
}

/* Bytes for the guest to read: as many as fit, waiting for room unless O_NONBLOCK. */
static ssize_t lkvm_console_write(struct file *filp, const char __user *buf, size_t count,
				  loff_t *ppos)
{
	struct lkvm_uart *uart = filp->private_data;
	u32 room, head, off, chunk, done = 0;
	ssize_t ret;

	if (!count)
		return 0;
	if (mutex_lock_interruptible(&uart->write_mutex))
		return -ERESTARTSYS;
	room = lkvm_uart_rx_room(uart, &head);
	if (!room) {
		ret = -EAGAIN;
		if (filp->f_flags & O_NONBLOCK)
			goto out_unlock;
		ret = wait_event_interruptible(uart->write_wq, lkvm_uart_has_room(uart));
		if (ret)
			goto out_unlock;
		room = lkvm_uart_rx_room(uart, &head);
	}
	room = min_t(size_t, room, count);
	/*
	 * [head, head + room) is free and stays so: the guest reads only up
	 * to the head, and a receiver clear only moves the tail up to it.
	 */
	while (done < room) {
		off = (head + done) % UART_RX_SIZE;
		chunk = min(room - done, UART_RX_SIZE - off);
		chunk -= copy_from_user(uart->rx_buf + off, buf + done, chunk);
		if (!chunk)
			break;
		done += chunk;
	}
	ret = done ? (ssize_t)done : -EFAULT;
	spin_lock(&uart->lock);
	uart->rx.head += done;
	lkvm_uart_update_irq(uart);
	spin_unlock(&uart->lock);
out_unlock:
	mutex_unlock(&uart->write_mutex);
	return ret;
}

static __poll_t lkvm_console_poll(struct file *filp, poll_table *wait)
{
	struct lkvm_uart *uart = filp->private_data;
	__poll_t mask = 0;

	poll_wait(filp, &uart->read_wq, wait);
	poll_wait(filp, &uart->write_wq, wait);
	if (lkvm_uart_has_output(uart))
		mask |= EPOLLIN | EPOLLRDNORM;
	if (lkvm_uart_has_room(uart))
		mask |= EPOLLOUT | EPOLLWRNORM;
	return mask;
}

static int lkvm_console_release(struct inode *inode, struct file *filp)
{
	struct lkvm_uart *uart = filp->private_data;

	lkvm_vm_put(uart->vm);
	return 0;
}

static const struct file_operations lkvm_console_fops = {
	.owner = THIS_MODULE,
	.read = lkvm_console_read,
	.write = lkvm_console_write,
	.poll = lkvm_console_poll,
	.release = lkvm_console_release,
	.llseek = noop_llseek,
};

int lkvm_uart_console_fd(struct lkvm_vm *vm)
{
	int fd;

	lkvm_vm_get(vm);
	fd = anon_inode_getfd("lkvm-console", &lkvm_console_fops, vm->uart, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		lkvm_vm_put(vm);
	return fd;
}

int lkvm_uart_create(struct lkvm_vm *vm)
{
	struct lkvm_uart *uart = kvzalloc(sizeof(*uart), GFP_KERNEL_ACCOUNT);

	if (!uart)
		return -ENOMEM;
	uart->vm = vm;
	spin_lock_init(&uart->lock);
	mutex_init(&uart->read_mutex);
	mutex_init(&uart->write_mutex);
	init_waitqueue_head(&uart->read_wq);
	init_waitqueue_head(&uart->write_wq);
	/* At reset the modem lines are up: no delta to report. */
	uart->msr_status = lkvm_uart_msr_status(uart);
	vm->uart = uart;
	return 0;
}

/* With the VM: every console file, which holds a reference to it, is gone. */
void lkvm_uart_free(struct lkvm_vm *vm)
{
	struct lkvm_uart *uart = vm->uart;

	if (!uart)
		return;
	if (uart->tx_dropped)
		pr_warn_ratelimited("vm %u: %llu bytes of console output dropped: nobody read them\n",
				    vm->id, uart->tx_dropped);
	mutex_destroy(&uart->read_mutex);
	mutex_destroy(&uart->write_mutex);
	kvfree(uart);
	vm->uart = NULL;
}
