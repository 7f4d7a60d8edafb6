// SPDX-License-Identifier: GPL-2.0
/*
 * Linux's 64-bit boot protocol, as Documentation/x86/boot.rst of Linux
 * describes it: the protected-mode kernel at its preferred address, a zero
 * page holding the kernel's own setup header plus what a boot loader
 * fills in (command line, initrd, e820 map, the ACPI RSDP), and a CPU
 * already in long mode with the first 4 GiB identity mapped. There is no
 * BIOS: nothing runs in the guest before the kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot.h"

/* Offsets in the bzImage file and in the zero page (struct boot_params). */
#define ZP_ACPI_RSDP_ADDR	0x070
#define ZP_E820_ENTRIES		0x1e8
#define ZP_E820_TABLE		0x2d0
#define ZP_END			0x1000
#define HDR_START		0x1f1	/* struct setup_header */
#define HDR_SETUP_SECTS		0x1f1
#define HDR_SYSSIZE		0x1f4
#define HDR_BOOT_FLAG		0x1fe
#define HDR_JUMP_END		0x201	/* the header ends at 0x202 + this byte */
#define HDR_MAGIC		0x202
#define HDR_VERSION		0x206
#define HDR_TYPE_OF_LOADER	0x210
#define HDR_RAMDISK_IMAGE	0x218
#define HDR_RAMDISK_SIZE	0x21c
#define HDR_CMD_LINE_PTR	0x228
#define HDR_INITRD_ADDR_MAX	0x22c
#define HDR_KERNEL_ALIGNMENT	0x230
#define HDR_XLOADFLAGS		0x236
#define HDR_CMDLINE_SIZE	0x238
#define HDR_PREF_ADDRESS	0x258
#define HDR_INIT_SIZE		0x260
#define HDR_MIN_END		0x264	/* a 2.12 header is at least this long */
#define HDR_MAX_END		0x290	/* where the zero page's next field starts */

#define BOOT_FLAG		0xaa55
#define HDR_MAGIC_VALUE		0x53726448	/* "HdrS" */
#define MIN_PROTOCOL		0x020c		/* 2.12: xloadflags, the 64-bit entry */
#define XLF_KERNEL_64		0x1
#define LOADER_UNDEFINED	0xff		/* type_of_loader: no assigned id */
#define ENTRY_64_OFFSET		0x200
#define DEFAULT_SETUP_SECTS	4
#define SECTOR_SIZE		512

#define E820_RAM		1
#define E820_RESERVED		2
#define E820_ENTRY_SIZE		20

/* The initrd stays below 3 GiB: some kernels cannot reach it higher. */
#define INITRD_CEILING		0xc0000000ULL
#define PAGE_SIZE_4K		0x1000ULL

#define PTE_P			(1ULL << 0)
#define PTE_RW			(1ULL << 1)
#define PTE_PS			(1ULL << 7)
#define SZ_2M			(1ULL << 21)

/* __BOOT_CS and __BOOT_DS of the boot protocol; a TSS after them. */
#define SEL_BOOT_CS		0x10
#define SEL_BOOT_DS		0x18
#define SEL_TSS			0x20
#define GDT_ENTRIES		6	/* null, unused, CS, DS, TSS (two entries) */
#define TSS_SIZE		0x68

/* Segment attributes in SVM's packed form (struct lkvm_segment). */
#define SEG_TYPE_CODE		0xb	/* execute/read, accessed */
#define SEG_TYPE_DATA		0x3	/* read/write, accessed */
#define SEG_TYPE_TSS_BUSY	0xb
#define SEG_TYPE_LDT		0x2
#define SEG_S			(1 << 4)
#define SEG_P			(1 << 7)
#define SEG_L			(1 << 9)
#define SEG_DB			(1 << 10)
#define SEG_G			(1 << 11)

#define X86_CR0_PE		(1ULL << 0)
#define X86_CR0_ET		(1ULL << 4)
#define X86_CR0_PG		(1ULL << 31)
#define X86_CR4_PAE		(1ULL << 5)
#define EFER_LME		(1ULL << 8)
#define EFER_LMA		(1ULL << 10)
#define RFLAGS_FIXED		(1ULL << 1)

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

void *gpa_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	uint64_t high = mem->size - mem->low_size;

	if (gpa <= mem->low_size && len <= mem->low_size - gpa)
		return mem->ram + gpa;
	if (gpa >= SZ_4G && gpa - SZ_4G <= high && len <= high - (gpa - SZ_4G))
		return mem->ram + mem->low_size + (gpa - SZ_4G);
	return NULL;
}

/* Read @len bytes at @off of @fd into @dst: 0 or -errno (-EIO if the file is short). */
static int pread_full(int fd, void *dst, size_t len, off_t off)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = pread(fd, (uint8_t *)dst + done, len - done, off + done);
		if (n <= 0)
			return n ? -errno : -EIO;
		done += n;
	}
	return 0;
}

/*
 * Only the header is read now: the kernel proper goes from the file
 * straight into guest RAM (boot_setup()), never through a buffer of the
 * launcher's own.
 */
static int open_kernel(const char *path, struct bzimage *k)
{
	struct stat st;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		ret = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		close(fd);
		return ret;
	}
	k->size = st.st_size;
	ret = pread_full(fd, k->head, k->size < sizeof(k->head) ? k->size : sizeof(k->head), 0);
	if (ret) {
		close(fd);
		return ret;
	}
	k->fd = fd;
	return 0;
}

int bzimage_read(const char *path, struct bzimage *k)
{
	uint32_t align, syssize;
	uint8_t setup_sects;
	uint64_t pref;
	int ret;

	memset(k, 0, sizeof(*k));
	k->fd = -1;
	k->path = path;
	ret = open_kernel(path, k);
	if (ret) {
		fprintf(stderr, "lkvm-lite run: cannot read kernel %s: %s (-k)\n", path,
			strerror(-ret));
		return -1;
	}
	if (k->size < HDR_MIN_END) {
		fprintf(stderr, "lkvm-lite run: %s is not a bzImage: only %zu bytes (-k)\n", path,
			k->size);
		goto fail;
	}
	if (get16(k->head + HDR_BOOT_FLAG) != BOOT_FLAG ||
	    get32(k->head + HDR_MAGIC) != HDR_MAGIC_VALUE) {
		fprintf(stderr,
			"lkvm-lite run: %s is not a bzImage: no boot flag 0xAA55 and \"HdrS\" header (-k)\n",
			path);
		goto fail;
	}
	k->version = get16(k->head + HDR_VERSION);
	if (k->version < MIN_PROTOCOL) {
		fprintf(stderr,
			"lkvm-lite run: %s: boot protocol %u.%02u is too old, lkvm-lite needs 2.12 or later (-k)\n",
			path, k->version >> 8, k->version & 0xff);
		goto fail;
	}
	if (!(get16(k->head + HDR_XLOADFLAGS) & XLF_KERNEL_64)) {
		fprintf(stderr,
			"lkvm-lite run: %s has no 64-bit entry point (XLF_KERNEL_64 clear in xloadflags) (-k)\n",
			path);
		goto fail;
	}
	setup_sects = k->head[HDR_SETUP_SECTS] ?: DEFAULT_SETUP_SECTS;
	k->setup_size = (setup_sects + 1) * SECTOR_SIZE;
	syssize = get32(k->head + HDR_SYSSIZE);
	if (!syssize || k->size < k->setup_size + (uint64_t)syssize * 16) {
		fprintf(stderr,
			"lkvm-lite run: %s is truncated: its header says %llu bytes, the file has %zu (-k)\n",
			path, (unsigned long long)k->setup_size + (uint64_t)syssize * 16, k->size);
		goto fail;
	}
	k->init_size = get32(k->head + HDR_INIT_SIZE);
	k->cmdline_max = get32(k->head + HDR_CMDLINE_SIZE);
	k->initrd_addr_max = get32(k->head + HDR_INITRD_ADDR_MAX);
	align = get32(k->head + HDR_KERNEL_ALIGNMENT);
	pref = get64(k->head + HDR_PREF_ADDRESS);
	if (pref < BOOT_HIGH_GPA)
		pref = BOOT_HIGH_GPA;
	if (align && !(align & (align - 1)))
		pref = (pref + align - 1) & ~(uint64_t)(align - 1);
	k->load_addr = pref;
	if (k->init_size < k->size - k->setup_size)
		k->init_size = k->size - k->setup_size;
	return 0;
fail:
	bzimage_free(k);
	return -1;
}

void bzimage_free(struct bzimage *k)
{
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

int boot_plan(const struct bzimage *k, struct boot_plan *p)
{
	uint64_t low = min_u64(p->mem_size, LKVM_PLATFORM_MMIO_BASE);
	uint64_t kernel_end = k->load_addr + k->init_size, top;
	size_t len = strlen(p->cmdline);

	if (kernel_end > low) {
		fprintf(stderr,
			"lkvm-lite run: %s needs RAM up to %llu MiB (loaded at %#llx, init_size %u MiB): give more with -m\n",
			k->path, (unsigned long long)((kernel_end + SZ_1M - 1) >> 20),
			(unsigned long long)k->load_addr, k->init_size >> 20);
		return -1;
	}
	if (len > k->cmdline_max || len >= BOOT_CMDLINE_ROOM) {
		fprintf(stderr,
			"lkvm-lite run: the command line is %zu bytes, %s takes at most %u (-p)\n",
			len, k->path, k->cmdline_max);
		return -1;
	}
	p->initrd_addr = 0;
	if (!p->initrd_size)
		return 0;
	top = min_u64(min_u64(low, INITRD_CEILING), (uint64_t)k->initrd_addr_max + 1);
	if (top < p->initrd_size ||
	    ((top - p->initrd_size) & ~(PAGE_SIZE_4K - 1)) < kernel_end) {
		fprintf(stderr,
			"lkvm-lite run: initrd %s (%llu MiB) does not fit between the kernel's %llu MiB and %llu MiB: use a smaller -i or more memory (-m)\n",
			p->initrd_name, (unsigned long long)((p->initrd_size + SZ_1M - 1) >> 20),
			(unsigned long long)((kernel_end + SZ_1M - 1) >> 20),
			(unsigned long long)(top >> 20));
		return -1;
	}
	p->initrd_addr = (top - p->initrd_size) & ~(PAGE_SIZE_4K - 1);
	return 0;
}

static void e820_add(uint8_t *zp, uint64_t addr, uint64_t size, uint32_t type)
{
	uint8_t *e = zp + ZP_E820_TABLE + zp[ZP_E820_ENTRIES]++ * E820_ENTRY_SIZE;

	put64(e, addr);
	put64(e + 8, size);
	put32(e + 16, type);
}

static void boot_zero_page(const struct guest_mem *mem, const struct bzimage *k,
			   const struct boot_plan *p, uint64_t rsdp_gpa)
{
	uint8_t *zp = gpa_ptr(mem, BOOT_PARAMS_GPA, ZP_END);
	size_t hdr_end = 0x202 + k->head[HDR_JUMP_END];

	if (hdr_end > HDR_MAX_END)
		hdr_end = HDR_MAX_END;
	memset(zp, 0, ZP_END);
	memcpy(zp + HDR_START, k->head + HDR_START, hdr_end - HDR_START);
	zp[HDR_TYPE_OF_LOADER] = LOADER_UNDEFINED;
	put32(zp + HDR_CMD_LINE_PTR, BOOT_CMDLINE_GPA);
	put32(zp + HDR_RAMDISK_IMAGE, p->initrd_addr);
	put32(zp + HDR_RAMDISK_SIZE, p->initrd_size);
	put64(zp + ZP_ACPI_RSDP_ADDR, rsdp_gpa);

	e820_add(zp, 0, BOOT_EBDA_GPA, E820_RAM);
	e820_add(zp, BOOT_EBDA_GPA, BOOT_HIGH_GPA - BOOT_EBDA_GPA, E820_RESERVED);
	e820_add(zp, BOOT_HIGH_GPA, mem->low_size - BOOT_HIGH_GPA, E820_RAM);
	if (mem->size > mem->low_size)
		e820_add(zp, SZ_4G, mem->size - mem->low_size, E820_RAM);

	memcpy(gpa_ptr(mem, BOOT_CMDLINE_GPA, BOOT_CMDLINE_ROOM), p->cmdline,
	       strlen(p->cmdline) + 1);
}

/* The kernel only needs its entry reachable; 4 GiB covers the firmware too. */
static void boot_page_tables(const struct guest_mem *mem)
{
	uint64_t *pml4 = gpa_ptr(mem, BOOT_PML4_GPA, PAGE_SIZE_4K);
	uint64_t *pdpt = gpa_ptr(mem, BOOT_PDPT_GPA, PAGE_SIZE_4K);
	uint64_t *pd = gpa_ptr(mem, BOOT_PD_GPA, 4 * PAGE_SIZE_4K);
	unsigned int i;

	pml4[0] = BOOT_PDPT_GPA | PTE_P | PTE_RW;
	for (i = 0; i < 4; i++)
		pdpt[i] = (BOOT_PD_GPA + i * PAGE_SIZE_4K) | PTE_P | PTE_RW;
	for (i = 0; i < 4 * 512; i++)
		pd[i] = i * SZ_2M | PTE_P | PTE_RW | PTE_PS;
}

static uint64_t gdt_desc(uint32_t base, uint32_t limit, uint16_t attrib)
{
	return (limit & 0xffffULL) | (uint64_t)(base & 0xffffff) << 16 |
	       (uint64_t)(attrib & 0xff) << 40 | (uint64_t)((limit >> 16) & 0xf) << 48 |
	       (uint64_t)((attrib >> 8) & 0xf) << 52 | (uint64_t)(base >> 24) << 56;
}

static void set_seg(struct lkvm_segment *s, uint16_t sel, uint64_t base, uint32_t limit,
		    uint16_t attrib)
{
	s->selector = sel;
	s->base = base;
	s->limit = limit;
	s->attrib = attrib;
}

/*
 * The GDT holds what the hidden segment state says: the kernel reloads CS
 * and SS through it (a far return, an interrupt) before it has its own.
 */
static void boot_cpu_state(const struct guest_mem *mem, const struct bzimage *k,
			   struct lkvm_regs *regs, struct lkvm_sregs *sregs)
{
	const uint16_t code = SEG_TYPE_CODE | SEG_S | SEG_P | SEG_L | SEG_G;
	const uint16_t data = SEG_TYPE_DATA | SEG_S | SEG_P | SEG_DB | SEG_G;
	const uint16_t tss = SEG_TYPE_TSS_BUSY | SEG_P;
	uint64_t *gdt = gpa_ptr(mem, BOOT_GDT_GPA, GDT_ENTRIES * 8);

	gdt[SEL_BOOT_CS / 8] = gdt_desc(0, 0xfffff, code);
	gdt[SEL_BOOT_DS / 8] = gdt_desc(0, 0xfffff, data);
	gdt[SEL_TSS / 8] = gdt_desc(BOOT_TSS_GPA, TSS_SIZE - 1, tss);

	set_seg(&sregs->cs, SEL_BOOT_CS, 0, 0xffffffff, code);
	set_seg(&sregs->ds, SEL_BOOT_DS, 0, 0xffffffff, data);
	sregs->es = sregs->ds;
	sregs->fs = sregs->ds;
	sregs->gs = sregs->ds;
	sregs->ss = sregs->ds;
	set_seg(&sregs->tr, SEL_TSS, BOOT_TSS_GPA, TSS_SIZE - 1, tss);
	set_seg(&sregs->ldt, 0, 0, 0xffff, SEG_TYPE_LDT | SEG_P);
	sregs->gdt.base = BOOT_GDT_GPA;
	sregs->gdt.limit = GDT_ENTRIES * 8 - 1;
	sregs->idt.base = 0;
	sregs->idt.limit = 0;
	sregs->cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_PG;
	sregs->cr2 = 0;
	sregs->cr3 = BOOT_PML4_GPA;
	sregs->cr4 = X86_CR4_PAE;
	sregs->cr8 = 0;
	sregs->efer = EFER_LME | EFER_LMA;

	memset(regs, 0, sizeof(*regs));
	regs->rip = k->load_addr + ENTRY_64_OFFSET;
	regs->rsi = BOOT_PARAMS_GPA;
	/* Free memory under the zero page, should anything push before the kernel's stack. */
	regs->rsp = BOOT_PARAMS_GPA;
	regs->rflags = RFLAGS_FIXED;
}

int boot_setup(const struct guest_mem *mem, const struct bzimage *k, const struct boot_plan *p,
	       uint64_t rsdp_gpa, struct lkvm_regs *regs, struct lkvm_sregs *sregs)
{
	int ret = pread_full(k->fd, gpa_ptr(mem, k->load_addr, k->size - k->setup_size),
			     k->size - k->setup_size, k->setup_size);

	if (ret) {
		fprintf(stderr, "lkvm-lite run: cannot read kernel %s: %s (-k)\n", k->path,
			strerror(-ret));
		return -1;
	}
	boot_zero_page(mem, k, p, rsdp_gpa);
	boot_page_tables(mem);
	boot_cpu_state(mem, k, regs, sregs);
	return 0;
}
