// SPDX-License-Identifier: GPL-2.0-only
/*
 * The end of a guest: reset and power-off, the only platform events that
 * return to userspace (LKVM_EXIT_SYSTEM_EVENT).
 *
 * What a stock Linux guest uses, in the order it tries them:
 *
 * - Power-off: the sleep control register of a hardware-reduced ACPI
 *   platform (the FADT names it): writing SLP_EN with the SLP_TYP that the
 *   DSDT's _S5 gives enters S5. The sleep status register beside it reads
 *   as "woken" so that no wait on it ever spins.
 * - Reset: the FADT's reset register, the reset control register at
 *   0xcf9 (bit 2, RST_CPU); then the keyboard controller's pulse of the
 *   reset line (command 0xfe to port 0x64), whose status port reads as
 *   ready so that a guest waiting for its input buffer to drain goes on.
 *
 * A triple fault is not a reset here: it ends LKVM_RUN as
 * LKVM_EXIT_SHUTDOWN (exit.c), which a VMM reports as a crash.
 */
#include "lkvm.h"
#include "trace.h"

/* ACPI sleep control and status registers (ACPI 6.4, 4.8.3.7) */
#define SLEEP_CTL_SLP_TYP_SHIFT	2
#define SLEEP_CTL_SLP_TYP_MASK	(7 << SLEEP_CTL_SLP_TYP_SHIFT)
#define SLEEP_CTL_SLP_EN	BIT(5)
#define SLEEP_STS_WAK_STS	BIT(7)

/* Reset control register: RST_CPU; keyboard controller: pulse reset. */
#define RESET_CTL_RST_CPU	BIT(2)
#define KBC_CMD_PORT		0x64
#define KBC_CMD_RESET		0xfe

int lkvm_system_event(struct lkvm_vcpu *vcpu, u32 type, u16 port, u8 val)
{
	lkvm_stat_inc(vcpu, LKVM_STAT_SYSTEM_EVENTS);
	trace_lkvm_system_event(vcpu->vm->id, vcpu->id, type, port, val);
	vcpu->run.exit_reason = LKVM_EXIT_SYSTEM_EVENT;
	vcpu->run.system_event.type = type;
	vcpu->run.system_event.data = port | ((u64)val << 16);
	return LKVM_IO_EXIT;
}

int lkvm_power_in(struct lkvm_vcpu *vcpu, u16 port, u8 size, u32 *val)
{
	/*
	 * Sleep status: woken. Keyboard controller status: both buffers
	 * empty. Reset control and sleep control: nothing latched.
	 */
	*val = port == LKVM_PLATFORM_SLEEP_STS_PORT ? SLEEP_STS_WAK_STS : 0;
	return 0;
}

int lkvm_power_out(struct lkvm_vcpu *vcpu, u16 port, u8 size, u32 val)
{
	u8 v = val;

	switch (port) {
	case LKVM_PLATFORM_SLEEP_CTL_PORT:
		if ((v & SLEEP_CTL_SLP_EN) &&
		    ((v & SLEEP_CTL_SLP_TYP_MASK) >> SLEEP_CTL_SLP_TYP_SHIFT) ==
		    LKVM_PLATFORM_S5_SLP_TYP)
			return lkvm_system_event(vcpu, LKVM_SYSTEM_EVENT_POWEROFF, port, v);
		/* Other sleep states are not offered (no _S1 to _S4): nothing happens. */
		break;
	case KBC_CMD_PORT:
		if (v == KBC_CMD_RESET)
			return lkvm_system_event(vcpu, LKVM_SYSTEM_EVENT_RESET, port, v);
		break;
	case LKVM_PLATFORM_RESET_PORT:
		if (v & RESET_CTL_RST_CPU)
			return lkvm_system_event(vcpu, LKVM_SYSTEM_EVENT_RESET, port, v);
		break;
	}
	return 0;
}
