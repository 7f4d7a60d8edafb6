/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Decoding of the guest instructions that touch MMIO. Without decode assists
 * a nested page fault tells us only the guest physical address, so the
 * instruction at the guest RIP is decoded for its length, its direction, its
 * operand size and its register or immediate. The address itself comes from
 * the fault and is never computed here.
 *
 * Kept free of anything but <linux/types.h> and <linux/errno.h> so that the
 * selftests can build it in userspace.
 */
#ifndef LKVM_EMULATE_H
#define LKVM_EMULATE_H

#include <linux/types.h>

/* The longest an x86 instruction may be; a longer one raises #GP. */
#define LKVM_INSN_MAX_LEN	15

enum lkvm_insn_op {
	LKVM_INSN_LOAD = 1,	/* memory -> register */
	LKVM_INSN_STORE,	/* register or immediate -> memory */
};

enum lkvm_insn_ext {
	LKVM_EXT_NONE,
	LKVM_EXT_ZERO,		/* movzx */
	LKVM_EXT_SIGN,		/* movsx */
};

/**
 * struct lkvm_insn - a decoded MMIO access
 * @len: bytes the instruction takes, prefixes included
 * @op: enum lkvm_insn_op
 * @size: bytes of the memory operand: 1, 2, 4 or 8
 * @reg: the register operand in encoding order (rax = 0 .. rdi = 7, r8 .. r15)
 * @high8: the register operand is AH, CH, DH or BH; @reg is then 0..3
 * @has_imm: a store of @imm rather than of a register
 * @ext: loads: enum lkvm_insn_ext
 * @dst_size: loads: bytes of the destination register
 * @imm: stores with @has_imm: the immediate, sign-extended to @size as the CPU does
 */
struct lkvm_insn {
	u8 len;
	u8 op;
	u8 size;
	u8 reg;
	bool high8;
	bool has_imm;
	u8 ext;
	u8 dst_size;
	u64 imm;
};

/*
 * Decode the instruction in @bytes, of which @avail are valid, executed in a
 * code segment of @mode bits (16, 32, or 64 for long mode with CS.L set).
 * Returns 0 and fills @insn, -ENODATA if the instruction continues past
 * @avail bytes, or -EINVAL if it is not a memory access this decoder handles
 * (or is longer than LKVM_INSN_MAX_LEN). @insn is left alone on failure.
 */
int lkvm_decode(const u8 *bytes, unsigned int avail, int mode, struct lkvm_insn *insn);

/*
 * The destination register's new value after a load of @data (@size bytes,
 * zero-extended) into a register whose value was @old.
 */
u64 lkvm_insn_load_result(const struct lkvm_insn *insn, u64 old, u64 data);

/*
 * The @size bytes a store writes (zero-extended), given the current value
 * @regval of the source register; @regval is ignored for immediates.
 */
u64 lkvm_insn_store_value(const struct lkvm_insn *insn, u64 regval);

#endif /* LKVM_EMULATE_H */
