/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guests written in C, next to the host code that runs them.
 *
 * A test creates a guest with one vCPU, on lkvm_lite (/dev/lkvm_lite) or on
 * stock KVM (/dev/kvm: the benchmarks run the very same guest on kvm_amd as
 * the peer), and points it at a function of its own:
 *
 *	static void guest_code(uint64_t a0, uint64_t a1)
 *	{
 *		GUEST_SYNC(a0);
 *		GUEST_ASSERT_EQ(a1, 2);
 *		GUEST_DONE();
 *	}
 *
 *	g = guest_create(&(struct guest_opts){ .backend = GUEST_LKVM }, guest_code);
 *	guest_set_args(g, 1, 2);
 *	guest_run_expect(g, UCALL_SYNC, &uc, msg, sizeof(msg));
 *
 * How the guest is built:
 *
 * - Guest RAM is one anonymous mapping at guest physical address 0 (32 MiB
 *   unless guest_opts.mem_size says otherwise). The test program's own ELF
 *   PT_LOAD segments, read from /proc/self/exe, are copied into it at guest
 *   physical address == their virtual address, .bss zeroed. So the program
 *   must be linked at a fixed address (-no-pie: list it in GUEST_PROGS in
 *   selftests/Makefile, which builds those so), and guest code, its
 *   constants and its globals are at the same addresses in guest and host. A global holds
 *   its initial value in the guest until guest_sync_global() copies the
 *   host's current value in.
 * - The guest runs in 64-bit long mode at CPL 0 with interrupts off. Page
 *   tables identity-map the first 4 GiB with 2 MiB pages, so a virtual
 *   address is its guest physical address; above RAM the mapping is
 *   uncached and reaches MMIO (put the test MMIO range there). Guest
 *   physical addresses below 0x400000 belong to the library (page tables,
 *   GDT, IDT, TSS, the exception stack), except page 0, which is not
 *   mapped: a NULL pointer in guest code is a #PF; the stack is at the top
 *   of RAM.
 * - The guest has no libc. Code the guest runs may use only what the
 *   program itself contains: this library's guest-side functions (marked
 *   "Guest:" below) and the program's own code. The compiler may emit calls
 *   to memset, memcpy, memmove, memcmp or strlen on its own (struct copies,
 *   zeroing loops): string_override.c links our own copies of these into
 *   the program, so such calls land inside the guest image. No errno, no
 *   thread-local storage, no stdio in guest code.
 * - Each of the 32 exception vectors goes to a handler in the library. A
 *   fault at an instruction wrapped in GUEST_ASM_SAFE() resumes after it
 *   with the vector recorded; any other exception is reported to the host
 *   as UCALL_UNHANDLED (vector, error code, RIP) and the guest stops there.
 *
 * Ucalls: the guest fills a struct ucall in its memory and writes its
 * address with a 32-bit OUT to GUEST_UCALL_PORT. lkvm_lite returns that
 * access from LKVM_RUN as LKVM_EXIT_TEST_IO (the library registers the port
 * with LKVM_SET_TEST_EXITS); KVM returns it as KVM_EXIT_IO. get_ucall()
 * reads the struct back out of guest memory.
 *
 * Errors: guest_create() returns NULL with errno set and a message in
 * guest_error(); errno ENODEV means the backend is not available here (no
 * device, or a module without LKVM_RUN), which a test reports as a SKIP
 * (GUEST_CREATE_OR_SKIP() does that in a harness test). Setup helpers that
 * return void print the failing call and its errno and exit(1) when an
 * ioctl fails, which the harness reports as a failed test.
 */
#ifndef LKVM_SELFTEST_GUEST_H
#define LKVM_SELFTEST_GUEST_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>
#include <linux/lkvm_lite.h>

/* The port the guest writes ucall addresses to: no device of ours uses it. */
#define GUEST_UCALL_PORT	0x1000
/* Default guest RAM; guest_opts.mem_size must be a multiple of 2 MiB. */
#define GUEST_DEFAULT_MEM_SIZE	(32ULL << 20)
/* Most guest RAM: the rest of the 4 GiB identity map is for MMIO. */
#define GUEST_MAX_MEM_SIZE	(3ULL << 30)
/* Room for messages from guest_run_expect() and guest_exit_describe(). */
#define GUEST_MSG_LEN		512

enum guest_backend {
	GUEST_LKVM,	/* /dev/lkvm_lite */
	GUEST_KVM,	/* /dev/kvm */
};

struct guest_opts {
	enum guest_backend backend;
	/* Bytes of guest RAM at guest physical 0; 0 means GUEST_DEFAULT_MEM_SIZE. */
	uint64_t mem_size;
	/*
	 * GUEST_LKVM only: give the VM the in-kernel PC platform
	 * (LKVM_CREATE_PLATFORM): local APIC, IOAPIC, UART, PCI, kvmclock.
	 * guest_create() fails with ENODEV where the module has none.
	 */
	bool platform;
};

struct guest;

/* Host: build a guest that starts at @guest_code; see above for errors. */
struct guest *guest_create(const struct guest_opts *opts, void *guest_code);
/* Host: why the last guest_create() (or other library call) failed. */
const char *guest_error(void);
/* Host: close every descriptor and unmap guest memory. */
void guest_destroy(struct guest *g);

/*
 * Host, in a kselftest-harness test: create the guest into @g, SKIP the
 * test if the backend is not available, fail it if creation failed.
 */
#define GUEST_CREATE_OR_SKIP(g, backend_, guest_code) do {			\
	struct guest_opts __opts = { .backend = (backend_) };			\
										\
	(g) = guest_create(&__opts, (guest_code));				\
	if (!(g) && errno == ENODEV)						\
		SKIP(return, "%s", guest_error());				\
	ASSERT_NE(NULL, (g)) TH_LOG("%s", guest_error());			\
} while (0)

/*
 * Host: GUEST_LKVM, unless the environment says LKVM_GUEST_BACKEND=kvm:
 * lets the same test program check its guests against stock KVM.
 */
enum guest_backend guest_backend_from_env(void);
const char *guest_backend_name(enum guest_backend backend);
enum guest_backend guest_backend(struct guest *g);

/* Host: the guest code's two arguments, in RDI and RSI. */
void guest_set_args(struct guest *g, uint64_t a0, uint64_t a1);
/* Host: copy a host global's current value into the guest's copy of it. */
void guest_sync_global(struct guest *g, const void *var, size_t size);
/* Host: copy the guest's copy of a global into the host's. */
void guest_read_global(struct guest *g, void *var, size_t size);
/*
 * Host: make @handler the guest's handler of interrupt @vector (32..255).
 * It runs on the exception stack with interrupts off and must end in
 * IRETQ: an assembly stub (there is no interrupt controller to EOI yet).
 */
void guest_set_idt_handler(struct guest *g, uint8_t vector, void (*handler)(void));
/* Host: where guest physical address @gpa is in our memory, NULL outside RAM. */
void *guest_gpa_to_hva(struct guest *g, uint64_t gpa, size_t size);

/* Host: the backend's descriptors and run structures. */
int guest_vm_fd(struct guest *g);
int guest_vcpu_fd(struct guest *g);
/* The console file of a guest made with guest_opts.platform; else -1. */
int guest_console_fd(struct guest *g);
/* NULL unless the backend is GUEST_LKVM. */
struct lkvm_run *guest_lkvm_run(struct guest *g);
/* NULL unless the backend is GUEST_KVM. */
struct kvm_run *guest_kvm_run(struct guest *g);

/* Host: general registers, the same on both backends. */
struct guest_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, rflags;
};

/* Host: 0 or -errno. */
int guest_get_regs(struct guest *g, struct guest_regs *regs);
int guest_set_regs(struct guest *g, const struct guest_regs *regs);
/* Host: LKVM_GET_VCPU_STATS: 0, -errno, or -EOPNOTSUPP on KVM. */
int guest_stats(struct guest *g, struct lkvm_vcpu_stats *stats);

/* Host: one LKVM_RUN or KVM_RUN: 0 or -errno (-EINTR is not retried). */
int guest_run(struct guest *g);

/*
 * Test MMIO: guest accesses to [@gpa, @gpa + @size), which must lie above
 * RAM and below 4 GiB, return from guest_run() as an MMIO exit. On lkvm
 * this registers the range with LKVM_SET_TEST_EXITS (keeping the ucall
 * port); on KVM an access to memory no slot covers exits anyway.
 * Host: 0 or -errno (the message in guest_error()).
 */
int guest_enable_test_mmio(struct guest *g, uint64_t gpa, uint64_t size);

struct guest_mmio {
	uint64_t gpa;
	uint64_t data;		/* the value of a write */
	uint8_t size;
	bool is_write;
};

/* Host: was the last exit a test MMIO access? Fills @m if so. */
bool guest_mmio_exit(struct guest *g, struct guest_mmio *m);
/* Host: the value the guest's pending MMIO read gets on the next run. */
void guest_mmio_set_read_data(struct guest *g, uint64_t data);

/* What a ucall asks for: struct ucall.cmd, and get_ucall()'s result. */
enum {
	UCALL_NONE,		/* the exit was not a ucall */
	UCALL_SYNC,		/* args[] */
	UCALL_ASSERT,		/* file, line, expr, nr_values, values[] */
	UCALL_DONE,
	UCALL_UNHANDLED,	/* vector, error_code, rip */
};

#define UCALL_MAX_ARGS	4

/*
 * What the guest hands the host. Strings are guest addresses: the host
 * reads them from guest memory, where they are the program's own constants.
 */
struct ucall {
	uint64_t cmd;
	uint64_t args[UCALL_MAX_ARGS];
	uint64_t file;
	uint64_t line;
	uint64_t expr;
	uint64_t nr_values;
	uint64_t values[2];
	uint64_t vector;
	uint64_t error_code;
	uint64_t rip;
};

/*
 * Host: UCALL_* if the last exit was a ucall, with the guest's struct
 * copied into @uc (may be NULL); else UCALL_NONE.
 */
uint64_t get_ucall(struct guest *g, struct ucall *uc);

/*
 * Host: what the last exit was, for a message: the guest's assert (file:
 * line: expression, values), an unexpected exception, a sync, or the exit
 * reason and registers of an exit that was not a ucall. Returns @buf.
 */
const char *guest_exit_describe(struct guest *g, char *buf, size_t len);

/*
 * Host: run until the next ucall (retrying -EINTR) and check that it is
 * @cmd. 0 if so, with the ucall in @uc; else -1 with what came instead in
 * @msg: a failed run's ioctl and errno, the guest's assert message, an
 * unexpected exception, or an exit that was not a ucall.
 */
int guest_run_expect(struct guest *g, uint64_t cmd, struct ucall *uc, char *msg, size_t len);

/* Host, in a kselftest-harness test: guest_run_expect() or fail with its message. */
#define ASSERT_UCALL(g, cmd, uc) do {						\
	char __msg[GUEST_MSG_LEN];						\
										\
	ASSERT_EQ(0, guest_run_expect((g), (cmd), (uc), __msg, sizeof(__msg)))	\
		TH_LOG("%s", __msg);						\
} while (0)

/* Guest: the ucalls. */
void guest_sync(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3);
void __attribute__((noreturn)) guest_done(void);
void __attribute__((noreturn)) guest_assert_fail(const char *file, uint64_t line,
						 const char *expr, uint64_t nr_values,
						 uint64_t a, uint64_t b);

#define GUEST_SYNC(arg)			guest_sync((arg), 0, 0, 0)
#define GUEST_SYNC_ARGS(a0, a1, a2, a3)	guest_sync((a0), (a1), (a2), (a3))
/* Reported once per host run from then on: the guest never goes past it. */
#define GUEST_DONE()			guest_done()

#define GUEST_ASSERT(cond) do {							\
	if (!(cond))								\
		guest_assert_fail(__FILE__, __LINE__, #cond, 0, 0, 0);		\
} while (0)

/* Each operand is evaluated once; the host prints both values. */
#define GUEST_ASSERT_EQ(a, b) do {						\
	uint64_t __a = (uint64_t)(a), __b = (uint64_t)(b);			\
										\
	if (__a != __b)								\
		guest_assert_fail(__FILE__, __LINE__, #a " == " #b, 2, __a, __b); \
} while (0)

/*
 * Guest: run one instruction that may fault. If it raises an exception,
 * the handler records it and execution goes on after the instruction
 * instead of stopping the guest. The result word says what happened:
 *
 *	uint64_t fault;
 *
 *	asm volatile(GUEST_ASM_SAFE("ud2")
 *		     : GUEST_ASM_SAFE_OUTPUT(fault)
 *		     : : GUEST_ASM_SAFE_CLOBBERS);
 *	GUEST_ASSERT_EQ(guest_fault_vector(fault), 6);
 *
 * The handler finds the instruction in a table (section guest_fixup, like
 * the kernel's exception table) and returns its result in R10. @insn must
 * be one instruction and must not use the local labels 1: and 2:. Faults
 * and #BP are caught; other traps (#DB, #OF) report the next RIP and are
 * not.
 */
#define GUEST_ASM_SAFE(insn)							\
	"xor %%r10d, %%r10d\n\t"						\
	"1: " insn "\n\t"							\
	"2:\n\t"								\
	".pushsection guest_fixup, \"a\"\n\t"					\
	".balign 8\n\t"								\
	".quad 1b, 2b\n\t"							\
	".popsection\n\t"							\
	"mov %%r10, %[guest_fault]\n\t"
#define GUEST_ASM_SAFE_OUTPUT(fault)	[guest_fault] "=rm"(fault)
#define GUEST_ASM_SAFE_CLOBBERS		"r10", "memory"

/* Guest: GUEST_ASM_SAFE() of an instruction without operands; the result word. */
#define GUEST_SAFE_INSN(insn) ({						\
	uint64_t __fault;							\
										\
	asm volatile(GUEST_ASM_SAFE(insn)					\
		     : GUEST_ASM_SAFE_OUTPUT(__fault) : : GUEST_ASM_SAFE_CLOBBERS);	\
	__fault;								\
})

/* The result word: bit 8 set if the instruction faulted. */
#define GUEST_FAULTED		(1ULL << 8)

static inline bool guest_faulted(uint64_t fault)
{
	return fault & GUEST_FAULTED;
}

/* The vector, or 0 if nothing faulted (#DE is vector 0: ask guest_faulted()). */
static inline uint8_t guest_fault_vector(uint64_t fault)
{
	return fault & 0xff;
}

static inline uint32_t guest_fault_error_code(uint64_t fault)
{
	return fault >> 32;
}

/* Guest: RDMSR/WRMSR: the vector they raised (13 for #GP), 0 if none. */
uint8_t guest_rdmsr_safe(uint32_t msr, uint64_t *val);
uint8_t guest_wrmsr_safe(uint32_t msr, uint64_t val);

/* Guest: CPUID of @leaf, subleaf 0, and the port write the benchmarks time. */
static inline void guest_cpuid(uint32_t leaf, uint32_t *eax, uint32_t *ebx, uint32_t *ecx,
			       uint32_t *edx)
{
	asm volatile("cpuid"
		     : "=a"(*eax), "=b"(*ebx), "=c"(*ecx), "=d"(*edx)
		     : "a"(leaf), "c"(0));
}

static inline void guest_outb(uint16_t port, uint8_t val)
{
	asm volatile("outb %0, %1" : : "a"(val), "Nd"(port));
}

#endif /* LKVM_SELFTEST_GUEST_H */
