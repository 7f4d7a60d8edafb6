/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Booting Linux through its 64-bit boot protocol (Documentation/x86/boot.rst
 * in Linux): guest memory, the bzImage, the zero page, and the CPU state at
 * the kernel's 64-bit entry point.
 */
#ifndef LKVM_LITE_BOOT_H
#define LKVM_LITE_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include <linux/lkvm_lite.h>

#define SZ_1M		(1ULL << 20)
#define SZ_4G		(1ULL << 32)

/* Guest physical layout below 1 MiB (RAM up to 0x9fc00, firmware above). */
#define BOOT_GDT_GPA		0x1000ULL
#define BOOT_TSS_GPA		0x1100ULL
#define BOOT_PML4_GPA		0x2000ULL
#define BOOT_PDPT_GPA		0x3000ULL
#define BOOT_PD_GPA		0x4000ULL	/* four pages: 4 GiB of 2 MiB pages */
#define BOOT_PARAMS_GPA		0x10000ULL
#define BOOT_CMDLINE_GPA	0x20000ULL
#define BOOT_CMDLINE_ROOM	0x10000ULL
#define BOOT_EBDA_GPA		0x9fc00ULL
#define BOOT_BIOS_GPA		0xe0000ULL	/* the ACPI tables live here (acpi.c) */
#define BOOT_HIGH_GPA		0x100000ULL

/*
 * One anonymous mapping backs all of RAM: the part below the MMIO window
 * at GPA 0 (slot 0), the rest at 4 GiB (slot 1). Fresh anonymous memory
 * reads as zero: what the guest must find zeroed (page tables, the TSS) is.
 */
struct guest_mem {
	uint8_t *ram;
	uint64_t size;
	uint64_t low_size;
};

/* Host address of @len bytes at @gpa, or NULL if they are not all RAM. */
void *gpa_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* A validated bzImage: its header, and the open file the rest is read from. */
struct bzimage {
	const char *path;
	int fd;
	uint8_t head[4096];	/* the file's start: boot sector and setup header */
	size_t size;		/* of the whole file */
	size_t setup_size;	/* the real-mode part before the kernel proper */
	uint16_t version;
	uint64_t load_addr;
	uint32_t init_size;
	uint32_t cmdline_max;
	uint32_t initrd_addr_max;
};

/* Where everything goes in a guest of a given size, known before any VM. */
struct boot_plan {
	uint64_t mem_size;
	uint64_t initrd_addr;
	uint64_t initrd_size;
	const char *initrd_name;	/* for messages: the -i file or the built-in one */
	const char *cmdline;
	unsigned int nr_cpus;
};

/* 0, or -1 with the reason on stderr, naming @path. */
int bzimage_read(const char *path, struct bzimage *k);
void bzimage_free(struct bzimage *k);

/*
 * Checks that the kernel, the command line and an initrd of @initrd_size
 * bytes fit in @p->mem_size of RAM and places the initrd: 0, or -1 with the
 * reason on stderr.
 */
int boot_plan(const struct bzimage *k, struct boot_plan *p);

/*
 * Writes the kernel, the zero page, the command line, the page tables and
 * the GDT into guest memory (the initrd is already at p->initrd_addr), and
 * fills the registers for the 64-bit entry point: 0, or -1 with the reason
 * on stderr if the kernel file cannot be read.
 */
int boot_setup(const struct guest_mem *mem, const struct bzimage *k, const struct boot_plan *p,
		uint64_t rsdp_gpa, struct lkvm_regs *regs, struct lkvm_sregs *sregs);

#endif /* LKVM_LITE_BOOT_H */
