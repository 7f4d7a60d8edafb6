/* SPDX-License-Identifier: GPL-2.0-only */
/* Declarations shared between the files of the lkvm_lite module. */
#ifndef LKVM_LKVM_H
#define LKVM_LKVM_H

#include <linux/types.h>

/* svm.c: ownership of AMD SVM on every online CPU */
int lkvm_svm_init(void);
void lkvm_svm_exit(void);
u64 lkvm_svm_cap(u32 cap);

/* vm.c: VMs and their guest memory */
long lkvm_create_vm(unsigned long arg);
u64 lkvm_vm_cap(u32 cap);

#endif /* LKVM_LKVM_H */
