// SPDX-License-Identifier: GPL-2.0
/*
 * The MMIO instruction decoder, kernel/emulate.c, built into this program
 * and run in userspace: no module or VM needed.
 *
 * The encodings were produced by GNU as from the instruction each case is
 * named after (.code64, .code32 or .code16 as its mode says) and read back
 * with objdump. The decode tests place their bytes right before an
 * inaccessible page, so reading one byte past what the decoder was given
 * kills the test.
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "../kernel/emulate.h"

struct decode_case {
	int mode;
	const char *name;
	struct lkvm_insn want;
	unsigned int n;
	u8 bytes[LKVM_INSN_MAX_LEN + 1];
};

#define T(m, nm, w, ...) { .mode = m, .name = nm, .want = w, .bytes = { __VA_ARGS__ }, \
			   .n = sizeof((u8[]){ __VA_ARGS__ }) }

#define LOAD(l, sz, r) \
	{ .len = l, .op = LKVM_INSN_LOAD, .size = sz, .reg = r, .dst_size = sz }
#define LOAD_HIGH8(l, r) \
	{ .len = l, .op = LKVM_INSN_LOAD, .size = 1, .reg = r, .high8 = true, .dst_size = 1 }
#define MOVZX(l, sz, r, dst) \
	{ .len = l, .op = LKVM_INSN_LOAD, .size = sz, .reg = r, .ext = LKVM_EXT_ZERO, \
	  .dst_size = dst }
#define MOVSX(l, sz, r, dst) \
	{ .len = l, .op = LKVM_INSN_LOAD, .size = sz, .reg = r, .ext = LKVM_EXT_SIGN, \
	  .dst_size = dst }
#define STORE(l, sz, r) \
	{ .len = l, .op = LKVM_INSN_STORE, .size = sz, .reg = r }
#define STORE_HIGH8(l, r) \
	{ .len = l, .op = LKVM_INSN_STORE, .size = 1, .reg = r, .high8 = true }
#define STORE_IMM(l, sz, i) \
	{ .len = l, .op = LKVM_INSN_STORE, .size = sz, .has_imm = true, .imm = i }

#define MOFFS64	0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11
#define MOFFS32	0x44, 0x33, 0x22, 0x11
#define MOFFS16	0x34, 0x12

static const struct decode_case decode64[] = {
	/* 88/8A: byte registers, and what REX does to 4..7 */
	T(64, "mov BYTE PTR [rax],cl", STORE(2, 1, 1), 0x88, 0x08),
	T(64, "mov BYTE PTR [rax],ah", STORE_HIGH8(2, 0), 0x88, 0x20),
	T(64, "mov BYTE PTR [rax],dh", STORE_HIGH8(2, 2), 0x88, 0x30),
	T(64, "mov BYTE PTR [rax],spl", STORE(3, 1, 4), 0x40, 0x88, 0x20),
	T(64, "mov BYTE PTR [rax],sil", STORE(3, 1, 6), 0x40, 0x88, 0x30),
	T(64, "mov BYTE PTR [rax],r12b", STORE(3, 1, 12), 0x44, 0x88, 0x20),
	T(64, "mov BYTE PTR [r8],bl", STORE(3, 1, 3), 0x41, 0x88, 0x18),
	T(64, "mov BYTE PTR [rsp],al", STORE(3, 1, 0), 0x88, 0x04, 0x24),
	T(64, "mov cl,BYTE PTR [rax]", LOAD(2, 1, 1), 0x8a, 0x08),
	T(64, "mov ah,BYTE PTR [rax]", LOAD_HIGH8(2, 0), 0x8a, 0x20),
	T(64, "mov bh,BYTE PTR [rbx]", LOAD_HIGH8(2, 3), 0x8a, 0x3b),
	T(64, "mov spl,BYTE PTR [rax]", LOAD(3, 1, 4), 0x40, 0x8a, 0x20),
	T(64, "mov dil,BYTE PTR [rbx]", LOAD(3, 1, 7), 0x40, 0x8a, 0x3b),
	T(64, "mov r11b,BYTE PTR [rbx]", LOAD(3, 1, 11), 0x44, 0x8a, 0x1b),
	/* 89/8B: each operand size, REX.R and REX.W */
	T(64, "mov WORD PTR [rax],cx", STORE(3, 2, 1), 0x66, 0x89, 0x08),
	T(64, "mov DWORD PTR [rax],edx", STORE(2, 4, 2), 0x89, 0x10),
	T(64, "mov QWORD PTR [rax],rbx", STORE(3, 8, 3), 0x48, 0x89, 0x18),
	T(64, "mov QWORD PTR [rax],r15", STORE(3, 8, 15), 0x4c, 0x89, 0x38),
	T(64, "mov DWORD PTR [rax],r9d", STORE(3, 4, 9), 0x44, 0x89, 0x08),
	T(64, "mov WORD PTR [rax],r10w", STORE(4, 2, 10), 0x66, 0x44, 0x89, 0x10),
	T(64, "mov QWORD PTR [rbp+0x1000],r8", STORE(7, 8, 8),
	  0x4c, 0x89, 0x85, 0x00, 0x10, 0x00, 0x00),
	T(64, "mov ax,WORD PTR [rsi]", LOAD(3, 2, 0), 0x66, 0x8b, 0x06),
	T(64, "mov eax,DWORD PTR [rsi]", LOAD(2, 4, 0), 0x8b, 0x06),
	T(64, "mov rax,QWORD PTR [rsi]", LOAD(3, 8, 0), 0x48, 0x8b, 0x06),
	T(64, "mov r14,QWORD PTR [rsi]", LOAD(3, 8, 14), 0x4c, 0x8b, 0x36),
	T(64, "mov r13d,DWORD PTR [rsi]", LOAD(3, 4, 13), 0x44, 0x8b, 0x2e),
	T(64, "mov r15,QWORD PTR [r12+r12*1]", LOAD(4, 8, 15), 0x4f, 0x8b, 0x3c, 0x24),
	/* ModRM and SIB forms */
	T(64, "mov eax,DWORD PTR [rip+0x1000]", LOAD(6, 4, 0), 0x8b, 0x05, 0x00, 0x10, 0x00, 0x00),
	T(64, "mov eax,DWORD PTR [rsp]", LOAD(3, 4, 0), 0x8b, 0x04, 0x24),
	T(64, "mov eax,DWORD PTR [rsp+0x8]", LOAD(4, 4, 0), 0x8b, 0x44, 0x24, 0x08),
	T(64, "mov eax,DWORD PTR [rsp+0x12345678]", LOAD(7, 4, 0),
	  0x8b, 0x84, 0x24, 0x78, 0x56, 0x34, 0x12),
	T(64, "mov eax,DWORD PTR [rax+rcx*4]", LOAD(3, 4, 0), 0x8b, 0x04, 0x88),
	T(64, "mov eax,DWORD PTR [rax+rcx*4+0x10]", LOAD(4, 4, 0), 0x8b, 0x44, 0x88, 0x10),
	T(64, "mov eax,DWORD PTR [rax+rcx*4+0x1000]", LOAD(7, 4, 0),
	  0x8b, 0x84, 0x88, 0x00, 0x10, 0x00, 0x00),
	T(64, "mov eax,DWORD PTR [rcx*8+0x1000]", LOAD(7, 4, 0),
	  0x8b, 0x04, 0xcd, 0x00, 0x10, 0x00, 0x00),
	T(64, "mov eax,DWORD PTR [rbp+0x0]", LOAD(3, 4, 0), 0x8b, 0x45, 0x00),
	T(64, "mov eax,DWORD PTR [r13+0x0]", LOAD(4, 4, 0), 0x41, 0x8b, 0x45, 0x00),
	T(64, "mov rbx,QWORD PTR [r13+rax*1+0x0]", LOAD(5, 8, 3), 0x49, 0x8b, 0x5c, 0x05, 0x00),
	T(64, "mov eax,DWORD PTR [r12]", LOAD(4, 4, 0), 0x41, 0x8b, 0x04, 0x24),
	T(64, "mov eax,DWORD PTR [r12+0x100]", LOAD(8, 4, 0),
	  0x41, 0x8b, 0x84, 0x24, 0x00, 0x01, 0x00, 0x00),
	T(64, "mov eax,DWORD PTR [rax+0x100]", LOAD(6, 4, 0), 0x8b, 0x80, 0x00, 0x01, 0x00, 0x00),
	T(64, "mov eax,DWORD PTR [r8+r9*2+0x7f]", LOAD(5, 4, 0), 0x43, 0x8b, 0x44, 0x48, 0x7f),
	T(64, "mov rax,QWORD PTR gs:0x10", LOAD(9, 8, 0),
	  0x65, 0x48, 0x8b, 0x04, 0x25, 0x10, 0x00, 0x00, 0x00),
	/* 0x67: 32-bit addressing */
	T(64, "mov eax,DWORD PTR [eax]", LOAD(3, 4, 0), 0x67, 0x8b, 0x00),
	T(64, "mov eax,DWORD PTR [eip+0x10]", LOAD(7, 4, 0),
	  0x67, 0x8b, 0x05, 0x10, 0x00, 0x00, 0x00),
	T(64, "mov eax,DWORD PTR [esp]", LOAD(4, 4, 0), 0x67, 0x8b, 0x04, 0x24),
	T(64, "mov eax,DWORD PTR ds:0x11223344 (SIB, no base)", LOAD(8, 4, 0),
	  0x67, 0x8b, 0x04, 0x25, 0x44, 0x33, 0x22, 0x11),
	T(64, "mov ax,WORD PTR [eax]", LOAD(4, 2, 0), 0x67, 0x66, 0x8b, 0x00),
	/* C6/C7 */
	T(64, "mov BYTE PTR [rax],0x5a", STORE_IMM(3, 1, 0x5a), 0xc6, 0x00, 0x5a),
	T(64, "mov BYTE PTR [rax],0xff", STORE_IMM(3, 1, 0xff), 0xc6, 0x00, 0xff),
	T(64, "mov BYTE PTR [r8+0x10],0xff", STORE_IMM(5, 1, 0xff), 0x41, 0xc6, 0x40, 0x10, 0xff),
	T(64, "rex.R mov BYTE PTR [rax],0x5a", STORE_IMM(4, 1, 0x5a), 0x44, 0xc6, 0x00, 0x5a),
	T(64, "mov WORD PTR [rax],0x1234", STORE_IMM(5, 2, 0x1234), 0x66, 0xc7, 0x00, 0x34, 0x12),
	T(64, "mov WORD PTR [rax],0xffff", STORE_IMM(5, 2, 0xffff), 0x66, 0xc7, 0x00, 0xff, 0xff),
	T(64, "mov DWORD PTR [rax],0x12345678", STORE_IMM(6, 4, 0x12345678),
	  0xc7, 0x00, 0x78, 0x56, 0x34, 0x12),
	T(64, "mov DWORD PTR [rax],0x87654321", STORE_IMM(6, 4, 0x87654321),
	  0xc7, 0x00, 0x21, 0x43, 0x65, 0x87),
	T(64, "mov DWORD PTR [rcx+0x10],0x0", STORE_IMM(7, 4, 0),
	  0xc7, 0x41, 0x10, 0x00, 0x00, 0x00, 0x00),
	T(64, "mov QWORD PTR [rax],0x12345678", STORE_IMM(7, 8, 0x12345678),
	  0x48, 0xc7, 0x00, 0x78, 0x56, 0x34, 0x12),
	T(64, "mov QWORD PTR [rax],0x7fffffff", STORE_IMM(7, 8, 0x7fffffff),
	  0x48, 0xc7, 0x00, 0xff, 0xff, 0xff, 0x7f),
	T(64, "mov QWORD PTR [rax],0xfffffffffffffffe", STORE_IMM(7, 8, 0xfffffffffffffffe),
	  0x48, 0xc7, 0x00, 0xfe, 0xff, 0xff, 0xff),
	T(64, "data16 mov QWORD PTR [rax],0xfffffffffffffffe", STORE_IMM(8, 8, 0xfffffffffffffffe),
	  0x66, 0x48, 0xc7, 0x00, 0xfe, 0xff, 0xff, 0xff),
	T(64, "mov QWORD PTR [rip+0x100],0xffffffff80000000", STORE_IMM(11, 8, 0xffffffff80000000),
	  0x48, 0xc7, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80),
	T(64, "mov DWORD PTR [rsp+rax*2+0x44332211],0x88776655", STORE_IMM(11, 4, 0x88776655),
	  0xc7, 0x84, 0x44, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88),
	/* A0-A3: 8-byte moffs, 4-byte with 0x67 */
	T(64, "movabs al,ds:0x1122334455667788", LOAD(9, 1, 0), 0xa0, MOFFS64),
	T(64, "movabs eax,ds:0x1122334455667788", LOAD(9, 4, 0), 0xa1, MOFFS64),
	T(64, "movabs ax,ds:0x1122334455667788", LOAD(10, 2, 0), 0x66, 0xa1, MOFFS64),
	T(64, "movabs rax,ds:0x1122334455667788", LOAD(10, 8, 0), 0x48, 0xa1, MOFFS64),
	T(64, "rex.W movabs al,ds:0x1122334455667788", LOAD(10, 1, 0), 0x48, 0xa0, MOFFS64),
	T(64, "movabs ds:0x1122334455667788,al", STORE(9, 1, 0), 0xa2, MOFFS64),
	T(64, "movabs ds:0x1122334455667788,eax", STORE(9, 4, 0), 0xa3, MOFFS64),
	T(64, "movabs ds:0x1122334455667788,rax", STORE(10, 8, 0), 0x48, 0xa3, MOFFS64),
	T(64, "addr32 mov al,ds:0x11223344", LOAD(6, 1, 0), 0x67, 0xa0, MOFFS32),
	T(64, "addr32 mov eax,ds:0x11223344", LOAD(6, 4, 0), 0x67, 0xa1, MOFFS32),
	T(64, "addr32 mov rax,ds:0x11223344", LOAD(7, 8, 0), 0x67, 0x48, 0xa1, MOFFS32),
	T(64, "addr32 mov ds:0x11223344,eax", STORE(6, 4, 0), 0x67, 0xa3, MOFFS32),
	/* 0F B6/B7/BE/BF */
	T(64, "movzx eax,BYTE PTR [rax]", MOVZX(3, 1, 0, 4), 0x0f, 0xb6, 0x00),
	T(64, "movzx eax,WORD PTR [rax]", MOVZX(3, 2, 0, 4), 0x0f, 0xb7, 0x00),
	T(64, "movzx ax,BYTE PTR [rax]", MOVZX(4, 1, 0, 2), 0x66, 0x0f, 0xb6, 0x00),
	T(64, "movzx rax,BYTE PTR [rax]", MOVZX(4, 1, 0, 8), 0x48, 0x0f, 0xb6, 0x00),
	T(64, "movzx r9,WORD PTR [rax]", MOVZX(4, 2, 9, 8), 0x4c, 0x0f, 0xb7, 0x08),
	T(64, "movzx r10d,BYTE PTR [rip+0x20]", MOVZX(8, 1, 10, 4),
	  0x44, 0x0f, 0xb6, 0x15, 0x20, 0x00, 0x00, 0x00),
	T(64, "movsx eax,BYTE PTR [rax]", MOVSX(3, 1, 0, 4), 0x0f, 0xbe, 0x00),
	T(64, "movsx eax,WORD PTR [rax]", MOVSX(3, 2, 0, 4), 0x0f, 0xbf, 0x00),
	T(64, "movsx cx,BYTE PTR [rdx]", MOVSX(4, 1, 1, 2), 0x66, 0x0f, 0xbe, 0x0a),
	T(64, "movsx rdx,BYTE PTR [rax]", MOVSX(4, 1, 2, 8), 0x48, 0x0f, 0xbe, 0x10),
	T(64, "movsx r15,WORD PTR [rax+rbx*8+0x40]", MOVSX(6, 2, 15, 8),
	  0x4c, 0x0f, 0xbf, 0x7c, 0xd8, 0x40),
	T(64, "movsx r8w,BYTE PTR [rax]", MOVSX(5, 1, 8, 2), 0x66, 0x44, 0x0f, 0xbe, 0x00),
	/* Prefix order: a REX counts only right before the opcode; the last one wins */
	T(64, "mov eax,DWORD PTR fs:[rax]", LOAD(3, 4, 0), 0x64, 0x8b, 0x00),
	T(64, "rex.W; mov ax,WORD PTR [rax]", LOAD(4, 2, 0), 0x48, 0x66, 0x8b, 0x00),
	T(64, "data16 mov rax,QWORD PTR [rax]", LOAD(4, 8, 0), 0x66, 0x48, 0x8b, 0x00),
	T(64, "rex; data16 mov BYTE PTR [rax],dh", STORE_HIGH8(4, 2), 0x40, 0x66, 0x88, 0x30),
	T(64, "rex.R; mov eax,DWORD PTR gs:[rax]", LOAD(4, 4, 0), 0x44, 0x65, 0x8b, 0x00),
	T(64, "rex.WR; mov WORD PTR [rax],r9w", STORE(5, 2, 9), 0x4c, 0x66, 0x44, 0x89, 0x08),
	T(64, "rex.B; mov rax,QWORD PTR [rax]", LOAD(4, 8, 0), 0x41, 0x48, 0x8b, 0x00),
	T(64, "rex.W; mov eax,DWORD PTR [r8]", LOAD(4, 4, 0), 0x48, 0x41, 0x8b, 0x00),
	T(64, "repeated prefixes; mov ax,WORD PTR [eax]", LOAD(12, 2, 0),
	  0x66, 0x66, 0x67, 0x67, 0x2e, 0x3e, 0x26, 0x36, 0x64, 0x65, 0x8b, 0x00),
	T(64, "13 prefixes; mov ax,WORD PTR [eax] (15 bytes)", LOAD(15, 2, 0),
	  0x66, 0x67, 0x2e, 0x3e, 0x26, 0x36, 0x64, 0x65, 0x66, 0x67, 0x2e, 0x3e, 0x26,
	  0x8b, 0x00),
};

static const struct decode_case decode32[] = {
	T(32, "mov BYTE PTR [eax],cl", STORE(2, 1, 1), 0x88, 0x08),
	T(32, "mov BYTE PTR [eax],ah", STORE_HIGH8(2, 0), 0x88, 0x20),
	T(32, "mov BYTE PTR [ebx],bh", STORE_HIGH8(2, 3), 0x88, 0x3b),
	T(32, "mov BYTE PTR [edi],bl", STORE(2, 1, 3), 0x88, 0x1f),
	T(32, "mov WORD PTR [eax],dx", STORE(3, 2, 2), 0x66, 0x89, 0x10),
	T(32, "mov DWORD PTR [eax],esi", STORE(2, 4, 6), 0x89, 0x30),
	T(32, "mov al,BYTE PTR [ecx]", LOAD(2, 1, 0), 0x8a, 0x01),
	T(32, "mov ch,BYTE PTR [ecx]", LOAD_HIGH8(2, 1), 0x8a, 0x29),
	T(32, "mov di,WORD PTR [ecx]", LOAD(3, 2, 7), 0x66, 0x8b, 0x39),
	T(32, "mov edi,DWORD PTR [ecx]", LOAD(2, 4, 7), 0x8b, 0x39),
	T(32, "mov ebx,DWORD PTR ds:0x12345678", LOAD(6, 4, 3), 0x8b, 0x1d, 0x78, 0x56, 0x34, 0x12),
	T(32, "mov eax,DWORD PTR [esp]", LOAD(3, 4, 0), 0x8b, 0x04, 0x24),
	T(32, "mov eax,DWORD PTR [esp+0x4]", LOAD(4, 4, 0), 0x8b, 0x44, 0x24, 0x04),
	T(32, "mov eax,DWORD PTR [ebp-0x4]", LOAD(3, 4, 0), 0x8b, 0x45, 0xfc),
	T(32, "mov eax,DWORD PTR [ebp+0x1000]", LOAD(6, 4, 0), 0x8b, 0x85, 0x00, 0x10, 0x00, 0x00),
	T(32, "mov eax,DWORD PTR [ebx+esi*4+0x1000]", LOAD(7, 4, 0),
	  0x8b, 0x84, 0xb3, 0x00, 0x10, 0x00, 0x00),
	T(32, "mov eax,DWORD PTR [esi*2+0x1000]", LOAD(7, 4, 0),
	  0x8b, 0x04, 0x75, 0x00, 0x10, 0x00, 0x00),
	T(32, "mov ebx,DWORD PTR [ebp+esi*2+0x0]", LOAD(4, 4, 3), 0x8b, 0x5c, 0x75, 0x00),
	T(32, "mov eax,DWORD PTR [ebp+esi*2+0x8]", LOAD(4, 4, 0), 0x8b, 0x44, 0x75, 0x08),
	T(32, "mov eax,DWORD PTR [ebp+esi*2+0x1000]", LOAD(7, 4, 0),
	  0x8b, 0x84, 0x75, 0x00, 0x10, 0x00, 0x00),
	/* 0x67: 16-bit addressing, where rm 4 is [si] and no SIB follows */
	T(32, "mov eax,DWORD PTR [bx+si]", LOAD(3, 4, 0), 0x67, 0x8b, 0x00),
	T(32, "mov eax,DWORD PTR [si]", LOAD(3, 4, 0), 0x67, 0x8b, 0x04),
	T(32, "mov eax,DWORD PTR [bx+0x10]", LOAD(4, 4, 0), 0x67, 0x8b, 0x47, 0x10),
	T(32, "mov eax,DWORD PTR ds:0x1234", LOAD(5, 4, 0), 0x67, 0x8b, 0x06, 0x34, 0x12),
	T(32, "mov ax,WORD PTR [bp+di+0x1234]", LOAD(6, 2, 0), 0x67, 0x66, 0x8b, 0x83, 0x34, 0x12),
	T(32, "mov BYTE PTR [eax],0x80", STORE_IMM(3, 1, 0x80), 0xc6, 0x00, 0x80),
	T(32, "mov WORD PTR [eax],0xbeef", STORE_IMM(5, 2, 0xbeef), 0x66, 0xc7, 0x00, 0xef, 0xbe),
	T(32, "mov DWORD PTR [eax],0xdeadbeef", STORE_IMM(6, 4, 0xdeadbeef),
	  0xc7, 0x00, 0xef, 0xbe, 0xad, 0xde),
	T(32, "mov DWORD PTR [ebx],0x12345678", STORE_IMM(6, 4, 0x12345678),
	  0xc7, 0x03, 0x78, 0x56, 0x34, 0x12),
	T(32, "mov DWORD PTR [esp+eax*8+0x11223344],0x55667788", STORE_IMM(11, 4, 0x55667788),
	  0xc7, 0x84, 0xc4, 0x44, 0x33, 0x22, 0x11, 0x88, 0x77, 0x66, 0x55),
	T(32, "mov WORD PTR [bx+si+0x1234],0x5678", STORE_IMM(8, 2, 0x5678),
	  0x67, 0x66, 0xc7, 0x80, 0x34, 0x12, 0x78, 0x56),
	T(32, "es cs ss ds mov DWORD PTR [esp+0x11223344],0x88776655 (15 bytes)",
	  STORE_IMM(15, 4, 0x88776655),
	  0x26, 0x2e, 0x36, 0x3e, 0xc7, 0x84, 0x24, 0x44, 0x33, 0x22, 0x11, 0x55, 0x66, 0x77, 0x88),
	T(32, "mov al,ds:0x11223344", LOAD(5, 1, 0), 0xa0, MOFFS32),
	T(32, "mov eax,ds:0x11223344", LOAD(5, 4, 0), 0xa1, MOFFS32),
	T(32, "mov ax,ds:0x11223344", LOAD(6, 2, 0), 0x66, 0xa1, MOFFS32),
	T(32, "mov ds:0x11223344,al", STORE(5, 1, 0), 0xa2, MOFFS32),
	T(32, "mov ds:0x11223344,eax", STORE(5, 4, 0), 0xa3, MOFFS32),
	T(32, "mov ds:0x11223344,ax", STORE(6, 2, 0), 0x66, 0xa3, MOFFS32),
	T(32, "addr16 mov eax,ds:0x1234", LOAD(4, 4, 0), 0x67, 0xa1, MOFFS16),
	T(32, "addr16 mov ds:0x1234,al", STORE(4, 1, 0), 0x67, 0xa2, MOFFS16),
	T(32, "movzx eax,BYTE PTR [eax]", MOVZX(3, 1, 0, 4), 0x0f, 0xb6, 0x00),
	T(32, "movzx eax,WORD PTR [eax]", MOVZX(3, 2, 0, 4), 0x0f, 0xb7, 0x00),
	T(32, "movzx ax,BYTE PTR [eax]", MOVZX(4, 1, 0, 2), 0x66, 0x0f, 0xb6, 0x00),
	T(32, "movzx ax,WORD PTR [eax]", MOVZX(4, 2, 0, 2), 0x66, 0x0f, 0xb7, 0x00),
	T(32, "movsx ebx,BYTE PTR [eax]", MOVSX(3, 1, 3, 4), 0x0f, 0xbe, 0x18),
	T(32, "movsx ebx,WORD PTR [eax+0x4]", MOVSX(4, 2, 3, 4), 0x0f, 0xbf, 0x58, 0x04),
	T(32, "movsx bx,BYTE PTR [si]", MOVSX(5, 1, 3, 2), 0x67, 0x66, 0x0f, 0xbe, 0x1c),
	T(32, "mov eax,DWORD PTR es:[eax]", LOAD(3, 4, 0), 0x26, 0x8b, 0x00),
	T(32, "mov eax,DWORD PTR cs:[eax]", LOAD(3, 4, 0), 0x2e, 0x8b, 0x00),
	T(32, "mov eax,DWORD PTR ss:[eax]", LOAD(3, 4, 0), 0x36, 0x8b, 0x00),
};

static const struct decode_case decode16[] = {
	T(16, "mov BYTE PTR [bx],al", STORE(2, 1, 0), 0x88, 0x07),
	T(16, "mov BYTE PTR [bx],bh", STORE_HIGH8(2, 3), 0x88, 0x3f),
	T(16, "mov WORD PTR [bx],cx", STORE(2, 2, 1), 0x89, 0x0f),
	T(16, "mov DWORD PTR [bx],ecx", STORE(3, 4, 1), 0x66, 0x89, 0x0f),
	T(16, "mov dl,BYTE PTR [si]", LOAD(2, 1, 2), 0x8a, 0x14),
	T(16, "mov dh,BYTE PTR [si]", LOAD_HIGH8(2, 2), 0x8a, 0x34),
	T(16, "mov ax,WORD PTR [si]", LOAD(2, 2, 0), 0x8b, 0x04),
	T(16, "mov eax,DWORD PTR [si]", LOAD(3, 4, 0), 0x66, 0x8b, 0x04),
	T(16, "mov bx,WORD PTR [di]", LOAD(2, 2, 3), 0x8b, 0x1d),
	T(16, "mov ax,WORD PTR [bx+di]", LOAD(2, 2, 0), 0x8b, 0x01),
	T(16, "mov bx,WORD PTR ds:0x1234", LOAD(4, 2, 3), 0x8b, 0x1e, 0x34, 0x12),
	T(16, "mov ax,WORD PTR [bp+0x0]", LOAD(3, 2, 0), 0x8b, 0x46, 0x00),
	T(16, "mov ax,WORD PTR [bp+0x10]", LOAD(3, 2, 0), 0x8b, 0x46, 0x10),
	T(16, "mov ax,WORD PTR [bx+si+0x1234]", LOAD(4, 2, 0), 0x8b, 0x80, 0x34, 0x12),
	T(16, "mov ax,WORD PTR es:[di]", LOAD(3, 2, 0), 0x26, 0x8b, 0x05),
	/* 0x67: 32-bit addressing, SIB included */
	T(16, "mov ax,WORD PTR [eax]", LOAD(3, 2, 0), 0x67, 0x8b, 0x00),
	T(16, "mov ax,WORD PTR [esp]", LOAD(4, 2, 0), 0x67, 0x8b, 0x04, 0x24),
	T(16, "mov ax,WORD PTR [eax+ecx*4+0x12345678]", LOAD(8, 2, 0),
	  0x67, 0x8b, 0x84, 0x88, 0x78, 0x56, 0x34, 0x12),
	T(16, "mov bx,WORD PTR ds:0x12345678", LOAD(7, 2, 3),
	  0x67, 0x8b, 0x1d, 0x78, 0x56, 0x34, 0x12),
	T(16, "mov BYTE PTR [bx],0x7f", STORE_IMM(3, 1, 0x7f), 0xc6, 0x07, 0x7f),
	T(16, "mov BYTE PTR [bp+si-0x2],0x55", STORE_IMM(4, 1, 0x55), 0xc6, 0x42, 0xfe, 0x55),
	T(16, "mov WORD PTR [bx],0x8000", STORE_IMM(4, 2, 0x8000), 0xc7, 0x07, 0x00, 0x80),
	T(16, "mov WORD PTR [bx+0x10],0x1234", STORE_IMM(5, 2, 0x1234),
	  0xc7, 0x47, 0x10, 0x34, 0x12),
	T(16, "mov DWORD PTR [bx],0x80000000", STORE_IMM(7, 4, 0x80000000),
	  0x66, 0xc7, 0x07, 0x00, 0x00, 0x00, 0x80),
	T(16, "mov DWORD PTR [bx+0x1234],0x12345678", STORE_IMM(9, 4, 0x12345678),
	  0x66, 0xc7, 0x87, 0x34, 0x12, 0x78, 0x56, 0x34, 0x12),
	T(16, "mov DWORD PTR [ebx+0x11223344],0x55667788", STORE_IMM(12, 4, 0x55667788),
	  0x67, 0x66, 0xc7, 0x83, 0x44, 0x33, 0x22, 0x11, 0x88, 0x77, 0x66, 0x55),
	T(16, "mov al,ds:0x1234", LOAD(3, 1, 0), 0xa0, MOFFS16),
	T(16, "mov ax,ds:0x1234", LOAD(3, 2, 0), 0xa1, MOFFS16),
	T(16, "mov eax,ds:0x1234", LOAD(4, 4, 0), 0x66, 0xa1, MOFFS16),
	T(16, "mov ds:0x1234,al", STORE(3, 1, 0), 0xa2, MOFFS16),
	T(16, "mov ds:0x1234,ax", STORE(3, 2, 0), 0xa3, MOFFS16),
	T(16, "mov ds:0x1234,eax", STORE(4, 4, 0), 0x66, 0xa3, MOFFS16),
	T(16, "addr32 mov ax,ds:0x11223344", LOAD(6, 2, 0), 0x67, 0xa1, MOFFS32),
	T(16, "addr32 mov ds:0x11223344,eax", STORE(7, 4, 0), 0x67, 0x66, 0xa3, MOFFS32),
	T(16, "movzx ax,BYTE PTR [bx]", MOVZX(3, 1, 0, 2), 0x0f, 0xb6, 0x07),
	T(16, "movzx eax,BYTE PTR [bx]", MOVZX(4, 1, 0, 4), 0x66, 0x0f, 0xb6, 0x07),
	T(16, "movzx eax,WORD PTR [bx]", MOVZX(4, 2, 0, 4), 0x66, 0x0f, 0xb7, 0x07),
	T(16, "movsx ax,BYTE PTR [bx]", MOVSX(3, 1, 0, 2), 0x0f, 0xbe, 0x07),
	T(16, "movsx eax,WORD PTR [bx+0x12]", MOVSX(5, 2, 0, 4), 0x66, 0x0f, 0xbf, 0x47, 0x12),
};

struct reject_case {
	int mode;
	const char *name;
	int err;
	unsigned int n;
	u8 bytes[LKVM_INSN_MAX_LEN + 1];
};

#define R(m, nm, e, ...) { .mode = m, .name = nm, .err = e, .bytes = { __VA_ARGS__ }, \
			   .n = sizeof((u8[]){ __VA_ARGS__ }) }

static const struct reject_case rejects[] = {
	R(64, "lock mov DWORD PTR [rax],ecx", -EINVAL, 0xf0, 0x89, 0x08),
	R(64, "data16 lock mov WORD PTR [rax],cx", -EINVAL, 0x66, 0xf0, 0x89, 0x08),
	R(32, "lock mov DWORD PTR [eax],ecx", -EINVAL, 0xf0, 0x89, 0x08),
	R(64, "repz mov DWORD PTR [rax],ecx", -EINVAL, 0xf3, 0x89, 0x08),
	R(64, "repnz mov DWORD PTR [rax],ecx", -EINVAL, 0xf2, 0x89, 0x08),
	R(16, "repz mov WORD PTR [bx],cx", -EINVAL, 0xf3, 0x89, 0x0f),
	R(64, "rep movs BYTE PTR es:[rdi],BYTE PTR ds:[rsi]", -EINVAL, 0xf3, 0xa4),
	R(64, "xrelease mov DWORD PTR [rax],0x1", -EINVAL,
	  0xf3, 0xc7, 0x00, 0x01, 0x00, 0x00, 0x00),
	/* mod 3: a register operand */
	R(64, "mov eax,ecx (89)", -EINVAL, 0x89, 0xc8),
	R(64, "mov eax,ecx (8b)", -EINVAL, 0x8b, 0xc1),
	R(64, "mov ah,al", -EINVAL, 0x88, 0xc4),
	R(64, "mov cl,al", -EINVAL, 0x8a, 0xc8),
	R(64, "mov al,0x5", -EINVAL, 0xc6, 0xc0, 0x05),
	R(64, "mov eax,0x1", -EINVAL, 0xc7, 0xc0, 0x01, 0x00, 0x00, 0x00),
	R(64, "movzx eax,al", -EINVAL, 0x0f, 0xb6, 0xc0),
	R(64, "movsx eax,cx", -EINVAL, 0x0f, 0xbf, 0xc1),
	R(32, "mov eax,eax", -EINVAL, 0x89, 0xc0),
	R(16, "mov ax,cx", -EINVAL, 0x8b, 0xc1),
	/* other opcodes */
	R(64, "add DWORD PTR [rax],ecx", -EINVAL, 0x01, 0x08),
	R(64, "mov WORD PTR [rax],ds", -EINVAL, 0x8c, 0x18),
	R(64, "mov ds,WORD PTR [rax]", -EINVAL, 0x8e, 0x18),
	R(64, "lea eax,[rax]", -EINVAL, 0x8d, 0x00),
	R(64, "inc DWORD PTR [rax]", -EINVAL, 0xff, 0x00),
	R(64, "nop", -EINVAL, 0x90),
	R(64, "movups xmm0,XMMWORD PTR [rax]", -EINVAL, 0x0f, 0x10, 0x00),
	R(64, "movnti DWORD PTR [rax],eax", -EINVAL, 0x0f, 0xc3, 0x00),
	R(64, "movs BYTE PTR es:[rdi],BYTE PTR ds:[rsi]", -EINVAL, 0xa4),
	R(64, "stos DWORD PTR es:[rdi],eax", -EINVAL, 0xab),
	R(64, "xchg DWORD PTR [rax],ecx", -EINVAL, 0x87, 0x08),
	/* 40-4F are INC/DEC outside long mode */
	R(32, "dec eax; mov eax,DWORD PTR [eax]", -EINVAL, 0x48, 0x8b, 0x00),
	R(16, "inc cx; mov BYTE PTR [bx+si],al", -EINVAL, 0x41, 0x88, 0x00),
	/* no such mode */
	R(0, "mov eax,DWORD PTR [rax] in mode 0", -EINVAL, 0x8b, 0x00),
	R(8, "mov eax,DWORD PTR [rax] in mode 8", -EINVAL, 0x8b, 0x00),
	R(63, "mov eax,DWORD PTR [rax] in mode 63", -EINVAL, 0x8b, 0x00),
	/* longer than 15 bytes */
	R(64, "14 prefixes; mov ax,WORD PTR [eax] (16 bytes)", -EINVAL,
	  0x66, 0x67, 0x2e, 0x3e, 0x26, 0x36, 0x64, 0x65, 0x66, 0x67, 0x2e, 0x3e, 0x26, 0x36,
	  0x8b, 0x00),
	R(64, "15 prefixes, then the opcode as byte 16", -EINVAL,
	  0x66, 0x67, 0x2e, 0x3e, 0x26, 0x36, 0x64, 0x65, 0x66, 0x67, 0x2e, 0x3e, 0x26, 0x36,
	  0x65, 0x8b),
	R(64, "15 REX prefixes, then mov", -EINVAL, 0x48, 0x48, 0x48, 0x48, 0x48, 0x48, 0x48,
	  0x48, 0x48, 0x48, 0x48, 0x48, 0x48, 0x48, 0x48, 0x8b),
	R(32, "es cs ss ds fs mov DWORD PTR [esp+0x11223344],0x88776655 (16 bytes)", -EINVAL,
	  0x26, 0x2e, 0x36, 0x3e, 0x64, 0xc7, 0x84, 0x24, 0x44, 0x33, 0x22, 0x11, 0x55, 0x66,
	  0x77, 0x88),
	R(64, "12 prefixes; mov ax,WORD PTR [eax+0x11223344] (18 bytes)", -EINVAL,
	  0x66, 0x67, 0x2e, 0x3e, 0x26, 0x36, 0x64, 0x65, 0x66, 0x67, 0x2e, 0x3e,
	  0x8b, 0x80, 0x44, 0x33),
	/* nothing to decode */
	R(64, "empty", -ENODATA),
	R(64, "0x0f alone", -ENODATA, 0x0f),
	R(64, "prefixes alone", -ENODATA, 0x66, 0x67, 0x48),
};

/*
 * Somewhere to put @n bytes so that the next one is unmapped: a read past
 * them takes SIGSEGV and fails the test.
 */
static u8 *page_end(struct __test_metadata *_metadata, const u8 *bytes, unsigned int n)
{
	static u8 *area;
	long page = sysconf(_SC_PAGESIZE);

	if (!area) {
		area = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, area);
		ASSERT_EQ(0, mprotect(area + page, page, PROT_NONE));
	}
	memcpy(area + page - n, bytes, n);
	return area + page - n;
}

/* Decode with nothing readable past @placed bytes, telling the decoder @avail. */
static int decode_at_page_end(struct __test_metadata *_metadata, const u8 *bytes,
			      unsigned int placed, unsigned int avail, int mode,
			      struct lkvm_insn *insn)
{
	return lkvm_decode(page_end(_metadata, bytes, placed), avail, mode, insn);
}

static void check_insn(struct __test_metadata *_metadata, const struct decode_case *c,
		       const struct lkvm_insn *got)
{
	EXPECT_EQ(c->want.len, got->len) TH_LOG("%d-bit: %s: len", c->mode, c->name);
	EXPECT_EQ(c->want.op, got->op) TH_LOG("%d-bit: %s: op", c->mode, c->name);
	EXPECT_EQ(c->want.size, got->size) TH_LOG("%d-bit: %s: size", c->mode, c->name);
	EXPECT_EQ(c->want.reg, got->reg) TH_LOG("%d-bit: %s: reg", c->mode, c->name);
	EXPECT_EQ(c->want.high8, got->high8) TH_LOG("%d-bit: %s: high8", c->mode, c->name);
	EXPECT_EQ(c->want.has_imm, got->has_imm) TH_LOG("%d-bit: %s: has_imm", c->mode, c->name);
	EXPECT_EQ(c->want.ext, got->ext) TH_LOG("%d-bit: %s: ext", c->mode, c->name);
	EXPECT_EQ(c->want.dst_size, got->dst_size)
		TH_LOG("%d-bit: %s: dst_size", c->mode, c->name);
	EXPECT_EQ(c->want.imm, got->imm) TH_LOG("%d-bit: %s: imm 0x%llx", c->mode, c->name,
						(unsigned long long)got->imm);
}

/*
 * Each case decodes given exactly its bytes, and given them followed by
 * bytes that would make a longer instruction if the decoder went on.
 */
static void check_decode(struct __test_metadata *_metadata, const struct decode_case *cases,
			 unsigned int nr)
{
	u8 padded[2 * LKVM_INSN_MAX_LEN];
	struct lkvm_insn got;
	unsigned int i;
	int ret;

	for (i = 0; i < nr; i++) {
		const struct decode_case *c = &cases[i];

		ASSERT_EQ(c->n, c->want.len) TH_LOG("%s: the table is wrong", c->name);

		memset(&got, 0xa5, sizeof(got));
		ret = decode_at_page_end(_metadata, c->bytes, c->n, c->n, c->mode, &got);
		ASSERT_EQ(0, ret) TH_LOG("%d-bit: %s", c->mode, c->name);
		check_insn(_metadata, c, &got);

		memset(padded, 0x84, sizeof(padded));
		memcpy(padded, c->bytes, c->n);
		memset(&got, 0xa5, sizeof(got));
		ret = decode_at_page_end(_metadata, padded, sizeof(padded), sizeof(padded), c->mode,
					 &got);
		ASSERT_EQ(0, ret) TH_LOG("%d-bit: %s, padded", c->mode, c->name);
		check_insn(_metadata, c, &got);
	}
}

TEST(decode_64bit)
{
	check_decode(_metadata, decode64, ARRAY_SIZE(decode64));
}

TEST(decode_32bit)
{
	check_decode(_metadata, decode32, ARRAY_SIZE(decode32));
}

TEST(decode_16bit)
{
	check_decode(_metadata, decode16, ARRAY_SIZE(decode16));
}

/* The decoder leaves @insn alone when it fails. */
static void expect_error(struct __test_metadata *_metadata, const char *name, int mode,
			 const u8 *bytes, unsigned int placed, unsigned int avail, int err)
{
	struct lkvm_insn got, untouched;

	memset(&got, 0xa5, sizeof(got));
	memset(&untouched, 0xa5, sizeof(untouched));
	EXPECT_EQ(err, decode_at_page_end(_metadata, bytes, placed, avail, mode, &got))
		TH_LOG("%d-bit: %s, %u of %u bytes", mode, name, avail, placed);
	EXPECT_EQ(0, memcmp(&got, &untouched, sizeof(got)))
		TH_LOG("%d-bit: %s: the result was written on failure", mode, name);
}

TEST(decode_rejects)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(rejects); i++)
		expect_error(_metadata, rejects[i].name, rejects[i].mode, rejects[i].bytes,
			     rejects[i].n, rejects[i].n, rejects[i].err);
}

/* C6 and C7 are MOV only with ModRM.reg 0; REX.R does not make 8 of it. */
TEST(decode_rejects_c6_c7_other_than_0)
{
	static const int modes[] = { 16, 32, 64 };
	unsigned int m, reg;
	u8 b[8];

	for (m = 0; m < ARRAY_SIZE(modes); m++) {
		for (reg = 1; reg < 8; reg++) {
			b[0] = 0xc6;
			b[1] = reg << 3 | 7;	/* [bx] or [edi]/[rdi] */
			b[2] = 0x5a;
			expect_error(_metadata, "c6 /reg", modes[m], b, 3, 3, -EINVAL);
			b[0] = 0xc7;
			memset(b + 2, 0x5a, 4);
			expect_error(_metadata, "c7 /reg", modes[m], b, 6, 6, -EINVAL);
		}
	}
	b[0] = 0x44;
	b[1] = 0xc7;
	b[2] = 0x00 | 1 << 3;
	memset(b + 3, 0x5a, 4);
	expect_error(_metadata, "rex.R c7 /1", 64, b, 7, 7, -EINVAL);
}

/* Every valid instruction cut short asks for more bytes, never fails outright. */
static void check_truncated(struct __test_metadata *_metadata, const struct decode_case *cases,
			    unsigned int nr)
{
	unsigned int i, avail;

	for (i = 0; i < nr; i++)
		for (avail = 0; avail < cases[i].n; avail++)
			expect_error(_metadata, cases[i].name, cases[i].mode, cases[i].bytes,
				     avail, avail, -ENODATA);
}

TEST(decode_truncated_enodata)
{
	check_truncated(_metadata, decode64, ARRAY_SIZE(decode64));
	check_truncated(_metadata, decode32, ARRAY_SIZE(decode32));
	check_truncated(_metadata, decode16, ARRAY_SIZE(decode16));
}

/*
 * However many bytes the caller offers, byte 16 is never read: the unmapped
 * page right after the 15 placed ones catches it.
 */
TEST(decode_reads_at_most_15_bytes)
{
	static const u8 all_prefixes[LKVM_INSN_MAX_LEN] = {
		0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
		0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
	};
	static const u8 wants_disp[LKVM_INSN_MAX_LEN] = {
		0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e,
		0x8b, 0x84,
	};
	static const u8 wants_imm[LKVM_INSN_MAX_LEN] = {
		0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e,
		0xc7, 0x00, 0x78, 0x56, 0x34,
	};
	static const u8 wants_moffs[LKVM_INSN_MAX_LEN] = {
		0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e,
		0xa1, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22,
	};
	int mode;

	for (mode = 16; mode <= 64; mode *= 2) {
		expect_error(_metadata, "15 times 0x66", mode, all_prefixes, 15, 100, -EINVAL);
		expect_error(_metadata, "13 prefixes and a ModRM wanting a SIB", mode, wants_disp,
			     15, 100, -EINVAL);
	}
	expect_error(_metadata, "10 prefixes and a C7 wanting an imm32 past byte 15", 64,
		     wants_imm, 15, 100, -EINVAL);
	expect_error(_metadata, "7 prefixes and a moffs64", 64, wants_moffs, 15, 100, -EINVAL);
}

struct load_case {
	int mode;
	const char *name;
	unsigned int n;
	u8 bytes[LKVM_INSN_MAX_LEN];
	u64 old, data, want;
};

#define L(m, nm, o, d, w, ...) { .mode = m, .name = nm, .old = o, .data = d, .want = w, \
				 .bytes = { __VA_ARGS__ }, .n = sizeof((u8[]){ __VA_ARGS__ }) }

#define OLD 0x1122334455667788ULL

static const struct load_case loads[] = {
	L(64, "mov cl,BYTE PTR [rax]", OLD, 0xab, 0x11223344556677abULL, 0x8a, 0x08),
	L(64, "mov ch,BYTE PTR [rax]", OLD, 0xab, 0x112233445566ab88ULL, 0x8a, 0x28),
	L(64, "mov spl,BYTE PTR [rax]", OLD, 0xab, 0x11223344556677abULL, 0x40, 0x8a, 0x20),
	L(32, "mov bh,BYTE PTR [eax]", OLD, 0x00, 0x1122334455660088ULL, 0x8a, 0x38),
	L(64, "mov ax,WORD PTR [rax]", OLD, 0xabcd, 0x112233445566abcdULL, 0x66, 0x8b, 0x00),
	L(16, "mov ax,WORD PTR [bx]", OLD, 0xffff, 0x112233445566ffffULL, 0x8b, 0x07),
	L(64, "mov eax,DWORD PTR [rax]", OLD, 0x89abcdef, 0x0000000089abcdefULL, 0x8b, 0x00),
	L(32, "mov eax,DWORD PTR [eax]", OLD, 0xffffffff, 0x00000000ffffffffULL, 0x8b, 0x00),
	L(16, "mov eax,DWORD PTR [bx]", OLD, 0x80000000, 0x0000000080000000ULL, 0x66, 0x8b, 0x07),
	L(64, "mov rax,QWORD PTR [rax]", OLD, 0xfedcba9876543210ULL, 0xfedcba9876543210ULL,
	  0x48, 0x8b, 0x00),
	L(64, "mov al,ds:0x1122334455667788", OLD, 0x5a, 0x112233445566775aULL, 0xa0, MOFFS64),
	L(32, "mov ax,ds:0x11223344", OLD, 0x5aa5, 0x1122334455665aa5ULL, 0x66, 0xa1, MOFFS32),
	L(64, "movzx ax,BYTE PTR [rax]", OLD, 0xf0, 0x11223344556600f0ULL, 0x66, 0x0f, 0xb6, 0x00),
	L(64, "movzx eax,BYTE PTR [rax]", OLD, 0xf0, 0x00000000000000f0ULL, 0x0f, 0xb6, 0x00),
	L(64, "movzx rax,BYTE PTR [rax]", OLD, 0xf0, 0x00000000000000f0ULL, 0x48, 0x0f, 0xb6, 0x00),
	L(64, "movzx eax,WORD PTR [rax]", OLD, 0x8001, 0x0000000000008001ULL, 0x0f, 0xb7, 0x00),
	L(64, "movzx r9,WORD PTR [rax]", OLD, 0x8001, 0x0000000000008001ULL,
	  0x4c, 0x0f, 0xb7, 0x08),
	L(32, "movzx ax,WORD PTR [eax]", OLD, 0x8001, 0x1122334455668001ULL,
	  0x66, 0x0f, 0xb7, 0x00),
	L(64, "movsx ax,BYTE PTR [rax]", OLD, 0x80, 0x112233445566ff80ULL, 0x66, 0x0f, 0xbe, 0x00),
	L(64, "movsx eax,BYTE PTR [rax]", OLD, 0x80, 0x00000000ffffff80ULL, 0x0f, 0xbe, 0x00),
	L(64, "movsx rax,BYTE PTR [rax]", OLD, 0x80, 0xffffffffffffff80ULL, 0x48, 0x0f, 0xbe, 0x00),
	L(64, "movsx eax,BYTE PTR [rax] of 0x7f", OLD, 0x7f, 0x000000000000007fULL,
	  0x0f, 0xbe, 0x00),
	L(64, "movsx eax,WORD PTR [rax]", OLD, 0x8000, 0x00000000ffff8000ULL, 0x0f, 0xbf, 0x00),
	L(64, "movsx rax,WORD PTR [rax]", OLD, 0x8000, 0xffffffffffff8000ULL,
	  0x48, 0x0f, 0xbf, 0x00),
	L(64, "movsx rax,WORD PTR [rax] of 0x7fff", OLD, 0x7fff, 0x0000000000007fffULL,
	  0x48, 0x0f, 0xbf, 0x00),
	L(16, "movsx ax,BYTE PTR [bx]", OLD, 0xfe, 0x112233445566fffeULL, 0x0f, 0xbe, 0x07),
	L(16, "movsx eax,WORD PTR [bx]", OLD, 0x8000, 0x00000000ffff8000ULL,
	  0x66, 0x0f, 0xbf, 0x07),
};

TEST(load_result)
{
	struct lkvm_insn insn;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(loads); i++) {
		const struct load_case *c = &loads[i];

		ASSERT_EQ(0, lkvm_decode(c->bytes, c->n, c->mode, &insn)) TH_LOG("%s", c->name);
		ASSERT_EQ(LKVM_INSN_LOAD, insn.op) TH_LOG("%s", c->name);
		EXPECT_EQ(c->want, lkvm_insn_load_result(&insn, c->old, c->data))
			TH_LOG("%d-bit: %s of 0x%llx into 0x%llx", c->mode, c->name,
			       (unsigned long long)c->data, (unsigned long long)c->old);
	}
}

struct store_case {
	int mode;
	const char *name;
	unsigned int n;
	u8 bytes[LKVM_INSN_MAX_LEN];
	u64 regval, want;
};

#define S(m, nm, r, w, ...) { .mode = m, .name = nm, .regval = r, .want = w, \
			      .bytes = { __VA_ARGS__ }, .n = sizeof((u8[]){ __VA_ARGS__ }) }

static const struct store_case stores[] = {
	S(64, "mov BYTE PTR [rax],cl", OLD, 0x88, 0x88, 0x08),
	S(64, "mov BYTE PTR [rax],ah", OLD, 0x77, 0x88, 0x20),
	S(64, "mov BYTE PTR [rax],spl", OLD, 0x88, 0x40, 0x88, 0x20),
	S(16, "mov BYTE PTR [bx],bh", OLD, 0x77, 0x88, 0x3f),
	S(64, "mov WORD PTR [rax],cx", OLD, 0x7788, 0x66, 0x89, 0x08),
	S(64, "mov DWORD PTR [rax],edx", OLD, 0x55667788, 0x89, 0x10),
	S(16, "mov DWORD PTR [bx],ecx", OLD, 0x55667788, 0x66, 0x89, 0x0f),
	S(64, "mov QWORD PTR [rax],rbx", OLD, OLD, 0x48, 0x89, 0x18),
	S(64, "movabs ds:0x1122334455667788,al", OLD, 0x88, 0xa2, MOFFS64),
	S(32, "mov ds:0x11223344,ax", OLD, 0x7788, 0x66, 0xa3, MOFFS32),
	S(64, "mov BYTE PTR [rax],0x5a", OLD, 0x5a, 0xc6, 0x00, 0x5a),
	S(64, "mov WORD PTR [rax],0xffff", OLD, 0xffff, 0x66, 0xc7, 0x00, 0xff, 0xff),
	S(32, "mov DWORD PTR [eax],0xdeadbeef", OLD, 0xdeadbeef,
	  0xc7, 0x00, 0xef, 0xbe, 0xad, 0xde),
	S(64, "mov QWORD PTR [rax],0xfffffffffffffffe", OLD, 0xfffffffffffffffeULL,
	  0x48, 0xc7, 0x00, 0xfe, 0xff, 0xff, 0xff),
	S(64, "mov QWORD PTR [rax],0x7fffffff", OLD, 0x7fffffff, 0x48, 0xc7, 0x00, 0xff, 0xff, 0xff,
	  0x7f),
	S(16, "mov WORD PTR [bx],0x8000", OLD, 0x8000, 0xc7, 0x07, 0x00, 0x80),
};

TEST(store_value)
{
	struct lkvm_insn insn;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(stores); i++) {
		const struct store_case *c = &stores[i];

		ASSERT_EQ(0, lkvm_decode(c->bytes, c->n, c->mode, &insn)) TH_LOG("%s", c->name);
		ASSERT_EQ(LKVM_INSN_STORE, insn.op) TH_LOG("%s", c->name);
		EXPECT_EQ(c->want, lkvm_insn_store_value(&insn, c->regval))
			TH_LOG("%d-bit: %s with 0x%llx", c->mode, c->name,
			       (unsigned long long)c->regval);
	}
}

TEST_HARNESS_MAIN
