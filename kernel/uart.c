// SPDX-License-Identifier: GPL-2.0-only
/* UART: placeholder until uart.c lands (scaffolding branch only). */
#include "lkvm.h"

int lkvm_uart_create(struct lkvm_vm *vm)
{
	return 0;
}

void lkvm_uart_free(struct lkvm_vm *vm)
{
}

int lkvm_uart_console_fd(struct lkvm_vm *vm)
{
	return -ENOSYS;
}

int lkvm_uart_in(struct lkvm_vcpu *vcpu, u16 port, u8 size, u32 *val)
{
	*val = ~0U;
	return 0;
}

int lkvm_uart_out(struct lkvm_vcpu *vcpu, u16 port, u8 size, u32 val)
{
	return 0;
}
