// SPDX-License-Identifier: GPL-2.0
/*
 * ACPI tables for the in-kernel platform (ACPI 6.4; the layouts are those
 * of Linux's include/acpi/actbl*.h, written out here).
 *
 * The platform is hardware-reduced: there are no fixed ACPI registers, no
 * SCI and no legacy PC devices, so Linux looks for no 8259 PIC, no PIT, no
 * i8042 and no CMOS clock. What it needs instead is in the tables:
 *
 * - FADT: the sleep control and status registers and the _S5 value in the
 *   DSDT, through which it powers off; the reset register; physical APIC
 *   destination mode (there is no logical mode routing in the IOAPIC).
 * - MADT: the local APICs, the IOAPIC and LINT1 as NMI.
 * - DSDT: _S5, and the UART as a PNP0501 device with its ports and
 *   interrupt. A hardware-reduced Linux has no ISA interrupt numbers (no
 *   PIC to take them from): IOAPIC pin 4 gets a dynamic Linux IRQ, which
 *   the legacy serial port's fixed IRQ 4 would never find. Through the
 *   DSDT, the PNP serial driver asks ACPI for the pin's IRQ instead.
 */
#include <stddef.h>
#include <string.h>

#include "acpi.h"

#define __packed __attribute__((packed))

#define ACPI_OEM_ID		"LKVMLT"
#define ACPI_OEM_TABLE_ID	"LKVMLITE"
#define ACPI_CREATOR_ID		"LKVM"
#define ACPI_HYPERVISOR_ID	"LKVMLITE"
#define ACPI_ALIGN		16

#define FADT_REVISION		6
#define FADT_MINOR_REVISION	0
#define MADT_REVISION		5
#define DSDT_REVISION		2	/* 64-bit AML integers */

/* FADT flags and IA-PC boot architecture flags (ACPI 6.4, 5.2.9) */
#define FADT_RESET_REG_SUP	(1U << 10)
#define FADT_FORCE_APIC_PHYS	(1U << 19)
#define FADT_HW_REDUCED_ACPI	(1U << 20)
#define IAPC_BOOT_NO_VGA	(1U << 2)
#define IAPC_BOOT_NO_CMOS_RTC	(1U << 5)

#define ACPI_SPACE_SYSTEM_IO	1
#define ACPI_ACCESS_BYTE	1

#define MADT_LOCAL_APIC		0
#define MADT_IO_APIC		1
#define MADT_LOCAL_APIC_NMI	4
#define MADT_LAPIC_ENABLED	1
#define MADT_ALL_PROCESSORS	0xff

/* AML opcodes (ACPI 6.4, 20.3) and resource descriptors (6.4) */
#define AML_ZERO_OP		0x00
#define AML_ONE_OP		0x01
#define AML_NAME_OP		0x08
#define AML_BYTE_PREFIX		0x0a
#define AML_DWORD_PREFIX	0x0c
#define AML_SCOPE_OP		0x10
#define AML_BUFFER_OP		0x11
#define AML_PACKAGE_OP		0x12
#define AML_ROOT_CHAR		0x5c
#define AML_EXT_OP_PREFIX	0x5b
#define AML_DEVICE_OP		0x82	/* after AML_EXT_OP_PREFIX */
#define RES_IO			0x47	/* small item 0x08, 7 bytes */
#define RES_IO_DECODE16		0x01
#define RES_IRQ_NO_FLAGS	0x22	/* small item 0x04, 2 bytes: edge, active high */
#define RES_END_TAG		0x79	/* small item 0x0f, 1 byte: the checksum, 0 = none */
#define UART_NR_PORTS		8

struct acpi_rsdp {
	char signature[8];
	uint8_t checksum;		/* of the first 20 bytes (ACPI 1.0 part) */
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt_address;
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t extended_checksum;	/* of all of it */
	uint8_t reserved[3];
} __packed;

#define RSDP_V1_LENGTH		20

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __packed;

struct acpi_gas {
	uint8_t space_id;
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_width;
	uint64_t address;
} __packed;

struct acpi_xsdt {
	struct acpi_header header;
	uint64_t entry[2];
} __packed;

struct acpi_fadt {
	struct acpi_header header;
	uint32_t facs;
	uint32_t dsdt;
	uint8_t reserved0;
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable;
	uint8_t acpi_disable;
	uint8_t s4bios_req;
	uint8_t pstate_cnt;
	uint32_t pm1a_evt_blk;
	uint32_t pm1b_evt_blk;
	uint32_t pm1a_cnt_blk;
	uint32_t pm1b_cnt_blk;
	uint32_t pm2_cnt_blk;
	uint32_t pm_tmr_blk;
	uint32_t gpe0_blk;
	uint32_t gpe1_blk;
	uint8_t pm1_evt_len;
	uint8_t pm1_cnt_len;
	uint8_t pm2_cnt_len;
	uint8_t pm_tmr_len;
	uint8_t gpe0_blk_len;
	uint8_t gpe1_blk_len;
	uint8_t gpe1_base;
	uint8_t cst_cnt;
	uint16_t p_lvl2_lat;
	uint16_t p_lvl3_lat;
	uint16_t flush_size;
	uint16_t flush_stride;
	uint8_t duty_offset;
	uint8_t duty_width;
	uint8_t day_alrm;
	uint8_t mon_alrm;
	uint8_t century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_facs;
	uint64_t x_dsdt;
	struct acpi_gas x_pm1a_evt_blk;
	struct acpi_gas x_pm1b_evt_blk;
	struct acpi_gas x_pm1a_cnt_blk;
	struct acpi_gas x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk;
	struct acpi_gas x_pm_tmr_blk;
	struct acpi_gas x_gpe0_blk;
	struct acpi_gas x_gpe1_blk;
	struct acpi_gas sleep_control_reg;
	struct acpi_gas sleep_status_reg;
	char hypervisor_vendor_id[8];
} __packed;

struct acpi_madt {
	struct acpi_header header;
	uint32_t local_apic_address;
	uint32_t flags;
} __packed;

struct madt_local_apic {
	uint8_t type;
	uint8_t length;
	uint8_t processor_uid;
	uint8_t apic_id;
	uint32_t flags;
} __packed;

struct madt_io_apic {
	uint8_t type;
	uint8_t length;
	uint8_t id;
	uint8_t reserved;
	uint32_t address;
	uint32_t gsi_base;
} __packed;

struct madt_local_apic_nmi {
	uint8_t type;
	uint8_t length;
	uint8_t processor_uid;
	uint16_t flags;
	uint8_t lint;
} __packed;

_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP layout");
_Static_assert(sizeof(struct acpi_header) == 36, "table header layout");
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT layout (revision 6)");
_Static_assert(sizeof(struct madt_local_apic_nmi) == 6, "MADT LAPIC NMI layout");

/*
 * Name (_S5, Package (4) { SLP_TYP, 0, 0, 0 })
 * Scope (\_SB) {
 *	Device (COM1) {
 *		Name (_HID, EisaId ("PNP0501"))
 *		Name (_UID, One)
 *		Name (_CRS, ResourceTemplate () {
 *			IO (Decode16, port, port, 0, 8)
 *			IRQNoFlags () { irq }
 *		})
 *	}
 *	Device (PCI0) {
 *		Name (_HID, EisaId ("PNP0A03"))
 *		Name (_UID, Zero)
 *		Name (_CRS, ResourceTemplate () {
 *			WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,
 *				       0, 0, 0xff, 0, 0x100)
 *			IO (Decode16, 0xcf8, 0xcf8, 1, 8)
 *			WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
 *				0, 0, 0xcf7, 0, 0xcf8)
 *			WordIO (..., 0, 0xd00, 0xffff, 0, 0xf300)
 *			DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed,
 *				     NonCacheable, ReadWrite, 0, MMIO_BASE, IOAPIC_BASE - 1, 0, len)
 *		})
 *	}
 * }
 *
 * With ACPI, Linux finds PCI only through a PNP0A03 root bridge: it then
 * scans bus 0 through configuration mechanism #1 and assigns BARs from
 * the windows above (all ports but the configuration ones, and the MMIO
 * window below the IOAPIC). A PkgLength of one byte counts itself and
 * what follows, up to 63; PKG2() is the two-byte form, up to 4095.
 */
#define PKG2(n)			(0x40 | ((n) & 0xf)), ((n) >> 4)
#define LE16(v)			((v) & 0xff), (((v) >> 8) & 0xff)
#define LE32(v)			LE16((v) & 0xffff), LE16((v) >> 16)
#define UART_PORT_LO		(LKVM_PLATFORM_UART_PORT & 0xff)
#define UART_PORT_HI		(LKVM_PLATFORM_UART_PORT >> 8)
#define UART_IRQ_MASK		(1U << LKVM_PLATFORM_UART_IRQ)

/* Address space descriptors (ACPI 6.4, 6.4.3.5) */
#define RES_DWORD_ADDRESS	0x87	/* large item, 23 bytes follow the length */
#define RES_WORD_ADDRESS	0x88	/* large item, 13 bytes follow the length */
#define RES_SPACE_MEMORY	0
#define RES_SPACE_IO		1
#define RES_SPACE_BUS		2
#define RES_PRODUCER_FIXED	0x0c	/* producer, positive decode, min and max fixed */
#define RES_IO_ENTIRE_RANGE	0x03
#define RES_MEM_RW_UNCACHED	0x01
#define PCI_MMIO_END		(LKVM_PLATFORM_IOAPIC_BASE - 1)
#define PCI_MMIO_LEN		(LKVM_PLATFORM_IOAPIC_BASE - LKVM_PLATFORM_MMIO_BASE)
#define PCI_CRS_LEN		84	/* the resource template's bytes */
#define PCI_CRS_PKG		(2 + 2 + PCI_CRS_LEN)	/* PkgLength, BufferSize, bytes */
#define PCI_DEVICE_BODY		(10 + 6 + 5 + 1 + PCI_CRS_PKG)
#define PCI_DEVICE_PKG		(2 + 4 + PCI_DEVICE_BODY)
#define COM1_DEVICE_LEN		45
#define SB_SCOPE_PKG		(2 + 5 + COM1_DEVICE_LEN + 2 + PCI_DEVICE_PKG)

static const uint8_t dsdt_aml[] = {
	AML_NAME_OP, '_', 'S', '5', '_',
	AML_PACKAGE_OP, 7, 4,
		AML_BYTE_PREFIX, LKVM_PLATFORM_S5_SLP_TYP,
		AML_ZERO_OP, AML_ZERO_OP, AML_ZERO_OP,
	AML_SCOPE_OP, PKG2(SB_SCOPE_PKG), AML_ROOT_CHAR, '_', 'S', 'B', '_',
		AML_EXT_OP_PREFIX, AML_DEVICE_OP, COM1_DEVICE_LEN - 2, 'C', 'O', 'M', '1',
			AML_NAME_OP, '_', 'H', 'I', 'D',
				AML_DWORD_PREFIX, 0x41, 0xd0, 0x05, 0x01,	/* "PNP0501" */
			AML_NAME_OP, '_', 'U', 'I', 'D', AML_ONE_OP,
			AML_NAME_OP, '_', 'C', 'R', 'S',
				AML_BUFFER_OP, 16, AML_BYTE_PREFIX, 13,
					RES_IO, RES_IO_DECODE16, UART_PORT_LO, UART_PORT_HI,
					UART_PORT_LO, UART_PORT_HI, 0, UART_NR_PORTS,
					RES_IRQ_NO_FLAGS, UART_IRQ_MASK & 0xff, UART_IRQ_MASK >> 8,
					RES_END_TAG, 0,
		AML_EXT_OP_PREFIX, AML_DEVICE_OP, PKG2(PCI_DEVICE_PKG), 'P', 'C', 'I', '0',
			AML_NAME_OP, '_', 'H', 'I', 'D',
				AML_DWORD_PREFIX, 0x41, 0xd0, 0x0a, 0x03,	/* "PNP0A03" */
			AML_NAME_OP, '_', 'U', 'I', 'D', AML_ZERO_OP,
			AML_NAME_OP, '_', 'C', 'R', 'S',
				AML_BUFFER_OP, PKG2(PCI_CRS_PKG), AML_BYTE_PREFIX, PCI_CRS_LEN,
					RES_WORD_ADDRESS, LE16(13), RES_SPACE_BUS,
					RES_PRODUCER_FIXED, 0,
					LE16(0), LE16(0), LE16(0xff), LE16(0), LE16(0x100),
					RES_IO, RES_IO_DECODE16, LE16(LKVM_PLATFORM_PCI_CONFIG_PORT),
					LE16(LKVM_PLATFORM_PCI_CONFIG_PORT), 1, 8,
					RES_WORD_ADDRESS, LE16(13), RES_SPACE_IO,
					RES_PRODUCER_FIXED, RES_IO_ENTIRE_RANGE,
					LE16(0), LE16(0), LE16(0xcf7), LE16(0), LE16(0xcf8),
					RES_WORD_ADDRESS, LE16(13), RES_SPACE_IO,
					RES_PRODUCER_FIXED, RES_IO_ENTIRE_RANGE,
					LE16(0), LE16(0xd00), LE16(0xffff), LE16(0), LE16(0xf300),
					RES_DWORD_ADDRESS, LE16(23), RES_SPACE_MEMORY,
					RES_PRODUCER_FIXED, RES_MEM_RW_UNCACHED,
					LE32(0), LE32(LKVM_PLATFORM_MMIO_BASE), LE32(PCI_MMIO_END),
					LE32(0), LE32(PCI_MMIO_LEN),
					RES_END_TAG, 0,
};

_Static_assert(sizeof(dsdt_aml) == 13 + 1 + SB_SCOPE_PKG, "DSDT AML lengths");

static uint8_t acpi_checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum += *b++;
	return -sum;
}

static void acpi_header(struct acpi_header *h, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(h->signature, sig, sizeof(h->signature));
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, ACPI_OEM_ID, sizeof(h->oem_id));
	memcpy(h->oem_table_id, ACPI_OEM_TABLE_ID, sizeof(h->oem_table_id));
	h->oem_revision = 1;
	memcpy(h->creator_id, ACPI_CREATOR_ID, sizeof(h->creator_id));
	h->creator_revision = 1;
}

/* Last, once the table is complete. */
static void acpi_seal(struct acpi_header *h)
{
	h->checksum = 0;
	h->checksum = acpi_checksum(h, h->length);
}

static struct acpi_gas acpi_io_byte(uint16_t port)
{
	return (struct acpi_gas) {
		.space_id = ACPI_SPACE_SYSTEM_IO,
		.bit_width = 8,
		.access_width = ACPI_ACCESS_BYTE,
		.address = port,
	};
}

static void acpi_fadt(struct acpi_fadt *f, uint64_t dsdt)
{
	acpi_header(&f->header, "FACP", sizeof(*f), FADT_REVISION);
	f->minor_version = FADT_MINOR_REVISION;
	f->flags = FADT_HW_REDUCED_ACPI | FADT_RESET_REG_SUP | FADT_FORCE_APIC_PHYS;
	f->iapc_boot_arch = IAPC_BOOT_NO_VGA | IAPC_BOOT_NO_CMOS_RTC;
	f->reset_reg = acpi_io_byte(LKVM_PLATFORM_RESET_PORT);
	f->reset_value = LKVM_PLATFORM_RESET_VALUE;
	f->sleep_control_reg = acpi_io_byte(LKVM_PLATFORM_SLEEP_CTL_PORT);
	f->sleep_status_reg = acpi_io_byte(LKVM_PLATFORM_SLEEP_STS_PORT);
	f->dsdt = dsdt;
	f->x_dsdt = dsdt;
	memcpy(f->hypervisor_vendor_id, ACPI_HYPERVISOR_ID, sizeof(f->hypervisor_vendor_id));
	acpi_seal(&f->header);
}

static size_t acpi_madt_size(unsigned int nr_cpus)
{
	return sizeof(struct acpi_madt) + nr_cpus * sizeof(struct madt_local_apic) +
	       sizeof(struct madt_io_apic) + sizeof(struct madt_local_apic_nmi);
}

static void acpi_madt(struct acpi_madt *m, unsigned int nr_cpus)
{
	uint8_t *p = (uint8_t *)(m + 1);
	struct madt_io_apic io = {
		.type = MADT_IO_APIC, .length = sizeof(io),
		.id = LKVM_PLATFORM_IOAPIC_ID, .address = LKVM_PLATFORM_IOAPIC_BASE,
	};
	struct madt_local_apic_nmi nmi = {
		.type = MADT_LOCAL_APIC_NMI, .length = sizeof(nmi),
		.processor_uid = MADT_ALL_PROCESSORS, .lint = 1,
	};
	unsigned int i;

	acpi_header(&m->header, "APIC", acpi_madt_size(nr_cpus), MADT_REVISION);
	m->local_apic_address = LKVM_PLATFORM_LAPIC_BASE;
	/* flags 0: no 8259 pair beside the APICs (no PCAT_COMPAT) */
	for (i = 0; i < nr_cpus; i++) {
		struct madt_local_apic l = {
			.type = MADT_LOCAL_APIC, .length = sizeof(l),
			.processor_uid = i, .apic_id = i, .flags = MADT_LAPIC_ENABLED,
		};

		memcpy(p, &l, sizeof(l));
		p += sizeof(l);
	}
	memcpy(p, &io, sizeof(io));
	p += sizeof(io);
	memcpy(p, &nmi, sizeof(nmi));
	acpi_seal(&m->header);
}

static uint64_t acpi_next(uint64_t gpa, size_t len)
{
	return (gpa + len + ACPI_ALIGN - 1) & ~(uint64_t)(ACPI_ALIGN - 1);
}

uint64_t acpi_setup(const struct guest_mem *mem, unsigned int nr_cpus)
{
	uint64_t rsdp_gpa = BOOT_BIOS_GPA;
	uint64_t xsdt_gpa = acpi_next(rsdp_gpa, sizeof(struct acpi_rsdp));
	uint64_t fadt_gpa = acpi_next(xsdt_gpa, sizeof(struct acpi_xsdt));
	uint64_t dsdt_gpa = acpi_next(fadt_gpa, sizeof(struct acpi_fadt));
	size_t dsdt_len = sizeof(struct acpi_header) + sizeof(dsdt_aml);
	uint64_t madt_gpa = acpi_next(dsdt_gpa, dsdt_len);
	struct acpi_rsdp *rsdp = gpa_ptr(mem, rsdp_gpa, sizeof(*rsdp));
	struct acpi_xsdt *xsdt = gpa_ptr(mem, xsdt_gpa, sizeof(*xsdt));
	struct acpi_header *dsdt = gpa_ptr(mem, dsdt_gpa, dsdt_len);

	acpi_header(dsdt, "DSDT", dsdt_len, DSDT_REVISION);
	memcpy(dsdt + 1, dsdt_aml, sizeof(dsdt_aml));
	acpi_seal(dsdt);
	acpi_fadt(gpa_ptr(mem, fadt_gpa, sizeof(struct acpi_fadt)), dsdt_gpa);
	acpi_madt(gpa_ptr(mem, madt_gpa, acpi_madt_size(nr_cpus)), nr_cpus);

	acpi_header(&xsdt->header, "XSDT", sizeof(*xsdt), 1);
	xsdt->entry[0] = fadt_gpa;
	xsdt->entry[1] = madt_gpa;
	acpi_seal(&xsdt->header);

	memcpy(rsdp->signature, "RSD PTR ", sizeof(rsdp->signature));
	memcpy(rsdp->oem_id, ACPI_OEM_ID, sizeof(rsdp->oem_id));
	rsdp->revision = 2;
	rsdp->length = sizeof(*rsdp);
	rsdp->xsdt_address = xsdt_gpa;
	rsdp->checksum = acpi_checksum(rsdp, RSDP_V1_LENGTH);
	rsdp->extended_checksum = acpi_checksum(rsdp, sizeof(*rsdp));
	return rsdp_gpa;
}
