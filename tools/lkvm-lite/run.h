/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_LITE_RUN_H
#define LKVM_LITE_RUN_H

/* The default guest (guest-init.c), packed by the Makefile, linked in by initramfs.S. */
extern const unsigned char guest_initramfs[], guest_initramfs_end[];

/* lkvm-lite run (run.c): boot a guest; the process's exit status. */
int cmd_run(int argc, char **argv);

#endif /* LKVM_LITE_RUN_H */
