// SPDX-License-Identifier: GPL-2.0
/*
 * The IOAPIC of a VM with the platform, seen from a guest: its registers
 * and their read-only bits, the page it answers in, and delivery of a
 * level-triggered pin to the local APIC with remote IRR and the EOI that
 * clears it, and the UART's edge-triggered pin. An active-low pin that
 * nothing drives is asserted, which is what the level tests use.
 */
#include <errno.h>
#include <stdint.h>

#include "kselftest_harness.h"
#include "lib/guest.h"

#define IOAPIC_BASE		0xfec00000UL
#define IOREGSEL		((volatile uint32_t *)IOAPIC_BASE)
#define IOWIN			((volatile uint32_t *)(IOAPIC_BASE + 0x10))
#define IOAPIC_ID		0x00
#define IOAPIC_VER		0x01
#define IOAPIC_ARB		0x02
#define RTE_LO(pin)		(0x10 + 2 * (pin))
#define RTE_HI(pin)		(0x11 + 2 * (pin))

#define RTE_DELIVERY_STATUS	(1 << 12)
#define RTE_ACTIVE_LOW		(1 << 13)
#define RTE_REMOTE_IRR		(1 << 14)
#define RTE_LEVEL		(1 << 15)
#define RTE_MASKED		(1 << 16)
#define RTE_WRITABLE_LO		0x1afff

#define MSR_APICBASE		0x1b
#define X2APIC_ENABLE		(1ULL << 10)
#define X2_TMR			0x818
#define X2_EOI			0x80b
#define X2_SVR			0x80f

#define PIN			5
#define VECTOR			0x50

static volatile uint64_t irq_count;

/* No EOI: the guest decides when the level pin gets its EOI. */
asm(".pushsection .text\n"
    "ioapic_irq_stub:\n\t"
    "lock incq irq_count(%rip)\n\t"
    "iretq\n"
    ".popsection");
void ioapic_irq_stub(void);

static uint64_t stat(struct guest *g, int which)
{
	struct lkvm_vcpu_stats s;

	if (guest_stats(g, &s))
		return ~0ULL;
	return s.stat[which];
}

static uint32_t ioapic_read(uint32_t reg)
{
	*IOREGSEL = reg;
	return *IOWIN;
}

static void ioapic_write(uint32_t reg, uint32_t val)
{
	*IOREGSEL = reg;
	*IOWIN = val;
}

static void wrmsr(uint32_t msr, uint64_t val)
{
	GUEST_ASSERT_EQ(guest_wrmsr_safe(msr, val), 0);
}

static uint64_t rdmsr(uint32_t msr)
{
	uint64_t val;

	GUEST_ASSERT_EQ(guest_rdmsr_safe(msr, &val), 0);
	return val;
}

#define RUN_TO_DONE(g, code) do {						\
	struct guest_opts __o = { .backend = GUEST_LKVM, .platform = true };	\
	struct ucall __uc;							\
										\
	(g) = guest_create(&__o, (code));					\
	if (!(g) && errno == ENODEV)						\
		SKIP(return, "%s", guest_error());				\
	ASSERT_NE(NULL, (g)) TH_LOG("%s", guest_error());			\
	guest_set_idt_handler((g), VECTOR, ioapic_irq_stub);			\
	ASSERT_UCALL((g), UCALL_DONE, &__uc);					\
} while (0)

static void guest_registers(uint64_t a0, uint64_t a1)
{
	unsigned int pin;

	GUEST_ASSERT_EQ(ioapic_read(IOAPIC_ID), 1 << 24);
	/* Version 0x11, 24 entries. */
	GUEST_ASSERT_EQ(ioapic_read(IOAPIC_VER), 0x170011);
	GUEST_ASSERT_EQ(ioapic_read(IOAPIC_ARB), 1 << 24);
	/* The ID has four bits; version and arbitration are read-only. */
	ioapic_write(IOAPIC_ID, 0xffffffff);
	GUEST_ASSERT_EQ(ioapic_read(IOAPIC_ID), 0x0f000000);
	ioapic_write(IOAPIC_ID, 1 << 24);
	ioapic_write(IOAPIC_VER, 0);
	GUEST_ASSERT_EQ(ioapic_read(IOAPIC_VER), 0x170011);
	/* Reset: every entry masked. */
	for (pin = 0; pin < 24; pin++) {
		GUEST_ASSERT_EQ(ioapic_read(RTE_LO(pin)), RTE_MASKED);
		GUEST_ASSERT_EQ(ioapic_read(RTE_HI(pin)), 0);
	}
	/* Delivery status and remote IRR are the IOAPIC's; the high word has the destination. */
	ioapic_write(RTE_LO(3), 0xffffffff & ~RTE_ACTIVE_LOW);
	GUEST_ASSERT_EQ(ioapic_read(RTE_LO(3)), RTE_WRITABLE_LO & ~RTE_ACTIVE_LOW);
	ioapic_write(RTE_HI(3), 0xffffffff);
	GUEST_ASSERT_EQ(ioapic_read(RTE_HI(3)), 0xff000000);
	ioapic_write(RTE_LO(23), 0x0001a831);
	GUEST_ASSERT_EQ(ioapic_read(RTE_LO(23)), 0x0001a831);
	/* Past the table, and the holes before it. */
	GUEST_ASSERT_EQ(ioapic_read(RTE_LO(24)), 0xffffffff);
	GUEST_ASSERT_EQ(ioapic_read(0x03), 0xffffffff);
	GUEST_ASSERT_EQ(ioapic_read(0xff), 0xffffffff);
	*IOREGSEL = 0x1234;
	GUEST_ASSERT_EQ(*IOREGSEL, 0x34);
	GUEST_DONE();
}

TEST(registers)
{
	struct guest *g;

	RUN_TO_DONE(g, guest_registers);
	EXPECT_EQ(0, stat(g, LKVM_STAT_UNCLAIMED_MMIO));
	guest_destroy(g);
}

/* Its page only, 32 bits at a time at IOREGSEL and IOWIN; the rest of it reads 0. */
static void guest_page(uint64_t a0, uint64_t a1)
{
	*IOREGSEL = IOAPIC_VER;
	GUEST_ASSERT_EQ(*(volatile uint8_t *)IOWIN, 0);
	GUEST_ASSERT_EQ(*(volatile uint32_t *)(IOAPIC_BASE + 0x20), 0);
	GUEST_ASSERT_EQ(*(volatile uint32_t *)(IOAPIC_BASE + 0x40), 0);
	/* A byte write selects nothing. */
	*(volatile uint8_t *)IOREGSEL = IOAPIC_ID;
	GUEST_ASSERT_EQ(*IOWIN, 0x170011);
	GUEST_ASSERT_EQ(*(volatile uint32_t *)(IOAPIC_BASE + 0x1000), 0xffffffff);
	GUEST_DONE();
}

TEST(only_its_page)
{
	struct guest *g;

	RUN_TO_DONE(g, guest_page);
	EXPECT_EQ(1, stat(g, LKVM_STAT_UNCLAIMED_MMIO));
	guest_destroy(g);
}

static void x2apic_on(void)
{
	wrmsr(MSR_APICBASE, rdmsr(MSR_APICBASE) | X2APIC_ENABLE);
	wrmsr(X2_SVR, 0x1ff);
}

/*
 * Level-triggered, active low, nothing driving the pin: asserted. The
 * entry sends when unmasked, remote IRR holds it until the EOI, an EOI
 * while still asserted sends again, and masked it waits.
 */
static void guest_level(uint64_t a0, uint64_t a1)
{
	x2apic_on();
	ioapic_write(RTE_HI(PIN), 0);
	ioapic_write(RTE_LO(PIN), RTE_MASKED | RTE_LEVEL | RTE_ACTIVE_LOW | VECTOR);
	asm volatile("sti; nop; cli" ::: "memory");
	GUEST_ASSERT_EQ(irq_count, 0);
	GUEST_ASSERT_EQ(ioapic_read(RTE_LO(PIN)) & RTE_REMOTE_IRR, 0);

	/* Unmasked while asserted: delivered, and it waits for the EOI. */
	ioapic_write(RTE_LO(PIN), RTE_LEVEL | RTE_ACTIVE_LOW | VECTOR);
	asm volatile("sti; nop; cli" ::: "memory");
	GUEST_ASSERT_EQ(irq_count, 1);
	GUEST_ASSERT(ioapic_read(RTE_LO(PIN)) & RTE_REMOTE_IRR);
	GUEST_ASSERT(rdmsr(X2_TMR + VECTOR / 32) & (1U << (VECTOR % 32)));
	/* Remote IRR is read-only. */
	ioapic_write(RTE_LO(PIN), RTE_LEVEL | RTE_ACTIVE_LOW | VECTOR);
	GUEST_ASSERT(ioapic_read(RTE_LO(PIN)) & RTE_REMOTE_IRR);

	/* The EOI with the pin still asserted: again. */
	wrmsr(X2_EOI, 0);
	asm volatile("sti; nop; cli" ::: "memory");
	GUEST_ASSERT_EQ(irq_count, 2);
	GUEST_ASSERT(ioapic_read(RTE_LO(PIN)) & RTE_REMOTE_IRR);

	/* Masked, the EOI clears remote IRR and nothing more comes. */
	ioapic_write(RTE_LO(PIN), RTE_MASKED | RTE_LEVEL | RTE_ACTIVE_LOW | VECTOR);
	wrmsr(X2_EOI, 0);
	asm volatile("sti; nop; cli" ::: "memory");
	GUEST_ASSERT_EQ(irq_count, 2);
	GUEST_ASSERT_EQ(ioapic_read(RTE_LO(PIN)) & RTE_REMOTE_IRR, 0);

	/* Active high, the same undriven pin is idle. */
	ioapic_write(RTE_LO(PIN), RTE_LEVEL | VECTOR);
	asm volatile("sti; nop; cli" ::: "memory");
	GUEST_ASSERT_EQ(irq_count, 2);
	GUEST_ASSERT_EQ(ioapic_read(RTE_LO(PIN)) & RTE_REMOTE_IRR, 0);
	GUEST_DONE();
}

TEST(level_pin_remote_irr_and_eoi)
{
	struct guest *g;

	RUN_TO_DONE(g, guest_level);
	EXPECT_EQ(2, stat(g, LKVM_STAT_IRQ_INJECTED));
	EXPECT_EQ(2, stat(g, LKVM_STAT_APIC_EOI));
	guest_destroy(g);
}

/* Switched to edge, a level pin waits for no EOI. */
static void guest_edge_clears_remote_irr(uint64_t a0, uint64_t a1)
{
	x2apic_on();
	ioapic_write(RTE_LO(PIN), RTE_LEVEL | RTE_ACTIVE_LOW | VECTOR);
	asm volatile("sti; nop; cli" ::: "memory");
	GUEST_ASSERT_EQ(irq_count, 1);
	GUEST_ASSERT(ioapic_read(RTE_LO(PIN)) & RTE_REMOTE_IRR);
	ioapic_write(RTE_LO(PIN), RTE_ACTIVE_LOW | VECTOR);
	GUEST_ASSERT_EQ(ioapic_read(RTE_LO(PIN)) & RTE_REMOTE_IRR, 0);
	/* An edge pin held asserted sends nothing more. */
	wrmsr(X2_EOI, 0);
	asm volatile("sti; nop; cli" ::: "memory");
	GUEST_ASSERT_EQ(irq_count, 1);
	GUEST_DONE();
}

TEST(edge_mode_clears_remote_irr)
{
	struct guest *g;

	RUN_TO_DONE(g, guest_edge_clears_remote_irr);
	EXPECT_EQ(1, stat(g, LKVM_STAT_IRQ_INJECTED));
	guest_destroy(g);
}

/* A destination no APIC has: nothing arrives, remote IRR is set all the same. */
static void guest_no_destination(uint64_t a0, uint64_t a1)
{
	x2apic_on();
	ioapic_write(RTE_HI(PIN), 7 << 24);
	ioapic_write(RTE_LO(PIN), RTE_LEVEL | RTE_ACTIVE_LOW | VECTOR);
	asm volatile("sti; nop; nop; cli" ::: "memory");
	GUEST_ASSERT_EQ(irq_count, 0);
	GUEST_ASSERT(ioapic_read(RTE_LO(PIN)) & RTE_REMOTE_IRR);
	GUEST_DONE();
}

TEST(no_destination_no_interrupt)
{
	struct guest *g;

	RUN_TO_DONE(g, guest_no_destination);
	EXPECT_EQ(0, stat(g, LKVM_STAT_IRQ_INJECTED));
	guest_destroy(g);
}

/*
 * The UART's pin, edge-triggered and active high as the platform wires
 * it: enabling the transmitter-empty interrupt (with OUT2) raises it.
 */
#define UART_PIN		4
#define UART_IER		0x3f9
#define UART_MCR		0x3fc
#define UART_IER_THRI		0x02
#define UART_MCR_OUT2		0x08

static void uart_irq(bool on)
{
	guest_outb(UART_IER, on ? UART_IER_THRI : 0);
}

static void guest_uart_edge(uint64_t a0, uint64_t a1)
{
	x2apic_on();
	ioapic_write(RTE_HI(UART_PIN), 0);
	ioapic_write(RTE_LO(UART_PIN), VECTOR);
	guest_outb(UART_MCR, UART_MCR_OUT2);
	uart_irq(true);
	asm volatile("sti; nop; cli" ::: "memory");
	GUEST_ASSERT_EQ(irq_count, 1);
	/* Edge: no remote IRR, the TMR bit clear, and the held line sends no more. */
	GUEST_ASSERT_EQ(ioapic_read(RTE_LO(UART_PIN)) & RTE_REMOTE_IRR, 0);
	GUEST_ASSERT_EQ(rdmsr(X2_TMR + VECTOR / 32) & (1U << (VECTOR % 32)), 0);
	wrmsr(X2_EOI, 0);
	asm volatile("sti; nop; cli" ::: "memory");
	GUEST_ASSERT_EQ(irq_count, 1);
	/* Down and up again: one more. */
	uart_irq(false);
	uart_irq(true);
	asm volatile("sti; nop; cli" ::: "memory");
	GUEST_ASSERT_EQ(irq_count, 2);
	wrmsr(X2_EOI, 0);
	/* An edge while masked is lost: unmasking sends nothing. */
	uart_irq(false);
	ioapic_write(RTE_LO(UART_PIN), RTE_MASKED | VECTOR);
	uart_irq(true);
	ioapic_write(RTE_LO(UART_PIN), VECTOR);
	asm volatile("sti; nop; cli" ::: "memory");
	GUEST_ASSERT_EQ(irq_count, 2);
	GUEST_DONE();
}

TEST(uart_pin_edge)
{
	struct guest *g;

	RUN_TO_DONE(g, guest_uart_edge);
	EXPECT_EQ(2, stat(g, LKVM_STAT_IRQ_INJECTED));
	guest_destroy(g);
}

TEST_HARNESS_MAIN
