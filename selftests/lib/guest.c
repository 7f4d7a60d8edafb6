// SPDX-License-Identifier: GPL-2.0
/*
 * Guests written in C: building them on lkvm_lite or KVM, running them, and
 * the guest's side of ucalls and exception handling. See guest.h.
 *
 * This file holds code for both sides. Functions marked "guest:" run inside
 * the guest and may call nothing outside the program (no libc); the rest
 * run in the host.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest.h"
#include "lkvm_util.h"

/*
 * Guest physical layout below the program image, which starts at 0x400000
 * (the x86-64 linker's default for -no-pie).
 */
#define GUEST_PML4_GPA		0x1000ULL
#define GUEST_PDPT_GPA		0x2000ULL
#define GUEST_PD_GPA		0x3000ULL	/* four pages: 4 GiB of 2 MiB entries */
#define GUEST_GDT_GPA		0x7000ULL
#define GUEST_IDT_GPA		0x8000ULL
#define GUEST_TSS_GPA		0x9000ULL
/* 4 KiB pages for the first 2 MiB, so that page 0 can be left out. */
#define GUEST_PT0_GPA		0xa000ULL
/*
 * Exceptions switch to their own stack (IST1): the guest code is ordinary
 * userspace-compiled code that keeps data in the red zone below RSP, which
 * an exception frame pushed on the same stack would overwrite.
 */
#define GUEST_EXC_STACK_TOP	0x20000ULL
#define GUEST_IMAGE_START	0x400000ULL
/* At least this much stack between the image's end and the top of RAM. */
#define GUEST_MIN_STACK		(1ULL << 20)

/* Exceptions have library handlers; tests may add interrupt handlers. */
#define GUEST_IDT_VECTORS	32
#define GUEST_IDT_ENTRIES	256
#define GUEST_EXC_STUB_SIZE	16

#define SEL_CODE		0x08
#define SEL_DATA		0x10
#define SEL_TSS			0x18
#define GDT_ENTRIES		5	/* null, code, data, TSS (two entries) */

/* Segment attributes in SVM's packed form, as struct lkvm_segment holds them. */
#define SEG_TYPE_CODE		0xb	/* execute/read, accessed */
#define SEG_TYPE_DATA		0x3	/* read/write, accessed */
#define SEG_TYPE_TSS_BUSY	0xb
#define SEG_TYPE_LDT		0x2
#define SEG_S			(1 << 4)
#define SEG_P			(1 << 7)
#define SEG_L			(1 << 9)
#define SEG_DB			(1 << 10)
#define SEG_G			(1 << 11)

#define TSS_SIZE		0x68
#define TSS_IST1		0x24
#define TSS_IOPB		0x66

#define PTE_P			(1ULL << 0)
#define PTE_RW			(1ULL << 1)
#define PTE_PWT			(1ULL << 3)
#define PTE_PCD			(1ULL << 4)
#define PTE_PS			(1ULL << 7)

#define IDT_GATE_INTR		0x8e	/* present, DPL 0, 64-bit interrupt gate */

#define X86_CR0_PE		(1ULL << 0)
#define X86_CR0_MP		(1ULL << 1)
#define X86_CR0_ET		(1ULL << 4)
#define X86_CR0_NE		(1ULL << 5)
#define X86_CR0_PG		(1ULL << 31)
#define X86_CR4_PAE		(1ULL << 5)
#define X86_CR4_OSFXSR		(1ULL << 9)
#define X86_CR4_OSXMMEXCPT	(1ULL << 10)
#define EFER_SCE		(1ULL << 0)
#define EFER_LME		(1ULL << 8)
#define EFER_LMA		(1ULL << 10)
#define RFLAGS_FIXED		(1ULL << 1)

struct guest {
	enum guest_backend backend;
	int sys_fd;		/* /dev/lkvm_lite or /dev/kvm */
	int vm_fd;
	int vcpu_fd;
	int console_fd;		/* GUEST_LKVM with guest_opts.platform; else -1 */
	uint8_t *mem;
	uint64_t mem_size;
	/* GUEST_LKVM: the LKVM_RUN argument, kept for a pending read's data. */
	struct lkvm_run lrun;
	struct lkvm_test_exits test_exits;
	/* GUEST_KVM: the vCPU's mapped kvm_run. */
	struct kvm_run *krun;
	size_t krun_size;
	uint64_t mmio_gpa, mmio_size;
};

struct guest_seg {
	uint64_t base;
	uint32_t limit;		/* in bytes */
	uint16_t selector;
	uint16_t attrib;
};

/* One GUEST_ASM_SAFE() site: where the instruction is, where to go on. */
struct guest_fixup {
	uint64_t insn;
	uint64_t resume;
};

/* guest_entry.S pushes this on every exception. */
struct guest_exc_frame {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t vector, error_code;
	uint64_t rip, cs, rflags, rsp, ss;	/* pushed by the CPU */
};

/* guest_entry.S */
extern const char guest_exc_stubs[];
extern const char guest_code_return[];
/* The linker's bounds of section guest_fixup (GUEST_ASM_SAFE() entries). */
extern const struct guest_fixup __start_guest_fixup[], __stop_guest_fixup[];

static char guest_errbuf[GUEST_MSG_LEN];

static void __attribute__((format(printf, 1, 2))) guest_set_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(guest_errbuf, sizeof(guest_errbuf), fmt, ap);
	va_end(ap);
}

const char *guest_error(void)
{
	return guest_errbuf;
}

/* A setup step that cannot fail in a working environment did: end the test. */
static void __attribute__((noreturn, format(printf, 1, 2))) guest_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "# guest: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

const char *guest_backend_name(enum guest_backend backend)
{
	return backend == GUEST_KVM ? "kvm" : "lkvm";
}

enum guest_backend guest_backend_from_env(void)
{
	const char *b = getenv("LKVM_GUEST_BACKEND");

	return b && !strcmp(b, "kvm") ? GUEST_KVM : GUEST_LKVM;
}

enum guest_backend guest_backend(struct guest *g)
{
	return g->backend;
}

int guest_vm_fd(struct guest *g)
{
	return g->vm_fd;
}

int guest_console_fd(struct guest *g)
{
	return g->console_fd;
}

int guest_vcpu_fd(struct guest *g)
{
	return g->vcpu_fd;
}

struct lkvm_run *guest_lkvm_run(struct guest *g)
{
	return g->backend == GUEST_LKVM ? &g->lrun : NULL;
}

struct kvm_run *guest_kvm_run(struct guest *g)
{
	return g->backend == GUEST_KVM ? g->krun : NULL;
}

void *guest_gpa_to_hva(struct guest *g, uint64_t gpa, size_t size)
{
	if (gpa >= g->mem_size || size > g->mem_size - gpa)
		return NULL;
	return g->mem + gpa;
}

void guest_sync_global(struct guest *g, const void *var, size_t size)
{
	void *p = guest_gpa_to_hva(g, (uintptr_t)var, size);

	if (!p)
		guest_die("%s: %p (%zu bytes) is not in guest RAM", __func__, var, size);
	memcpy(p, var, size);
}

void guest_read_global(struct guest *g, void *var, size_t size)
{
	void *p = guest_gpa_to_hva(g, (uintptr_t)var, size);

	if (!p)
		guest_die("%s: %p (%zu bytes) is not in guest RAM", __func__, var, size);
	memcpy(var, p, size);
}

static int pread_full(int fd, void *buf, size_t len, off_t off)
{
	size_t done = 0;
	ssize_t r;

	while (done < len) {
		r = pread(fd, (char *)buf + done, len - done, off + done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		done += r;
	}
	return 0;
}

/*
 * Copy the program's loadable segments into guest RAM at their virtual
 * addresses, from the file, so the guest starts from the initial values of
 * the program's globals whatever the host has done with them since.
 */
static int guest_load_image(struct guest *g)
{
	uint64_t limit = g->mem_size - GUEST_MIN_STACK;
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	int fd, ret, i;

	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		guest_set_error("open /proc/self/exe: %s", strerror(errno));
		return ret;
	}
	ret = pread_full(fd, &eh, sizeof(eh), 0);
	if (ret) {
		guest_set_error("reading the ELF header of /proc/self/exe: %s", strerror(-ret));
		goto out;
	}
	ret = -ENOEXEC;
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_machine != EM_X86_64 || eh.e_phentsize != sizeof(ph)) {
		guest_set_error("/proc/self/exe is not an x86-64 ELF program");
		goto out;
	}
	if (eh.e_type != ET_EXEC) {
		guest_set_error("the test program is position independent: link it with -no-pie");
		goto out;
	}
	for (i = 0; i < eh.e_phnum; i++) {
		ret = pread_full(fd, &ph, sizeof(ph), eh.e_phoff + i * sizeof(ph));
		if (ret) {
			guest_set_error("reading program header %d: %s", i, strerror(-ret));
			goto out;
		}
		if (ph.p_type != PT_LOAD)
			continue;
		if (ph.p_vaddr < GUEST_IMAGE_START || ph.p_memsz > limit ||
		    ph.p_vaddr > limit - ph.p_memsz || ph.p_filesz > ph.p_memsz) {
			ret = -E2BIG;
			guest_set_error("segment 0x%llx+0x%llx: not between 4 MiB and the stack",
					(unsigned long long)ph.p_vaddr,
					(unsigned long long)ph.p_memsz);
			goto out;
		}
		ret = pread_full(fd, g->mem + ph.p_vaddr, ph.p_filesz, ph.p_offset);
		if (ret) {
			guest_set_error("reading the segment at 0x%llx: %s",
					(unsigned long long)ph.p_vaddr, strerror(-ret));
			goto out;
		}
		memset(g->mem + ph.p_vaddr + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
	}
	ret = 0;
out:
	close(fd);
	return ret;
}

/* A segment descriptor as the GDT holds it, from the packed SVM attributes. */
static uint64_t guest_gdt_desc(const struct guest_seg *s)
{
	uint32_t limit = (s->attrib & SEG_G) ? s->limit >> 12 : s->limit;

	return (limit & 0xffffULL) | ((s->base & 0xffffffULL) << 16) |
	       ((uint64_t)(s->attrib & 0xff) << 40) | ((uint64_t)((limit >> 16) & 0xf) << 48) |
	       ((uint64_t)((s->attrib >> 8) & 0xf) << 52) | (((s->base >> 24) & 0xff) << 56);
}

static const struct guest_seg guest_code_seg = {
	.limit = 0xffffffff, .selector = SEL_CODE,
	.attrib = SEG_TYPE_CODE | SEG_S | SEG_P | SEG_L | SEG_G,
};

static const struct guest_seg guest_data_seg = {
	.limit = 0xffffffff, .selector = SEL_DATA,
	.attrib = SEG_TYPE_DATA | SEG_S | SEG_P | SEG_DB | SEG_G,
};

static const struct guest_seg guest_tss_seg = {
	.base = GUEST_TSS_GPA, .limit = TSS_SIZE - 1, .selector = SEL_TSS,
	.attrib = SEG_TYPE_TSS_BUSY | SEG_P,
};

static const struct guest_seg guest_ldt_seg = {
	.limit = 0xffff, .attrib = SEG_TYPE_LDT | SEG_P,
};

/*
 * Page tables, GDT, TSS and IDT. The CPU reads the GDT itself whenever it
 * loads CS or SS (exception entry, IRETQ), so the descriptors there must
 * match the segment state the vCPU starts with.
 */
/*
 * An interrupt gate on IST1: interrupts, like exceptions, must not push
 * their frame into the red zone of the code they interrupt.
 */
static void guest_idt_gate(uint64_t *idt, int vector, uint64_t handler)
{
	idt[2 * vector] = (handler & 0xffff) | ((uint64_t)SEL_CODE << 16) |
			  (1ULL << 32) /* IST1 */ | ((uint64_t)IDT_GATE_INTR << 40) |
			  (((handler >> 16) & 0xffff) << 48);
	idt[2 * vector + 1] = handler >> 32;
}

static void guest_build_tables(struct guest *g)
{
	uint64_t *pml4 = (uint64_t *)(g->mem + GUEST_PML4_GPA);
	uint64_t *pdpt = (uint64_t *)(g->mem + GUEST_PDPT_GPA);
	uint64_t *pd = (uint64_t *)(g->mem + GUEST_PD_GPA);
	uint64_t *pt0 = (uint64_t *)(g->mem + GUEST_PT0_GPA);
	uint64_t *gdt = (uint64_t *)(g->mem + GUEST_GDT_GPA);
	uint8_t *tss = g->mem + GUEST_TSS_GPA;
	uint64_t *idt = (uint64_t *)(g->mem + GUEST_IDT_GPA);
	uint64_t stubs = (uintptr_t)guest_exc_stubs, ist = GUEST_EXC_STACK_TOP;
	uint16_t iopb = TSS_SIZE;
	int i;

	pml4[0] = GUEST_PDPT_GPA | PTE_P | PTE_RW;
	for (i = 0; i < 4; i++)
		pdpt[i] = (GUEST_PD_GPA + i * 0x1000ULL) | PTE_P | PTE_RW;
	/* Above RAM is MMIO: uncached, as a device's registers would be. */
	for (i = 0; i < 4 * 512; i++) {
		uint64_t gpa = (uint64_t)i << 21;

		pd[i] = gpa | PTE_P | PTE_RW | PTE_PS;
		if (gpa >= g->mem_size)
			pd[i] |= PTE_PCD | PTE_PWT;
	}
	/*
	 * Page 0 not present: a NULL pointer in guest code is a #PF, reported,
	 * rather than a write into the tables that follow it.
	 */
	pd[0] = GUEST_PT0_GPA | PTE_P | PTE_RW;
	for (i = 1; i < 512; i++)
		pt0[i] = ((uint64_t)i << 12) | PTE_P | PTE_RW;

	gdt[SEL_CODE / 8] = guest_gdt_desc(&guest_code_seg);
	gdt[SEL_DATA / 8] = guest_gdt_desc(&guest_data_seg);
	gdt[SEL_TSS / 8] = guest_gdt_desc(&guest_tss_seg);
	gdt[SEL_TSS / 8 + 1] = GUEST_TSS_GPA >> 32;

	memcpy(tss + TSS_IST1, &ist, sizeof(ist));
	/* An I/O bitmap offset past the limit: no bitmap (CPL 0 needs none). */
	memcpy(tss + TSS_IOPB, &iopb, sizeof(iopb));

	for (i = 0; i < GUEST_IDT_VECTORS; i++)
		guest_idt_gate(idt, i, stubs + i * GUEST_EXC_STUB_SIZE);
}

void guest_set_idt_handler(struct guest *g, uint8_t vector, void (*handler)(void))
{
	guest_idt_gate((uint64_t *)(g->mem + GUEST_IDT_GPA), vector, (uintptr_t)handler);
}

static void lkvm_seg(struct lkvm_segment *l, const struct guest_seg *s)
{
	l->base = s->base;
	l->limit = s->limit;
	l->selector = s->selector;
	l->attrib = s->attrib;
}

static void kvm_seg(struct kvm_segment *k, const struct guest_seg *s)
{
	memset(k, 0, sizeof(*k));
	k->base = s->base;
	k->limit = s->limit;
	k->selector = s->selector;
	k->type = s->attrib & 0xf;
	k->s = !!(s->attrib & SEG_S);
	k->dpl = (s->attrib >> 5) & 3;
	k->present = !!(s->attrib & SEG_P);
	k->avl = (s->attrib >> 8) & 1;
	k->l = !!(s->attrib & SEG_L);
	k->db = !!(s->attrib & SEG_DB);
	k->g = !!(s->attrib & SEG_G);
}

#define GUEST_CR0	(X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE | X86_CR0_PG)
#define GUEST_CR4	(X86_CR4_PAE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT)
#define GUEST_EFER	(EFER_SCE | EFER_LME | EFER_LMA)
#define GUEST_GDT_LIMIT	(GDT_ENTRIES * 8 - 1)
/* All 256 vectors: one without a handler is a #NP, reported as unhandled. */
#define GUEST_IDT_LIMIT	(GUEST_IDT_ENTRIES * 16 - 1)

static int lkvm_set_long_mode(struct guest *g)
{
	struct lkvm_sregs s;

	if (ioctl(g->vcpu_fd, LKVM_GET_SREGS, &s) < 0) {
		guest_set_error("LKVM_GET_SREGS: %s", strerror(errno));
		return -errno;
	}
	lkvm_seg(&s.cs, &guest_code_seg);
	lkvm_seg(&s.ds, &guest_data_seg);
	lkvm_seg(&s.es, &guest_data_seg);
	lkvm_seg(&s.fs, &guest_data_seg);
	lkvm_seg(&s.gs, &guest_data_seg);
	lkvm_seg(&s.ss, &guest_data_seg);
	lkvm_seg(&s.tr, &guest_tss_seg);
	lkvm_seg(&s.ldt, &guest_ldt_seg);
	s.gdt.base = GUEST_GDT_GPA;
	s.gdt.limit = GUEST_GDT_LIMIT;
	s.idt.base = GUEST_IDT_GPA;
	s.idt.limit = GUEST_IDT_LIMIT;
	s.cr0 = GUEST_CR0;
	s.cr3 = GUEST_PML4_GPA;
	s.cr4 = GUEST_CR4;
	s.efer = GUEST_EFER;
	if (ioctl(g->vcpu_fd, LKVM_SET_SREGS, &s) < 0) {
		guest_set_error("LKVM_SET_SREGS: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

static int kvm_set_long_mode(struct guest *g)
{
	struct kvm_sregs s;

	if (ioctl(g->vcpu_fd, KVM_GET_SREGS, &s) < 0) {
		guest_set_error("KVM_GET_SREGS: %s", strerror(errno));
		return -errno;
	}
	kvm_seg(&s.cs, &guest_code_seg);
	kvm_seg(&s.ds, &guest_data_seg);
	kvm_seg(&s.es, &guest_data_seg);
	kvm_seg(&s.fs, &guest_data_seg);
	kvm_seg(&s.gs, &guest_data_seg);
	kvm_seg(&s.ss, &guest_data_seg);
	kvm_seg(&s.tr, &guest_tss_seg);
	kvm_seg(&s.ldt, &guest_ldt_seg);
	s.gdt.base = GUEST_GDT_GPA;
	s.gdt.limit = GUEST_GDT_LIMIT;
	s.idt.base = GUEST_IDT_GPA;
	s.idt.limit = GUEST_IDT_LIMIT;
	s.cr0 = GUEST_CR0;
	s.cr3 = GUEST_PML4_GPA;
	s.cr4 = GUEST_CR4;
	s.efer = GUEST_EFER;
	if (ioctl(g->vcpu_fd, KVM_SET_SREGS, &s) < 0) {
		guest_set_error("KVM_SET_SREGS: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

static uint64_t lkvm_cap(int fd, uint32_t cap)
{
	struct lkvm_cap c = { .cap = cap };

	return ioctl(fd, LKVM_CHECK_CAP, &c) < 0 ? 0 : c.value;
}

static int lkvm_create(struct guest *g, const struct guest_opts *opts)
{
	struct lkvm_memory_region region = {
		.memory_size = g->mem_size,
		.userspace_addr = (uintptr_t)g->mem,
	};

	g->sys_fd = open(LKVM_DEV_PATH, O_RDWR | O_CLOEXEC);
	if (g->sys_fd < 0) {
		if (errno == ENOENT) {
			guest_set_error("no %s: lkvm_lite is not loaded", LKVM_DEV_PATH);
			return -ENODEV;
		}
		guest_set_error("open %s: %s", LKVM_DEV_PATH, strerror(errno));
		return -errno;
	}
	if (!lkvm_cap(g->sys_fd, LKVM_CAP_RUN)) {
		guest_set_error("this lkvm_lite cannot run guests (no LKVM_CAP_RUN)");
		return -ENODEV;
	}
	if (!(lkvm_cap(g->sys_fd, LKVM_CAP_TEST_EXITS) & LKVM_TEST_EXIT_IO)) {
		guest_set_error("this lkvm_lite has no test port exits (LKVM_CAP_TEST_EXITS)");
		return -ENODEV;
	}
	g->vm_fd = ioctl(g->sys_fd, LKVM_CREATE_VM, 0);
	if (g->vm_fd < 0) {
		guest_set_error("LKVM_CREATE_VM: %s", strerror(errno));
		return -errno;
	}
	if (ioctl(g->vm_fd, LKVM_SET_MEMORY_REGION, &region) < 0) {
		guest_set_error("LKVM_SET_MEMORY_REGION of %llu MiB: %s",
				(unsigned long long)(g->mem_size >> 20), strerror(errno));
		return -errno;
	}
	g->test_exits.flags = LKVM_TEST_EXIT_IO;
	g->test_exits.io_port = GUEST_UCALL_PORT;
	if (ioctl(g->vm_fd, LKVM_SET_TEST_EXITS, &g->test_exits) < 0) {
		guest_set_error("LKVM_SET_TEST_EXITS for port 0x%x: %s", GUEST_UCALL_PORT,
				strerror(errno));
		return -errno;
	}
	if (opts->platform) {
		struct lkvm_platform p = {};

		if (!lkvm_cap(g->sys_fd, LKVM_CAP_PLATFORM)) {
			guest_set_error("this lkvm_lite has no platform (no LKVM_CAP_PLATFORM)");
			return -ENODEV;
		}
		g->console_fd = ioctl(g->vm_fd, LKVM_CREATE_PLATFORM, &p);
		if (g->console_fd < 0) {
			guest_set_error("LKVM_CREATE_PLATFORM: %s", strerror(errno));
			return -errno;
		}
	}
	g->vcpu_fd = ioctl(g->vm_fd, LKVM_CREATE_VCPU, 0);
	if (g->vcpu_fd < 0) {
		guest_set_error("LKVM_CREATE_VCPU: %s", strerror(errno));
		return -errno;
	}
	return lkvm_set_long_mode(g);
}

/* The guest sees what KVM supports: it needs long mode in CPUID for EFER.LME. */
static int kvm_set_cpuid(struct guest *g)
{
	struct kvm_cpuid2 *cpuid = NULL;
	int nent = 64, ret;

	for (;;) {
		free(cpuid);
		cpuid = calloc(1, sizeof(*cpuid) + nent * sizeof(cpuid->entries[0]));
		if (!cpuid) {
			guest_set_error("out of memory for %d CPUID entries", nent);
			return -ENOMEM;
		}
		cpuid->nent = nent;
		if (ioctl(g->sys_fd, KVM_GET_SUPPORTED_CPUID, cpuid) == 0)
			break;
		if (errno != E2BIG || nent >= 4096) {
			ret = -errno;
			guest_set_error("KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
			free(cpuid);
			return ret;
		}
		nent *= 2;
	}
	ret = ioctl(g->vcpu_fd, KVM_SET_CPUID2, cpuid) < 0 ? -errno : 0;
	if (ret)
		guest_set_error("KVM_SET_CPUID2: %s", strerror(-ret));
	free(cpuid);
	return ret;
}

static int kvm_create(struct guest *g)
{
	struct kvm_userspace_memory_region region = {
		.memory_size = g->mem_size,
		.userspace_addr = (uintptr_t)g->mem,
	};
	int size, ret;

	g->sys_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (g->sys_fd < 0) {
		if (errno == ENOENT) {
			guest_set_error("no /dev/kvm: kvm_amd is not loaded");
			return -ENODEV;
		}
		guest_set_error("open /dev/kvm: %s", strerror(errno));
		return -errno;
	}
	if (ioctl(g->sys_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		guest_set_error("/dev/kvm: not KVM API version %d", KVM_API_VERSION);
		return -ENODEV;
	}
	g->vm_fd = ioctl(g->sys_fd, KVM_CREATE_VM, 0);
	if (g->vm_fd < 0) {
		guest_set_error("KVM_CREATE_VM: %s", strerror(errno));
		return -errno;
	}
	if (ioctl(g->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		guest_set_error("KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
		return -errno;
	}
	g->vcpu_fd = ioctl(g->vm_fd, KVM_CREATE_VCPU, 0);
	if (g->vcpu_fd < 0) {
		guest_set_error("KVM_CREATE_VCPU: %s", strerror(errno));
		return -errno;
	}
	size = ioctl(g->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (int)sizeof(*g->krun)) {
		guest_set_error("KVM_GET_VCPU_MMAP_SIZE: %s",
				size < 0 ? strerror(errno) : "too small");
		return size < 0 ? -errno : -EINVAL;
	}
	g->krun = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, g->vcpu_fd, 0);
	if (g->krun == MAP_FAILED) {
		g->krun = NULL;
		guest_set_error("mmap of kvm_run: %s", strerror(errno));
		return -errno;
	}
	g->krun_size = size;
	/* CPUID first: KVM checks EFER and CR4 against the guest's CPUID. */
	ret = kvm_set_cpuid(g);
	if (ret)
		return ret;
	return kvm_set_long_mode(g);
}

struct guest *guest_create(const struct guest_opts *opts, void *guest_code)
{
	struct guest_regs regs = { .rflags = RFLAGS_FIXED };
	struct guest *g;
	uint64_t top;
	int ret;

	g = calloc(1, sizeof(*g));
	if (!g) {
		guest_set_error("out of memory");
		errno = ENOMEM;
		return NULL;
	}
	g->backend = opts->backend;
	g->sys_fd = -1;
	g->vm_fd = -1;
	g->vcpu_fd = -1;
	g->console_fd = -1;
	g->mem_size = opts->mem_size ? opts->mem_size : GUEST_DEFAULT_MEM_SIZE;
	if ((g->mem_size & ((2ULL << 20) - 1)) || g->mem_size > GUEST_MAX_MEM_SIZE ||
	    g->mem_size < GUEST_IMAGE_START + GUEST_MIN_STACK) {
		guest_set_error("guest RAM of %llu bytes: want a multiple of 2 MiB, 6 MiB to 3 GiB",
				(unsigned long long)g->mem_size);
		ret = -EINVAL;
		goto err;
	}
	g->mem = mmap(NULL, g->mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		      -1, 0);
	if (g->mem == MAP_FAILED) {
		g->mem = NULL;
		ret = -errno;
		guest_set_error("mmap of %llu MiB of guest RAM: %s",
				(unsigned long long)(g->mem_size >> 20), strerror(errno));
		goto err;
	}
	ret = guest_load_image(g);
	if (ret)
		goto err;
	guest_build_tables(g);

	if (opts->platform && g->backend != GUEST_LKVM) {
		guest_set_error("the in-kernel platform is lkvm_lite's (guest_opts.platform)");
		ret = -ENODEV;
		goto err;
	}
	ret = g->backend == GUEST_KVM ? kvm_create(g) : lkvm_create(g, opts);
	if (ret)
		goto err;

	/*
	 * The guest code starts as if called: 8 below a 16-byte boundary,
	 * with a return address that ends the guest as GUEST_DONE() would.
	 */
	top = g->mem_size - 8;
	memcpy(g->mem + top, &(uint64_t){ (uintptr_t)guest_code_return }, 8);
	regs.rsp = top;
	regs.rip = (uintptr_t)guest_code;
	ret = guest_set_regs(g, &regs);
	if (ret) {
		guest_set_error("%s: %s",
				g->backend == GUEST_KVM ? "KVM_SET_REGS" : "LKVM_SET_REGS",
				strerror(-ret));
		goto err;
	}
	return g;

err:
	guest_destroy(g);
	errno = -ret;
	return NULL;
}

void guest_destroy(struct guest *g)
{
	if (!g)
		return;
	if (g->krun)
		munmap(g->krun, g->krun_size);
	if (g->vcpu_fd >= 0)
		close(g->vcpu_fd);
	if (g->console_fd >= 0)
		close(g->console_fd);
	if (g->vm_fd >= 0)
		close(g->vm_fd);
	if (g->sys_fd >= 0)
		close(g->sys_fd);
	if (g->mem)
		munmap(g->mem, g->mem_size);
	free(g);
}

/* Both register structs list the same registers in the same order as ours. */
_Static_assert(sizeof(struct guest_regs) == sizeof(struct lkvm_regs), "lkvm_regs layout");
_Static_assert(sizeof(struct guest_regs) == sizeof(struct kvm_regs), "kvm_regs layout");
_Static_assert(offsetof(struct guest_regs, r8) == offsetof(struct lkvm_regs, r8) &&
	       offsetof(struct guest_regs, rip) == offsetof(struct lkvm_regs, rip) &&
	       offsetof(struct guest_regs, r8) == offsetof(struct kvm_regs, r8) &&
	       offsetof(struct guest_regs, rip) == offsetof(struct kvm_regs, rip),
	       "register order");

int guest_get_regs(struct guest *g, struct guest_regs *regs)
{
	unsigned long cmd = g->backend == GUEST_KVM ? KVM_GET_REGS : LKVM_GET_REGS;

	return ioctl(g->vcpu_fd, cmd, regs) < 0 ? -errno : 0;
}

int guest_set_regs(struct guest *g, const struct guest_regs *regs)
{
	unsigned long cmd = g->backend == GUEST_KVM ? KVM_SET_REGS : LKVM_SET_REGS;

	return ioctl(g->vcpu_fd, cmd, regs) < 0 ? -errno : 0;
}

void guest_set_args(struct guest *g, uint64_t a0, uint64_t a1)
{
	struct guest_regs regs;
	int ret;

	ret = guest_get_regs(g, &regs);
	if (!ret) {
		regs.rdi = a0;
		regs.rsi = a1;
		ret = guest_set_regs(g, &regs);
	}
	if (ret)
		guest_die("%s: %s: %s", __func__,
			  g->backend == GUEST_KVM ? "KVM_GET/SET_REGS" : "LKVM_GET/SET_REGS",
			  strerror(-ret));
}

int guest_stats(struct guest *g, struct lkvm_vcpu_stats *stats)
{
	if (g->backend != GUEST_LKVM)
		return -EOPNOTSUPP;
	return ioctl(g->vcpu_fd, LKVM_GET_VCPU_STATS, stats) < 0 ? -errno : 0;
}

int guest_run(struct guest *g)
{
	if (g->backend == GUEST_KVM)
		return ioctl(g->vcpu_fd, KVM_RUN, 0) < 0 ? -errno : 0;
	g->lrun.flags = 0;
	return ioctl(g->vcpu_fd, LKVM_RUN, &g->lrun) < 0 ? -errno : 0;
}

int guest_enable_test_mmio(struct guest *g, uint64_t gpa, uint64_t size)
{
	struct lkvm_test_exits t = g->test_exits;

	if (!size || gpa < g->mem_size || gpa >= 1ULL << 32 || size > (1ULL << 32) - gpa) {
		guest_set_error("test MMIO at 0x%llx (0x%llx bytes): not between RAM and 4 GiB",
				(unsigned long long)gpa, (unsigned long long)size);
		return -EINVAL;
	}
	if (g->backend == GUEST_LKVM) {
		t.flags |= LKVM_TEST_EXIT_MMIO;
		t.mmio_gpa = gpa;
		t.mmio_size = size;
		if (ioctl(g->vm_fd, LKVM_SET_TEST_EXITS, &t) < 0) {
			guest_set_error("LKVM_SET_TEST_EXITS: %s", strerror(errno));
			return -errno;
		}
		g->test_exits = t;
	}
	g->mmio_gpa = gpa;
	g->mmio_size = size;
	return 0;
}

bool guest_mmio_exit(struct guest *g, struct guest_mmio *m)
{
	if (g->backend == GUEST_LKVM) {
		if (g->lrun.exit_reason != LKVM_EXIT_TEST_MMIO)
			return false;
		m->gpa = g->lrun.mmio.gpa;
		m->size = g->lrun.mmio.size;
		m->is_write = g->lrun.mmio.is_write;
		m->data = m->is_write ? g->lrun.mmio.data : 0;
		return true;
	}
	if (g->krun->exit_reason != KVM_EXIT_MMIO || !g->mmio_size ||
	    g->krun->mmio.phys_addr < g->mmio_gpa ||
	    g->krun->mmio.phys_addr - g->mmio_gpa >= g->mmio_size || g->krun->mmio.len > 8)
		return false;
	m->gpa = g->krun->mmio.phys_addr;
	m->size = g->krun->mmio.len;
	m->is_write = g->krun->mmio.is_write;
	m->data = 0;
	if (m->is_write)
		memcpy(&m->data, g->krun->mmio.data, m->size);
	return true;
}

void guest_mmio_set_read_data(struct guest *g, uint64_t data)
{
	if (g->backend == GUEST_LKVM)
		g->lrun.mmio.data = data;
	else
		memcpy(g->krun->mmio.data, &data, sizeof(data));
}

/* The guest's ucall address, if the last exit was its 32-bit OUT to the ucall port. */
static bool guest_ucall_addr(struct guest *g, uint64_t *addr)
{
	if (g->backend == GUEST_LKVM) {
		const struct lkvm_run *r = &g->lrun;

		if (r->exit_reason != LKVM_EXIT_TEST_IO || r->io.port != GUEST_UCALL_PORT ||
		    r->io.size != 4 || !r->io.is_write)
			return false;
		*addr = (uint32_t)r->io.data;
		return true;
	}
	if (g->krun->exit_reason != KVM_EXIT_IO || g->krun->io.port != GUEST_UCALL_PORT ||
	    g->krun->io.size != 4 || g->krun->io.count != 1 ||
	    g->krun->io.direction != KVM_EXIT_IO_OUT)
		return false;
	*addr = *(uint32_t *)((char *)g->krun + g->krun->io.data_offset);
	return true;
}

uint64_t get_ucall(struct guest *g, struct ucall *uc)
{
	const struct ucall *guc;
	uint64_t addr;

	if (!guest_ucall_addr(g, &addr))
		return UCALL_NONE;
	guc = guest_gpa_to_hva(g, addr, sizeof(*guc));
	if (!guc || guc->cmd == UCALL_NONE || guc->cmd > UCALL_UNHANDLED)
		return UCALL_NONE;
	if (uc)
		*uc = *guc;
	return guc->cmd;
}

/* A NUL-terminated string at guest address @addr, or a placeholder. */
static const char *guest_str(struct guest *g, uint64_t addr, char *buf, size_t len)
{
	const char *p;
	size_t n;

	if (addr >= g->mem_size)
		return "?";
	p = (const char *)g->mem + addr;
	n = strnlen(p, g->mem_size - addr);
	if (n == g->mem_size - addr)
		return "?";
	snprintf(buf, len, "%s", p);
	return buf;
}

static const char *const exception_names[32] = {
	[0] = "#DE", [1] = "#DB", [2] = "NMI", [3] = "#BP", [4] = "#OF", [5] = "#BR",
	[6] = "#UD", [7] = "#NM", [8] = "#DF", [10] = "#TS", [11] = "#NP", [12] = "#SS",
	[13] = "#GP", [14] = "#PF", [16] = "#MF", [17] = "#AC", [18] = "#MC", [19] = "#XM",
	[20] = "#VE", [21] = "#CP", [28] = "#HV", [29] = "#VC", [30] = "#SX",
};

static const char *lkvm_exit_name(uint32_t reason)
{
	switch (reason) {
	case LKVM_EXIT_SHUTDOWN:
		return "SHUTDOWN (triple fault)";
	case LKVM_EXIT_INTERNAL_ERROR:
		return "INTERNAL_ERROR";
	case LKVM_EXIT_TEST_IO:
		return "TEST_IO";
	case LKVM_EXIT_TEST_MMIO:
		return "TEST_MMIO";
	default:
		return "unknown";
	}
}

static void guest_describe_exit(struct guest *g, char *buf, size_t len)
{
	struct guest_regs regs = { 0 };
	size_t n;

	guest_get_regs(g, &regs);
	if (g->backend == GUEST_LKVM) {
		const struct lkvm_run *r = &g->lrun;
		uint32_t i;

		n = snprintf(buf, len,
			     "not a ucall: LKVM_RUN exit reason %u %s, SVM exit code 0x%llx, info1 0x%llx, info2 0x%llx, rip 0x%llx",
			     r->exit_reason, lkvm_exit_name(r->exit_reason),
			     (unsigned long long)r->exit_code, (unsigned long long)r->exit_info1,
			     (unsigned long long)r->exit_info2, (unsigned long long)r->rip);
		if (r->exit_reason == LKVM_EXIT_INTERNAL_ERROR && n < len) {
			uint32_t insn_len = r->internal.insn_len;

			if (insn_len > sizeof(r->internal.insn))
				insn_len = sizeof(r->internal.insn);
			n += snprintf(buf + n, len - n, ", suberror %u, insn",
				      r->internal.suberror);
			for (i = 0; i < insn_len && n < len; i++)
				n += snprintf(buf + n, len - n, " %02x", r->internal.insn[i]);
		}
		if (r->exit_reason == LKVM_EXIT_TEST_IO && n < len)
			n += snprintf(buf + n, len - n, ", port 0x%x size %u %s data 0x%llx",
				      r->io.port, r->io.size, r->io.is_write ? "write" : "read",
				      (unsigned long long)r->io.data);
		if (r->exit_reason == LKVM_EXIT_TEST_MMIO && n < len)
			n += snprintf(buf + n, len - n, ", gpa 0x%llx size %u %s data 0x%llx",
				      (unsigned long long)r->mmio.gpa, r->mmio.size,
				      r->mmio.is_write ? "write" : "read",
				      (unsigned long long)r->mmio.data);
	} else {
		const struct kvm_run *r = g->krun;

		n = snprintf(buf, len, "not a ucall: KVM_RUN exit reason %u", r->exit_reason);
		if (r->exit_reason == KVM_EXIT_IO && n < len)
			n += snprintf(buf + n, len - n, " (IO), port 0x%x size %u %s count %u",
				      r->io.port, r->io.size,
				      r->io.direction == KVM_EXIT_IO_OUT ? "out" : "in",
				      r->io.count);
		if (r->exit_reason == KVM_EXIT_MMIO && n < len)
			n += snprintf(buf + n, len - n, " (MMIO), gpa 0x%llx len %u %s",
				      (unsigned long long)r->mmio.phys_addr, r->mmio.len,
				      r->mmio.is_write ? "write" : "read");
		if (r->exit_reason == KVM_EXIT_SHUTDOWN && n < len)
			n += snprintf(buf + n, len - n, " (SHUTDOWN: triple fault)");
		if (r->exit_reason == KVM_EXIT_INTERNAL_ERROR && n < len)
			n += snprintf(buf + n, len - n, " (INTERNAL_ERROR), suberror %u",
				      r->internal.suberror);
		if (r->exit_reason == KVM_EXIT_FAIL_ENTRY && n < len)
			n += snprintf(buf + n, len - n, " (FAIL_ENTRY), reason 0x%llx",
				      (unsigned long long)
				      r->fail_entry.hardware_entry_failure_reason);
	}
	if (n < len)
		snprintf(buf + n, len - n, "; rip 0x%llx rsp 0x%llx rax 0x%llx",
			 (unsigned long long)regs.rip, (unsigned long long)regs.rsp,
			 (unsigned long long)regs.rax);
}

const char *guest_exit_describe(struct guest *g, char *buf, size_t len)
{
	char file[128], expr[256];
	struct ucall ucall, *uc = &ucall;
	const char *name;

	switch (get_ucall(g, uc)) {
	case UCALL_SYNC:
		snprintf(buf, len, "GUEST_SYNC(0x%llx, 0x%llx, 0x%llx, 0x%llx)",
			 (unsigned long long)uc->args[0], (unsigned long long)uc->args[1],
			 (unsigned long long)uc->args[2], (unsigned long long)uc->args[3]);
		break;
	case UCALL_DONE:
		snprintf(buf, len, "GUEST_DONE");
		break;
	case UCALL_ASSERT:
		guest_str(g, uc->file, file, sizeof(file));
		guest_str(g, uc->expr, expr, sizeof(expr));
		if (uc->nr_values == 2)
			snprintf(buf, len,
				 "guest assertion failed: %s:%llu: %s: 0x%llx (%lld) != 0x%llx (%lld)",
				 file, (unsigned long long)uc->line, expr,
				 (unsigned long long)uc->values[0], (long long)uc->values[0],
				 (unsigned long long)uc->values[1], (long long)uc->values[1]);
		else
			snprintf(buf, len, "guest assertion failed: %s:%llu: %s", file,
				 (unsigned long long)uc->line, expr);
		break;
	case UCALL_UNHANDLED:
		name = uc->vector < 32 ? exception_names[uc->vector] : NULL;
		snprintf(buf, len,
			 "unexpected exception in the guest: vector %llu (%s), error code 0x%llx, rip 0x%llx",
			 (unsigned long long)uc->vector, name ? name : "reserved",
			 (unsigned long long)uc->error_code, (unsigned long long)uc->rip);
		break;
	default:
		guest_describe_exit(g, buf, len);
	}
	return buf;
}

static const char *const ucall_names[] = {
	[UCALL_NONE] = "no ucall", [UCALL_SYNC] = "UCALL_SYNC", [UCALL_ASSERT] = "UCALL_ASSERT",
	[UCALL_DONE] = "UCALL_DONE", [UCALL_UNHANDLED] = "UCALL_UNHANDLED",
};

int guest_run_expect(struct guest *g, uint64_t cmd, struct ucall *uc, char *msg, size_t len)
{
	char what[GUEST_MSG_LEN];
	struct ucall local;
	int ret;

	if (!uc)
		uc = &local;
	do
		ret = guest_run(g);
	while (ret == -EINTR);
	if (ret) {
		snprintf(msg, len, "%s: %s", g->backend == GUEST_KVM ? "KVM_RUN" : "LKVM_RUN",
			 strerror(-ret));
		return -1;
	}
	if (get_ucall(g, uc) == cmd && cmd != UCALL_NONE)
		return 0;
	guest_exit_describe(g, what, sizeof(what));
	snprintf(msg, len, "expected %s, got %s",
		 cmd <= UCALL_UNHANDLED ? ucall_names[cmd] : "?", what);
	return -1;
}

/* guest: hand @uc to the host. */
static void guest_ucall(struct ucall *uc)
{
	/* The memory clobber makes the compiler store *uc before the OUT. */
	asm volatile("outl %0, %1"
		     : : "a"((uint32_t)(uintptr_t)uc), "Nd"((uint16_t)GUEST_UCALL_PORT)
		     : "memory");
}

/*
 * guest. General registers only: a test may keep its own values in SSE
 * registers across a sync (run_test's FPU test does), which the ABI would
 * let this function clobber.
 */
__attribute__((target("general-regs-only")))
void guest_sync(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
	struct ucall uc = {
		.cmd = UCALL_SYNC,
		.args = { a0, a1, a2, a3 },
	};

	guest_ucall(&uc);
}

/* guest: the host stops at the first of these; going on would mean no more. */
void guest_done(void)
{
	struct ucall uc = { .cmd = UCALL_DONE };

	for (;;)
		guest_ucall(&uc);
}

/* guest: guest_entry.S returns here when the guest code returns. */
void __attribute__((noreturn)) guest_code_returned(void);
void guest_code_returned(void)
{
	guest_done();
}

/* guest */
void guest_assert_fail(const char *file, uint64_t line, const char *expr, uint64_t nr_values,
		       uint64_t a, uint64_t b)
{
	struct ucall uc = {
		.cmd = UCALL_ASSERT,
		.file = (uintptr_t)file,
		.line = line,
		.expr = (uintptr_t)expr,
		.nr_values = nr_values,
		.values = { a, b },
	};

	for (;;)
		guest_ucall(&uc);
}

/*
 * guest: called by guest_entry.S for every exception. A GUEST_ASM_SAFE()
 * instruction resumes after itself with the result in R10; anything else
 * is reported and stops the guest. Only general registers are saved around
 * it, so it must leave the interrupted code's SSE registers alone.
 */
void guest_exception(struct guest_exc_frame *f);
__attribute__((target("general-regs-only")))
void guest_exception(struct guest_exc_frame *f)
{
	const struct guest_fixup *fx;
	struct ucall uc;

	for (fx = __start_guest_fixup; fx < __stop_guest_fixup; fx++) {
		/* #BP is a trap: the CPU reports the RIP after the instruction. */
		if (fx->insn == f->rip || (f->vector == 3 && fx->resume == f->rip)) {
			f->r10 = f->vector | GUEST_FAULTED | (f->error_code << 32);
			f->rip = fx->resume;
			return;
		}
	}
	uc = (struct ucall) {
		.cmd = UCALL_UNHANDLED,
		.vector = f->vector,
		.error_code = f->error_code,
		.rip = f->rip,
	};
	for (;;)
		guest_ucall(&uc);
}

/* guest */
uint8_t guest_rdmsr_safe(uint32_t msr, uint64_t *val)
{
	uint32_t lo = 0, hi = 0;
	uint64_t fault;

	asm volatile(GUEST_ASM_SAFE("rdmsr")
		     : "+a"(lo), "+d"(hi), GUEST_ASM_SAFE_OUTPUT(fault)
		     : "c"(msr)
		     : GUEST_ASM_SAFE_CLOBBERS);
	*val = (uint64_t)hi << 32 | lo;
	return guest_fault_vector(fault);
}

/* guest */
uint8_t guest_wrmsr_safe(uint32_t msr, uint64_t val)
{
	uint64_t fault;

	asm volatile(GUEST_ASM_SAFE("wrmsr")
		     : GUEST_ASM_SAFE_OUTPUT(fault)
		     : "c"(msr), "a"((uint32_t)val), "d"((uint32_t)(val >> 32))
		     : GUEST_ASM_SAFE_CLOBBERS);
	return guest_fault_vector(fault);
}
