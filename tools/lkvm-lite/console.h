/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The guest's serial console on the launcher's terminal: what the guest
 * writes to its UART comes out of the console file descriptor and goes to
 * stdout; stdin goes back to the guest.
 */
#ifndef LKVM_LITE_CONSOLE_H
#define LKVM_LITE_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>

#define CONSOLE_ESCAPE		0x01	/* Ctrl-A */
#define CONSOLE_LINE_MAX	256

struct console {
	int fd;			/* the VM's console */
	bool discard;		/* --console none: guest output is read and dropped */
	bool tty;		/* stdin is a terminal, now in raw mode */
	bool stdin_open;	/* stdin is relayed and has not ended */
	bool escape;		/* the last byte typed was CONSOLE_ESCAPE */
	bool stdout_broken;	/* stdout went away: output is dropped */
	/* Input read from stdin that the console did not take yet. */
	char pending[4096];
	size_t pending_len;
	/* The guest's current output line, to spot a panic in it. */
	char line[CONSOLE_LINE_MAX];
	size_t line_len;
	char panic[CONSOLE_LINE_MAX];	/* "Kernel panic - not syncing: " reason, if any */
};

/*
 * Starts relaying @fd. With @discard the guest gets no input and its
 * output is dropped; otherwise a terminal on stdin goes into raw mode
 * until console_restore(), which also runs at exit. 0 or -errno.
 */
int console_init(struct console *c, int fd, bool discard);
void console_restore(void);

/* The guest wrote something: relay it. */
void console_from_guest(struct console *c);
/* stdin is readable: relay it. True if the user asked to quit. */
bool console_from_user(struct console *c);
/* The console can take input: hand it what is pending. */
void console_flush_input(struct console *c);
/* The guest has stopped: relay what it wrote last. */
void console_drain(struct console *c);

#endif /* LKVM_LITE_CONSOLE_H */
