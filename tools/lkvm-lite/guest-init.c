// SPDX-License-Identifier: GPL-2.0
/*
 * /init of lkvm-lite's default guest, built static: it shows that a guest
 * booted, what it booted and how much memory it got, then powers off, so
 * that "lkvm-lite run" with no arguments is a whole boot-to-poweroff test.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <termios.h>
#include <unistd.h>

/*
 * The kernel opens /dev/console for init from its built-in initramfs;
 * a kernel built without one leaves init with no output: make our own.
 */
static void open_console(void)
{
	int fd;

	if (fcntl(STDOUT_FILENO, F_GETFD) >= 0)
		return;
	mkdir("/dev", 0755);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	fd = open("/dev/console", O_RDWR);
	if (fd < 0)
		return;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

int main(void)
{
	char uptime[64] = "?";
	struct utsname u;
	struct sysinfo si;
	FILE *f;

	open_console();
	mkdir("/proc", 0555);
	if (mount("proc", "/proc", "proc", 0, NULL))
		perror("guest-init: mount /proc");
	f = fopen("/proc/uptime", "r");
	if (f) {
		if (fscanf(f, "%63s", uptime) != 1)
			strcpy(uptime, "?");
		fclose(f);
	}
	uname(&u);
	sysinfo(&si);
	printf("lkvm-lite default guest\n");
	printf("kernel: %s %s\n", u.sysname, u.release);
	printf("memory: %llu MiB\n", (unsigned long long)si.totalram * si.mem_unit >> 20);
	printf("uptime: %s s\n", uptime);
	fflush(stdout);
	/* A write to the console only queues: let it reach the UART before power goes. */
	tcdrain(STDOUT_FILENO);
	sync();
	reboot(RB_POWER_OFF);
	perror("guest-init: reboot(RB_POWER_OFF)");
	return 1;
}
