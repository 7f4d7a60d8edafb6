// SPDX-License-Identifier: GPL-2.0-only
/*
 * Exit handling: one table indexed by SVM exit code.
 *
 * Every handler returns 1 to go on running the guest, 0 to return to
 * userspace with vcpu->run filled in, or -errno. The CPU in the test VM
 * has no NRIP save and no decode assists, so handlers advance RIP by the
 * known length of the instruction (IOIO exits carry the next RIP), and
 * MMIO instructions are fetched and decoded here.
 */
#include <linux/kernel.h>
#include <linux/printk.h>
#include <asm/fpu/xcr.h>
#include <asm/fpu/xstate.h>
#include <asm/debugreg.h>
#include <asm/svm.h>
#include <asm/traps.h>

#include "lkvm.h"

#define LEN_CPUID	2
#define LEN_RDWRMSR	2
#define LEN_HLT		1
#define LEN_INVD	2
#define LEN_XSETBV	3
#define LEN_WBINVD	2
#define MAX_INSN_LEN	15

/* NPF EXITINFO1 bits (AMD APM vol. 2, 15.25.6) */
#define NPF_FETCH		BIT_ULL(4)
#define NPF_GUEST_PAGE_WALK	BIT_ULL(33)

/* IOIO EXITINFO1 bits (AMD APM vol. 2, 15.10.2) */
#define IOIO_IN			BIT(0)
#define IOIO_STR		BIT(2)
#define IOIO_REP		BIT(3)
#define IOIO_SIZE_SHIFT		4
#define IOIO_SIZE_MASK		(7 << IOIO_SIZE_SHIFT)
#define IOIO_PORT_SHIFT		16

void lkvm_skip_insn(struct lkvm_vcpu *vcpu, unsigned int len)
{
	struct vmcb *vmcb = vcpu->vmcb;

	vmcb->save.rip += len;
	/* An instruction executed: any STI or MOV SS shadow is over. */
	vmcb->control.int_state &= ~SVM_INTERRUPT_SHADOW_MASK;
}

static void lkvm_dump_vmcb(struct lkvm_vcpu *vcpu, const char *why)
{
	const struct vmcb_control_area *c = &vcpu->vmcb->control;
	const struct vmcb_save_area *s = &vcpu->vmcb->save;

	pr_warn_ratelimited("vcpu %u: %s: exit %#x info %#llx %#llx intinfo %#x rip %#llx\n"
			    "  cs %#x/%#x base %#llx cr0 %#llx cr3 %#llx cr4 %#llx efer %#llx\n"
			    "  rflags %#llx rsp %#llx int_ctl %#x int_state %#x event_inj %#x\n",
			    vcpu->id, why, c->exit_code, c->exit_info_1, c->exit_info_2,
			    c->exit_int_info, s->rip, s->cs.selector, s->cs.attrib, s->cs.base,
			    s->cr0, s->cr3, s->cr4, s->efer, s->rflags, s->rsp, c->int_ctl,
			    c->int_state, c->event_inj);
}

int lkvm_internal_error(struct lkvm_vcpu *vcpu, u32 suberror)
{
	vcpu->run.exit_reason = LKVM_EXIT_INTERNAL_ERROR;
	vcpu->run.internal.suberror = suberror;
	return 0;
}

static int lkvm_exit_cpuid(struct lkvm_vcpu *vcpu)
{
	u32 eax, ebx, ecx, edx;

	lkvm_stat_inc(vcpu, LKVM_STAT_CPUID);
	lkvm_cpuid(vcpu, vcpu->vmcb->save.rax, vcpu->gprs[GPR_RCX], &eax, &ebx, &ecx, &edx);
	vcpu->vmcb->save.rax = eax;
	vcpu->gprs[GPR_RBX] = ebx;
	vcpu->gprs[GPR_RCX] = ecx;
	vcpu->gprs[GPR_RDX] = edx;
	lkvm_skip_insn(vcpu, LEN_CPUID);
	return 1;
}

static int lkvm_exit_msr(struct lkvm_vcpu *vcpu)
{
	u32 msr = vcpu->gprs[GPR_RCX];
	u64 val;
	int err;

	if (vcpu->vmcb->control.exit_info_1) {
		lkvm_stat_inc(vcpu, LKVM_STAT_MSR_WRITE);
		val = (vcpu->gprs[GPR_RDX] << 32) | (u32)vcpu->vmcb->save.rax;
		err = lkvm_msr_write(vcpu, msr, val);
	} else {
		lkvm_stat_inc(vcpu, LKVM_STAT_MSR_READ);
		err = lkvm_msr_read(vcpu, msr, &val);
		if (!err) {
			vcpu->vmcb->save.rax = lower_32_bits(val);
			vcpu->gprs[GPR_RDX] = upper_32_bits(val);
		}
	}
	if (err)
		lkvm_inject_gp(vcpu);
	else
		lkvm_skip_insn(vcpu, LEN_RDWRMSR);
	return 1;
}

static int lkvm_exit_hlt(struct lkvm_vcpu *vcpu)
{
	lkvm_stat_inc(vcpu, LKVM_STAT_HLT);
	lkvm_skip_insn(vcpu, LEN_HLT);
	/* The run loop sleeps, across LKVM_RUN calls if a signal comes first. */
	vcpu->halted = true;
	return 1;
}

static int lkvm_exit_xsetbv(struct lkvm_vcpu *vcpu)
{
	const struct vmcb_save_area *save = &vcpu->vmcb->save;
	u64 val = (vcpu->gprs[GPR_RDX] << 32) | (u32)save->rax;
	u64 allowed = lkvm_guest_xcr0_allowed();

	lkvm_stat_inc(vcpu, LKVM_STAT_XSETBV);
	if (!(save->cr4 & X86_CR4_OSXSAVE)) {
		lkvm_inject_ud(vcpu);
		return 1;
	}
	/* XCR0 only, from CPL 0, x87 always on, AVX only with SSE. */
	if ((u32)vcpu->gprs[GPR_RCX] != XCR_XFEATURE_ENABLED_MASK || save->cpl ||
	    (val & ~allowed) || !(val & XFEATURE_MASK_FP) ||
	    ((val & XFEATURE_MASK_YMM) && !(val & XFEATURE_MASK_SSE))) {
		lkvm_inject_gp(vcpu);
		return 1;
	}
	vcpu->xcr0 = val;
	lkvm_skip_insn(vcpu, LEN_XSETBV);
	return 1;
}

static bool lkvm_in_test_port(struct lkvm_vcpu *vcpu, u16 port)
{
	const struct lkvm_test_exits *t = &vcpu->vm->test_exits;

	return (READ_ONCE(t->flags) & LKVM_TEST_EXIT_IO) && READ_ONCE(t->io_port) == port;
}

static bool lkvm_in_test_mmio(struct lkvm_vcpu *vcpu, u64 gpa)
{
	const struct lkvm_test_exits *t = &vcpu->vm->test_exits;

	return (READ_ONCE(t->flags) & LKVM_TEST_EXIT_MMIO) &&
	       gpa - READ_ONCE(t->mmio_gpa) < READ_ONCE(t->mmio_size);
}

/* A port read's @size bytes go into RAX as IN writes AL, AX or EAX. */
static void lkvm_io_write_rax(struct lkvm_vcpu *vcpu, u8 size, u32 val)
{
	u64 *rax = &vcpu->vmcb->save.rax;

	if (size == 4)
		*rax = val;
	else
		*rax = (*rax & ~GENMASK_ULL(size * 8 - 1, 0)) | (val & GENMASK(size * 8 - 1, 0));
}

static int lkvm_exit_ioio(struct lkvm_vcpu *vcpu)
{
	const struct vmcb_control_area *c = &vcpu->vmcb->control;
	u32 info = c->exit_info_1, val;
	u16 port = info >> IOIO_PORT_SHIFT;
	u8 size = (info & IOIO_SIZE_MASK) >> IOIO_SIZE_SHIFT;
	bool in = info & IOIO_IN;

	lkvm_stat_inc(vcpu, LKVM_STAT_IO);
	/* INS and OUTS would need guest memory through segments: not yet. */
	if (info & (IOIO_STR | IOIO_REP))
		return lkvm_internal_error(vcpu, LKVM_INTERNAL_EMULATION);
	/* EXITINFO2 is the next RIP, with or without NRIP save. */
	vcpu->vmcb->save.rip = c->exit_info_2;
	vcpu->vmcb->control.int_state &= ~SVM_INTERRUPT_SHADOW_MASK;

	val = vcpu->vmcb->save.rax & GENMASK_ULL(size * 8 - 1, 0);
	if (lkvm_in_test_port(vcpu, port)) {
		vcpu->run.exit_reason = LKVM_EXIT_TEST_IO;
		vcpu->run.io.port = port;
		vcpu->run.io.size = size;
		vcpu->run.io.is_write = !in;
		vcpu->run.io.data = in ? 0 : val;
		if (in) {
			vcpu->read.pending = true;
			vcpu->read.mmio = false;
			vcpu->read.size = size;
		}
		return 0;
	}
	if (lkvm_io_access(vcpu, port, size, in, &val) == LKVM_IO_EXIT)
		return 0;
	if (in)
		lkvm_io_write_rax(vcpu, size, val);
	return 1;
}

/* A load of @data from MMIO lands in its register: only @size bytes of it. */
static void lkvm_mmio_load(struct lkvm_vcpu *vcpu, const struct lkvm_insn *insn, u64 data)
{
	if (insn->size < 8)
		data &= GENMASK_ULL(insn->size * 8 - 1, 0);
	lkvm_gpr_write(vcpu, insn->reg,
		       lkvm_insn_load_result(insn, lkvm_gpr_read(vcpu, insn->reg), data));
}

/* The bits of the code segment the guest runs in: 16, 32 or 64. */
int lkvm_code_mode(struct lkvm_vcpu *vcpu)
{
	const struct vmcb_save_area *s = &vcpu->vmcb->save;

	if (!(s->cr0 & X86_CR0_PE))
		return 16;
	if ((s->efer & EFER_LMA) && (s->cs.attrib & SVM_SELECTOR_L_MASK))
		return 64;
	return (s->cs.attrib & SVM_SELECTOR_DB_MASK) ? 32 : 16;
}

/* Read the bytes at CS:RIP, up to @len, stopping where the guest's mapping ends. */
unsigned int lkvm_fetch(struct lkvm_vcpu *vcpu, int mode, u8 *bytes, unsigned int len)
{
	const struct vmcb_save_area *s = &vcpu->vmcb->save;
	u64 linear = s->rip + (mode == 64 ? 0 : s->cs.base), gpa;
	unsigned int done = 0, n;

	if (mode != 64)
		linear &= 0xffffffffULL;
	while (done < len) {
		n = min_t(unsigned int, len - done, PAGE_SIZE - offset_in_page(linear + done));
		if (lkvm_gva_to_gpa(vcpu, linear + done, &gpa) ||
		    lkvm_read_guest(vcpu->vm, gpa, bytes + done, n))
			break;
		done += n;
	}
	return done;
}

static int lkvm_exit_npf(struct lkvm_vcpu *vcpu)
{
	const struct vmcb_control_area *c = &vcpu->vmcb->control;
	struct lkvm_run *run = &vcpu->run;
	u64 gpa = c->exit_info_2, data;
	int mode = lkvm_code_mode(vcpu);
	struct lkvm_insn insn;
	u8 bytes[MAX_INSN_LEN];
	unsigned int avail;

	lkvm_stat_inc(vcpu, LKVM_STAT_MMIO);
	/*
	 * RAM is mapped from the start and never faults. Code or page tables
	 * outside RAM cannot be emulated: the guest has lost its way.
	 */
	if (lkvm_gpa_to_page(vcpu->vm, gpa) || (c->exit_info_1 & (NPF_FETCH | NPF_GUEST_PAGE_WALK)))
		return lkvm_internal_error(vcpu, LKVM_INTERNAL_UNHANDLED_EXIT);
	/*
	 * An IDT, GDT or stack outside RAM, met while delivering an event:
	 * there is no instruction to emulate, and none must be skipped.
	 */
	if (c->exit_int_info & SVM_EXITINTINFO_VALID)
		return lkvm_internal_error(vcpu, LKVM_INTERNAL_DELIVERY);

	avail = lkvm_fetch(vcpu, mode, bytes, sizeof(bytes));
	memcpy(run->internal.insn, bytes, min_t(unsigned int, avail, sizeof(run->internal.insn)));
	run->internal.insn_len = min_t(unsigned int, avail, sizeof(run->internal.insn));
	if (!avail)
		return lkvm_internal_error(vcpu, LKVM_INTERNAL_FETCH);
	if (lkvm_decode(bytes, avail, mode, &insn))
		return lkvm_internal_error(vcpu, LKVM_INTERNAL_EMULATION);
	memset(&run->internal, 0, sizeof(run->internal));
	lkvm_skip_insn(vcpu, insn.len);

	if (insn.op == LKVM_INSN_STORE)
		data = lkvm_insn_store_value(&insn, lkvm_gpr_read(vcpu, insn.reg));
	if (lkvm_in_test_mmio(vcpu, gpa)) {
		run->exit_reason = LKVM_EXIT_TEST_MMIO;
		run->mmio.gpa = gpa;
		run->mmio.size = insn.size;
		run->mmio.is_write = insn.op == LKVM_INSN_STORE;
		run->mmio.data = run->mmio.is_write ? data : 0;
		if (!run->mmio.is_write) {
			vcpu->read.pending = true;
			vcpu->read.mmio = true;
			vcpu->read.insn = insn;
		}
		return 0;
	}
	if (lkvm_mmio_access(vcpu, gpa, insn.size, insn.op == LKVM_INSN_STORE, &data) ==
	    LKVM_IO_EXIT)
		return 0;
	if (insn.op == LKVM_INSN_LOAD)
		lkvm_mmio_load(vcpu, &insn, data);
	return 1;
}

void lkvm_complete_read(struct lkvm_vcpu *vcpu, const struct lkvm_run *run)
{
	struct lkvm_pending_read *r = &vcpu->read;

	if (r->mmio)
		lkvm_mmio_load(vcpu, &r->insn, run->mmio.data);
	else
		lkvm_io_write_rax(vcpu, r->size, run->io.data);
	r->pending = false;
}

/* Host events that exited the guest were handled when IRQs came back on. */
static int lkvm_exit_intr(struct lkvm_vcpu *vcpu)
{
	lkvm_stat_inc(vcpu, LKVM_STAT_INTR);
	return 1;
}

static int lkvm_exit_nmi(struct lkvm_vcpu *vcpu)
{
	lkvm_stat_inc(vcpu, LKVM_STAT_NMI);
	return 1;
}

static int lkvm_exit_nothing(struct lkvm_vcpu *vcpu)
{
	lkvm_stat_inc(vcpu, LKVM_STAT_OTHER_EXITS);
	return 1;
}

/* The guest triple-faulted: the VMCB's state is undefined, as on reset. */
static int lkvm_exit_shutdown(struct lkvm_vcpu *vcpu)
{
	lkvm_stat_inc(vcpu, LKVM_STAT_SHUTDOWN);
	lkvm_vcpu_reset(vcpu);
	vcpu->run.exit_reason = LKVM_EXIT_SHUTDOWN;
	return 0;
}

/* Instructions a guest without SVM, MONITOR or RDTSCP does not have. */
static int lkvm_exit_ud(struct lkvm_vcpu *vcpu)
{
	lkvm_stat_inc(vcpu, LKVM_STAT_OTHER_EXITS);
	lkvm_inject_ud(vcpu);
	return 1;
}

/* RDPMC: there are no performance counters to read. */
static int lkvm_exit_gp(struct lkvm_vcpu *vcpu)
{
	lkvm_stat_inc(vcpu, LKVM_STAT_OTHER_EXITS);
	lkvm_inject_gp(vcpu);
	return 1;
}

/* INVD would drop dirty cache lines of host memory: do nothing instead. */
static int lkvm_exit_invd(struct lkvm_vcpu *vcpu)
{
	lkvm_stat_inc(vcpu, LKVM_STAT_OTHER_EXITS);
	lkvm_skip_insn(vcpu, LEN_INVD);
	return 1;
}

/* WBINVD would make every host CPU wait for a whole cache flush: skip it. */
static int lkvm_exit_wbinvd(struct lkvm_vcpu *vcpu)
{
	lkvm_stat_inc(vcpu, LKVM_STAT_OTHER_EXITS);
	lkvm_skip_insn(vcpu, LEN_WBINVD);
	return 1;
}

/* Legacy prefixes a MOV to or from a debug register may carry. */
static bool lkvm_is_legacy_prefix(u8 b)
{
	return b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e || b == 0x64 || b == 0x65 ||
	       b == 0x66 || b == 0x67;
}

#define DR6_WRITABLE	0xe00fULL	/* B0-B3, BD, BS, BT */
#define DR7_MBZ		(BIT_ULL(11) | BIT_ULL(12) | BIT_ULL(14) | BIT_ULL(15))

/*
 * MOV to or from a debug register. The guest's debug registers are
 * virtual: the CPU keeps the host's DR0-3 and runs the guest with DR7's
 * breakpoints off, so the guest can neither read the host's breakpoint
 * addresses nor arm breakpoints of its own. Without decode assists, the
 * general register comes from the instruction: [prefixes] [REX] 0F 21/23
 * ModRM, whose R/M field names it (register form only).
 */
static int lkvm_exit_dr(struct lkvm_vcpu *vcpu)
{
	u32 code = vcpu->vmcb->control.exit_code;
	bool write = code >= SVM_EXIT_WRITE_DR0;
	int dr = code & 0xf, mode = lkvm_code_mode(vcpu), reg, i = 0;
	u8 bytes[MAX_INSN_LEN], rex = 0;
	unsigned int avail;
	u64 val;

	lkvm_stat_inc(vcpu, LKVM_STAT_DR_ACCESS);
	avail = lkvm_fetch(vcpu, mode, bytes, sizeof(bytes));
	while (i < avail && lkvm_is_legacy_prefix(bytes[i]))
		i++;
	if (mode == 64 && i < avail && (bytes[i] & 0xf0) == 0x40)
		rex = bytes[i++];
	if (i + 3 > avail || bytes[i] != 0x0f || bytes[i + 1] != (write ? 0x23 : 0x21) ||
	    ((bytes[i + 2] >> 3) & 7) != dr)
		return lkvm_internal_error(vcpu, LKVM_INTERNAL_EMULATION);
	reg = (bytes[i + 2] & 7) | ((rex & 1) << 3);

	if (vcpu->vmcb->save.cpl) {
		lkvm_inject_gp(vcpu);
		return 1;
	}
	/* DR4 and DR5 are DR6 and DR7, unless CR4.DE makes them undefined. */
	if (dr == 4 || dr == 5) {
		if (vcpu->vmcb->save.cr4 & X86_CR4_DE) {
			lkvm_inject_ud(vcpu);
			return 1;
		}
		dr += 2;
	}
	if (write) {
		val = lkvm_gpr_read(vcpu, reg);
		if (mode != 64)
			val = (u32)val;
		if (dr >= 6 && (val >> 32 || (dr == 7 && (val & DR7_MBZ)))) {
			lkvm_inject_gp(vcpu);
			return 1;
		}
		if (dr < 4)
			vcpu->db[dr] = val;
		else if (dr == 6)
			vcpu->dr6 = (val & DR6_WRITABLE) | LKVM_DR6_INIT;
		else
			vcpu->dr7 = val | LKVM_DR7_INIT;
	} else {
		val = dr < 4 ? vcpu->db[dr] : dr == 6 ? vcpu->dr6 : vcpu->dr7;
		lkvm_gpr_write(vcpu, reg, mode == 64 ? val : (u32)val);
	}
	lkvm_skip_insn(vcpu, i + 3);
	return 1;
}

/* Hand an exception the guest raised back to it, now that it was an exit. */
static void lkvm_reflect_exception(struct lkvm_vcpu *vcpu, u8 vector, bool has_error, u32 error)
{
	struct vmcb_control_area *c = &vcpu->vmcb->control;

	lkvm_stat_inc(vcpu, LKVM_STAT_GUEST_EXCEPTIONS);
	c->event_inj = vector | SVM_EVTINJ_TYPE_EXEPT | SVM_EVTINJ_VALID |
		       (has_error ? SVM_EVTINJ_VALID_ERR : 0);
	c->event_inj_err = error;
}

/*
 * #DB: single steps and INT1 (the CPU's own breakpoints are never armed
 * for the guest). The status bits the CPU set go to the virtual DR6.
 */
static int lkvm_exit_db(struct lkvm_vcpu *vcpu)
{
	struct vmcb_save_area *save = &vcpu->vmcb->save;

	vcpu->dr6 |= save->dr6 & DR6_WRITABLE;
	save->dr6 = LKVM_DR6_INIT;
	lkvm_reflect_exception(vcpu, DB_VECTOR, false, 0);
	return 1;
}

static int lkvm_exit_ac(struct lkvm_vcpu *vcpu)
{
	lkvm_reflect_exception(vcpu, AC_VECTOR, true, 0);
	return 1;
}

/* The host's machine-check handler already ran, with IRQs off (run.c). */
static int lkvm_exit_mc(struct lkvm_vcpu *vcpu)
{
	lkvm_stat_inc(vcpu, LKVM_STAT_OTHER_EXITS);
	return 1;
}

static int (*const lkvm_exit_handlers[])(struct lkvm_vcpu *vcpu) = {
	[SVM_EXIT_READ_DR0 ... SVM_EXIT_READ_DR7]	= lkvm_exit_dr,
	[SVM_EXIT_WRITE_DR0 ... SVM_EXIT_WRITE_DR7]	= lkvm_exit_dr,
	[SVM_EXIT_EXCP_BASE + DB_VECTOR]	= lkvm_exit_db,
	[SVM_EXIT_EXCP_BASE + AC_VECTOR]	= lkvm_exit_ac,
	[SVM_EXIT_EXCP_BASE + MC_VECTOR]	= lkvm_exit_mc,
	[SVM_EXIT_WBINVD]	= lkvm_exit_wbinvd,
	[SVM_EXIT_INTR]		= lkvm_exit_intr,
	[SVM_EXIT_NMI]		= lkvm_exit_nmi,
	[SVM_EXIT_SMI]		= lkvm_exit_nothing,
	[SVM_EXIT_INIT]		= lkvm_exit_nothing,
	/* The next entry injects what the window was opened for. */
	[SVM_EXIT_VINTR]	= lkvm_exit_nothing,
	[SVM_EXIT_RDPMC]	= lkvm_exit_gp,
	[SVM_EXIT_CPUID]	= lkvm_exit_cpuid,
	[SVM_EXIT_INVD]		= lkvm_exit_invd,
	[SVM_EXIT_HLT]		= lkvm_exit_hlt,
	[SVM_EXIT_INVLPGA]	= lkvm_exit_ud,
	[SVM_EXIT_IOIO]		= lkvm_exit_ioio,
	[SVM_EXIT_MSR]		= lkvm_exit_msr,
	[SVM_EXIT_SHUTDOWN]	= lkvm_exit_shutdown,
	[SVM_EXIT_VMRUN]	= lkvm_exit_ud,
	[SVM_EXIT_VMMCALL]	= lkvm_exit_ud,
	[SVM_EXIT_VMLOAD]	= lkvm_exit_ud,
	[SVM_EXIT_VMSAVE]	= lkvm_exit_ud,
	[SVM_EXIT_STGI]		= lkvm_exit_ud,
	[SVM_EXIT_CLGI]		= lkvm_exit_ud,
	[SVM_EXIT_SKINIT]	= lkvm_exit_ud,
	[SVM_EXIT_RDTSCP]	= lkvm_exit_ud,
	[SVM_EXIT_MONITOR]	= lkvm_exit_ud,
	[SVM_EXIT_MWAIT]	= lkvm_exit_ud,
	[SVM_EXIT_MWAIT_COND]	= lkvm_exit_ud,
	[SVM_EXIT_XSETBV]	= lkvm_exit_xsetbv,
	[SVM_EXIT_RDPRU]	= lkvm_exit_ud,
	[SVM_EXIT_NPF]		= lkvm_exit_npf,
	[SVM_EXIT_WRITE_CR0]	= lkvm_exit_cr0_write,
};

int lkvm_handle_exit(struct lkvm_vcpu *vcpu)
{
	const struct vmcb_control_area *c = &vcpu->vmcb->control;
	struct lkvm_run *run = &vcpu->run;
	u32 code = c->exit_code;

	u64 rip = vcpu->vmcb->save.rip;
	int ret;

	if (code == SVM_EXIT_ERR) {
		lkvm_dump_vmcb(vcpu, "VMRUN refused the guest state");
		/*
		 * What the save area holds now is not the guest's: QEMU's
		 * #VMEXIT for a VMRUN refused before the guest state loaded
		 * stores the host's there. Neither LKVM_GET_SREGS nor the next
		 * VMRUN may see it: the vCPU is reset, as after a shutdown.
		 */
		lkvm_vcpu_reset(vcpu);
		rip = 0;
		ret = lkvm_internal_error(vcpu, LKVM_INTERNAL_VMRUN_FAILED);
	} else if (code < ARRAY_SIZE(lkvm_exit_handlers) && lkvm_exit_handlers[code]) {
		ret = lkvm_exit_handlers[code](vcpu);
	} else {
		lkvm_stat_inc(vcpu, LKVM_STAT_OTHER_EXITS);
		lkvm_dump_vmcb(vcpu, "no handler for this exit");
		ret = lkvm_internal_error(vcpu, LKVM_INTERNAL_UNHANDLED_EXIT);
	}
	/* What userspace sees, when this exit ends LKVM_RUN. */
	if (!ret) {
		/* All 64 bits: SVM_EXIT_ERR is -1. */
		run->exit_code = ((u64)c->exit_code_hi << 32) | code;
		run->exit_info1 = c->exit_info_1;
		run->exit_info2 = c->exit_info_2;
		run->rip = rip;
	}
	return ret;
}
