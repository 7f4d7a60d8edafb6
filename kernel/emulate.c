// SPDX-License-Identifier: GPL-2.0-only
/*
 * A decoder for the few instructions guests use to reach device registers:
 * the MOV forms between a general register or an immediate and memory, and
 * MOVZX/MOVSX loads. Anything else fails, and the caller reports it instead
 * of guessing.
 */
#include <linux/errno.h>
#include <linux/types.h>

#include "emulate.h"

#define REX_W	0x8
#define REX_R	0x4

/* The bytes of one instruction; reads fail rather than run past either limit. */
struct insn_cursor {
	const u8 *bytes;
	unsigned int avail;
	unsigned int pos;
};

/*
 * Make sure @n more bytes are there. Past LKVM_INSN_MAX_LEN the CPU would
 * have faulted, so no amount of further bytes could help: -EINVAL. Short of
 * that, running out of @avail only means the caller must fetch more.
 */
static int insn_need(const struct insn_cursor *c, unsigned int n)
{
	if (c->pos + n > LKVM_INSN_MAX_LEN)
		return -EINVAL;
	if (c->pos + n > c->avail)
		return -ENODATA;
	return 0;
}

static int insn_byte(struct insn_cursor *c, u8 *b)
{
	int ret = insn_need(c, 1);

	if (ret)
		return ret;
	*b = c->bytes[c->pos++];
	return 0;
}

static int insn_imm(struct insn_cursor *c, unsigned int n, u64 *val)
{
	int ret = insn_need(c, n);
	unsigned int i;

	if (ret)
		return ret;
	*val = 0;
	for (i = 0; i < n; i++)
		*val |= (u64)c->bytes[c->pos + i] << (8 * i);
	c->pos += n;
	return 0;
}

static int insn_skip(struct insn_cursor *c, unsigned int n)
{
	int ret = insn_need(c, n);

	if (!ret)
		c->pos += n;
	return ret;
}

/*
 * Step over ModRM and whatever addressing bytes it calls for. Only the length
 * matters: the address the guest touched is known from the fault. Returns the
 * ModRM reg field, or a negative error.
 */
static int insn_modrm(struct insn_cursor *c, unsigned int addr_size)
{
	unsigned int mod, rm, disp = 0;
	u8 modrm, sib;
	int ret;

	ret = insn_byte(c, &modrm);
	if (ret)
		return ret;
	mod = modrm >> 6;
	rm = modrm & 7;
	/* A register operand: whatever faulted, it was not this instruction's data access. */
	if (mod == 3)
		return -EINVAL;

	if (addr_size == 2) {
		if (mod == 1)
			disp = 1;
		else if (mod == 2 || rm == 6)
			disp = 2;
	} else {
		if (rm == 4) {
			ret = insn_byte(c, &sib);
			if (ret)
				return ret;
			/* No base register: a disp32 takes its place. */
			if (mod == 0 && (sib & 7) == 5)
				disp = 4;
		}
		if (mod == 1)
			disp = 1;
		else if (mod == 2 || rm == 5)
			disp = 4;
	}

	ret = insn_skip(c, disp);
	if (ret)
		return ret;
	return (modrm >> 3) & 7;
}

/*
 * The register a byte operation names. Without REX, 4..7 are the high bytes
 * of the first four registers; any REX, even an empty 0x40, makes them
 * SPL..DIL instead.
 */
static void insn_set_reg8(struct lkvm_insn *d, unsigned int reg, u8 rex)
{
	if (!rex && reg >= 4 && reg < 8) {
		d->reg = reg - 4;
		d->high8 = true;
	} else {
		d->reg = reg;
	}
}

struct insn_prefixes {
	bool opsize;
	bool addrsize;
	u8 rex;
};

/* Returns the opcode's first byte, the one past the prefixes, or a negative error. */
static int insn_prefixes(struct insn_cursor *c, int mode, struct insn_prefixes *p)
{
	int ret;
	u8 b;

	for (;;) {
		ret = insn_byte(c, &b);
		if (ret)
			return ret;
		/* Outside long mode these are INC and DEC, and so fail as opcodes. */
		if (mode == 64 && (b & 0xf0) == 0x40) {
			p->rex = b;
			continue;
		}
		switch (b) {
		case 0xf0:
		case 0xf2:
		case 0xf3:
			/*
			 * LOCK makes a MOV fault; REP and REPNE make other instructions
			 * of these opcodes or mark them XACQUIRE/XRELEASE. None of it
			 * is emulated.
			 */
			return -EINVAL;
		case 0x66:
			p->opsize = true;
			break;
		case 0x67:
			p->addrsize = true;
			break;
		case 0x26:
		case 0x2e:
		case 0x36:
		case 0x3e:
		case 0x64:
		case 0x65:
			break;
		default:
			return b;
		}
		/* A REX counts only right before the opcode; a legacy prefix after one voids it. */
		p->rex = 0;
	}
}

int lkvm_decode(const u8 *bytes, unsigned int avail, int mode, struct lkvm_insn *insn)
{
	struct insn_cursor c = { .bytes = bytes, .avail = avail };
	struct insn_prefixes p = {};
	unsigned int op_size, addr_size, reg_ext;
	struct lkvm_insn d = {};
	u64 val;
	int ret;
	u8 b;

	if (mode != 16 && mode != 32 && mode != 64)
		return -EINVAL;

	ret = insn_prefixes(&c, mode, &p);
	if (ret < 0)
		return ret;
	b = ret;

	if (mode == 64) {
		op_size = p.rex & REX_W ? 8 : p.opsize ? 2 : 4;
		addr_size = p.addrsize ? 4 : 8;
	} else if (mode == 32) {
		op_size = p.opsize ? 2 : 4;
		addr_size = p.addrsize ? 2 : 4;
	} else {
		op_size = p.opsize ? 4 : 2;
		addr_size = p.addrsize ? 4 : 2;
	}
	reg_ext = p.rex & REX_R ? 8 : 0;

	switch (b) {
	case 0x88:	/* mov r/m8, r8 */
	case 0x8a:	/* mov r8, r/m8 */
		ret = insn_modrm(&c, addr_size);
		if (ret < 0)
			return ret;
		d.op = b == 0x88 ? LKVM_INSN_STORE : LKVM_INSN_LOAD;
		d.size = 1;
		insn_set_reg8(&d, ret | reg_ext, p.rex);
		break;
	case 0x89:	/* mov r/m, r */
	case 0x8b:	/* mov r, r/m */
		ret = insn_modrm(&c, addr_size);
		if (ret < 0)
			return ret;
		d.op = b == 0x89 ? LKVM_INSN_STORE : LKVM_INSN_LOAD;
		d.size = op_size;
		d.reg = ret | reg_ext;
		break;
	case 0xc6:	/* mov r/m8, imm8 */
	case 0xc7:	/* mov r/m, imm16/imm32 */
		ret = insn_modrm(&c, addr_size);
		if (ret < 0)
			return ret;
		/* The reg field extends the opcode here; REX.R does not take part. */
		if (ret != 0)
			return -EINVAL;
		d.op = LKVM_INSN_STORE;
		d.has_imm = true;
		d.size = b == 0xc6 ? 1 : op_size;
		ret = insn_imm(&c, d.size == 8 ? 4 : d.size, &val);
		if (ret)
			return ret;
		/* A 64-bit store takes its immediate as 32 bits, sign-extended. */
		d.imm = d.size == 8 ? (u64)(s64)(s32)val : val;
		break;
	case 0xa0:	/* mov al, moffs8 */
	case 0xa1:	/* mov eax, moffs */
	case 0xa2:	/* mov moffs8, al */
	case 0xa3:	/* mov moffs, eax */
		ret = insn_skip(&c, addr_size);
		if (ret)
			return ret;
		d.op = b <= 0xa1 ? LKVM_INSN_LOAD : LKVM_INSN_STORE;
		d.size = b & 1 ? op_size : 1;
		break;
	case 0x0f:
		ret = insn_byte(&c, &b);
		if (ret)
			return ret;
		if (b != 0xb6 && b != 0xb7 && b != 0xbe && b != 0xbf)
			return -EINVAL;
		ret = insn_modrm(&c, addr_size);
		if (ret < 0)
			return ret;
		d.op = LKVM_INSN_LOAD;
		d.size = b & 1 ? 2 : 1;
		d.ext = b & 8 ? LKVM_EXT_SIGN : LKVM_EXT_ZERO;
		d.dst_size = op_size;
		d.reg = ret | reg_ext;
		break;
	default:
		return -EINVAL;
	}

	if (d.op == LKVM_INSN_LOAD && d.ext == LKVM_EXT_NONE)
		d.dst_size = d.size;
	d.len = c.pos;
	*insn = d;
	return 0;
}

/* MOVSX reads a byte or a word. */
static u64 insn_sext(u64 val, unsigned int size)
{
	return size == 1 ? (u64)(s64)(s8)val : (u64)(s64)(s16)val;
}

u64 lkvm_insn_load_result(const struct lkvm_insn *insn, u64 old, u64 data)
{
	u64 val = insn->ext == LKVM_EXT_SIGN ? insn_sext(data, insn->size) : data;

	/* Byte and word writes leave the rest of the register; dword writes clear the top half. */
	switch (insn->dst_size) {
	case 1:
		if (insn->high8)
			return (old & ~0xff00ULL) | (u8)val << 8;
		return (old & ~0xffULL) | (u8)val;
	case 2:
		return (old & ~0xffffULL) | (u16)val;
	case 4:
		return (u32)val;
	default:
		return val;
	}
}

u64 lkvm_insn_store_value(const struct lkvm_insn *insn, u64 regval)
{
	if (insn->has_imm)
		return insn->imm;
	if (insn->high8)
		return (u8)(regval >> 8);
	switch (insn->size) {
	case 1:
		return (u8)regval;
	case 2:
		return (u16)regval;
	case 4:
		return (u32)regval;
	default:
		return regval;
	}
}
