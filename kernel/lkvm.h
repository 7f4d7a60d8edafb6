/* SPDX-License-Identifier: GPL-2.0-only */
/* Declarations shared between the files of the lkvm_lite module. */
#ifndef LKVM_LKVM_H
#define LKVM_LKVM_H

#include <linux/types.h>

/* svm.c: ownership of AMD SVM on every online CPU */
int lkvm_svm_init(void);
void lkvm_svm_exit(void);
u64 lkvm_svm_cap(u32 cap);

struct lkvm_vm;

/* Four-level nested page tables map 48 bits of guest physical space. */
#define LKVM_GUEST_PHYS_BITS	48

/* vm.c: VMs and their guest memory */
long lkvm_create_vm(unsigned long arg);
u64 lkvm_vm_cap(u32 cap);
void lkvm_vm_get(struct lkvm_vm *vm);
void lkvm_vm_put(struct lkvm_vm *vm);
/* A vCPU's file is gone (or was never made): its id is free again. */
void lkvm_vm_vcpu_gone(struct lkvm_vm *vm, u32 id);

/* vcpu.c: vCPU files and register state */
int lkvm_vcpu_create(struct lkvm_vm *vm, u32 id);

#endif /* LKVM_LKVM_H */
