/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The default guest's initramfs (guest-init.c as /init, packed by the
 * Makefile), inside the launcher so that "lkvm-lite run" needs no files.
 */
	.section .rodata, "a"
	.balign 16
	.globl guest_initramfs
guest_initramfs:
	.incbin "guest-initramfs.cpio.gz"
	.globl guest_initramfs_end
guest_initramfs_end:

	.section .note.GNU-stack, "", @progbits
