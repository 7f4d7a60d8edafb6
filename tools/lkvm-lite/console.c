// SPDX-License-Identifier: GPL-2.0
/*
 * The console relay. On a terminal, stdin goes into raw mode so that every
 * key reaches the guest (Ctrl-C included); Ctrl-A x is then the way out,
 * as in QEMU. Guest output is also watched for the kernel's panic line,
 * because a guest booted with panic=-1 reports a panic only by resetting.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "console.h"

#define PANIC_MARK	"Kernel panic - not syncing: "
/* How long a stopped guest's last output may take to reach the console file. */
#define DRAIN_WAIT_MS	20

static struct termios saved_termios;
static bool termios_saved;

void console_restore(void)
{
	if (termios_saved) {
		tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_termios);
		termios_saved = false;
	}
}

int console_init(struct console *c, int fd, bool discard)
{
	struct termios raw;

	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->discard = discard;
	c->stdin_open = !discard;
	/* Input waits in @pending rather than blocking the relay of output. */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		return -errno;
	if (discard || !isatty(STDIN_FILENO))
		return 0;
	if (tcgetattr(STDIN_FILENO, &saved_termios) < 0)
		return -errno;
	raw = saved_termios;
	cfmakeraw(&raw);
	if (tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) < 0)
		return -errno;
	termios_saved = true;
	c->tty = true;
	atexit(console_restore);
	return 0;
}

static void console_watch(struct console *c, const char *buf, size_t n)
{
	const char *mark;
	size_t i;

	for (i = 0; i < n; i++) {
		if (buf[i] != '\n' && buf[i] != '\r') {
			if (c->line_len < sizeof(c->line) - 1)
				c->line[c->line_len++] = buf[i];
			continue;
		}
		c->line[c->line_len] = '\0';
		c->line_len = 0;
		mark = strstr(c->line, PANIC_MARK);
		if (mark && !c->panic[0])
			strcpy(c->panic, mark + strlen(PANIC_MARK));
	}
}

static void console_out(struct console *c, const char *buf, size_t n)
{
	ssize_t w;

	while (n && !c->stdout_broken) {
		w = write(STDOUT_FILENO, buf, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			c->stdout_broken = true;
			break;
		}
		buf += w;
		n -= w;
	}
}

/* One read's worth: false when there is nothing (more) to read. */
static bool console_read_guest(struct console *c)
{
	char buf[4096];
	ssize_t n = read(c->fd, buf, sizeof(buf));

	if (n <= 0)
		return false;
	console_watch(c, buf, n);
	if (!c->discard)
		console_out(c, buf, n);
	return true;
}

void console_from_guest(struct console *c)
{
	console_read_guest(c);
}

void console_drain(struct console *c)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };

	while (poll(&p, 1, DRAIN_WAIT_MS) > 0 && (p.revents & POLLIN) && console_read_guest(c))
		;
	/* A last line without its newline still counts. */
	console_watch(c, "\n", 1);
}

void console_flush_input(struct console *c)
{
	ssize_t n;

	while (c->pending_len) {
		n = write(c->fd, c->pending, c->pending_len);
		if (n <= 0)
			return;
		memmove(c->pending, c->pending + n, c->pending_len - n);
		c->pending_len -= n;
	}
}

static void console_queue(struct console *c, char ch)
{
	if (c->pending_len < sizeof(c->pending))
		c->pending[c->pending_len++] = ch;
}

bool console_from_user(struct console *c)
{
	char buf[sizeof(c->pending)];
	ssize_t n, i;

	/* An escape left from the last read can turn one byte into two. */
	n = read(STDIN_FILENO, buf, sizeof(buf) - 1 - c->pending_len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return false;
	if (n <= 0) {
		c->stdin_open = false;
		return false;
	}
	for (i = 0; i < n; i++) {
		if (!c->tty) {
			console_queue(c, buf[i]);
		} else if (c->escape) {
			c->escape = false;
			if (buf[i] == 'x' || buf[i] == 'X')
				return true;
			if (buf[i] != CONSOLE_ESCAPE)
				console_queue(c, CONSOLE_ESCAPE);
			console_queue(c, buf[i]);
		} else if (buf[i] == CONSOLE_ESCAPE) {
			c->escape = true;
		} else {
			console_queue(c, buf[i]);
		}
	}
	console_flush_input(c);
	return false;
}
