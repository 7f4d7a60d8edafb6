// SPDX-License-Identifier: GPL-2.0
/*
 * The platform's 16550A UART and its console file: polled transmit and
 * receive, byte for byte; the register semantics Linux's 8250 autoconfig
 * and startup probe; output overflow that drops without blocking the
 * guest; the console file's blocking, non-blocking and poll behaviour;
 * and interrupt-driven transmit and receive through the IOAPIC and the
 * local APIC.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib/guest.h"
#include "lib/lkvm_util.h"

#define COM1		LKVM_PLATFORM_UART_PORT
#define RBR		0
#define THR		0
#define DLL		0
#define IER		1
#define DLM		1
#define IIR		2
#define FCR		2
#define LCR		3
#define MCR		4
#define LSR		5
#define MSR		6
#define SCR		7

#define LSR_DR		0x01
#define LSR_OE		0x02
#define LSR_THRE	0x20
#define LSR_TEMT	0x40
#define LSR_FIFOE	0x80
#define MCR_DTR		0x01
#define MCR_RTS		0x02
#define MCR_OUT1	0x04
#define MCR_OUT2	0x08
#define MCR_LOOP	0x10
#define IER_RDI		0x01
#define IER_THRI	0x02
#define IER_RLSI	0x04
#define IER_MSI		0x08
#define IER_UUE		0x40
#define IIR_NO_INT	0x01
#define IIR_MSI		0x00
#define IIR_THRI	0x02
#define IIR_RDI		0x04
#define IIR_RLSI	0x06
#define IIR_FIFOS	0xc0
#define FCR_FIFO	0x01
#define FCR_CLEAR_RX	0x02
#define FCR_CLEAR_TX	0x04
#define FCR_64BYTE	0x20
#define LCR_DLAB	0x80
#define LCR_8N1		0x03

#define TX_RING		65536
#define RX_QUEUE	4096
#define OVERFLOW_EXTRA	100

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static uint8_t uart_in(unsigned int reg)
{
	return inb(COM1 + reg);
}

static void uart_out(unsigned int reg, uint8_t v)
{
	guest_outb(COM1 + reg, v);
}

static void uart_putc(char c)
{
	while (!(uart_in(LSR) & LSR_THRE))
		;
	uart_out(THR, c);
}

static uint8_t uart_getc(void)
{
	while (!(uart_in(LSR) & LSR_DR))
		;
	return uart_in(RBR);
}

static int console_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Everything the console holds now, without waiting. */
static ssize_t drain(int fd, void *buf, size_t len)
{
	size_t got = 0;
	ssize_t r;

	while (got < len) {
		r = read(fd, (char *)buf + got, len - got);
		if (r < 0 && errno == EAGAIN)
			break;
		if (r <= 0)
			return -1;
		got += r;
	}
	return got;
}

static struct guest *uart_guest(void *code)
{
	struct guest_opts opts = { .backend = GUEST_LKVM, .platform = true };

	return guest_create(&opts, code);
}

#define UART_GUEST_OR_SKIP(g, code) do {					\
	(g) = uart_guest(code);							\
	if (!(g) && errno == ENODEV)						\
		SKIP(return, "%s", guest_error());				\
	ASSERT_NE(NULL, (g)) TH_LOG("%s", guest_error());			\
	ASSERT_LE(0, guest_console_fd(g));					\
} while (0)

static uint64_t stat(struct guest *g, int which)
{
	struct lkvm_vcpu_stats s;

	if (guest_stats(g, &s))
		return ~0ULL;
	return s.stat[which];
}

/* ---- Polled transmit and receive ---- */

static const char tx_msg[] = "Hello from the guest's COM1, byte by byte.\r\n";

static void guest_tx_code(uint64_t a0, uint64_t a1)
{
	const char *p;

	for (p = tx_msg; *p; p++)
		uart_putc(*p);
	GUEST_ASSERT_EQ(uart_in(LSR), LSR_THRE | LSR_TEMT);
	GUEST_DONE();
}

TEST(tx_polled_arrives_exactly)
{
	char buf[256];
	struct guest *g;
	struct ucall uc;

	UART_GUEST_OR_SKIP(g, guest_tx_code);
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	ASSERT_EQ(0, console_nonblock(guest_console_fd(g)));
	EXPECT_EQ(strlen(tx_msg), drain(guest_console_fd(g), buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, tx_msg, strlen(tx_msg)));
	/* Not one exit to userspace for the console: only the final ucall. */
	EXPECT_EQ(1, stat(g, LKVM_STAT_USERSPACE_EXITS));
	guest_destroy(g);
}

static const char rx_msg[] = "typed on the host: 0123456789 ~!@#\n";
static char rx_seen[128];

static void guest_rx_code(uint64_t n, uint64_t more)
{
	uint64_t i;

	for (i = 0; i < n; i++)
		rx_seen[i] = uart_getc();
	GUEST_ASSERT_EQ(uart_in(LSR) & LSR_DR, 0);
	/* RBR with nothing received reads 0 and takes nothing. */
	GUEST_ASSERT_EQ(uart_in(RBR), 0);
	GUEST_SYNC(n);
	for (i = 0; i < more; i++)
		rx_seen[n + i] = uart_getc();
	GUEST_ASSERT_EQ(uart_in(LSR) & LSR_DR, 0);
	GUEST_DONE();
}

TEST(rx_polled_read_exactly)
{
	size_t n = strlen(rx_msg);
	struct guest *g;
	struct ucall uc;

	UART_GUEST_OR_SKIP(g, guest_rx_code);
	guest_set_args(g, n, 3);
	ASSERT_EQ(n, write(guest_console_fd(g), rx_msg, n));
	ASSERT_UCALL(g, UCALL_SYNC, &uc);
	/* Written while the guest waits for it. */
	ASSERT_EQ(3, write(guest_console_fd(g), "xyz", 3));
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	guest_read_global(g, rx_seen, sizeof(rx_seen));
	EXPECT_EQ(0, memcmp(rx_seen, rx_msg, n));
	EXPECT_EQ(0, memcmp(rx_seen + n, "xyz", 3));
	guest_destroy(g);
}

/* ---- Register semantics, as Linux's 8250 autoconfig probes them ---- */

static void guest_autoconfig_code(uint64_t a0, uint64_t a1)
{
	unsigned int i, n;

	/* At reset: nothing enabled, nothing pending, THR empty, modem lines up. */
	GUEST_ASSERT_EQ(uart_in(IER), 0);
	GUEST_ASSERT_EQ(uart_in(IIR), IIR_NO_INT);
	GUEST_ASSERT_EQ(uart_in(LCR), 0);
	GUEST_ASSERT_EQ(uart_in(MCR), 0);
	GUEST_ASSERT_EQ(uart_in(LSR), LSR_THRE | LSR_TEMT);
	GUEST_ASSERT_EQ(uart_in(MSR), 0xb0);

	/* The IER test: the low four bits stick, the rest (UUE too) read 0. */
	uart_out(IER, 0);
	GUEST_ASSERT_EQ(uart_in(IER), 0);
	uart_out(IER, 0x0f);
	GUEST_ASSERT_EQ(uart_in(IER), 0x0f);
	uart_out(IER, 0xff);
	GUEST_ASSERT_EQ(uart_in(IER), 0x0f);
	uart_out(IER, IER_UUE);
	GUEST_ASSERT_EQ(uart_in(IER), 0);

	/* The loopback test: MSR follows MCR's outputs. */
	uart_out(MCR, MCR_LOOP | 0x0a);
	GUEST_ASSERT_EQ(uart_in(MCR), MCR_LOOP | 0x0a);
	GUEST_ASSERT_EQ(uart_in(MSR) & 0xf0, 0x90);
	uart_out(MCR, MCR_LOOP | MCR_DTR | MCR_RTS | MCR_OUT1 | MCR_OUT2);
	/* CTS stayed, DSR and RI came, DCD stayed: only DDSR is a delta (RI rising is not). */
	GUEST_ASSERT_EQ(uart_in(MSR), 0xf0 | 0x02);
	GUEST_ASSERT_EQ(uart_in(MSR), 0xf0);
	uart_out(MCR, MCR_LOOP);
	/* Everything fell: DCTS, DDSR, TERI, DDCD. */
	GUEST_ASSERT_EQ(uart_in(MSR), 0x0f);
	uart_out(MCR, 0);
	/* Out of loopback the line is up again: CTS, DSR, DCD rose. */
	GUEST_ASSERT_EQ(uart_in(MSR), 0xb0 | 0x0b);
	GUEST_ASSERT_EQ(uart_in(MSR), 0xb0);
	/* Bits 5-7 of MCR are not a 16550A's. */
	uart_out(MCR, 0xe0);
	GUEST_ASSERT_EQ(uart_in(MCR), 0);

	/* EFR lives behind LCR 0xbf on other chips: here offset 2 is still FCR/IIR. */
	uart_out(LCR, 0xbf);
	uart_out(2, 0);
	uart_out(LCR, 0);
	uart_out(FCR, FCR_FIFO);
	GUEST_ASSERT_EQ(uart_in(IIR), IIR_FIFOS | IIR_NO_INT);
	/* EFRv1 and EFRv2 probes: "EFR" never reads 0. */
	uart_out(LCR, LCR_DLAB);
	GUEST_ASSERT(uart_in(2) != 0);
	uart_out(LCR, 0xbf);
	GUEST_ASSERT(uart_in(2) != 0);
	/* NatSemi probe: LCR 0xe0's "EXCR1" does not follow MCR.LOOP. */
	uart_out(LCR, 0xe0);
	GUEST_ASSERT_EQ(uart_in(2) & MCR_LOOP, 0);
	uart_out(LCR, 0);
	uart_out(MCR, MCR_LOOP);
	uart_out(LCR, 0xe0);
	GUEST_ASSERT_EQ(uart_in(2) & MCR_LOOP, 0);
	uart_out(LCR, 0);
	uart_out(MCR, 0);
	/* The 16750 probe: 64-byte FIFO mode is not there, with or without DLAB. */
	uart_out(FCR, FCR_FIFO | FCR_64BYTE);
	GUEST_ASSERT_EQ(uart_in(IIR) >> 5, 6);
	uart_out(LCR, LCR_DLAB);
	uart_out(FCR, FCR_FIFO | FCR_64BYTE);
	GUEST_ASSERT_EQ(uart_in(IIR) >> 5, 6);
	uart_out(LCR, 0);
	/* FIFOs off: IIR's top bits go with them. */
	uart_out(FCR, 0);
	GUEST_ASSERT_EQ(uart_in(IIR), IIR_NO_INT);
	uart_out(FCR, FCR_FIFO);

	/* size_fifo(): 256 bytes in loopback, a 16-byte FIFO keeps 16. */
	uart_out(FCR, FCR_FIFO | FCR_CLEAR_RX | FCR_CLEAR_TX);
	uart_out(MCR, MCR_LOOP);
	for (i = 0; i < 256; i++)
		uart_out(THR, i);
	for (n = 0; (uart_in(LSR) & LSR_DR) && n < 256; n++)
		GUEST_ASSERT_EQ(uart_in(RBR), n);
	GUEST_ASSERT_EQ(n, 16);
	uart_out(MCR, 0);

	/* SCR holds anything. */
	uart_out(SCR, 0xa5);
	GUEST_ASSERT_EQ(uart_in(SCR), 0xa5);
	uart_out(SCR, 0x5a);
	GUEST_ASSERT_EQ(uart_in(SCR), 0x5a);

	/* DLAB switches offsets 0 and 1 to the divisor latch. */
	uart_out(IER, IER_RLSI);
	uart_out(LCR, LCR_DLAB | LCR_8N1);
	GUEST_ASSERT_EQ(uart_in(LCR), LCR_DLAB | LCR_8N1);
	uart_out(DLL, 0x0c);
	uart_out(DLM, 0x01);
	GUEST_ASSERT_EQ(uart_in(DLL), 0x0c);
	GUEST_ASSERT_EQ(uart_in(DLM), 0x01);
	uart_out(LCR, LCR_8N1);
	GUEST_ASSERT_EQ(uart_in(IER), IER_RLSI);
	/* Not the latch: this goes to THR (out to the console) and IER. */
	uart_out(THR, '!');
	uart_out(IER, 0);
	uart_out(LCR, LCR_DLAB | LCR_8N1);
	GUEST_ASSERT_EQ(uart_in(DLL), 0x0c);
	GUEST_ASSERT_EQ(uart_in(DLM), 0x01);
	uart_out(LCR, LCR_8N1);
	GUEST_DONE();
}

TEST(autoconfig_probes_see_16550a)
{
	struct guest *g;
	struct ucall uc;
	char c = 0;

	UART_GUEST_OR_SKIP(g, guest_autoconfig_code);
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	/* Of all that, only the one byte written with DLAB clear reached the console. */
	ASSERT_EQ(0, console_nonblock(guest_console_fd(g)));
	EXPECT_EQ(1, drain(guest_console_fd(g), &c, 1));
	EXPECT_EQ('!', c);
	EXPECT_EQ(0, drain(guest_console_fd(g), &c, 1));
	guest_destroy(g);
}

/* IIR: the THRE interrupt and the priority of the others, LSR's errors. */
static void guest_iir_code(uint64_t a0, uint64_t a1)
{
	unsigned int i;

	uart_out(FCR, FCR_FIFO);
	/* Serial8250's THRE test: enabling ETBEI with THR empty raises it, each time. */
	uart_out(IER, IER_THRI);
	GUEST_ASSERT_EQ(uart_in(IIR), IIR_FIFOS | IIR_THRI);
	/* Reading IIR reported it, and so cleared it. */
	GUEST_ASSERT_EQ(uart_in(IIR), IIR_FIFOS | IIR_NO_INT);
	uart_out(IER, 0);
	uart_out(IER, IER_THRI);
	GUEST_ASSERT_EQ(uart_in(IIR), IIR_FIFOS | IIR_THRI);
	/* A byte sent: THR is empty again at once. */
	uart_out(THR, 'a');
	GUEST_ASSERT_EQ(uart_in(LSR), LSR_THRE | LSR_TEMT);
	GUEST_ASSERT_EQ(uart_in(IIR), IIR_FIFOS | IIR_THRI);
	GUEST_ASSERT_EQ(uart_in(IIR), IIR_FIFOS | IIR_NO_INT);

	/* In loopback: received data outranks THRE, line status outranks both. */
	uart_out(MCR, MCR_LOOP);
	/* (Entering loopback dropped CTS, DSR, DCD: a modem status delta, not enabled.) */
	uart_out(IER, IER_RDI | IER_THRI | IER_RLSI | IER_MSI);
	uart_out(THR, 'b');
	GUEST_ASSERT_EQ(uart_in(LSR), LSR_DR | LSR_THRE | LSR_TEMT);
	GUEST_ASSERT_EQ(uart_in(IIR), IIR_FIFOS | IIR_RDI);
	GUEST_ASSERT_EQ(uart_in(RBR), 'b');
	GUEST_ASSERT_EQ(uart_in(IIR), IIR_FIFOS | IIR_THRI);
	/* Then the modem status delta, until MSR is read. */
	GUEST_ASSERT_EQ(uart_in(IIR), IIR_FIFOS | IIR_MSI);
	GUEST_ASSERT_EQ(uart_in(MSR), 0x0b);
	GUEST_ASSERT_EQ(uart_in(IIR), IIR_FIFOS | IIR_NO_INT);
	/* 17 bytes into the 16-byte FIFO: the last is an overrun. */
	for (i = 0; i < 17; i++)
		uart_out(THR, 'A' + i);
	GUEST_ASSERT_EQ(uart_in(IIR), IIR_FIFOS | IIR_RLSI);
	GUEST_ASSERT_EQ(uart_in(LSR), LSR_FIFOE | LSR_OE | LSR_DR | LSR_THRE | LSR_TEMT);
	/* Error bits clear on read; the data stays. */
	GUEST_ASSERT_EQ(uart_in(LSR), LSR_DR | LSR_THRE | LSR_TEMT);
	GUEST_ASSERT_EQ(uart_in(IIR), IIR_FIFOS | IIR_RDI);
	for (i = 0; i < 16; i++)
		GUEST_ASSERT_EQ(uart_in(RBR), 'A' + i);
	GUEST_ASSERT_EQ(uart_in(IIR), IIR_FIFOS | IIR_THRI);
	GUEST_ASSERT_EQ(uart_in(IIR), IIR_FIFOS | IIR_NO_INT);
	/* FIFOs off, the receiver holds one byte: the second overruns. */
	uart_out(FCR, 0);
	uart_out(THR, 'x');
	uart_out(THR, 'y');
	GUEST_ASSERT_EQ(uart_in(LSR), LSR_OE | LSR_DR | LSR_THRE | LSR_TEMT);
	GUEST_ASSERT_EQ(uart_in(RBR), 'x');
	GUEST_ASSERT_EQ(uart_in(LSR) & LSR_DR, 0);
	/* Clearing the receiver empties it. */
	uart_out(FCR, FCR_FIFO);
	uart_out(THR, 'z');
	uart_out(FCR, FCR_FIFO | FCR_CLEAR_RX);
	GUEST_ASSERT_EQ(uart_in(LSR) & LSR_DR, 0);
	uart_out(IER, 0);
	uart_out(MCR, 0);
	GUEST_DONE();
}

TEST(iir_thre_and_priorities)
{
	struct guest *g;
	struct ucall uc;
	char c = 0;

	UART_GUEST_OR_SKIP(g, guest_iir_code);
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	/* Loopback bytes never reach the console. */
	ASSERT_EQ(0, console_nonblock(guest_console_fd(g)));
	EXPECT_EQ(1, drain(guest_console_fd(g), &c, 1));
	EXPECT_EQ('a', c);
	EXPECT_EQ(0, drain(guest_console_fd(g), &c, 1));
	guest_destroy(g);
}

/* The receiver clear drops what the console sent, and makes room for more. */
static void guest_fcr_clear_code(uint64_t a0, uint64_t a1)
{
	uart_out(FCR, FCR_FIFO);
	GUEST_SYNC(0);
	GUEST_ASSERT(uart_in(LSR) & LSR_DR);
	uart_out(FCR, FCR_FIFO | FCR_CLEAR_RX);
	GUEST_ASSERT_EQ(uart_in(LSR) & LSR_DR, 0);
	GUEST_ASSERT_EQ(uart_in(IIR), IIR_FIFOS | IIR_NO_INT);
	GUEST_SYNC(1);
	GUEST_ASSERT_EQ(uart_getc(), 'd');
	GUEST_DONE();
}

TEST(fcr_clear_rx_drops_console_input)
{
	static char fill[RX_QUEUE + 100];
	struct guest *g;
	struct ucall uc;
	int fd;

	UART_GUEST_OR_SKIP(g, guest_fcr_clear_code);
	fd = guest_console_fd(g);
	ASSERT_EQ(0, console_nonblock(fd));
	ASSERT_UCALL(g, UCALL_SYNC, &uc);
	memset(fill, 'f', sizeof(fill));
	/* A partial write: as much as the receive queue holds. */
	EXPECT_EQ(RX_QUEUE, write(fd, fill, sizeof(fill)));
	EXPECT_EQ(-1, write(fd, "x", 1));
	EXPECT_EQ(EAGAIN, errno);
	ASSERT_UCALL(g, UCALL_SYNC, &uc);
	EXPECT_EQ(1, write(fd, "d", 1));
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	guest_destroy(g);
}

/* ---- Output overflow ---- */

static uint8_t pattern(uint32_t i)
{
	return (i ^ (i >> 8) ^ (i >> 16)) & 0xff;
}

static void guest_overflow_code(uint64_t a0, uint64_t a1)
{
	uint32_t i;

	/* No LSR poll: THR is always empty, the guest never waits. */
	for (i = 0; i < TX_RING + OVERFLOW_EXTRA; i++)
		uart_out(THR, pattern(i));
	GUEST_ASSERT_EQ(uart_in(LSR), LSR_THRE | LSR_TEMT);
	GUEST_SYNC(0);
	uart_out(THR, 'Z');
	GUEST_DONE();
}

TEST(tx_overflow_drops_without_blocking)
{
	static uint8_t buf[TX_RING + OVERFLOW_EXTRA + 1];
	struct lkvm_kmsg kmsg;
	char log[512], want[128];
	struct guest *g;
	struct ucall uc;
	uint32_t i, bad = 0;
	int fd;

	UART_GUEST_OR_SKIP(g, guest_overflow_code);
	fd = guest_console_fd(g);
	ASSERT_EQ(0, console_nonblock(fd));
	ASSERT_UCALL(g, UCALL_SYNC, &uc);
	EXPECT_EQ(1, stat(g, LKVM_STAT_USERSPACE_EXITS));
	/* The first 64 KiB are kept, the rest dropped. */
	ASSERT_EQ(TX_RING, drain(fd, buf, sizeof(buf)));
	for (i = 0; i < TX_RING; i++)
		bad += buf[i] != pattern(i);
	EXPECT_EQ(0, bad);
	/* Once there is room again, the episode is reported with its count. */
	ASSERT_EQ(0, lkvm_kmsg_open(&kmsg));
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	EXPECT_EQ(1, drain(fd, buf, sizeof(buf)));
	EXPECT_EQ('Z', buf[0]);
	snprintf(want, sizeof(want), "%u bytes of console output dropped", OVERFLOW_EXTRA);
	EXPECT_EQ(1, lkvm_kmsg_grep(&kmsg, want, log, sizeof(log))) TH_LOG("log: %s", log);
	lkvm_kmsg_close(&kmsg);
	guest_destroy(g);
}

/* ---- The console file ---- */

static void guest_say_hi_code(uint64_t a0, uint64_t a1)
{
	GUEST_SYNC(0);
	uart_putc('h');
	uart_putc('i');
	GUEST_DONE();
}

struct reader {
	int fd;
	char buf[16];
	ssize_t ret;
	volatile bool done;
};

static void *blocking_read(void *arg)
{
	struct reader *r = arg;

	r->ret = read(r->fd, r->buf, sizeof(r->buf));
	r->done = true;
	return NULL;
}

TEST(read_blocks_nonblock_eagain)
{
	struct reader r = {};
	struct guest *g;
	struct ucall uc;
	pthread_t t;
	char c;
	int fl;

	UART_GUEST_OR_SKIP(g, guest_say_hi_code);
	r.fd = guest_console_fd(g);
	fl = fcntl(r.fd, F_GETFL);
	ASSERT_EQ(0, fcntl(r.fd, F_SETFL, fl | O_NONBLOCK));
	EXPECT_EQ(-1, read(r.fd, &c, 1));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(0, read(r.fd, &c, 0));
	ASSERT_EQ(0, fcntl(r.fd, F_SETFL, fl));

	ASSERT_EQ(0, pthread_create(&t, NULL, blocking_read, &r));
	ASSERT_UCALL(g, UCALL_SYNC, &uc);
	usleep(100 * 1000);
	EXPECT_FALSE(r.done);
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	pthread_join(t, NULL);
	/* At least one byte, and what is there up to the count. */
	ASSERT_LE(1, r.ret);
	EXPECT_EQ('h', r.buf[0]);
	if (r.ret == 1) {
		ASSERT_EQ(0, console_nonblock(r.fd));
		EXPECT_EQ(1, read(r.fd, r.buf + 1, sizeof(r.buf) - 1));
	}
	EXPECT_EQ('i', r.buf[1]);
	guest_destroy(g);
}

TEST(read_bad_buffer_efault_keeps_output)
{
	struct guest *g;
	struct ucall uc;
	char buf[4];
	void *bad;
	int fd;

	bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, bad);
	UART_GUEST_OR_SKIP(g, guest_say_hi_code);
	fd = guest_console_fd(g);
	ASSERT_UCALL(g, UCALL_SYNC, &uc);
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	EXPECT_EQ(-1, read(fd, bad, 2));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, write(fd, bad, 2));
	EXPECT_EQ(EFAULT, errno);
	munmap(bad, 4096);
	EXPECT_EQ(2, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "hi", 2));
	guest_destroy(g);
}

struct poller {
	int fd;
	int ret;
	short revents;
};

static void *poll_in(void *arg)
{
	struct poller *p = arg;
	struct pollfd pfd = { .fd = p->fd, .events = POLLIN };

	p->ret = poll(&pfd, 1, 10000);
	p->revents = pfd.revents;
	return NULL;
}

TEST(poll_reports_output_and_room)
{
	static char fill[RX_QUEUE];
	struct poller p = {};
	struct pollfd pfd;
	struct guest *g;
	struct ucall uc;
	pthread_t t;
	char buf[4];
	int fd;

	UART_GUEST_OR_SKIP(g, guest_say_hi_code);
	fd = guest_console_fd(g);
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN | POLLOUT };
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLOUT, pfd.revents);

	/* A poller waiting for output wakes when the guest writes. */
	p.fd = fd;
	ASSERT_EQ(0, pthread_create(&t, NULL, poll_in, &p));
	ASSERT_UCALL(g, UCALL_SYNC, &uc);
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	pthread_join(t, NULL);
	EXPECT_EQ(1, p.ret);
	EXPECT_EQ(POLLIN, p.revents);
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLIN | POLLOUT, pfd.revents);
	EXPECT_EQ(2, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLOUT, pfd.revents);

	/* A full receive queue has no room. */
	ASSERT_EQ(0, console_nonblock(fd));
	EXPECT_EQ(RX_QUEUE, write(fd, fill, sizeof(fill)));
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	guest_destroy(g);
}

static void guest_slow_reader_code(uint64_t n, uint64_t a1)
{
	uint64_t i;
	uint8_t c = 0;

	GUEST_SYNC(0);
	/* One byte makes room for a blocked writer. */
	GUEST_ASSERT_EQ(uart_getc(), 0);
	GUEST_SYNC(1);
	for (i = 1; i < n; i++)
		c = uart_getc();
	GUEST_ASSERT_EQ(c, 'Q');
	GUEST_ASSERT_EQ(uart_in(LSR) & LSR_DR, 0);
	GUEST_DONE();
}

struct writer {
	int fd;
	ssize_t ret;
	volatile bool done;
};

static void *blocking_write(void *arg)
{
	struct writer *w = arg;

	w->ret = write(w->fd, "Q", 1);
	w->done = true;
	return NULL;
}

TEST(write_blocks_until_guest_reads)
{
	static char fill[RX_QUEUE];
	struct writer w = {};
	struct guest *g;
	struct ucall uc;
	pthread_t t;

	UART_GUEST_OR_SKIP(g, guest_slow_reader_code);
	guest_set_args(g, RX_QUEUE + 1, 0);
	w.fd = guest_console_fd(g);
	ASSERT_EQ(RX_QUEUE, write(w.fd, fill, sizeof(fill)));
	ASSERT_EQ(0, pthread_create(&t, NULL, blocking_write, &w));
	ASSERT_UCALL(g, UCALL_SYNC, &uc);
	usleep(100 * 1000);
	EXPECT_FALSE(w.done);
	ASSERT_UCALL(g, UCALL_SYNC, &uc);
	pthread_join(t, NULL);
	EXPECT_EQ(1, w.ret);
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	guest_destroy(g);
}

/* ---- Interrupts through the IOAPIC and the local APIC ---- */

#define UART_VECTOR		0x34
#define APIC_BASE		0xfee00000UL
#define APIC_SVR		0xf0
#define APIC_SVR_ENABLE		0x100
#define IOAPIC_REGSEL		(LKVM_PLATFORM_IOAPIC_BASE + 0x00)
#define IOAPIC_WIN		(LKVM_PLATFORM_IOAPIC_BASE + 0x10)
#define IOAPIC_REDIR(pin)	(0x10 + 2 * (pin))
#define CPUID_1_EDX_APIC	(1u << 9)
#define NO_APIC			0xdead

static volatile uint64_t uart_irqs;

/* Count, EOI the local APIC (edge: nothing goes back to the IOAPIC), return. */
asm(".pushsection .text\n"
    "uart_irq_stub:\n\t"
    "lock incq uart_irqs(%rip)\n\t"
    "push %rax\n\t"
    "mov $0xfee000b0, %eax\n\t"
    "movl $0, (%rax)\n\t"
    "pop %rax\n\t"
    "iretq\n"
    ".popsection");
void uart_irq_stub(void);

static void ioapic_write(uint32_t reg, uint32_t val)
{
	*(volatile uint32_t *)IOAPIC_REGSEL = reg;
	*(volatile uint32_t *)IOAPIC_WIN = val;
}

/* The UART's pin, edge, active high, fixed delivery to APIC 0; the APIC on. */
static bool guest_irq_setup(void)
{
	uint32_t eax, ebx, ecx, edx;

	guest_cpuid(1, &eax, &ebx, &ecx, &edx);
	if (!(edx & CPUID_1_EDX_APIC))
		return false;
	ioapic_write(IOAPIC_REDIR(LKVM_PLATFORM_UART_IRQ) + 1, 0);
	ioapic_write(IOAPIC_REDIR(LKVM_PLATFORM_UART_IRQ), UART_VECTOR);
	*(volatile uint32_t *)(APIC_BASE + APIC_SVR) = APIC_SVR_ENABLE | 0xff;
	return true;
}

/* Sleep until the interrupt count passes @seen. */
static void wait_irqs(uint64_t seen)
{
	while (uart_irqs <= seen)
		asm volatile("sti; hlt; cli" ::: "memory");
}

static const char irq_msg[] = "sent one THRE interrupt at a time";

static void guest_irq_tx_code(uint64_t a0, uint64_t a1)
{
	unsigned int i, n = sizeof(irq_msg) - 1;

	if (!guest_irq_setup()) {
		GUEST_SYNC(NO_APIC);
		GUEST_DONE();
	}
	GUEST_SYNC(1);
	/* THRE pending and enabled, but without OUT2 the line stays low. */
	uart_out(IER, IER_THRI);
	for (i = 0; i < 1000; i++)
		asm volatile("sti; pause; cli" ::: "memory");
	GUEST_ASSERT_EQ(uart_irqs, 0);
	uart_out(MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
	for (i = 0; i < n; i++) {
		wait_irqs(i);
		GUEST_ASSERT_EQ(uart_irqs, i + 1);
		/* Reading IIR takes the line down; the next byte brings it up. */
		GUEST_ASSERT_EQ(uart_in(IIR), IIR_THRI);
		uart_out(THR, irq_msg[i]);
	}
	wait_irqs(n);
	GUEST_ASSERT_EQ(uart_in(IIR), IIR_THRI);
	uart_out(IER, 0);
	GUEST_ASSERT_EQ(uart_in(IIR), IIR_NO_INT);
	GUEST_DONE();
}

TEST(interrupt_driven_tx)
{
	size_t n = sizeof(irq_msg) - 1;
	char buf[64];
	struct guest *g;
	struct ucall uc;

	UART_GUEST_OR_SKIP(g, guest_irq_tx_code);
	guest_set_idt_handler(g, UART_VECTOR, uart_irq_stub);
	ASSERT_UCALL(g, UCALL_SYNC, &uc);
	if (uc.args[0] == NO_APIC) {
		guest_destroy(g);
		SKIP(return, "no local APIC in the platform");
	}
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	guest_read_global(g, (void *)&uart_irqs, sizeof(uart_irqs));
	EXPECT_EQ(n + 1, uart_irqs);
	ASSERT_EQ(0, console_nonblock(guest_console_fd(g)));
	EXPECT_EQ(n, drain(guest_console_fd(g), buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, irq_msg, n));
	guest_destroy(g);
}

static char irq_rx_seen[16];

static void guest_irq_rx_code(uint64_t a0, uint64_t a1)
{
	unsigned int i;

	if (!guest_irq_setup()) {
		GUEST_SYNC(NO_APIC);
		GUEST_DONE();
	}
	uart_out(IER, IER_RDI);
	uart_out(MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
	wait_irqs(0);
	GUEST_ASSERT_EQ(uart_in(IIR), IIR_RDI);
	for (i = 0; uart_in(LSR) & LSR_DR; i++)
		irq_rx_seen[i] = uart_in(RBR);
	GUEST_ASSERT_EQ(i, 3);
	GUEST_ASSERT_EQ(uart_in(IIR), IIR_NO_INT);
	GUEST_ASSERT_EQ(uart_irqs, 1);
	GUEST_SYNC(1);
	/* The host writes again: the line rises again. */
	wait_irqs(1);
	for (; uart_in(LSR) & LSR_DR; i++)
		irq_rx_seen[i] = uart_in(RBR);
	GUEST_ASSERT_EQ(i, 5);
	GUEST_ASSERT_EQ(uart_irqs, 2);
	uart_out(IER, 0);
	GUEST_DONE();
}

TEST(interrupt_driven_rx)
{
	struct guest *g;
	struct ucall uc;
	int fd;

	UART_GUEST_OR_SKIP(g, guest_irq_rx_code);
	guest_set_idt_handler(g, UART_VECTOR, uart_irq_stub);
	fd = guest_console_fd(g);
	ASSERT_EQ(3, write(fd, "abc", 3));
	ASSERT_UCALL(g, UCALL_SYNC, &uc);
	if (uc.args[0] == NO_APIC) {
		guest_destroy(g);
		SKIP(return, "no local APIC in the platform");
	}
	ASSERT_EQ(1, uc.args[0]);
	ASSERT_EQ(2, write(fd, "de", 2));
	ASSERT_UCALL(g, UCALL_DONE, &uc);
	guest_read_global(g, irq_rx_seen, sizeof(irq_rx_seen));
	EXPECT_EQ(0, memcmp(irq_rx_seen, "abcde", 5));
	guest_destroy(g);
}

TEST_HARNESS_MAIN
