/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The firmware tables that tell a stock Linux guest about the in-kernel
 * platform: a hardware-reduced ACPI system (no PIC, no PIT, no i8042).
 */
#ifndef LKVM_LITE_ACPI_H
#define LKVM_LITE_ACPI_H

#include "boot.h"

/* Writes RSDP, XSDT, FADT, DSDT and MADT at BOOT_BIOS_GPA; the RSDP's GPA. */
uint64_t acpi_setup(const struct guest_mem *mem, unsigned int nr_cpus);

#endif /* LKVM_LITE_ACPI_H */
